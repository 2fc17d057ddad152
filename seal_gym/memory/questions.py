"""Questions the model writes about a document that came without any: the forgetting guard's probes for it.

The model reads the document and writes question-answer pairs (greedy). Its answers are often whole
sentences, so the forgetting guard grades these questions leniently (best-span F1 >= 0.5), and answers longer
than :data:`MAX_ANSWER_WORDS` words are dropped.
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
_MARKER = re.compile(r"^\s*(?:[-*\u2022]|\d+[.):]|\(\d+\))?\s*(?:Q\d*[:.]|Question\s*\d*[:.])?\s*", re.IGNORECASE)
_ANSWER = re.compile(r"^\s*(?:A\d*[:.]|Answer\s*\d*[:.])\s*", re.IGNORECASE)
MAX_ANSWER_WORDS = 24


def parse_questions(text: str, title: str, n: int) -> tuple[Question, ...]:
    """Up to ``n`` question-answer pairs from ``text``: ``Question? Answer`` on one line, or a question line
    followed by an ``Answer: ...`` line (small models write that). Answers longer than a short sentence are
    dropped.

    >>> parse_questions("1. Who founded it? Odila Brenn.\\nno pair here\\n- When? In 1783", "Port Varrow", 5)[1].answer
    'In 1783'
    >>> [q.question for q in parse_questions("Question: Who built it?\\n\\nAnswer: The Brenn family.", "x", 5)]
    ['Who built it?']
    """
    found, waiting = [], None
    for line in text.splitlines():
        if not line.strip():
            continue
        if waiting is not None and _ANSWER.match(line):
            question, answer = waiting, _ANSWER.sub("", line, count=1)
        else:
            question, mark, answer = _MARKER.sub("", line, count=1).partition("?")
            if not mark or not question.strip():
                waiting = None
                continue
            question = question.strip() + "?"
            answer = _ANSWER.sub("", answer, count=1)
            if not answer.strip():
                waiting = question
                continue
        waiting = None
        answer = answer.strip().rstrip(".").strip()
        if answer and len(answer.split()) <= MAX_ANSWER_WORDS:
            found.append(Question(question, answer, title, written=True))
    return tuple(found[:n])


def write_questions(editor: WeightEditor, documents: Sequence[Document], n: int,
                    max_tokens: int = 160) -> list[tuple[Question, ...]]:
    """Up to ``n`` questions per document, written by the model as it is now (possibly none)."""
    if n < 1 or not documents:
        return [() for _ in documents]
    queries = [Query(editor.prompt(QUESTION_PROMPT.format(title=d.title, passage=d.text, n=n)), max_tokens)
               for d in documents]
    return [parse_questions(text, d.title, n) for text, d in zip(editor.answer(queries), documents)]
