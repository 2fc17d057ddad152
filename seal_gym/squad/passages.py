"""Passages and their questions: the data of knowledge incorporation (SealSquad).

Three sources, one type:

- ``"demo"``: 20 short passages about invented places, people and events, shipped with the package (the
  offline default; no model can know these facts before training);
- a path to a JSON file in the SEAL format: a list of ``{"title", "context", "questions": [{"question",
  "answer"}], "completions"?}`` (``../shared/data/squad/train.json`` is one);
- ``"hf:squad"`` (optionally ``"hf:squad:validation"``): SQuAD v1.1 through the ``datasets`` library.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from seal_gym.squad.splits import parse_split, per_topic_indices, split_indices, topics_split


@dataclass(frozen=True)
class QA:
    question: str
    answer: str


@dataclass(frozen=True)
class Passage:
    """A passage to incorporate, the questions asked about it later (without it), example self-edits."""

    title: str
    context: str
    questions: tuple[QA, ...]
    completions: tuple[str, ...] = field(default=())
    """Self-edits written for this passage by some model (may be empty)."""


def _parse(records: list, source: str) -> list[Passage]:
    if not isinstance(records, list):
        raise ValueError(f"{source}: expected a JSON list of passages, got {type(records).__name__}")
    passages = []
    for i, rec in enumerate(records):
        try:
            questions = tuple(QA(str(q["question"]), str(q["answer"])) for q in rec["questions"])
            passages.append(
                Passage(str(rec["title"]), str(rec["context"]), questions, tuple(map(str, rec.get("completions", ()))))
            )
        except (KeyError, TypeError) as err:
            raise ValueError(
                f"{source}: passage {i} is not in the SEAL format "
                '{"title", "context", "questions": [{"question", "answer"}]} (' + repr(err) + ")"
            ) from err
        if not questions:
            raise ValueError(f"{source}: passage {i} ({rec['title']!r}) has no questions")
    if not passages:
        raise ValueError(f"{source}: no passages")
    return passages


def demo_passages() -> list[Passage]:
    """The built-in demo set: invented facts, 5 questions each."""
    text = resources.files("seal_gym").joinpath("data/demo_squad.json").read_text(encoding="utf-8")
    return _parse(json.loads(text), "built-in demo set")


def load_json_passages(path: str | Path) -> list[Passage]:
    """Passages from a JSON file in the SEAL format."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no passage file at {path}")
    with open(path, encoding="utf-8") as f:
        try:
            records = json.load(f)
        except json.JSONDecodeError as err:  # its message alone names no file
            raise ValueError(f"{path}: not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})") from None
    return _parse(records, str(path))


def load_hf_squad(split: str = "validation") -> list[Passage]:
    """SQuAD v1.1 from the Hugging Face hub, grouped by passage (first gold answer of each question)."""
    try:
        import datasets
    except ImportError as err:
        raise ImportError("loading SQuAD from the hub needs the datasets package, a dependency of seal-gym: "
                          "pip install datasets") from err
    try:
        rows = datasets.load_dataset("rajpurkar/squad", split=split)
    except Exception as err:  # the hub raises many types: connection, HTTP, offline mode
        raise ConnectionError(
            f"could not load SQuAD from the Hugging Face hub ({type(err).__name__}: {err}). Without network, "
            "use dataset='demo' or a SEAL-format JSON file such as ../shared/data/squad/val.json."
        ) from err
    grouped: dict[str, dict] = {}
    for row in rows:
        rec = grouped.setdefault(row["context"], {"title": row["title"].replace("_", " "), "context": row["context"], "questions": []})
        rec["questions"].append({"question": row["question"], "answer": row["answers"]["text"][0]})
    return _parse(list(grouped.values()), f"hub SQuAD {split}")


def load_passages(dataset: str | Path | list[Passage] = "demo") -> list[Passage]:
    """Passages from any source: ``"demo"``, a JSON path, ``"hf:squad[:split]"``, or a list of Passage.

    A suffix ``@tune``, ``@train`` or ``@heldout`` keeps one fixed split of the source
    (:func:`seal_gym.squad.splits.split_indices`), in file order; ``@topics-K`` keeps K passages of every title
    (:func:`seal_gym.squad.splits.per_topic_indices`).
    """
    if isinstance(dataset, list):
        if not all(isinstance(p, Passage) for p in dataset):
            raise TypeError("a dataset given as a list must hold seal_gym.squad.passages.Passage objects")
        return dataset
    source, split = parse_split(str(dataset))
    if split is not None:
        passages = load_passages(source)
        per_topic = topics_split(split)
        if per_topic is not None:
            return [passages[i] for i in per_topic_indices([p.title for p in passages], per_topic)]
        return [passages[i] for i in split_indices(len(passages))[split]]
    name = str(dataset)
    if name == "demo":
        return demo_passages()
    if name.startswith("hf:"):
        parts = name.split(":")
        if parts[1] != "squad":
            raise ValueError(f"unknown hub dataset {name!r}; only 'hf:squad' or 'hf:squad:<split>' is supported")
        return load_hf_squad(parts[2] if len(parts) > 2 else "validation")
    return load_json_passages(name)
