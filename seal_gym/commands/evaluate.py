"""Evaluate self-edits the way the SEAL paper does: `seal-gym eval squad | arc | continual`.

Each subcommand writes a new run folder with table.txt, results.json, results.csv and PNG charts. The
functions behind them (seal_gym.evaluation) return typed results, for notebooks.
"""

from __future__ import annotations

import argparse

from seal_gym.commands import add_subcommands

# name -> (module exposing ``add_arguments(parser)`` and ``run(args) -> int``, one-line help).
EVALUATIONS = {
    "squad": ("seal_gym.commands.eval_squad",
              "knowledge-incorporation table: base / passage / + self-edits (own, policy, file) / in context; --cpt N"),
    "arc": ("seal_gym.commands.eval_arc",
            "ARC table: in context / default recipe / recipes from the model or a policy / grid oracle"),
    "continual": ("seal_gym.commands.eval_continual",
                  "continual self-edits: merged updates one after another, forgetting matrix + heatmap"),
    "memory": ("seal_gym.commands.eval_memory",
               "memory modes on a stream of windows: none / retrieval / weights / hybrid, retention, seconds per update"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_subcommands(parser, EVALUATIONS, dest="evaluation", metavar="EVALUATION", run_key="evaluate")


def run(args: argparse.Namespace) -> int:
    return args.evaluate(args)
