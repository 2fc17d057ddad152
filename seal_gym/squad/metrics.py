"""What a passage's answers show beyond a grader's verdict: exact match, whole-answer F1, length, recital,
and the gold answers' log-probability.

Plain functions on plain values, shared by the env (``info`` and rewards), ``eval squad`` and the studies in
``studies/``. Each metric is a mean over the passage's questions.
"""

from __future__ import annotations

import math
from typing import Sequence

from seal_gym.squad.grading import Verdict, answer_f1, copies_passage, exact_match
from seal_gym.squad.passages import Passage

RECITAL_WORDS = 8
"""An answer that repeats this many consecutive passage words is a recital (see ``copies_passage``)."""

METRICS = {
    "exact": "exact match of the concise answer (first sentence, boilerplate removed), share",
    "f1": "whole-answer token F1 of the concise answer, mean",
    "words": "answer length in words, mean",
    "recital": f"share of answers that repeat >= {RECITAL_WORDS} consecutive passage words",
    "credited_recital": "share of the grader-credited answers that are recitals (absent when none is credited)",
    "logprob": "mean per-token log-probability of the gold answer, mean over questions (teacher-forced)",
}
"""Every metric :func:`answer_metrics` may return, with what it measures."""


def answer_metrics(passage: Passage, answers: Sequence[str] | None, logprobs: Sequence[float | None] | None = None,
                   credited: Sequence[Verdict] | None = None) -> dict[str, float]:
    """The metrics of :data:`METRICS` that the inputs allow, for one passage's answers.

    Args:
        passage: the passage (its questions' gold answers and its text).
        answers: one generated answer per question; ``None`` when none were generated.
        logprobs: one gold-answer log-probability per question (``None`` entries are skipped).
        credited: the grader's verdicts, for ``credited_recital``.

    >>> from seal_gym.squad.passages import Passage, QA
    >>> p = Passage("Varnel", "The tower was built of grey stone by Odila Brenn in 1783 for the port.",
    ...             (QA("Who built it?", "Odila Brenn"), QA("When?", "1783")))
    >>> m = answer_metrics(p, ["The answer is Odila Brenn.", "The tower was built of grey stone by Odila Brenn in 1783"])
    >>> m["exact"], round(m["f1"], 2), m["recital"]
    (0.5, 0.58, 0.5)
    """
    golds = [qa.answer for qa in passage.questions]
    out: dict[str, float] = {}
    if answers is not None and golds:
        recitals = [copies_passage(a, passage.context, RECITAL_WORDS) for a in answers]
        out["exact"] = sum(exact_match(a, g) for a, g in zip(answers, golds)) / len(golds)
        out["f1"] = sum(answer_f1(a, g) for a, g in zip(answers, golds)) / len(golds)
        out["words"] = sum(len(a.split()) for a in answers) / len(golds)
        out["recital"] = sum(recitals) / len(golds)
        if credited is not None and any(v.correct for v in credited):
            hits = [r for r, v in zip(recitals, credited) if v.correct]
            out["credited_recital"] = sum(hits) / len(hits)
    scores = [x for x in (logprobs or []) if x is not None and math.isfinite(x)]
    if scores:
        out["logprob"] = sum(scores) / len(scores)
    return out


__all__ = ["METRICS", "RECITAL_WORDS", "answer_metrics"]
