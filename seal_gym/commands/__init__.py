"""The ``seal-gym`` command line: the table of subcommands, and the parser built from it.

Each subcommand is a module here (``add_arguments(parser)``, ``HELP``, ``run(args) -> int``); its options come
from config dataclasses (:mod:`seal_gym.commands.options`), its help and errors from
:mod:`seal_gym.commands.help`. ``seal_gym.cli`` is only the console script's entry point.
"""

from __future__ import annotations

import argparse
import importlib

from seal_gym import __version__
from seal_gym.commands.help import ArgumentParser, HelpFormatter

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


def build_parser() -> argparse.ArgumentParser:
    """The whole ``seal-gym`` parser: every subcommand of :data:`SUBCOMMANDS`, help in plain text everywhere."""
    parser = ArgumentParser(prog="seal-gym", description="SEAL self-adapting language models as Gymnasium envs.",
                            formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"seal-gym {__version__}")
    add_subcommands(parser, SUBCOMMANDS, dest="command", metavar="COMMAND", run_key="run")
    _plain_help_everywhere(parser)
    return parser


def _plain_help_everywhere(parser: argparse.ArgumentParser) -> None:
    """Give nested subcommands (a command's own ``add_subparsers``) the same help formatter."""
    parser.formatter_class = HelpFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _plain_help_everywhere(child)


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``) and run the chosen command; its exit code."""
    args = build_parser().parse_args(argv)
    return int(args.run(args) or 0)
