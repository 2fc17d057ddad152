"""Scripted policies: baselines and test doubles that write known self-edits.

- :class:`ConstantPolicy`, :class:`ReplayPolicy`: known texts (tests, the passage-only condition).

A domain's own baselines (SealSquad's passage and prompt-ensemble writers) live with the domain and are named
in its :class:`~seal_gym.domain_spec.DomainSpec` (``scripted``).

>>> ConstantPolicy("The facts, restated.").act(["passage one", "passage two"])
['The facts, restated.', 'The facts, restated.']
>>> ReplayPolicy(["first", "second"]).act(["a", "b", "c"])
['first', 'second', 'first']
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence


class ConstantPolicy:
    """Writes the same self-edit for every observation (e.g. ``""`` to measure the passage-only condition)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def act(self, observations: Sequence[str]) -> list[str]:
        return [self.text for _ in observations]


class ReplayPolicy:
    """Replays self-edits in order, cycling when they run out.

    Args:
        self_edits: the texts to replay.
    """

    def __init__(self, self_edits: Sequence[str]) -> None:
        if not self_edits:
            raise ValueError("ReplayPolicy needs at least one self-edit")
        self.self_edits = list(self_edits)
        self.position = 0

    def act(self, observations: Sequence[str]) -> list[str]:
        out = []
        for _ in observations:
            out.append(self.self_edits[self.position % len(self.self_edits)])
            self.position += 1
        return out

    @classmethod
    def from_file(cls, path: str | Path) -> "ReplayPolicy":
        """Self-edits from a text file (one per blank-line-separated block), a JSON list of strings, or a
        SEAL-format JSON file (every passage's ``completions``, in order)."""
        path = Path(path)
        text = path.read_text(encoding="utf-8")
        if path.suffix != ".json":
            return cls([block.strip() for block in text.split("\n\n") if block.strip()])
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err})") from err
        if isinstance(data, list) and all(isinstance(x, str) for x in data):
            return cls(data)
        if isinstance(data, list) and all(isinstance(x, dict) for x in data):
            return cls([c for record in data for c in record.get("completions", [])])
        raise ValueError(f"{path}: expected a list of strings or a SEAL-format list of passages with 'completions'")
