"""Gymnasium spaces for free text: the observations and actions of LLM policies."""

from __future__ import annotations

import string
from typing import Any

import numpy as np
from gymnasium.spaces import Text

SAMPLE_CHARSET = string.ascii_letters + string.digits + string.punctuation + " \n"


class FreeText(Text):
    """A :class:`~gymnasium.spaces.Text` space that contains any printable string, newlines and tabs included.

    Gymnasium's ``Text`` only contains strings over a fixed charset (letters and digits by default), so an
    LLM's output would not be "in" it. ``contains`` here accepts every printable Unicode character (any
    script) plus ``\\n``, ``\\r`` and ``\\t``, up to ``max_length`` characters. ``sample`` draws short strings
    of ASCII letters, digits, punctuation, spaces and newlines.

    Args:
        max_length: longest string contained in the space.
        sample_max_length: longest string that ``sample`` returns (keeps random actions cheap).
    """

    def __init__(self, max_length: int, sample_max_length: int = 200, seed: int | np.random.Generator | None = None):
        super().__init__(max_length=max_length, min_length=0, charset=SAMPLE_CHARSET, seed=seed)
        self.sample_max_length = min(sample_max_length, max_length)

    def contains(self, x: Any) -> bool:
        return (
            isinstance(x, str)
            and len(x) <= self.max_length
            and all(c.isprintable() or c in "\n\r\t" for c in x)
        )

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        if mask is not None or probability is not None:
            return super().sample(mask=mask, probability=probability)
        length = int(self.np_random.integers(0, self.sample_max_length + 1))
        chars = self.np_random.choice(len(SAMPLE_CHARSET), size=length)
        return "".join(SAMPLE_CHARSET[i] for i in chars)

    def __repr__(self) -> str:
        return f"FreeText(max_length={self.max_length})"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, FreeText) and other.max_length == self.max_length
