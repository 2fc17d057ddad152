"""The study scripts' arithmetic (studies/science.py, snr_study.py), on rows whose answers are known."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "studies"))

from science import Regime, Results, paired_table, per_passage  # noqa: E402
from snr_study import components  # noqa: E402


def test_variance_components_of_a_known_table():
    """Two self-edits at 0 and 1, each trained with two seeds at +-0.1: s2_seed = 0.02, s2_edit = 0.49."""
    table = np.array([[[0.1, -0.1], [1.1, 0.9]]] * 3)
    s2_edit, s2_seed = components(table)
    assert s2_seed == pytest.approx(0.02) and s2_edit == pytest.approx(0.49)
    assert components(np.zeros((2, 3, 2)) + np.array([0.0, 1.0]))[0] == 0.0  # only seed noise: no edit variance


def test_paired_table_pairs_by_passage_and_resumes(tmp_path):
    results = Results(tmp_path / "results.jsonl")
    name = Regime().name
    for passage, (a, b) in enumerate([(1.0, 0.5), (0.8, 0.3), (0.6, 0.1)]):
        results.add({"regime": name, "condition": "7b", "passage": passage, "seed": 1000 + passage, "logprob": a})
        results.add({"regime": name, "condition": "passage", "passage": passage, "seed": 1000 + passage, "logprob": b})
    again = Results(tmp_path / "results.jsonl")  # what a resumed study reads back
    assert (name, "7b", 2, 1002) in again.done and len(again.rows) == 6
    assert per_passage(again.rows, name, "7b", "logprob") == {0: 1.0, 1: 0.8, 2: 0.6}
    table = paired_table(again.rows, [(name, "7b", "passage")], metrics=("logprob",))
    assert "+0.50 [+0.50, +0.50]" in table  # a constant difference: a zero-width interval


def test_own_self_edits_are_read_back_from_the_cache_without_sampling(tmp_path):
    """A cached passage is never sampled again (the "model" here is no model: sampling would raise); one-text
    entries of the first cache format read as one-item lists."""
    from science import own_self_edits
    from seal_gym.squad.passages import demo_passages

    cache = tmp_path / "own.json"
    cache.write_text('{"implications": {"0": "Alpha.", "1": ["Beta.", "Gamma."]}}')
    passages = list(enumerate(demo_passages()[:2]))
    no_model = object()
    assert own_self_edits(no_model, passages, cache) == {0: ["Alpha."], 1: ["Beta."]}
    with pytest.raises(TypeError, match="model must be"):  # passage 0 has one text, two are asked: it samples
        own_self_edits(no_model, passages, cache, n=2)


def test_snr_report_on_a_known_table():
    """The table above as study rows: ICC 0.49 / 0.51 = 0.96, 4 x 0.02 / 0.49 -> 1 seed for a reliability of 0.8,
    and 2 x 2.8016^2 x 0.51 / (0.49 / 4) = 65.4 -> 66 passages for a paired comparison of two writers."""
    from snr_study import report

    rows = [{"regime": "r", "condition": f"edit{k}", "passage": i, "seed": s, "logprob": k + (0.1 if s == 0 else -0.1)}
            for i in range(3) for k in range(2) for s in range(2)]
    rows += [{"regime": "r", "condition": "passage", "passage": i, "seed": s, "logprob": 0.0} for i in range(3) for s in range(2)]
    text = report(rows, "r", [0, 1, 2], edits=2, seeds=2)
    line = next(row for row in text.splitlines() if row.startswith("logprob "))
    assert line.split()[-3:] == ["0.96", "1", "66"]
    assert "accuracy" not in text  # kinds with no rows are left out, not reported as zeros
