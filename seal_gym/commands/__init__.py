"""Subcommands of the seal-gym command line: the table of them, and how a table becomes subparsers."""

from __future__ import annotations

import argparse
import importlib

from seal_gym.configs import HelpFormatter

# name -> module exposing ``add_arguments(parser)``, ``HELP`` and ``run(args) -> int``.
SUBCOMMANDS = {
    "eval": "seal_gym.commands.evaluate",
    "squad-table": "seal_gym.commands.squad_table",
    "arc-eval": "seal_gym.commands.arc_eval",
    "train": "seal_gym.commands.train",
    "memory": "seal_gym.commands.memory",
    "synthesize": "seal_gym.commands.synthesize",
}


def add_subcommands(parser: argparse.ArgumentParser, modules: dict[str, str], dest: str, metavar: str,
                    run_key: str) -> None:
    """One subparser per ``name -> module`` (the module has ``add_arguments``, ``HELP``, ``run``); the chosen
    module's ``run`` lands in ``args.<run_key>`` (a nested level needs its own key: the outer default wins)."""
    subparsers = parser.add_subparsers(dest=dest, required=True, metavar=metavar)
    for name, module_name in modules.items():
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(name, help=module.HELP, description=module.__doc__, formatter_class=HelpFormatter)
        module.add_arguments(sub)
        sub.set_defaults(**{run_key: module.run})
