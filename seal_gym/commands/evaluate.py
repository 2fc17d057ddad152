"""Evaluate self-edits the way the SEAL paper does: `seal-gym eval squad | arc | continual`.

Each subcommand writes a new run folder with table.txt, results.json, results.csv and PNG charts. The
functions behind them (seal_gym.evaluation) return typed results, for notebooks.
"""

from __future__ import annotations

import argparse

from seal_gym.commands import add_subcommands

HELP = "evaluate self-edits: eval squad (single passage, --cpt N), eval arc, eval continual, eval memory"
# name -> module exposing ``add_arguments(parser)``, ``HELP`` and ``run(args) -> int``.
EVALUATIONS = {
    "squad": "seal_gym.commands.eval_squad",
    "arc": "seal_gym.commands.eval_arc",
    "continual": "seal_gym.commands.eval_continual",
    "memory": "seal_gym.commands.eval_memory",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_subcommands(parser, EVALUATIONS, dest="evaluation", metavar="EVALUATION", run_key="evaluate")


def run(args: argparse.Namespace) -> int:
    return args.evaluate(args)
