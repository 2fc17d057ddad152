"""Answering from a knowledge base: the updated weights, the top retrieved documents in context, both or neither.

Modes: ``none`` (the base model alone), ``retrieval`` (the base model with the top ``k`` documents in the
prompt), ``weights`` (the base model plus every accepted update, no documents), ``hybrid`` (both).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

from seal_gym.adapt import Query
from seal_gym.memory.documents import Question
from seal_gym.memory.index import Hit, search
from seal_gym.memory.store import KnowledgeBase, State
from seal_gym.memory.weights import WeightEditor
from seal_gym.squad.inner_loop import question_text as squad_question_text

Mode = Literal["none", "retrieval", "weights", "hybrid"]
MODES: tuple[str, ...] = ("none", "retrieval", "weights", "hybrid")


@dataclass
class Answer:
    """One answer and what it was given."""

    question: str
    answer: str
    mode: str
    retrieved: list[str]
    """Titles of the documents put in its prompt, best first."""


def question_text(question: Question) -> str:
    """How a document's question is asked: prefixed with its topic, as the inner loop asks it.

    >>> question_text(Question("Who founded it?", "Odila Brenn", "Port Varrow"))
    'Topic: Port Varrow\\nWho founded it?'
    """
    return squad_question_text(question.title, question.question)


def context_prompt(question: str, hits: Sequence[Hit]) -> str:
    """``question`` after the retrieved documents (title, then text), or alone when there are none."""
    if not hits:
        return question
    documents = "\n\n".join(f"{h.document.title}\n{h.document.text}" for h in hits)
    return f"{documents}\n\n{question}"


def ask(kb: KnowledgeBase, editor: WeightEditor, questions: Sequence[str], mode: Mode = "hybrid", top_k: int = 1,
        max_answer_tokens: int = 64, state: State | None = None) -> list[Answer]:
    """Answer ``questions`` from the knowledge base's current state (or ``state``) in ``mode``.

    Raises:
        ValueError: an unknown mode.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    state = state if state is not None else kb.current()
    weights = mode in ("weights", "hybrid")
    if weights:  # the other modes answer with the base weights: no adapter need be read
        editor.load(kb.adapters(state))
    retrieve = mode in ("retrieval", "hybrid")
    hits = search(state.index_dir, state.documents, questions, top_k) if retrieve else [[] for _ in questions]
    queries = [Query(editor.prompt(context_prompt(q, h)), max_answer_tokens) for q, h in zip(questions, hits)]
    answers = editor.answer(queries, weights=weights)
    return [Answer(q, a, mode, [x.document.title for x in h]) for q, a, h in zip(questions, answers, hits)]
