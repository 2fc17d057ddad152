"""The reward service's load test, small (benchmarks/reward_service.py load; the 2,000-request figures are in
RESULTS.md): valid, empty, huge and malformed self-edits, bad tasks, disconnects and timeouts over real HTTP;
every request answered at most once, the server healthy and its queue empty afterwards, memory flat."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import reward_service  # noqa: E402


def test_a_small_burst_keeps_every_promise():
    figures = reward_service.load(requests=120, concurrency=16, seed=1)  # asserts the promises itself
    statuses = figures["answers by status"]
    assert statuses.get("200 ok", 0) > 50 and statuses.get("422", 0) > 0  # valid ones scored, malformed refused
    assert statuses.get("200 bad task", 0) > 0 and figures["answered twice"] == 0
