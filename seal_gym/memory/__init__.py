"""SEAL in deployment: a knowledge base on disk that learns on a schedule.

Documents are added at any time and are searchable at once (BM25, :mod:`~seal_gym.memory.index`); durable ones
are written into the weights at the next scheduled :func:`update` (self-edits, one LoRA adapter, a forgetting
guard that rolls back an update that costs earlier knowledge); :func:`ask` answers with the updated weights,
the retrieved documents, both or neither. The state on disk changes in one atomic step and is locked while it
changes (:mod:`~seal_gym.memory.store`). :func:`synthesize` turns documents into a SEAL-format training corpus;
:func:`evaluate_memory` compares the memory modes on a stream of windows.

The ``seal-gym memory add|update|ask|status``, ``seal-gym synthesize`` and ``seal-gym eval memory`` commands
are thin layers over these; see docs/deployment.md.
"""

from seal_gym.memory.answering import MODES, Answer, ask, question_text
from seal_gym.memory.documents import Document, NewDocument, Question, read_documents
from seal_gym.memory.evaluation import MemoryEvalConfig, MemoryEvaluation, WindowResult, evaluate_memory
from seal_gym.memory.status import KnowledgeBaseStatus, status
from seal_gym.memory.store import KnowledgeBase, KnowledgeBaseBusy, KnowledgeBaseError, Settings, State, UpdateRecord
from seal_gym.memory.synthesize import Diversity, SynthesisReport, synthesize
from seal_gym.memory.updater import UpdateConfig, UpdateReport, update
from seal_gym.memory.weights import EngineEditor, LoraEditor, Trial, WeightEditor

__all__ = [
    "MODES", "Answer", "Diversity", "Document", "EngineEditor", "KnowledgeBase", "KnowledgeBaseBusy",
    "KnowledgeBaseError", "KnowledgeBaseStatus", "LoraEditor", "MemoryEvalConfig", "MemoryEvaluation", "NewDocument",
    "Question", "Settings", "State", "SynthesisReport", "Trial", "UpdateConfig", "UpdateRecord", "UpdateReport",
    "WeightEditor", "WindowResult", "add_documents", "ask", "evaluate_memory", "question_text", "read_documents",
    "status", "synthesize", "update",
]


def add_documents(kb_dir, documents, model: str | None = None, default_tag: str | None = None,
                  tag: str | None = None, wait_seconds: float = 0.0) -> State:
    """Add ``documents`` (a path :func:`read_documents` reads, or a list of :class:`NewDocument`) to the
    knowledge base in ``kb_dir``, creating it (for ``model``, with ``default_tag``) when the folder is missing or
    empty; ``tag`` overrides every document's own. Returns the new state.

    Raises:
        KnowledgeBaseError: a foreign or damaged folder, or ``model`` is not the knowledge base's.
        KnowledgeBaseBusy: another process holds the lock.
    """
    from dataclasses import replace
    from pathlib import Path

    from seal_gym.memory.documents import TAGS

    if tag is not None and tag not in TAGS:
        raise ValueError(f"tag must be durable or volatile, got {tag!r}")
    docs = read_documents(documents) if isinstance(documents, (str, Path)) else list(documents)
    if tag is not None:
        docs = [replace(d, tag=tag) for d in docs]
    kb = KnowledgeBase.open_or_create(kb_dir, model, default_tag, model_given=model is not None)
    with kb.lock(wait_seconds):
        return kb.add(docs)
