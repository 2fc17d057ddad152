"""Grading answers against gold answers, with no API key needed by default.

Graders take a batch of :class:`GradeItem` and return one :class:`Verdict` each. A grader that fails on an
item (timeout, unparseable reply, exception) marks it incorrect and records why; it never raises.

- :class:`ContainsGrader` (``"contains"``, the default): the normalised gold answer appears in the
  normalised first line of the answer. It credits a recital: a model that recites a stretch of the passage
  that happens to hold the gold span is marked right (see :func:`copies_passage`).
- :class:`F1Grader` (``"f1"``, lenient): token-level F1 of the best span of the first line against the gold
  answer >= a threshold; blind to recitals in the same way.
- :class:`ExactGrader` (``"exact"``, strict and recital-proof): SQuAD's exact match of the *concise* answer
  (:func:`concise_answer`: the first sentence, answer boilerplate removed); :func:`answer_f1` is its soft
  twin, whole-answer token F1, which penalises every extra word.
- :class:`~seal_gym.squad.judges.JudgeGrader`: an LLM answers yes/no, through a local Hugging Face model
  or any OpenAI-compatible HTTP endpoint (:mod:`seal_gym.squad.judges`).

The text comparisons the graders use live in :mod:`seal_gym.squad.answer_match`; they, and the judges, are
importable from here too, where callers have always found them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

from seal_gym.squad.answer_match import (  # noqa: F401  (re-exported: callers import them from here)
    answer_f1,
    best_span_f1,
    concise_answer,
    copies_passage,
    exact_match,
    first_line,
    lenient_accuracy,
    lenient_score,
    normalize_answer,
    token_f1,
)

# The judges import this module's types, so they are re-exported lazily (PEP 562), not imported above.
_JUDGES = ("JUDGE_PROMPT", "JudgeBackend", "JudgeGrader", "LocalJudge", "OpenAIJudge", "parse_yes_no")


def __getattr__(name: str) -> Any:
    if name in _JUDGES:
        return getattr(importlib.import_module("seal_gym.squad.judges"), name)
    raise AttributeError(f"module 'seal_gym.squad.grading' has no attribute {name!r}")


@dataclass(frozen=True)
class GradeItem:
    question: str
    gold: str
    answer: str


@dataclass(frozen=True)
class Verdict:
    correct: bool
    error: str | None = None
    """Why grading failed (the item then counts as incorrect), else None."""


class Grader(Protocol):
    def grade(self, items: Sequence[GradeItem]) -> list[Verdict]: ...


class ContainsGrader:
    """Correct when the normalised gold answer is contained in the normalised first line of the answer."""

    def grade(self, items: Sequence[GradeItem]) -> list[Verdict]:
        verdicts = []
        for item in items:
            gold = normalize_answer(item.gold)
            verdicts.append(Verdict(bool(gold) and gold in normalize_answer(first_line(item.answer))))
        return verdicts


@dataclass
class F1Grader:
    """Correct when :func:`best_span_f1` of the answer against the gold answer is >= ``threshold``: lenient
    about near-misses in spelling ("Teodore Vask" for "Teodor Vask") and about answering in a sentence."""

    threshold: float = 0.5

    def grade(self, items: Sequence[GradeItem]) -> list[Verdict]:
        return [Verdict(best_span_f1(i.answer, i.gold) >= self.threshold) for i in items]


class ExactGrader:
    """Correct when the concise answer matches the gold answer exactly (:func:`exact_match`): a recital that
    contains the gold span is not credited."""

    def grade(self, items: Sequence[GradeItem]) -> list[Verdict]:
        return [Verdict(exact_match(i.answer, i.gold)) for i in items]


def make_grader(grader: str | Grader = "contains", **kwargs) -> Grader:
    """A grader by name: ``"contains"``, ``"f1"``, ``"exact"``, ``"judge-openai"`` (kwargs go to :class:`OpenAIJudge`)
    or ``"judge-local"`` (kwarg ``bundle``: a loaded ModelBundle); a Grader object passes through."""
    if not isinstance(grader, str):
        if not callable(getattr(grader, "grade", None)):
            raise TypeError("a grader must have a grade(items) -> list[Verdict] method")
        return grader
    if grader == "contains":
        return ContainsGrader()
    if grader == "f1":
        return F1Grader(**kwargs)
    if grader == "exact":
        return ExactGrader()
    from seal_gym.squad.judges import JudgeGrader, LocalJudge, OpenAIJudge  # they import this module's types

    if grader == "judge-openai":
        return JudgeGrader(OpenAIJudge(**kwargs))
    if grader == "judge-local":
        return JudgeGrader(LocalJudge(**kwargs))
    raise ValueError(f"unknown grader {grader!r}; choose contains, f1, exact, judge-openai or judge-local")
