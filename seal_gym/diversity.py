"""How varied self-edits are: distinct-n, a compression ratio and length, within one prompt and over a round.

RL on a writer is reported to collapse the diversity of what it writes (SPA, arXiv 2603.22213): the n
samples of one prompt come to repeat each other, and every prompt gets the same template. Two views catch
the two collapses:

- *per prompt*: the metric of one prompt's samples pooled, then averaged over prompts (samples repeating
  each other);
- *round*: the metric of every self-edit of the round pooled (one template for every prompt).

Words are lower-cased runs of letters and digits (``\\w+``), so punctuation and case do not count as variety.

>>> round_diversity([["the cat sat", "the cat sat"], ["a dog ran"]])["distinct_1"]
0.6666666666666666
"""

from __future__ import annotations

import re
import zlib
from dataclasses import asdict, dataclass
from typing import Sequence

NGRAMS = (1, 2, 3)
"""The n of the distinct-n metrics reported."""

_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """The lower-cased words of ``text``.

    >>> words("The Cat, the cat!")
    ['the', 'cat', 'the', 'cat']
    """
    return _WORD.findall(text.lower())


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Distinct n-grams over all n-grams of ``texts`` pooled (n-grams do not cross texts); 0.0 with none.

    >>> distinct_n(["the cat sat", "the cat ran"], 2)
    0.75
    >>> distinct_n(["same words", "same words"], 1), distinct_n([""], 1)
    (0.5, 0.0)
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    grams = [tuple(w[i : i + n]) for w in map(words, texts) for i in range(len(w) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def compression_ratio(texts: Sequence[str]) -> float:
    """Bytes of ``texts`` joined by newlines over their zlib-compressed bytes (level 9): higher = more repetitive.

    zlib's fixed overhead (~11 bytes) puts short texts below 1; compare ratios of similar amounts of text.
    0.0 for no text.

    >>> compression_ratio(["abc " * 50]) > 10 > compression_ratio(["The harbour light is green."])
    True
    """
    data = "\n".join(texts).encode("utf-8")
    return len(data) / len(zlib.compress(data, 9)) if data else 0.0


@dataclass(frozen=True)
class Diversity:
    """Diversity of a set of self-edits grouped by prompt (see the module docstring for the two views)."""

    distinct_1: float
    distinct_2: float
    distinct_3: float
    """Distinct n-grams / n-grams of every self-edit pooled (the round view)."""
    distinct_1_prompt: float
    distinct_2_prompt: float
    distinct_3_prompt: float
    """The same within each prompt's self-edits, averaged over the prompts that have an n-gram."""
    compression_ratio: float
    """Of every self-edit pooled."""
    compression_ratio_prompt: float
    """Of each prompt's self-edits, averaged over prompts."""
    self_edit_words: float
    """Mean words per self-edit."""
    self_edits: int
    """How many self-edits were measured."""

    def as_dict(self) -> dict[str, float]:
        return {key: float(value) for key, value in asdict(self).items()}


def diversity(texts_by_prompt: Sequence[Sequence[str]]) -> Diversity:
    """Every metric of :class:`Diversity` for self-edits grouped by prompt (prompts without any are skipped).

    >>> d = diversity([["one two", "one two"], ["three four"]])
    >>> d.distinct_1, d.distinct_1_prompt, d.self_edit_words, d.self_edits
    (0.6666666666666666, 0.75, 2.0, 3)
    """
    groups = [list(texts) for texts in texts_by_prompt if texts]
    pooled = [text for texts in groups for text in texts]

    def per_prompt(metric, groups=groups) -> float:
        return sum(metric(texts) for texts in groups) / len(groups) if groups else 0.0

    def long_enough(n: int) -> list[list[str]]:  # a prompt whose self-edits have no n-gram has no distinct-n
        return [texts for texts in groups if any(len(words(t)) >= n for t in texts)]

    distinct = {f"distinct_{n}": distinct_n(pooled, n) for n in NGRAMS}
    distinct_prompt = {f"distinct_{n}_prompt": per_prompt(lambda texts, n=n: distinct_n(texts, n), long_enough(n))
                       for n in NGRAMS}
    return Diversity(**distinct, **distinct_prompt, compression_ratio=compression_ratio(pooled),
                     compression_ratio_prompt=per_prompt(compression_ratio),
                     self_edit_words=sum(len(words(t)) for t in pooled) / len(pooled) if pooled else 0.0,
                     self_edits=len(pooled))


def round_diversity(texts_by_prompt: Sequence[Sequence[str]]) -> dict[str, float]:
    """:func:`diversity` as a flat dict, e.g. for one training round's TensorBoard scalars (``charts/<key>``)."""
    return diversity(texts_by_prompt).as_dict()
