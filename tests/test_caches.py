"""Caches stay within their bound over a long run, and an entry dropped from one is computed again."""

from __future__ import annotations

from seal_gym.adapt import Query
from seal_gym.memory.evaluation import CachedAnswers


class CountingEditor:
    """A weight editor that answers every prompt with itself and counts what it was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def prompt(self, text: str) -> str:
        return text

    def load(self, adapters) -> None:
        pass

    def answer(self, queries, weights: bool = True) -> list[str]:
        self.asked += [q.prompt for q in queries]
        return [q.prompt.upper() for q in queries]


def test_cached_answers_are_bounded_and_answer_again_after_eviction():
    editor = CountingEditor()
    cache = CachedAnswers(editor, entries=3)
    cache.load([])
    queries = [Query(f"q{i}", 4) for i in range(5)]
    assert cache.answer(queries) == ["Q0", "Q1", "Q2", "Q3", "Q4"]  # a call larger than the bound still answers
    assert len(cache._answers) == 3
    assert cache.answer(queries[-1:]) == ["Q4"] and editor.asked.count("q4") == 1  # kept: not asked again
    assert cache.answer(queries[:1]) == ["Q0"] and editor.asked.count("q0") == 2  # dropped: asked again


def test_inner_loop_caches_stop_at_their_bound_over_policy_updates(monkeypatch):
    """benchmarks/cache_memory.py with a bound of 3: every update adds 2 base answers and 1 reference, so the
    caches would hold 8 and 4 entries after 3 updates without the bound."""
    import seal_gym.squad.inner_loop as inner_loop
    from benchmarks.cache_memory import main

    monkeypatch.setattr(inner_loop, "CACHE_ENTRIES", 3)
    rows = main(["--updates", "3", "--passages", "2", "--references", "1", "--every", "1"])
    assert [(int(r[2]), int(r[3])) for r in rows] == [(2, 1), (3, 2), (3, 3), (3, 3)]
