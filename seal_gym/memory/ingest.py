"""Adding documents to a knowledge base (``seal-gym memory add``), creating it on first use."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

from seal_gym.memory.documents import TAGS, NewDocument, Tag, bounded, read_documents
from seal_gym.memory.store import KnowledgeBase, State


def add_documents(kb_dir: str | Path, documents: str | Path | Sequence[NewDocument], model: str | None = None,
                  default_tag: Tag | None = None, tag: Tag | None = None, wait_seconds: float = 0.0,
                  on_added: Callable[[int, int], None] | None = None) -> State:
    """Add ``documents`` (a path :func:`read_documents` reads, or a list of :class:`NewDocument`) to the
    knowledge base in ``kb_dir``, creating it (for ``model``, with ``default_tag``) when the folder is missing or
    empty; ``tag`` overrides every document's own. Every document is checked and long ones split into passages
    (:func:`~seal_gym.memory.documents.bounded`) before anything is written; one already present is not added
    again. Returns the new state; ``on_added(added, already_present)`` is told the counts (passages, after
    splitting).

    Raises:
        ValueError: a document out of bounds (nothing written, no knowledge base created).
        KnowledgeBaseError: a foreign or damaged folder, or ``model`` is not the knowledge base's.
        KnowledgeBaseBusy: another process holds the lock.
    """
    if tag is not None and tag not in TAGS:
        raise ValueError(f"tag must be durable or volatile, got {tag!r}")
    if wait_seconds < 0 or wait_seconds != wait_seconds:
        raise ValueError(f"--wait must be a number of seconds >= 0, got {wait_seconds}")
    docs = bounded(read_documents(documents) if isinstance(documents, (str, Path)) else list(documents))
    if tag is not None:
        docs = [replace(d, tag=tag) for d in docs]
    kb = KnowledgeBase.open_or_create(kb_dir, model, default_tag, model_given=model is not None)
    with kb.lock(wait_seconds):
        before = len(kb.current().documents)
        state = kb.add(docs)
    if on_added:
        added = len(state.documents) - before
        on_added(added, len(docs) - added)
    return state
