"""Where an evaluation's self-edits come from: a writer (any policy's ``act``), a file of completions, or a
baseline (a prompt ensemble, the passage itself).

Evaluations take self-edits as plain data (:class:`SelfEdits`: a label and a list per task), written before
any inner loop runs. So a trained policy can write with its own weights and be taken out of the model
before the base model is trained on what it wrote, and a test can hand in self-edits whose effect it knows.

A self-edit is cut into training items by the inner loop's prompt style. A baseline whose text was not
written under that style (an ensemble's self-edits, each split its own way; the passage, one item) is
handed over as its items re-joined so that the loop's style splits them back into exactly those items
(:func:`join_items`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from seal_gym.squad.passages import Passage
from seal_gym.squad.prompts import PromptStyle, get_prompt_style

ENSEMBLE_STYLES = ("implications", "implications-long", "rewrite", "self-qa")
"""The fixed prompt set of the prompt-ensemble baseline: one self-edit per style, pooled into one adapter."""

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


def join_items(items: Sequence[str], style: str | PromptStyle) -> str:
    r"""One self-edit text that ``style`` splits back into ``items``.

    Paragraph (and whole-text) styles get the items separated by blank lines (blank lines inside an item
    closed up); line styles get one item per line (line breaks inside an item become spaces, and an item
    that starts with something like a list marker gets a ``- `` of its own, which the split removes).

    >>> lines, paragraphs = get_prompt_style("implications"), get_prompt_style("rewrite")
    >>> items = ["1. is kept", "A rewrite,\nover two lines."]
    >>> join_items(items, paragraphs)
    '1. is kept\n\nA rewrite,\nover two lines.'
    >>> lines.split_items(join_items(items, lines))
    ['1. is kept', 'A rewrite, over two lines.']
    """
    style = get_prompt_style(style)
    items = [item.strip() for item in items if item.strip()]
    if style.split != "lines":  # paragraphs, or the whole self-edit as one item: keep each item's own lines
        return "\n\n".join(re.sub(r"\n\s*\n", "\n", item) for item in items)
    flat = [re.sub(r"\s*\n\s*", " ", item) for item in items]
    return "\n".join(item if style.split_items(item) == [item] else f"- {item}" for item in flat)


def ensemble_self_edit(outputs: Sequence[str], styles: Sequence[str | PromptStyle],
                       target: str | PromptStyle) -> str:
    r"""One self-edit of the items of ``outputs[k]`` split by ``styles[k]`` (its own style), joined for ``target``.

    >>> ensemble_self_edit(["- Alpha is red.\n- Beta is blue.", "Alpha, red.\n\nBeta, blue."],
    ...                    ["implications", "rewrite"], "implications")
    'Alpha is red.\nBeta is blue.\nAlpha, red.\nBeta, blue.'
    """
    if len(outputs) != len(styles):
        raise ValueError(f"{len(outputs)} ensemble outputs for {len(styles)} prompt styles")
    return join_items([item for text, style in zip(outputs, styles) for item in get_prompt_style(style).split_items(text)],
                      target)


def write_ensemble(write: Writer, passages: Sequence[Passage], n: int, target: str | PromptStyle,
                   styles: Sequence[str | PromptStyle] = ENSEMBLE_STYLES,
                   progress: Callable[[int], None] | None = None) -> list[list[str]]:
    """``n`` prompt-ensemble self-edits per passage: each pools one self-edit per style of ``styles`` (every
    one split by its own style), re-joined for the inner loop's style ``target``.

    ``progress(done)`` is called after each style with the number of styles written so far.
    """
    if not styles:
        raise ValueError("a prompt ensemble needs at least one prompt style")
    resolved = [get_prompt_style(style) for style in styles]
    by_style = []  # [style][passage][sample]
    for done, style in enumerate(resolved, 1):
        by_style.append(write_self_edits(write, [style.render(p.title, p.context) for p in passages], n))
        if progress:
            progress(done)
    return [[ensemble_self_edit([edits[i][k] for edits in by_style], resolved, target) for k in range(n)]
            for i in range(len(passages))]


def passage_self_edits(passages: Sequence[Passage], target: str | PromptStyle) -> list[list[str]]:
    r"""The passage itself as each passage's one self-edit, as one training item under the loop's style ``target``.

    >>> passage_self_edits([Passage("T", "Line one.\nLine two.", ())], "implications")
    [['Line one. Line two.']]
    """
    return [[join_items([p.context], target)] for p in passages]
