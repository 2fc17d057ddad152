"""The held-out studies' stages on stand-ins: the optimizer comparison (studies/optimizer_experiment.py) and its
replication (studies/replication_study.py) with a `seal-gym` runner that only records its calls, and their
reports on run folders whose scores are known."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "studies"))

import optimizer_experiment  # noqa: E402
import replication_study as study  # noqa: E402


def fake_seal_gym(calls: list[list[str]]):
    """A stand-in for a study's `seal-gym` runner: records each call's arguments and leaves a finished run
    (``results.json``) in its ``--runs-dir``."""
    def run(args, log, on_line=None):
        calls.append(args)
        folder = Path(args[args.index("--runs-dir") + 1]) / "eval-squad__new"
        folder.mkdir(parents=True)
        (folder / "results.json").write_text("{}")
        return 0
    return run


def test_optimizer_experiment_evaluates_each_unfinished_group_one_passage_a_call(tmp_path, monkeypatch):
    # Chunk 0's baselines are finished; every other (chunk, group) runs once, in its own folder, with each
    # passage in a call of its own as chunk 0's baselines ran (batching passages changes the scores).
    finished = tmp_path / "heldout" / "chunk-000" / "baselines" / "eval-squad__old" / "results.json"
    finished.parent.mkdir(parents=True)
    finished.write_text("{}")
    calls: list[list[str]] = []
    monkeypatch.setattr(optimizer_experiment, "seal_gym", fake_seal_gym(calls))
    writers = {"untrained": tmp_path / "untrained.json", "grpo": tmp_path / "grpo.json"}
    found = optimizer_experiment.evaluate(tmp_path, "demo", writers, passages=15, chunk=10, self_edits=(2, 1), seeds=1,
                                          seed=0, threads=2)
    folders = [Path(args[args.index("--runs-dir") + 1]).relative_to(tmp_path / "heldout").as_posix() for args in calls]
    assert folders == ["chunk-000/untrained", "chunk-000/grpo", "chunk-010/baselines", "chunk-010/untrained",
                       "chunk-010/grpo"]
    assert all(args[args.index("--groups-per-call") + 1] == "1" for args in calls)
    assert [args[args.index("--passages") + 1] for args in calls] == ["10", "10", "5", "5", "5"]
    assert found[0] == finished and len(found) == 6

    # --groups: the named groups' unfinished chunks run now, the others wait; a name that is no group is refused.
    calls.clear()
    writers.update({"rest-em": tmp_path / "rest-em.json", "ppo": tmp_path / "ppo.json"})
    found = optimizer_experiment.evaluate(tmp_path, "demo", writers, passages=15, chunk=10, self_edits=(2, 1), seeds=1,
                                          seed=0, threads=2, only={"rest-em"})
    folders = [Path(args[args.index("--runs-dir") + 1]).relative_to(tmp_path / "heldout").as_posix() for args in calls]
    assert folders == ["chunk-000/rest-em", "chunk-010/rest-em"] and len(found) == 8
    with pytest.raises(SystemExit, match="no group named"):
        optimizer_experiment.evaluate(tmp_path, "demo", writers, passages=15, chunk=10, self_edits=(2, 1), seeds=1,
                                      seed=0, threads=2, only={"rest_em"})


def test_optimizer_experiment_trains_each_seed_once_resumes_and_publishes(tmp_path, monkeypatch):
    # A new run is refused from a dirty checkout; a stopped one resumes from the folder state.json names; a run
    # whose held-out self-edits exist is not trained again; every finished run's writer is published.
    calls, published = [], []

    def fake(args, log, on_line=None, launcher=None):
        calls.append(args)
        on_line(f"run folder: {tmp_path / 'runs' / f'r{len(calls)}'}\n")
        return 0

    monkeypatch.setattr("study_runs.seal_gym", fake)
    monkeypatch.setattr(optimizer_experiment, "keep_curves", lambda run, to: None)
    monkeypatch.setattr("seal_gym.agents.publish_writer",
                        lambda run, to: published.append((str(run), to.name)) or {"round": "round-0006"})
    monkeypatch.setattr("seal_gym.runs.git_commit", lambda root=None: "abc+dirty")
    with pytest.raises(SystemExit, match="commit first"):
        optimizer_experiment.train(tmp_path, "data.json", ["grpo"], [0], threads=2)
    assert calls == []
    optimizer_experiment.train(tmp_path, "data.json", ["grpo"], [0, 1], threads=2, allow_dirty=True)
    assert calls[0][:9] == ["train", "--preset", "cpu", "--dataset", "data.json@train", "--agent", "grpo", "--seed",
                            "0"] and calls[0][-2:] == ["--threads", "2"]
    assert json.loads((tmp_path / "state.json").read_text()) == {"grpo-seed0": str(tmp_path / "runs" / "r1"),
                                                                  "grpo-seed1": str(tmp_path / "runs" / "r2")}
    assert published == [(str(tmp_path / "runs" / "r1"), "grpo-seed0"), (str(tmp_path / "runs" / "r2"), "grpo-seed1")]
    (tmp_path / "runs" / "r1").mkdir(parents=True)  # seed 0's folder exists (a stop mid-run): resumed
    (tmp_path / "self_edits").mkdir()
    (tmp_path / "self_edits" / "grpo-seed1.json").write_text("{}")  # seed 1 finished and wrote: skipped
    monkeypatch.setattr("seal_gym.runs.git_commit", lambda root=None: "abc")
    optimizer_experiment.train(tmp_path, "data.json", ["grpo"], [0, 1], threads=2)
    assert calls[2] == ["train", "--resume", str(tmp_path / "runs" / "r1"), "--threads", "2"] and len(calls) == 3


def test_optimizer_experiment_pools_runs_by_passage(tmp_path):
    # Two chunks, each evaluated in four run folders (baselines, the untrained writer, grpo's, rest-em's), with
    # known per-passage scores: grpo is +1 nat over the passage on the first chunk's passages and +3 on the
    # second's (pooled paired mean +2 over 4 passages) and always +0.5 over the untrained writer; rest-em is
    # -0.25 below the untrained writer on its first passage of a chunk and +0.25 above it on the second.
    def cell(logprob):
        return {"strict": 0.5, "lenient": 0.5, "metrics": {"logprob": logprob}}

    for chunk, gain in ((0, 1.0), (1, 3.0)):
        by_group = {"baselines": ("passage", 0.0), "untrained": ("file_self_edits_untrained", gain - 0.5),
                    "grpo": ("file_self_edits_grpo", gain), "rest-em": ("file_self_edits_rest-em", gain - 0.5)}
        for group, (name, offset) in by_group.items():
            shift = (-0.25, 0.25) if group == "rest-em" else (0.0, 0.0)
            passages = [{"index": 2 * chunk + k, "title": "t", "group": 0,
                         "conditions": {name: cell(-4.0 - k + offset + shift[k])}} for k in range(2)]
            path = tmp_path / "heldout" / f"chunk-{10 * chunk:03d}" / group / "eval-squad__run" / "results.json"
            path.parent.mkdir(parents=True)
            versions = {"torch": "2.13.0", "transformers": "5.24.0"}
            path.write_text(json.dumps({"labels": {name: group}, "passages": passages,
                                        "metadata": {"versions": versions}}))
    runs = optimizer_experiment.finished_runs(tmp_path)
    assert len(runs) == 8
    text = optimizer_experiment.report(tmp_path, runs, seed=0)
    report = json.loads((tmp_path / "report.json").read_text())
    assert "WARNING" not in text and report["mixed_versions"] == {}
    paired = report["paired"]

    def line(reference, condition, metric):
        return next(x for x in paired[reference]["lines"] if x["condition"] == condition and x["metric"] == metric)

    assert line("passage", "file_self_edits_grpo", "logprob")["n"] == 4
    assert line("passage", "file_self_edits_grpo", "logprob")["mean"] == pytest.approx(2.0)
    assert line("passage", "file_self_edits_grpo", "strict")["mean"] == 0
    assert line("file_self_edits_untrained", "file_self_edits_grpo", "logprob")["mean"] == pytest.approx(0.5)
    assert "4 held-out passages" in text and (tmp_path / "paired.png").exists() and (tmp_path / "primary.png").exists()
    # The primary test: the trained writers (not the untrained one, not the baselines) against the untrained
    # writer in log-prob, Holm over the two: the smaller p doubles, the larger is kept (or raised to it).
    primary = {row["condition"]: row for row in report["primary"]}
    assert sorted(primary) == ["file_self_edits_grpo", "file_self_edits_rest-em"]
    assert primary["file_self_edits_grpo"]["mean"] == pytest.approx(0.5)
    assert primary["file_self_edits_rest-em"]["mean"] == pytest.approx(0.0)
    (low, high) = sorted(primary.values(), key=lambda row: row["p_value"])
    assert low["p_holm"] == pytest.approx(min(1.0, 2 * low["p_value"]))
    assert high["p_holm"] == pytest.approx(max(high["p_value"], low["p_holm"]))
    assert "primary comparison" in text and "Holm" in text

    # One run under another library version: the report says so (the pooled scores would mix two procedures).
    results = json.loads(runs[-1].read_text())
    results["metadata"]["versions"]["transformers"] = "5.25.0"
    runs[-1].write_text(json.dumps(results))
    text = optimizer_experiment.report(tmp_path, runs, seed=0)
    assert "WARNING: the pooled runs differ in package versions {'transformers': ['5.24.0', '5.25.0']}" in text
    mixed = json.loads((tmp_path / "report.json").read_text())["mixed_versions"]
    assert mixed == {"transformers": ["5.24.0", "5.25.0"]}


def test_replication_study_evaluates_as_its_plan_says(tmp_path, monkeypatch):
    """Every adapter alone in its engine call, the untrained writer with 3 self-edits and each seed's with 1, the
    7B self-edits only on train.json's held-out set; the seed-averaged test and its verdicts at known values."""
    for name in study.SETS:
        (tmp_path / "self_edits" / name).mkdir(parents=True)
        for writer in ("untrained", "grpo-seed0", "grpo-seed1"):
            (tmp_path / "self_edits" / name / f"{writer}.json").write_text("[]")
    sets = {"topics": "demo", "heldout": "demo"}
    calls: list[list[str]] = []
    monkeypatch.setattr(study, "seal_gym", fake_seal_gym(calls))
    study.evaluate(tmp_path, sets, chunk=10, threads=1)  # demo: 20 passages, 2 chunks x 4 groups x 2 sets
    assert len(calls) == 16 and all(a[a.index("--adapters-per-call") + 1] == "1" for a in calls)
    n = {(Path(a[a.index("--runs-dir") + 1]).parts[-3], Path(a[a.index("--runs-dir") + 1]).name):
         (a[a.index("--conditions") + 1], a[a.index("--self-edits") + 1]) for a in calls}
    assert n[("topics", "untrained")] == ("file-self-edits", "3") and n[("topics", "grpo-seed1")][1] == "1"
    assert n[("heldout", "reference")][0] == "passage,file-self-edits" and n[("topics", "reference")][0] == "passage"
    study.evaluate(tmp_path, sets, chunk=10, threads=1)
    assert len(calls) == 16  # finished groups are not run again

    cells = {"file_self_edits_grpo_seed0": {i: {"logprob": -1.0 + 0.1 * i} for i in range(6)},
             "file_self_edits_grpo_seed1": {i: {"logprob": -1.2 + 0.1 * i} for i in range(6)},
             "file_self_edits_untrained": {i: {"logprob": -2.0 + 0.1 * i} for i in range(6)}}
    test = study.seed_averaged(cells, ["file_self_edits_grpo_seed0", "file_self_edits_grpo_seed1"],
                               "file_self_edits_untrained")
    assert test["mean"] == pytest.approx(0.9) and test["per_seed"]["file_self_edits_grpo_seed1"]["mean"] == pytest.approx(0.8)
    assert study.verdict({**test, "p_value": 0.01}) == "learned, replicated"
    assert study.verdict({**test, "p_value": 0.01, "per_seed": {"a": {"mean": 0.5}, "b": {"mean": -0.1}}}) == \
        "learned on average, not in every seed"
    assert study.verdict({"low": -0.5, "high": -0.1, "p_value": 0.01, "per_seed": {}}) == "lower"


def test_stages_that_read_passages_refuse_to_run_without_their_data(tmp_path, capsys):
    """The data paths are arguments: a stage that reads passages says which one it needs (the report needs none)."""
    with pytest.raises(SystemExit):
        optimizer_experiment.main(["--out", str(tmp_path), "--stage", "eval"])
    assert "--stage eval needs --dataset" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        study.main(["--out", str(tmp_path), "--stage", "write"])
    assert "--stage write needs --squad" in capsys.readouterr().err
    study.main(["--out", str(tmp_path), "--stage", "report"])
    assert json.loads((tmp_path / "report.json").read_text()) == {}  # nothing evaluated yet
