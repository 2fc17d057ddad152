"""How ``seal-gym`` shows help: plain text with every option's default shown once (:class:`HelpFormatter`). Bad
input is reported by its parser (:class:`seal_gym.commands.parser.ArgumentParser`): one line on stderr, exit
code 2."""

from __future__ import annotations

import argparse
import copy
import re
import textwrap
from typing import Any

_ROLE = re.compile(r":(?:[a-z]+:)+`([^`]+)`")
_STATES_DEFAULT = re.compile(r"default\s*[:=]|defaults? to\b|%\(default\)", re.IGNORECASE)


def plain_text(text: str) -> str:
    """Docstring text for a terminal: reStructuredText roles and literals become plain words.

    >>> plain_text("see :class:`~seal_gym.arc.ttt.TTTConfig` and :func:`seal_gym.models.load_model`; ``x=1``")
    'see TTTConfig and seal_gym.models.load_model; x=1'
    """
    def role(match: re.Match) -> str:
        target = match.group(1).split(" <")[0]
        return target.lstrip("~").rsplit(".", 1)[-1] if target.startswith("~") else target

    return _ROLE.sub(role, text).replace("``", "")


def _default_text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value)
    return str(value)


class HelpFormatter(argparse.HelpFormatter):
    """Terminal help for ``seal-gym``: plain text (docstring markup removed, see :func:`plain_text`), and
    every option's default shown once: ``(default: X)`` is added unless the help states its default already
    (``default: ...``, ``defaults to ...``, ``%(default)s``). A description keeps its paragraphs (filled to
    the terminal) and its indented lines (examples, tables) as written."""

    def _format_text(self, text: str) -> str:
        return super()._format_text(plain_text(text))

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        out: list[str] = []
        paragraph: list[str] = []

        def fill() -> None:
            if paragraph:
                out.append(super(HelpFormatter, self)._fill_text(" ".join(paragraph), width, indent))
                paragraph.clear()

        for line in textwrap.dedent(text).strip("\n").splitlines():
            if line.startswith((" ", "\t")) or not line.strip():
                fill()
                out.append(indent + line.rstrip() if line.strip() else "")
            else:
                paragraph.append(line.strip())
        fill()
        return "\n".join(out)

    def _format_action(self, action: argparse.Action) -> str:
        if action.help is not argparse.SUPPRESS:
            action = copy.copy(action)
            action.help = self.help_with_default(action)
        return super()._format_action(action)

    @staticmethod
    def help_with_default(action: argparse.Action) -> str | None:
        """The help text of ``action`` as shown: plain, with its default once."""
        text = plain_text(action.help or "")
        if action.option_strings and action.default is not argparse.SUPPRESS and not _STATES_DEFAULT.search(text):
            text = f"{text} (default: {_default_text(action.default).replace('%', '%%')})".strip()
        return text or None
