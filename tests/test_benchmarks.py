"""The timing scripts of benchmarks/, run as a user runs them, on the tiny model with the smallest budget (their
twins in tests/script_twins.py); the studies' twins are in test_studies.py and the test files it names."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.heavy  # over 20 s in all: handed out first (tests/conftest.py)


def table_rows(text: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in text.splitlines()
            if line.startswith("| ") and not line.startswith("| engine") and not line.startswith("| K ")]


@pytest.mark.twins("inner_loop", "loss_memory", "inner_loop_profile")
def test_inner_loop_benchmark_every_mode_on_the_tiny_model(scripts):
    """The inner-loop benchmarks the GPU check runs (scripts/device_check.sh), on the tiny model: speed across
    engines, the loss's peak memory, a profile of one batched call."""
    speed = table_rows(scripts("inner_loop"))
    assert [row[0] for row in speed] == ["reference (peft+Trainer)", "sequential", "batched K=1", "batched K=4"]
    assert speed[0][5] == "1.00x" and all(float(row[2]) > 0 for row in speed)
    memory = table_rows(scripts("loss_memory"))
    assert [row[1] for row in memory] == ["full logits (before)", "chunked, 16 tokens",
                                          "chunked, 16 tokens + layer checkpointing"]
    assert all(float(row[2]) > 0 for row in memory)
    profiled = scripts("inner_loop_profile")
    assert "one batched call of K=4 self-edits" in profiled and "aten::mm" in profiled


@pytest.mark.twins("eval_batching")
def test_eval_batching_times_both_settings_and_finds_the_same_scores(scripts):
    stdout = scripts("eval_batching")
    rows = [line.split() for line in stdout.splitlines() if line.strip()[:1].isdigit() and "x" in line[-3:]]
    assert [row[0] for row in rows] == ["1", "2"] and rows[0][3] == "1.00x"
    gaps = dict(item.split() for item in stdout.rsplit(":", 1)[1].split(","))
    assert set(gaps) == {"logprob", "f1", "strict"}
    assert all(float(gap) < 1e-3 for gap in gaps.values())  # tiny model: the same adapters, other batches


@pytest.mark.twins("batching_divergence")
def test_batching_divergence_compares_each_adapter_alone_again_and_batched(scripts):
    stdout = scripts("batching_divergence")
    rows = [line.split() for line in stdout.splitlines() if "alone again" in line or "in one call" in line]
    assert [" ".join(row[1:3]) for row in rows] == ["alone again", "2 in", "alone again", "2 in"]
    again = [row for row in rows if row[1] == "alone"]
    assert all(float(value) == 0 for row in again for value in row[3:6])  # one setting is deterministic
    assert all(int(row[-1].split("/")[1]) > 0 for row in rows)  # the passages' answers were compared


@pytest.mark.twins("arc_batching")
def test_arc_batching_times_both_engines_on_the_same_items(scripts):
    lines = scripts("arc_batching").splitlines()
    sequential, batched = (line.split("  ") for line in lines[-2:])
    cells = [[cell.strip() for cell in row if cell.strip()] for row in (sequential, batched)]
    assert cells[0][0].startswith("sequential") and cells[1][0] == "batched, 2 adapters in one call"
    assert cells[0][2] == "1.00x" and float(cells[1][2].rstrip("x")) > 0
    assert cells[1][4:] == ["0", "0.000"]  # the tiny model: the same adapters, trained alone or together
