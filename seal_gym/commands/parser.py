"""The parser every ``seal-gym`` command is built on: it keeps in public attributes what argparse keeps private
(its options, its subcommands), notes which options the command line named (:data:`GIVEN`), and reports bad
input in one line. How help looks is :mod:`seal_gym.commands.help`'s.

Nothing here, nor anywhere in seal_gym, reads argparse's private attributes: what a parser holds is recorded as
it is added (``add_argument`` returns the action it made), and an option notes itself given when argparse calls
it (an ``argparse.Action`` subclass).
"""

from __future__ import annotations

import argparse
import difflib
import functools
import typing
from typing import Any, Callable

GIVEN = "given_options"
"""The attribute of the parsed args holding ``{dest: option string}`` of the options on the command line (only
for a parser :func:`note_given_options` was called on, and only once one is given)."""


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` that records what is added to it, and whose errors are one line on stderr
    (exit code 2), as every other bad input of ``seal-gym``: the usage is what ``--help`` is for."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Before argparse's own __init__: it adds -h and its default groups through the methods below.
        self.options: list[argparse.Action] = []
        """Every option added (through an argument group too), in the order added."""
        self.subcommands: argparse.Action | None = None
        """What ``add_subparsers`` returned: its ``choices`` map each subcommand's name to its parser."""
        self.notes_given = False
        """Whether the parsed args get :data:`GIVEN` (see :func:`note_given_options`)."""
        super().__init__(*args, **kwargs)

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        return self._add_recorded(super().add_argument, args, kwargs)

    def add_argument_group(self, *args: Any, **kwargs: Any) -> Any:
        return _RecordedGroup(super().add_argument_group(*args, **kwargs), self)

    def add_mutually_exclusive_group(self, **kwargs: Any) -> Any:
        return _RecordedGroup(super().add_mutually_exclusive_group(**kwargs), self)

    def add_subparsers(self, **kwargs: Any) -> Any:
        self.subcommands = super().add_subparsers(**kwargs)
        return self.subcommands

    def _add_recorded(self, add: Callable[..., argparse.Action], args: tuple, kwargs: dict) -> argparse.Action:
        """``add(*args, **kwargs)`` (this parser's or a group's ``add_argument``), its action one that can note
        itself given; an option is recorded in :attr:`options`."""
        action = add(*args, **{**kwargs, "action": _noting(kwargs.get("action"))})
        if action.option_strings:
            self.options.append(action)
        return action

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        """As argparse's, but an unknown option is refused by the subcommand that was given it, naming the
        closest option it has (``seal-gym synthesize: error: unrecognized arguments: --temprature (did you mean
        --sample-temperature?)``)."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            chosen = _chosen_parser(self, parsed)
            visible = [o for a in chosen.options if a.help != argparse.SUPPRESS for o in a.option_strings]
            unknown = next((e.split("=", 1)[0] for e in extras if e.startswith("-")), "")
            close = difflib.get_close_matches(unknown, visible, n=1, cutoff=0.6) if unknown else []
            hint = f" (did you mean {close[0]}?)" if close else ""
            chosen.error(f"unrecognized arguments: {' '.join(extras)}{hint}")
        return parsed


def note_given_options(parser: argparse.ArgumentParser) -> None:
    """Make ``parser``'s parsed args hold :data:`GIVEN`, the options the command line named: what lets a command
    tell an option given at its default value from one left out. Every option of the parser counts, whether
    added before this call or after it (a domain's options that ``--env-import`` brings)."""
    if not isinstance(parser, ArgumentParser):
        raise TypeError(f"note_given_options needs a {__name__}.ArgumentParser (it records its options), "
                        f"not {type(parser).__name__}")
    parser.notes_given = True


class _RecordedGroup:
    """An argument group whose options its parser records; anything else is the group's own."""

    def __init__(self, group: Any, parser: ArgumentParser) -> None:
        self.group, self.parser = group, parser

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        return self.parser._add_recorded(self.group.add_argument, args, kwargs)

    def add_mutually_exclusive_group(self, **kwargs: Any) -> "_RecordedGroup":
        return _RecordedGroup(self.group.add_mutually_exclusive_group(**kwargs), self.parser)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.group, name)


@functools.cache
def _noting(action: Any) -> Any:
    """The action class ``add_argument(action=action)`` makes (``action``: a name such as ``"store_true"``, a
    class, or ``None``), extended to note its option string in :data:`GIVEN` when the command line names it and
    its parser asks (:func:`note_given_options`)."""
    if isinstance(action, type):
        cls = action
    elif action is None or isinstance(action, str):
        # argparse maps a name to its class in a private registry; the class of a throwaway option is public.
        cls = type(argparse.ArgumentParser(add_help=False).add_argument("-x", action=action))
    else:
        return action  # a factory of actions: left as it is

    def __call__(self, parser, namespace, values, option_string=None):
        cls.__call__(self, parser, namespace, values, option_string)
        if option_string is not None and getattr(parser, "notes_given", False):  # None: a positional argument
            setattr(namespace, GIVEN, {**getattr(namespace, GIVEN, {}), self.dest: option_string})

    return type(cls.__name__, (cls,), {"__call__": __call__})


def _chosen_parser(parser: ArgumentParser, parsed: argparse.Namespace) -> ArgumentParser:
    """The deepest subcommand parser that ``parsed`` went through."""
    sub = parser.subcommands
    if sub is not None and getattr(parsed, sub.dest, None) in sub.choices:
        return _chosen_parser(sub.choices[getattr(parsed, sub.dest)], parsed)
    return parser
