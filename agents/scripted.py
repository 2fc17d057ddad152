"""Scripted policies: baselines and test doubles that write known self-edits.

- :class:`ConstantPolicy`, :class:`ReplayPolicy`: known texts (tests, the passage-only condition);
- :class:`PassagePolicy`: the passage of the observation as its self-edit (a baseline);
- :class:`PromptEnsemblePolicy`: a writer asked once per fixed prompt style, the items pooled (a baseline).

The last two read the title and passage back out of a SealSquad observation, so they need the env's prompt
style (``"implications"`` unless the env was made with another).

>>> ConstantPolicy("The facts, restated.").act(["passage one", "passage two"])
['The facts, restated.', 'The facts, restated.']
>>> ReplayPolicy(["first", "second"]).act(["a", "b", "c"])
['first', 'second', 'first']
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable, Sequence

from seal_gym.self_edits import ENSEMBLE_STYLES, ensemble_self_edit, join_items
from seal_gym.squad.prompts import PromptStyle, get_prompt_style


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


def parse_prompt(observation: str, style: str | PromptStyle) -> tuple[str, str]:
    r"""The title and passage of an observation rendered by ``style``.

    >>> parse_prompt(get_prompt_style("rewrite").render("Port Varrow", "The light is green."), "rewrite")
    ('Port Varrow', 'The light is green.')

    Raises:
        ValueError: the observation is not a prompt of that style.
    """
    style = get_prompt_style(style)
    pattern = re.escape(style.template).replace(re.escape("{title}"), "(?P<title>.*?)", 1)
    pattern = pattern.replace(re.escape("{passage}"), "(?P<passage>.*)", 1)
    match = re.fullmatch(pattern, observation, re.DOTALL)
    if match is None:
        raise ValueError(f"the observation is not a {style.name!r} prompt (pass the env's prompt_style): "
                         f"{observation[:60]!r}...")
    return match.group("title"), match.group("passage")


class PassagePolicy:
    """Writes the passage itself as the self-edit (one training item under the env's prompt style).

    Args:
        prompt_style: the env's prompt style, to read the passage out of its observations.

    >>> PassagePolicy().act([get_prompt_style("implications").render("T", "Alpha.\\nBeta.")])
    ['Alpha. Beta.']
    """

    def __init__(self, prompt_style: str | PromptStyle = "implications") -> None:
        self.style = get_prompt_style(prompt_style)

    def act(self, observations: Sequence[str]) -> list[str]:
        return [join_items([parse_prompt(o, self.style)[1]], self.style) for o in observations]


class PromptEnsemblePolicy:
    """Asks a writer once per fixed prompt style and pools the answers into one self-edit per observation.

    Each answer is split into items by the style it was written under, and the items are joined so that
    the env's style splits them back (see :func:`seal_gym.self_edits.join_items`). All prompts
    of a call go to the writer in one batch.

    Args:
        write: maps prompts to one self-edit each (e.g. an ``LMPolicy``'s ``act``).
        styles: the fixed prompt set (default :data:`~seal_gym.self_edits.ENSEMBLE_STYLES`).
        prompt_style: the env's prompt style (reads its observations; splits the pooled self-edit).

    >>> policy = PromptEnsemblePolicy(lambda prompts: [p.split('"')[1] for p in prompts], ["implications", "rewrite"])
    >>> policy.act([get_prompt_style("implications").render("Port Varrow", "...")])
    ['Port Varrow\\nPort Varrow']
    """

    def __init__(self, write: Callable[[Sequence[str]], list[str]],
                 styles: Sequence[str | PromptStyle] = ENSEMBLE_STYLES,
                 prompt_style: str | PromptStyle = "implications") -> None:
        if not styles:
            raise ValueError("a prompt ensemble needs at least one prompt style")
        self.write, self.styles = write, [get_prompt_style(s) for s in styles]
        self.style = get_prompt_style(prompt_style)

    def act(self, observations: Sequence[str]) -> list[str]:
        sources = [parse_prompt(o, self.style) for o in observations]
        outputs = self.write([s.render(title, passage) for title, passage in sources for s in self.styles])
        k = len(self.styles)
        if len(outputs) != k * len(sources):
            raise ValueError(f"the writer returned {len(outputs)} self-edits for {k * len(sources)} prompts")
        return [ensemble_self_edit(outputs[i * k : (i + 1) * k], self.styles, self.style) for i in range(len(sources))]
