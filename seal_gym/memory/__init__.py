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
from seal_gym.memory.ingest import add_documents
from seal_gym.memory.status import KnowledgeBaseStatus, status
from seal_gym.memory.store import (KnowledgeBase, KnowledgeBaseBusy, KnowledgeBaseError, SavedAdapter, Settings, State,
                                   UpdateRecord)
from seal_gym.memory.synthesize import Diversity, SynthesisReport, synthesize
from seal_gym.memory.updater import UpdateConfig, UpdateReport, update
from seal_gym.memory.weights import EngineEditor, LoraEditor, Trial, WeightEditor

__all__ = [
    "MODES", "Answer", "Diversity", "Document", "EngineEditor", "KnowledgeBase", "KnowledgeBaseBusy",
    "KnowledgeBaseError", "KnowledgeBaseStatus", "LoraEditor", "MemoryEvalConfig", "MemoryEvaluation", "NewDocument",
    "Question", "SavedAdapter", "Settings", "State", "SynthesisReport", "Trial", "UpdateConfig", "UpdateRecord",
    "UpdateReport", "WeightEditor", "WindowResult", "add_documents", "ask", "evaluate_memory", "question_text",
    "read_documents", "status", "synthesize", "update",
]

