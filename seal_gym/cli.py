"""The ``seal-gym`` console script. The command line itself (the subcommand table, the parser, every command)
is :mod:`seal_gym.commands`."""

from __future__ import annotations

import sys

from seal_gym.commands import SUBCOMMANDS, build_parser, main

__all__ = ["SUBCOMMANDS", "build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
