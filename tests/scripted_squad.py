"""Scripted SQuAD models for env tests: answers decided by the self-edit's text, so every reward is known.

On the demo passages (5 questions each), ``good_lines_answer`` gives accuracy min(n, 5) / 5 for a self-edit
with n lines that say GOOD (the demo passages never do).
"""

from __future__ import annotations

from typing import Callable

from seal_gym.adapt import AdaptRequest, Query
from seal_gym.squad.passages import demo_passages

QUESTIONS = [[(qa.question, qa.answer) for qa in p.questions] for p in demo_passages()]


def asked(query: Query) -> tuple[int, str]:
    """(index of the question within its passage, gold answer) of the demo question in ``query``."""
    return next((i, gold) for qs in QUESTIONS for i, (question, gold) in enumerate(qs) if question in query.prompt)


def good_lines_answer(request: AdaptRequest, query: Query) -> str:
    """Scripted adapted model: question i is answered right when at least i + 1 trained lines say GOOD."""
    index, gold = asked(query)
    return gold if sum("GOOD" in s.prompt or "GOOD" in s.completion for s in request.sequences) > index else "no idea"


def first_questions_answer(n: int) -> Callable[[Query], str]:
    """Scripted base model: the first ``n`` questions of every passage right."""
    return lambda query: asked(query)[1] if asked(query)[0] < n else "no idea"
