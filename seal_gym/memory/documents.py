"""Documents of a knowledge base: what one is, and reading them from JSONL, JSON or a folder of text files.

Accepted inputs (``seal-gym memory add DOCS``, ``seal-gym synthesize DOCS``):

- a ``.jsonl`` file: one record per line;
- a ``.json`` file: a list of records (a SEAL-format file such as ``../shared/data/squad/val.json`` is one);
- a folder: every ``*.txt`` and ``*.md`` file in it (sorted by name), its name (without suffix) the title.

A record is ``{"title"?, "context" | "text", "questions"?: [{"question", "answer"}], "tag"?}`` with string
values; ``tag`` is ``"durable"`` (written into the weights at the next update, and searchable) or
``"volatile"`` (searchable only). Questions are optional: an update writes its own about a document that has
none.

Bounds, checked before anything is written (:func:`bounded`): a document's text is at most
:data:`MAX_DOCUMENT_CHARS` characters (a longer one is refused, naming the limit), text that is not
printable Unicode (NUL bytes, lone surrogates: a binary file) is refused, and a text longer than
:data:`MAX_PASSAGE_CHARS` is split at paragraph or sentence ends into passages of at most that many
characters, each a document of its own (``title (part k/n)``), so an update never trains on or writes about
more than the inner loop can hold.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Tag = Literal["durable", "volatile"]
TAGS = ("durable", "volatile")
MAX_PASSAGE_CHARS = 4_000
"""The longest passage one document keeps (SQuAD's run to about 700 characters; the self-edit prompt and the
training sequence of 4,000 characters fit the model's context with room for the self-edit)."""
MAX_DOCUMENT_CHARS = 2_000_000
"""The longest text accepted at all (500 passages); a longer one is refused with one line."""
MAX_TITLE_CHARS = 200


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

    def content_key(self) -> tuple[str, str]:
        """What makes two documents the same (adding one already present adds nothing)."""
        return (self.title, " ".join(self.text.split()))


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
        docs = [NewDocument(p.stem, _read_text(p), source=str(p)) for p in files]
        docs = [d for d in docs if d.text]
    elif path.suffix == ".jsonl":
        docs = []
        for number, line in enumerate(_read_text(path).splitlines(), 1):
            if line.strip():
                docs.append(_from_record(_loads(line, f"{path}, line {number}"), f"{path}, line {number}", str(path)))
    else:
        records = _loads(_read_text(path), str(path))
        if not isinstance(records, list):
            raise ValueError(f"{path}: expected a JSON list of documents, got {type(records).__name__}")
        docs = [_from_record(r, f"{path}, record {i}", str(path)) for i, r in enumerate(records)]
    if not docs:
        raise ValueError(f"{path}: no documents (a folder is read for *.txt and *.md files)")
    return docs


def bounded(docs: list[NewDocument]) -> list[NewDocument]:
    """``docs`` checked and with every long text split into passages (see the module docstring).

    Raises:
        ValueError: a text over :data:`MAX_DOCUMENT_CHARS`, or one that is not printable Unicode; the message
        names the document (its source and title).
    """
    out = []
    for doc in docs:
        where = f"{doc.source or 'document'} ({doc.title[:40]!r})"
        if len(doc.text) > MAX_DOCUMENT_CHARS:
            raise ValueError(f"{where}: {len(doc.text):,} characters, more than the limit of {MAX_DOCUMENT_CHARS:,}; "
                             "split it into several documents")
        for field_text in (doc.title, doc.text):
            if "\x00" in field_text or not _encodable(field_text):
                raise ValueError(f"{where}: not text (NUL bytes or lone surrogates: a binary file?)")
        parts = split_passages(doc.text, MAX_PASSAGE_CHARS)
        if len(parts) == 1:
            out.append(doc)
            continue
        out.extend(NewDocument(f"{doc.title} (part {k}/{len(parts)})", part, doc.questions if k == 1 else (), doc.tag,
                               doc.source) for k, part in enumerate(parts, 1))
    return out


def split_passages(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut after a paragraph, else a sentence, else a space,
    else anywhere.

    >>> split_passages("One. Two. Three.", 10)
    ['One. Two.', 'Three.']
    """
    pieces = []
    while len(text) > limit:
        window = text[: limit + 1]
        cut = max(window.rfind("\n\n"), -1)
        for mark in (". ", "。", "! ", "? ", "\n", " "):
            if cut > limit // 2:
                break
            cut = window.rfind(mark) + len(mark.rstrip()) if window.rfind(mark) > 0 else cut
        cut = cut if cut > 0 else limit
        pieces.append(text[:cut].strip())
        text = text[cut:].strip()
    pieces.append(text.strip())
    return [p for p in pieces if p]


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text (byte {err.start}: a binary file?)") from None


def _loads(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{where}: not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})") from None


def _from_record(record: Any, where: str, source: str) -> NewDocument:
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected an object with \"context\" or \"text\", got {type(record).__name__}")
    text = record.get("context", record.get("text", ""))
    if not isinstance(text, str):
        raise ValueError(f"{where}: \"context\" / \"text\" must be a string, got {type(text).__name__}")
    text = text.strip()
    if not text:
        raise ValueError(f"{where}: no \"context\" or \"text\"")
    tag = record.get("tag")
    if tag is not None and tag not in TAGS:
        raise ValueError(f"{where}: tag must be durable or volatile, got {tag!r}")
    title = record.get("title")
    if title is not None and not isinstance(title, str):
        raise ValueError(f"{where}: \"title\" must be a string, got {type(title).__name__}")
    title = " ".join((title or text.split("\n", 1)[0]).split())[:MAX_TITLE_CHARS] or text[:60]
    questions = record.get("questions") or []
    if not isinstance(questions, list) or not all(
            isinstance(q, dict) and isinstance(q.get("question"), str) and isinstance(q.get("answer"), str)
            for q in questions):
        raise ValueError(f"{where}: questions must be a list of {{\"question\": str, \"answer\": str}}")
    completions = record.get("completions") or ()
    return NewDocument(title, text, tuple(Question(q["question"], q["answer"], title) for q in questions), tag, source,
                       tuple(map(str, completions)) if isinstance(completions, list) else ())
