"""Evaluate self-edits the way the SEAL paper does: `seal-gym eval squad | arc | continual`.

Each subcommand writes a new run folder with table.txt, results.json, results.csv and PNG charts. The
functions behind them (seal_gym.evaluation) return typed results, for notebooks.
"""

from __future__ import annotations

import argparse
import importlib

from seal_gym.configs import HelpFormatter

HELP = "evaluate self-edits: eval squad (single passage, --cpt N), eval arc, eval continual"
# name -> module exposing ``add_arguments(parser)``, ``HELP`` and ``run(args) -> int``.
EVALUATIONS = {
    "squad": "seal_gym.commands.eval_squad",
    "arc": "seal_gym.commands.eval_arc",
    "continual": "seal_gym.commands.eval_continual",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    subparsers = parser.add_subparsers(dest="evaluation", required=True, metavar="EVALUATION")
    for name, module_name in EVALUATIONS.items():
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(name, help=module.HELP, description=module.__doc__,
                                    formatter_class=HelpFormatter)
        module.add_arguments(sub)
        # Not "run": the top-level parser's default for that would win over a subparser's.
        sub.set_defaults(evaluate=module.run)


def run(args: argparse.Namespace) -> int:
    return args.evaluate(args)
