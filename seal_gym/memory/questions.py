"""Questions the model writes about a document that came without any: the forgetting guard's probes for it.

The model reads the document and writes "Question? Answer" lines (greedy); answers longer than a few words
are dropped, since a short gold answer is what the strict grader can check.
"""

from __future__ import annotations

import re
from typing import Sequence

from seal_gym.adapt import Query
from seal_gym.memory.documents import Document, Question
from seal_gym.memory.weights import WeightEditor

QUESTION_PROMPT = (
    "Here is a passage titled \"{title}\".\n\n{passage}\n\n"
    "Write {n} short questions about facts stated in this passage, each followed by its answer in a few words. "
    "Put each pair on its own line in the form: Question? Answer"
)
_MARKER = re.compile(r"^\s*(?:[-*\u2022]|\d+[.):]|\(\d+\)|Q:|Question:)\s*", re.IGNORECASE)
MAX_ANSWER_WORDS = 8


def parse_questions(text: str, title: str, n: int) -> tuple[Question, ...]:
    """Up to ``n`` ``Question? Answer`` pairs from ``text``, one per line.

    >>> parse_questions("1. Who founded it? Odila Brenn.\\nno pair here\\n- When? In 1783", "Port Varrow", 5)[1]
    Question(question='When?', answer='In 1783', title='Port Varrow')
    """
    found = []
    for line in text.splitlines():
        question, mark, answer = _MARKER.sub("", line, count=1).partition("?")
        answer = re.sub(r"^\s*(?:A:|Answer:)\s*", "", answer, flags=re.IGNORECASE).strip().strip(".").strip()
        if mark and question.strip() and answer and len(answer.split()) <= MAX_ANSWER_WORDS:
            found.append(Question(question.strip() + "?", answer, title))
    return tuple(found[:n])


def write_questions(editor: WeightEditor, documents: Sequence[Document], n: int,
                    max_tokens: int = 160) -> list[tuple[Question, ...]]:
    """Up to ``n`` questions per document, written by the model as it is now (possibly none)."""
    if n < 1 or not documents:
        return [() for _ in documents]
    queries = [Query(editor.prompt(QUESTION_PROMPT.format(title=d.title, passage=d.text, n=n)), max_tokens)
               for d in documents]
    return [parse_questions(text, d.title, n) for text, d in zip(editor.answer(queries), documents)]
