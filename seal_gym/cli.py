"""The ``seal-gym`` command line. Each subcommand lives in its own module under ``seal_gym.commands``."""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> module exposing ``add_arguments(parser)``, ``HELP`` and ``run(args) -> int``.
SUBCOMMANDS = {
    "squad-table": "seal_gym.commands.squad_table",
    "arc-eval": "seal_gym.commands.arc_eval",
    "train": "seal_gym.commands.train",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seal-gym", description="SEAL self-adapting language models as Gymnasium envs.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(name, help=module.HELP, description=module.__doc__,
                                    formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
