"""Documents of a knowledge base: what one is, and reading them from JSONL, JSON or a folder of text files.

Accepted inputs (``seal-gym memory add DOCS``, ``seal-gym synthesize DOCS``):

- a ``.jsonl`` file: one record per line;
- a ``.json`` file: a list of records (a SEAL-format file such as ``../shared/data/squad/val.json`` is one);
- a folder: every ``*.txt`` and ``*.md`` file in it (sorted by name), its name (without suffix) the title.

A record is ``{"title"?, "context" | "text", "questions"?: [{"question", "answer"}], "tag"?}``; ``tag`` is
``"durable"`` (written into the weights at the next update, and searchable) or ``"volatile"`` (searchable
only). Questions are optional: an update writes its own about a document that has none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Tag = Literal["durable", "volatile"]
TAGS = ("durable", "volatile")


@dataclass(frozen=True)
class Question:
    """A question about a document and its gold answer (the document's own, or one the model wrote)."""

    question: str
    answer: str
    title: str = ""
    """The title of the document it is about (asked as ``Topic: title``)."""
    written: bool = False
    """Written by the model (its answer may be a sentence: the guard grades it leniently, best-span F1 >= 0.5)."""


@dataclass(frozen=True)
class Document:
    """One ingested document."""

    id: str
    """Stable id within its knowledge base, e.g. ``d000012``."""
    title: str
    text: str
    questions: tuple[Question, ...] = ()
    """Its own questions (may be empty)."""
    tag: Tag = "durable"
    added: str = ""
    """When it was added (local time, ISO 8601)."""
    source: str = ""
    """The file it came from."""
    update: str | None = None
    """The update that took it up (accepted or rolled back); ``None`` while it waits for one."""

    def record(self) -> dict[str, Any]:
        """The JSON form stored in the knowledge base."""
        return {"id": self.id, "title": self.title, "text": self.text, "tag": self.tag, "added": self.added,
                "source": self.source, "update": self.update,
                "questions": [{"question": q.question, "answer": q.answer} for q in self.questions]}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "Document":
        title = str(record["title"])
        questions = tuple(Question(str(q["question"]), str(q["answer"]), title) for q in record.get("questions", ()))
        return cls(str(record["id"]), title, str(record["text"]), questions, record["tag"], str(record.get("added", "")),
                   str(record.get("source", "")), record.get("update"))


@dataclass(frozen=True)
class NewDocument:
    """A document as read from the input, before the knowledge base gives it an id."""

    title: str
    text: str
    questions: tuple[Question, ...] = ()
    tag: Tag | None = None
    """``None``: the knowledge base's default tag."""
    source: str = ""
    completions: tuple[str, ...] = field(default=())
    """Self-edits that came with it (SEAL files carry some); unused by the knowledge base."""


def read_documents(path: str | Path) -> list[NewDocument]:
    """The documents in ``path`` (a ``.jsonl`` / ``.json`` file or a folder of ``.txt`` / ``.md`` files).

    Raises:
        FileNotFoundError: nothing at ``path``. ValueError: a record without text, a bad tag, bad JSON,
        or no documents at all; the message names the file and the record.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no documents at {path}")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".txt", ".md") and p.is_file())
        docs = [NewDocument(p.stem, p.read_text(encoding="utf-8").strip(), source=str(p)) for p in files]
        docs = [d for d in docs if d.text]
    elif path.suffix == ".jsonl":
        docs = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                docs.append(_from_record(_loads(line, f"{path}, line {number}"), f"{path}, line {number}", str(path)))
    else:
        records = _loads(path.read_text(encoding="utf-8"), str(path))
        if not isinstance(records, list):
            raise ValueError(f"{path}: expected a JSON list of documents, got {type(records).__name__}")
        docs = [_from_record(r, f"{path}, record {i}", str(path)) for i, r in enumerate(records)]
    if not docs:
        raise ValueError(f"{path}: no documents (a folder is read for *.txt and *.md files)")
    return docs


def _loads(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{where}: not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})") from None


def _from_record(record: Any, where: str, source: str) -> NewDocument:
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected an object with \"context\" or \"text\", got {type(record).__name__}")
    text = str(record.get("context", record.get("text", ""))).strip()
    if not text:
        raise ValueError(f"{where}: no \"context\" or \"text\"")
    tag = record.get("tag")
    if tag is not None and tag not in TAGS:
        raise ValueError(f"{where}: tag must be durable or volatile, got {tag!r}")
    title = str(record.get("title") or text.split("\n", 1)[0][:60])
    try:
        questions = tuple(Question(str(q["question"]), str(q["answer"]), title) for q in record.get("questions") or ())
    except (KeyError, TypeError):
        raise ValueError(f"{where}: questions must be a list of {{\"question\", \"answer\"}}") from None
    return NewDocument(title, text, questions, tag, source, tuple(map(str, record.get("completions") or ())))
