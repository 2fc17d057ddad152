"""The ``seal-gym`` command line: the table of subcommands, and the parser built from it.

Each subcommand is a module here (``add_arguments(parser)``, ``run(args) -> int``), listed with its one-line
help in :data:`SUBCOMMANDS` and imported only when it runs; its options come from config dataclasses
(:mod:`seal_gym.commands.options`), its help from :mod:`seal_gym.commands.help`, its errors and the options it
was given from :mod:`seal_gym.commands.parser`. ``seal_gym.cli`` is only the console script's entry point.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any

from seal_gym import __version__
from seal_gym.commands.help import HelpFormatter
from seal_gym.commands.parser import ArgumentParser

# name -> (module exposing ``add_arguments(parser)`` and ``run(args) -> int``, one-line help). The help lives
# here, not in the module, so that `seal-gym --help` lists every command without importing one (and torch).
SUBCOMMANDS = {
    "eval": ("seal_gym.commands.evaluate",
             "evaluate self-edits: eval squad (single passage, --cpt N), eval arc, eval continual, eval memory"),
    "squad-table": ("seal_gym.commands.squad_table",
                    "alias of `eval squad`: the knowledge-incorporation table with its defaults"),
    "arc-eval": ("seal_gym.commands.arc_eval",
                 "alias of `eval arc`: TTT recipes (none / default / grid oracle) on ARC tasks"),
    "train": ("seal_gym.commands.train",
              "train a self-edit policy (ReST-EM, ...) with TensorBoard logs, checkpoints and --resume"),
    "memory": ("seal_gym.commands.memory", "a knowledge base that learns on a schedule: memory add | update | ask | status"),
    "serve": ("seal_gym.commands.serve",
              "serve SEAL rewards over HTTP: concurrent self-edits batched into few inner-loop engine calls"),
    "writers": ("seal_gym.commands.writers",
                "where a published writer's files are (here, a store, git); keep its tensors out of the branch"),
    "synthesize": ("seal_gym.commands.synthesize",
                   "turn documents into a SEAL-format self-edit corpus (resumable, with diversity statistics)"),
}


class CommandParser(ArgumentParser):
    """A subcommand's parser that imports its module and adds its options only when it is used (to parse or
    to show help), so that one command never waits for the imports of the others."""

    def __init__(self, *args: Any, module: str | None = None, run_key: str = "run", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._module, self._run_key = module, run_key
        self._before_parse = None
        """The module's ``before_parse(parser, args)``, if it has one: it sees the raw arguments first (``train``
        imports ``--env-import`` modules there, so the options of a domain they register can be parsed)."""

    def load(self, recursive: bool = False) -> "CommandParser":
        """Import the module and add its options (once); ``recursive``: its own subcommands' too."""
        if self._module is not None:
            name, self._module = self._module, None
            module = importlib.import_module(name)
            self.description = module.__doc__
            module.add_arguments(self)
            self._before_parse = getattr(module, "before_parse", None)
            self.set_defaults(**{self._run_key: module.run})
            _plain_help_everywhere(self)
        if recursive and self.subcommands is not None:
            for child in self.subcommands.choices.values():
                if isinstance(child, CommandParser):
                    child.load(recursive=True)
        return self

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        self.load()
        if self._before_parse is not None:
            self._before_parse(self, list(args) if args is not None else sys.argv[1:])
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        return super(CommandParser, self.load()).format_help()

    def format_usage(self) -> str:
        return super(CommandParser, self.load()).format_usage()


def add_subcommands(parser: ArgumentParser, commands: dict[str, tuple[str, str]], dest: str, metavar: str,
                    run_key: str, lazy: bool = True) -> None:
    """One :class:`CommandParser` per ``name -> (module, help)``; the chosen module's ``run`` lands in
    ``args.<run_key>`` (a nested level needs its own key: the outer default wins). ``lazy=False`` loads every
    module now (to walk the whole tree of options)."""
    subparsers = parser.add_subparsers(dest=dest, required=True, metavar=metavar, parser_class=CommandParser)
    for name, (module, help_text) in commands.items():
        sub = subparsers.add_parser(name, help=help_text, formatter_class=HelpFormatter, module=module, run_key=run_key)
        if not lazy:
            sub.load(recursive=True)  # nested levels too (eval squad, memory add)


def build_parser(lazy: bool = False) -> argparse.ArgumentParser:
    """The whole ``seal-gym`` parser: every subcommand of :data:`SUBCOMMANDS`, help in plain text everywhere.

    Args:
        lazy: import a subcommand's module only when that subcommand is parsed or its help shown (what
            :func:`main` does); else all of them now.
    """
    parser = ArgumentParser(prog="seal-gym", description="SEAL self-adapting language models as Gymnasium envs.",
                            formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"seal-gym {__version__}")
    add_subcommands(parser, SUBCOMMANDS, dest="command", metavar="COMMAND", run_key="run", lazy=lazy)
    _plain_help_everywhere(parser)
    return parser


def _plain_help_everywhere(parser: ArgumentParser) -> None:
    """Give nested subcommands (a command's own ``add_subparsers``) the same help formatter."""
    parser.formatter_class = HelpFormatter
    for child in parser.subcommands.choices.values() if parser.subcommands is not None else ():
        _plain_help_everywhere(child)


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``) and run the chosen command; its exit code."""
    args = build_parser(lazy=True).parse_args(argv)
    return int(args.run(args) or 0)
