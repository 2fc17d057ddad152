"""The knowledge-base soak's small twin (benchmarks/kb_soak.py; its full run's figures are in RESULTS.md):
bad documents of every kind, an update killed at each phase of its change, adds while an update holds its lock,
and afterwards every good document once, every update applied or rolled back, no traceback, nothing left over."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import kb_soak  # noqa: E402


@pytest.mark.heavy
def test_the_soak_twin_keeps_every_promise(tmp_path):
    figures = kb_soak.soak(tmp_path / "soak", docs=8, cycles=4, seed=3)  # asserts every promise itself
    assert figures["tracebacks"] == 0 and figures["update endings"].get("killed", 0) >= 3
    assert figures["documents"] >= 1 and figures["records"] == 8


def test_the_generator_makes_every_kind_of_document():
    import numpy as np

    rng = np.random.default_rng(0)
    kept: list[dict] = [{"title": "City 0", "context": "Fact 0."}]
    kinds = {kb_soak.generated(rng, i, kept)[1] for i in range(400)}
    assert kinds == {"good", "huge", "empty", "binary", "unicode", "wrong-type", "duplicate", "near"}
