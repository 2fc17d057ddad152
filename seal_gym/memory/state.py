"""A knowledge base's data, as values: its documents and updates (:class:`State`), what an accepted update
left (:class:`UpdateRecord`, :class:`SavedAdapter`) and what it was created with (:class:`Settings`).
:mod:`seal_gym.memory.store` reads and writes them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seal_gym.memory.documents import MAX_PASSAGE_CHARS, Document, Question, Tag


@dataclass(frozen=True)
class UpdateRecord:
    """An accepted update: its adapter and what it taught (its retention questions)."""

    id: str
    adapter: str
    """File name under ``adapters/``."""
    documents: tuple[str, ...]
    questions: tuple[Question, ...]
    """Asked again before every later update (the forgetting guard)."""
    sequences: tuple[str, ...]
    """The texts it was trained on."""
    time: str

    def record(self) -> dict[str, Any]:
        return {"id": self.id, "adapter": self.adapter, "documents": list(self.documents), "time": self.time,
                "sequences": list(self.sequences),
                "questions": [{"question": q.question, "answer": q.answer, "title": q.title, "written": q.written}
                              for q in self.questions]}

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> "UpdateRecord":
        return cls(str(r["id"]), str(r["adapter"]), tuple(r["documents"]),
                   tuple(Question(str(q["question"]), str(q["answer"]), str(q.get("title", "")), bool(q.get("written")))
                         for q in r["questions"]),
                   tuple(r.get("sequences", ())), str(r.get("time", "")))


@dataclass(frozen=True)
class SavedAdapter:
    """An accepted update as a weight editor loads it."""

    id: str
    path: Path
    """Its safetensors file."""
    sequences: tuple[str, ...]
    """The texts it was trained on."""


@dataclass(frozen=True)
class State:
    """One complete state of a knowledge base (immutable: a change makes a new one)."""

    documents: tuple[Document, ...] = ()
    updates: tuple[UpdateRecord, ...] = ()
    """Accepted updates, in the order their adapters apply."""
    log: tuple[dict[str, Any], ...] = ()
    """Every update attempt (accepted or rolled back), oldest first."""
    folder: Path | None = None
    """Where it is stored (``None`` before it is committed)."""

    def pending(self) -> list[Document]:
        """Durable documents no update has taken up yet (and that one can: see :meth:`unlearnable`)."""
        return [d for d in self.documents if d.tag == "durable" and d.update is None and unlearnable(d) is None]

    def unlearnable(self) -> list[tuple[Document, str]]:
        """Durable documents no update will take up, each with the reason (searchable all the same)."""
        return [(d, why) for d in self.documents if d.tag == "durable" and d.update is None
                for why in [unlearnable(d)] if why is not None]

    @property
    def index_dir(self) -> Path | None:
        return self.folder / "index" if self.folder else None


def unlearnable(doc: Document) -> str | None:
    """Why an update cannot learn ``doc`` (``None``: it can): a text over the passage limit, which only a
    knowledge base filled before the limit holds (re-adding the document splits it into passages)."""
    if len(doc.text) > MAX_PASSAGE_CHARS:
        return (f"{len(doc.text):,} characters, more than the {MAX_PASSAGE_CHARS:,} an update learns at once (added "
                "before documents were split into passages: add it again to split it)")
    return None


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


@dataclass(frozen=True)
class Settings:
    """What ``kb.json`` records when a knowledge base is created."""

    model: str | None
    """The model name or path (``None``: the embedded model)."""
    default_tag: Tag = "durable"
    """Tag of an added document that names none."""
    created: str = field(default_factory=now)
