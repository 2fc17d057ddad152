"""Where an evaluation's self-edits come from: a writer (any policy's ``act``) or a file of completions.

Evaluations take self-edits as plain data (:class:`SelfEdits`: a label and a list per task), written before
any inner loop runs. So a trained policy can write with its own weights and be taken out of the model
before the base model is trained on what it wrote, and a test can hand in self-edits whose effect it knows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from seal_gym.squad.passages import Passage

Writer = Callable[[Sequence[str]], list[str]]
"""Maps prompts to one self-edit each: a policy's ``act`` (see ``seal_gym.agents.TextPolicy``)."""


@dataclass(frozen=True)
class SelfEdits:
    """One source's self-edits for the tasks of an evaluation: ``per_task[i]`` lists task i's (may be empty)."""

    label: str
    """How tables and charts name the condition, e.g. "passage + base model's self-edits"."""
    per_task: list[list[str]]


def write_self_edits(write: Writer, prompts: Sequence[str], n: int,
                     progress: Callable[[int], None] | None = None, chunk: int = 8) -> list[list[str]]:
    """``n`` self-edits per prompt from ``write``, asked ``chunk`` prompts (times ``n``) at a time.

    ``progress(done)`` is called after each chunk with the number of prompts done so far.

    >>> write_self_edits(lambda prompts: [p.upper() for p in prompts], ["a", "b"], 2)
    [['A', 'A'], ['B', 'B']]
    """
    if n < 1:
        raise ValueError(f"n must be >= 1 self-edit per prompt, got {n}")
    out: list[list[str]] = []
    for start in range(0, len(prompts), chunk):
        part = prompts[start : start + chunk]
        flat = write([p for p in part for _ in range(n)])
        if len(flat) != len(part) * n:
            raise ValueError(f"the writer returned {len(flat)} self-edits for {len(part) * n} prompts")
        out.extend(flat[i * n : (i + 1) * n] for i in range(len(part)))
        if progress:
            progress(len(out))
    return out


def completions_from_file(path: str | Path, passages: Sequence[Passage], n: int) -> list[list[str]]:
    """Up to ``n`` self-edits per passage from a JSON list of ``{"context", "completions"}`` records (a
    SEAL-format file such as ``../shared/data/squad/train.json``), matched to passages by their context.

    Raises:
        FileNotFoundError: no such file. ValueError: not a list of such records, or none matches a passage.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no self-edit file at {path}")
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
        by_context = {str(r["context"]).strip(): [str(c) for c in r.get("completions", ())] for r in records}
    except (json.JSONDecodeError, TypeError, KeyError, AttributeError) as err:
        raise ValueError(f"{path}: expected a JSON list of {{\"context\", \"completions\"}} records ({err!r})") from None
    found = [by_context.get(p.context.strip(), [])[:n] for p in passages]
    if not any(found):
        raise ValueError(f"{path} has no completions for any of the {len(passages)} passages evaluated")
    return found
