"""Progress inside a round: engines report each batch of inner loops, the loop turns it into lines with an ETA."""

from __future__ import annotations

import time

import pytest

from seal_gym.adapt import AdaptRequest, Query, TrainSequence, TrainSpec
from seal_gym.adapt.batched import BatchedEngine
from seal_gym.adapt.progress import ProgressRelay
from seal_gym.adapt.sequential import SequentialEngine
from seal_gym.agents.progress import heartbeat


def request(i: int) -> AdaptRequest:
    return AdaptRequest((TrainSequence(f"Fact {i} is blue.", ""),), (Query(f"Q{i}?", max_new_tokens=2),),
                        TrainSpec(epochs=1, seed=i))


@pytest.mark.parametrize("engine", ["batched", "sequential"])
def test_engines_report_each_batch_of_inner_loops(tiny_bundle, engine):
    seen: list[tuple[int, int]] = []
    progress = lambda done, total: seen.append((done, total))  # noqa: E731
    make = {"batched": lambda: BatchedEngine(tiny_bundle.model, tiny_bundle.tokenizer, max_adapters=2, progress=progress),
            "sequential": lambda: SequentialEngine(tiny_bundle.model, tiny_bundle.tokenizer, progress=progress)}[engine]
    make().adapt([request(i) for i in range(3)])
    expected = {"batched": [(0, 3), (2, 3), (3, 3)], "sequential": [(0, 3), (1, 3), (2, 3), (3, 3)]}[engine]
    assert seen == expected
    BatchedEngine(tiny_bundle.model, tiny_bundle.tokenizer).adapt([request(0)])  # an engine given no callback
    assert seen == expected


def test_an_agent_that_shares_its_model_makes_the_engine_that_reports_to_its_phases(tiny_bundle):
    from seal_gym.agents.env_traits import engine_reporting_to

    relay = ProgressRelay()
    kwargs = engine_reporting_to("SealSquad-v0", {"model": tiny_bundle, "engine": "batched"}, relay)
    assert isinstance(kwargs["engine"], BatchedEngine) and kwargs["engine"].progress is relay
    lines: list[str] = []
    with heartbeat(lines.append, "inner loops", every=60.0, engine=relay):
        kwargs["engine"].adapt([request(i) for i in range(3)])
    assert lines and lines[-1].startswith("  inner loops: 3/3 inner loops done")
    given = {"model": "tiny-random", "engine": "batched"}  # a model the env loads itself: nothing to share
    assert engine_reporting_to("SealSquad-v0", given, relay) is given


def test_a_phase_says_each_batch_with_the_time_left_at_the_measured_rate():
    lines: list[str] = []
    report = ProgressRelay()
    with heartbeat(lines.append, "inner loops", every=60.0, engine=report):
        report(0, 4)
        time.sleep(0.2)
        report(1, 4)  # 1 done in 0.2 s: 3 left take about 0.6 s
        report(4, 4)
        report(0, 1)
        report(1, 1)  # a call of one request: its end is no news
    assert len(lines) == 2 and lines[0].startswith("  inner loops: 1/4 inner loops done, ")
    left = float(lines[0].split("about ")[1].split(" s left")[0])
    assert 0 <= left <= 2
    assert lines[1].startswith("  inner loops: 4/4 inner loops done") and "about 0 s left" in lines[1]


def test_a_phase_reports_on_a_timer_between_batches():
    lines: list[str] = []
    with heartbeat(lines.append, "update", expected=60.0, every=0.02):
        time.sleep(0.1)
    assert lines and all(line.startswith("  update: ") and "left as last round" in line for line in lines)
    count = len(lines)
    time.sleep(0.05)
    assert len(lines) == count  # stopped with the phase
