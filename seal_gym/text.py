"""Cleaning self-edit text from a policy before it reaches a tokenizer."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field


@dataclass(frozen=True)
class CleanText:
    text: str
    notes: list[str] = field(default_factory=list)
    """What was changed, for ``info``: truncation, removed control characters, replaced surrogates."""


def clean_self_edit(action: object, max_chars: int) -> CleanText:
    """Make any string safe to tokenize: cut to ``max_chars``, drop control characters (newlines and tabs
    stay), replace invalid surrogates with U+FFFD.

    Raises:
        TypeError: when ``action`` is not a string; a self-edit is text.

    >>> clean_self_edit("ok\\x00\\ud800", 100).text
    'ok\\ufffd'
    """
    if not isinstance(action, str):
        raise TypeError(f"a self-edit action must be a str, got {type(action).__name__}")
    notes = []
    text = action
    if len(text) > max_chars:
        notes.append(f"truncated from {len(text)} to {max_chars} characters")
        text = text[:max_chars]
    # Lone surrogates cannot be encoded as UTF-8 and crash tokenizers; round-trip them to U+FFFD.
    repaired = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
    if repaired != text:
        notes.append("replaced invalid surrogate characters")
        text = repaired
    kept = "".join(c for c in text if c in "\n\t" or unicodedata.category(c) != "Cc")
    if kept != text:
        notes.append(f"removed {len(text) - len(kept)} control characters")
    return CleanText(kept, notes)
