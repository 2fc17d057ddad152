"""Test doubles for envs and agents: an inner-loop engine whose answers are scripted.

On a tiny random model every accuracy is 0, so a test that compares two rewards there proves nothing.
:class:`ScriptedEngine` trains nothing: it answers from two functions the test writes, so every reward it
leads to is known in advance, and it records every request it was sent.

>>> engine = ScriptedEngine(lambda request, query: "42", lambda query: "no idea")
>>> engine.answer([Query("q")]), engine.adapt([AdaptRequest((), (Query("q"),))])[0].answers
(['no idea'], ['42'])
"""

from __future__ import annotations

from typing import Callable, Sequence

from seal_gym.adapt.types import AdaptOutcome, AdaptRequest, Query


class ScriptedEngine:
    """An inner-loop engine (see :class:`~seal_gym.adapt.InnerLoopEngine`) with scripted answers.

    Args:
        after_training: the answer to ``query`` of a model adapted on ``request``.
        before_training: the base model's answer to ``query``.
    """

    def __init__(self, after_training: Callable[[AdaptRequest, Query], str],
                 before_training: Callable[[Query], str] = lambda query: "") -> None:
        self.after_training, self.before_training = after_training, before_training
        self.calls: list[list[AdaptRequest]] = []
        """The requests of every ``adapt`` call, in order."""

    def adapt(self, requests: Sequence[AdaptRequest]) -> list[AdaptOutcome]:
        self.calls.append(list(requests))
        return [AdaptOutcome(answers=[self.after_training(r, q) for q in r.queries], losses=[],
                             num_train_tokens=0, num_optimizer_steps=0, train_seconds=0.0, answer_seconds=0.0)
                for r in requests]

    def answer(self, queries: Sequence[Query]) -> list[str]:
        return [self.before_training(q) for q in queries]
