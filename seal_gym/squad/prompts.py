"""Self-edit prompt styles for knowledge incorporation, and how a self-edit is split into training items.

A style is the instruction shown to the policy (the observation of ``SealSquad-v0``) plus the rule that
splits the policy's answer into separate training sequences. Add your own with
:func:`register_prompt_style` or pass a :class:`PromptStyle` to the env.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

_LIST_MARKER = re.compile(r"^\s*(?:[-*\u2022]|\d+[.):]|\(\d+\))\s*")


@dataclass(frozen=True)
class PromptStyle:
    """How to ask for a self-edit and how to cut it into training items.

    Args:
        name: registry key.
        template: instruction with ``{title}`` and ``{passage}`` placeholders.
        split: ``"lines"`` (one item per non-empty line, list markers removed), ``"paragraphs"``
            (items separated by blank lines) or ``"whole"`` (the self-edit is one item).
    """

    name: str
    template: str
    split: Literal["lines", "paragraphs", "whole"] = "lines"

    def render(self, title: str, passage: str) -> str:
        return self.template.format(title=title, passage=passage)

    def split_items(self, self_edit: str) -> list[str]:
        """The training items of a self-edit. Empty items are dropped.

        >>> PROMPT_STYLES["implications"].split_items("1. Alpha is red.\\n\\n- Beta is blue.")
        ['Alpha is red.', 'Beta is blue.']
        """
        if self.split == "whole":
            pieces = [self_edit]
        elif self.split == "paragraphs":
            pieces = re.split(r"\n\s*\n", self_edit)
        else:
            pieces = [_LIST_MARKER.sub("", line, count=1) for line in self_edit.splitlines()]
        return [p.strip() for p in pieces if p.strip()]


PROMPT_STYLES: dict[str, PromptStyle] = {}


def register_prompt_style(style: PromptStyle) -> None:
    """Make ``style`` available by name (``prompt_style="<name>"``); a name can be registered once."""
    if style.name in PROMPT_STYLES:
        raise ValueError(f"prompt style {style.name!r} exists already")
    PROMPT_STYLES[style.name] = style


def get_prompt_style(style: str | PromptStyle) -> PromptStyle:
    if isinstance(style, PromptStyle):
        return style
    try:
        return PROMPT_STYLES[style]
    except KeyError:
        raise ValueError(f"unknown prompt style {style!r}; known: {sorted(PROMPT_STYLES)}") from None


for _style in (
    PromptStyle(
        "implications",
        "Here is a passage titled \"{title}\".\n\n{passage}\n\n"
        "Write down what this passage implies: the facts it states and the conclusions that follow from "
        "them. Put each one on its own line as a complete sentence that names its subject.",
    ),
    PromptStyle(
        "implications-long",
        "Here is a passage titled \"{title}\".\n\n{passage}\n\n"
        "Write a long, thorough list of everything this passage implies: every fact, number, name and date "
        "it states, restated in different words, and every conclusion that follows from them. One complete "
        "sentence per line, each naming its subject.",
    ),
    PromptStyle(
        "rewrite",
        "Here is a passage titled \"{title}\".\n\n{passage}\n\n"
        "Rewrite this passage three times in your own words, keeping every fact. Separate the rewrites "
        "with a blank line.",
        split="paragraphs",
    ),
    PromptStyle(
        "self-qa",
        "Here is a passage titled \"{title}\".\n\n{passage}\n\n"
        "Turn this passage into questions and answers that cover every fact in it. Write each pair on one "
        "line in the form: Question? Answer.",
    ),
):
    register_prompt_style(_style)
