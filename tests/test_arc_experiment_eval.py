"""The SealARC experiment's eval stage on a recording runner: every group in chunks of held-out tasks, each chunk
seeded by its index, a finished chunk never run again, and a group reported only once all its chunks are in."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "studies"))

import arc_experiment_eval as eval_stage  # noqa: E402

CHOICE = {"name": "spread", "heldout": {"tasks": 25}, "ttt": {"ttt": {"max_examples": 4}}}


def value(args: list[str], option: str) -> str:
    return args[args.index(option) + 1]


@pytest.fixture
def runner(monkeypatch):
    """Records each ``seal-gym`` call and finishes its run (a results.json in its --runs-dir), unless told to fail."""
    calls = []

    def run(out, args, log, on_line=None):
        calls.append(args)
        if runner.fail_at == len(calls):
            return 1
        folder = Path(value(args, "--runs-dir")) / "eval-arc__run"
        folder.mkdir(parents=True)
        (folder / "results.json").write_text(json.dumps({"runs": []}))
        return 0

    runner.fail_at = None
    runner.calls = calls
    monkeypatch.setattr(eval_stage, "run_seal_gym", run)
    return runner


def test_every_group_runs_in_seeded_chunks_that_cover_the_tasks_once(tmp_path, runner):
    (tmp_path / "writers" / "grpo-seed0").mkdir(parents=True)
    (tmp_path / "writers" / "grpo-seed0" / "writer.json").write_text("{}")
    found = eval_stage.evaluate(tmp_path, CHOICE, threads=2, only={"default", "untrained"})
    chunks = [(value(a, "--start"), value(a, "--tasks"), value(a, "--seed")) for a in runner.calls]
    assert chunks == [("0", "10", "0"), ("10", "10", "1"), ("20", "5", "2")] * 2
    assert not any("--policy-sampling-seed" in a for a in runner.calls)  # no writer in these groups
    eval_stage.evaluate(tmp_path, CHOICE, threads=2, only={"grpo-seed0"})
    assert [value(a, "--policy-sampling-seed") for a in runner.calls[6:]] == ["0", "1", "2"]
    runner.calls[6:] = []
    assert all(value(a, "--adapters-per-call") == "1" and value(a, "--source") == "suite:spread:heldout"
               for a in runner.calls)
    assert set(found) == {"default", "untrained"}
    assert [p.parent.parent.name for p in found["untrained"]] == ["chunk-000", "chunk-010", "chunk-020"]
    assert set(eval_stage.evaluate(tmp_path, CHOICE, threads=2, only=set())) == {"default", "untrained", "grpo-seed0"}
    assert len(runner.calls) == 6  # nothing ran again


def test_a_stop_keeps_the_finished_chunks_and_a_partial_group_is_not_reported(tmp_path, runner):
    runner.fail_at = 2
    with pytest.raises(SystemExit, match="seal-gym eval arc for default failed"):
        eval_stage.evaluate(tmp_path, CHOICE, threads=2, only={"default"})
    assert eval_stage.evaluate(tmp_path, CHOICE, threads=2, only=set()) == {}  # 1 of 3 chunks: not reported
    runner.fail_at = None
    found = eval_stage.evaluate(tmp_path, CHOICE, threads=2, only={"default"})
    assert [value(a, "--start") for a in runner.calls] == ["0", "10", "10", "20"]  # resumed at the failed chunk
    assert len(found["default"]) == 3
