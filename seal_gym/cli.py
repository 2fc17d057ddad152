"""The ``seal-gym`` command line. Each subcommand lives in its own module under ``seal_gym.commands``, which
holds the subcommand table too; this module only builds the parser and runs the chosen command.

Help is plain text with every option's default shown once (:class:`seal_gym.configs.HelpFormatter`); bad
input is one line on stderr and exit code 2 (:class:`seal_gym.configs.ArgumentParser`).
"""

from __future__ import annotations

import argparse
import sys

from seal_gym import __version__
from seal_gym.commands import SUBCOMMANDS, add_subcommands
from seal_gym.configs import ArgumentParser, HelpFormatter

def build_parser() -> argparse.ArgumentParser:
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
    args = build_parser().parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
