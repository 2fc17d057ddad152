"""The ``seal-gym`` command line. Each subcommand lives in its own module under ``seal_gym.commands``.

Help is plain text with every option's default shown once (:class:`seal_gym.configs.HelpFormatter`); bad
input is one line on stderr and exit code 2 (:class:`seal_gym.configs.ArgumentParser`).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from seal_gym import __version__
from seal_gym.configs import ArgumentParser, HelpFormatter

# name -> module exposing ``add_arguments(parser)``, ``HELP`` and ``run(args) -> int``.
SUBCOMMANDS = {
    "eval": "seal_gym.commands.evaluate",
    "squad-table": "seal_gym.commands.squad_table",
    "arc-eval": "seal_gym.commands.arc_eval",
    "train": "seal_gym.commands.train",
    "memory": "seal_gym.commands.memory",
    "synthesize": "seal_gym.commands.synthesize",
}


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="seal-gym", description="SEAL self-adapting language models as Gymnasium envs.",
                                     formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"seal-gym {__version__}")
    add_subcommands(parser, SUBCOMMANDS, dest="command", metavar="COMMAND", run_key="run")
    _plain_help_everywhere(parser)
    return parser


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


def _plain_help_everywhere(parser: argparse.ArgumentParser) -> None:
    """Give nested subcommands (a command's own ``add_subparsers``) the same help formatter."""
    parser.formatter_class = HelpFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _plain_help_everywhere(child)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
