"""The comparison scripts, run as a user runs them, on the tiny model with the smallest budget."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INNER_LOOP = [sys.executable, str(ROOT / "benchmarks" / "inner_loop.py"), "--model", "tiny-random", "--device", "cpu",
              "--threads", "1", "--quick"]


def commands(runs: Path) -> dict[str, list[str]]:
    """The scripts this file runs, each on one thread."""
    script = lambda name, *options: [sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), *options]  # noqa: E731
    study = lambda name, *options: [sys.executable, str(ROOT / "studies" / f"{name}.py"), *options]  # noqa: E731
    return {
        "arc_agents": study("arc_agents", "--preset", "smoke", "--rounds", "1", "--heldout", "1", "--recipes", "2",
                             "--threads", "1", "--runs-dir", str(runs)),
        "agents_testbed": study("agents_testbed", "--env", "arc", "--rounds", "1", "--seeds", "0", "--prompts", "2",
                                 "--samples", "2"),
        "inner_loop_speed": [*INNER_LOOP, "--engines", "reference,sequential,batched"],
        "inner_loop_memory": [*INNER_LOOP, "--loss-memory", "--ks", "4", "--loss-chunks", "16"],
        "inner_loop_profile": [*INNER_LOOP, "--profile"],
        "eval_batching": script("eval_batching", "--model", "tiny-random", "--passages", "2", "--groups-per-call", "2",
                                "--threads", "1"),
        "batching_divergence": script("batching_divergence", "--model", "tiny-random", "--passages", "2",
                                      "--threads", "1"),
    }


@pytest.fixture(scope="module")
def scripts(tmp_path_factory):
    """Every script of :func:`commands`, started together when the first test asks (each takes one thread, so
    on 2 cores two run at once: the file takes about half the time it took one after another); a test reads its
    own script's output with ``scripts(name)``."""
    runs = tmp_path_factory.mktemp("scripts") / "cmp"  # arc_agents makes it: never into an earlier comparison
    started = {name: subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for name, command in commands(runs).items()}
    outputs: dict[str, str] = {}

    def output(name: str) -> str:
        if name not in outputs:
            out, err = started[name].communicate(timeout=900)
            assert started[name].returncode == 0, err[-3000:]
            outputs[name] = out
        return outputs[name]

    output.runs = runs
    output.command = commands(runs)
    yield output
    for process in started.values():
        if process.poll() is None:
            process.kill()


def test_arc_agents_trains_every_agent_and_scores_every_source(scripts):
    scripts("arc_agents")
    runs, command = scripts.runs, scripts.command["arc_agents"]
    (heldout,) = runs.glob("heldout__*")
    assert {"table.txt", "results.json", "results.csv", "chart.png"} <= {p.name for p in heldout.iterdir()}
    table = (heldout / "table.txt").read_text()
    for row in ("TTT, default recipe", "random grid recipes", "untrained writer", "rest-em (trained)",
                "grpo (trained)", "sb3-ppo (trained)"):
        assert row in table
    # Every source writes grid recipes: the text policies through constrained decoding, restored with the run.
    sources = [line for line in table.splitlines() if "invalid:" in line]
    assert len(sources) == 5 and all(line.endswith("invalid: 0") for line in sources), sources
    assert sorted(p.name for p in runs.iterdir()) == sorted(["rest-em", "grpo", "sb3-ppo", heldout.name])

    again = subprocess.run(command[:-2] + ["--trained", str(runs), "--agents", "sb3-ppo"], capture_output=True,
                           text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(list(runs.glob("heldout__*"))) == 2  # a second evaluation never overwrites the first


def test_agents_testbed_runs_every_agent_on_the_arc_testbed(scripts):
    rows = [line.split() for line in scripts("agents_testbed").splitlines()[2:]]
    assert [row[0] for row in rows] == ["rest-em", "grpo", "ppo"] and all(len(row) == 9 for row in rows)


def table_rows(text: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in text.splitlines()
            if line.startswith("| ") and not line.startswith("| engine") and not line.startswith("| K ")]


def test_inner_loop_benchmark_every_mode_on_the_tiny_model(scripts):
    """The benchmark the GPU check runs (scripts/device_check.sh), in each of its modes, on the tiny model."""
    speed = table_rows(scripts("inner_loop_speed"))
    assert [row[0] for row in speed] == ["reference (peft+Trainer)", "sequential", "batched K=1", "batched K=4"]
    assert speed[0][5] == "1.00x" and all(float(row[2]) > 0 for row in speed)
    memory = table_rows(scripts("inner_loop_memory"))
    assert [row[1] for row in memory] == ["full logits (before)", "chunked, 16 tokens",
                                          "chunked, 16 tokens + layer checkpointing"]
    assert all(float(row[2]) > 0 for row in memory)
    profiled = scripts("inner_loop_profile")
    assert "one batched call of K=4 self-edits" in profiled and "aten::mm" in profiled


def test_eval_batching_times_both_settings_and_finds_the_same_scores(scripts):
    stdout = scripts("eval_batching")
    rows = [line.split() for line in stdout.splitlines() if line.strip()[:1].isdigit() and "x" in line[-3:]]
    assert [row[0] for row in rows] == ["1", "2"] and rows[0][3] == "1.00x"
    gaps = dict(item.split() for item in stdout.rsplit(":", 1)[1].split(","))
    assert set(gaps) == {"logprob", "f1", "strict"}
    assert all(float(gap) < 1e-3 for gap in gaps.values())  # tiny model: the same adapters, other batches


def test_batching_divergence_compares_each_adapter_alone_again_and_batched(scripts):
    stdout = scripts("batching_divergence")
    rows = [line.split() for line in stdout.splitlines() if "alone again" in line or "in one call" in line]
    assert [" ".join(row[1:3]) for row in rows] == ["alone again", "2 in", "alone again", "2 in"]
    again = [row for row in rows if row[1] == "alone"]
    assert all(float(value) == 0 for row in again for value in row[3:6])  # one setting is deterministic
    assert all(int(row[-1].split("/")[1]) > 0 for row in rows)  # the passages' answers were compared


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
    sys.path.insert(0, str(ROOT / "studies"))
    import optimizer_experiment

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


def test_optimizer_experiment_pools_runs_by_passage(tmp_path):
    # Two chunks, each evaluated in four run folders (baselines, the untrained writer, grpo's, rest-em's), with
    # known per-passage scores: grpo is +1 nat over the passage on the first chunk's passages and +3 on the
    # second's (pooled paired mean +2 over 4 passages) and always +0.5 over the untrained writer; rest-em is
    # -0.25 below the untrained writer on its first passage of a chunk and +0.25 above it on the second.
    sys.path.insert(0, str(ROOT / "studies"))
    import optimizer_experiment

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
    sys.path.insert(0, str(ROOT / "studies"))
    import replication_study as study

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


def test_arc_recipe_spread_measures_each_family_once_and_reports_the_spread(tmp_path):
    """The recipe spread's measurement, on a scripted engine: the default recipe (lr 1e-3) solves every task and the
    others none; the dense reward follows the learning rate plus a seed term, so the ICC is known to be high."""
    sys.path.insert(0, str(ROOT / "studies"))
    import arc_recipe_spread as spread

    from seal_gym.arc.grids import answer_text
    from seal_gym.arc.inner_loop import ArcInnerLoop
    from seal_gym.testing import ScriptedEngine

    solutions = {}

    def after(request, query):
        right = request.train.learning_rate == 1e-3 and request.train.epochs == 2
        return solutions.get(query.prompt, "0") if right else "0"

    def logprob(request, query):
        return -request.train.learning_rate * 1000 - 0.01 * (request.train.seed % 2)

    engine = ScriptedEngine(after, target_logprob=logprob)
    loop = ArcInnerLoop("tiny-random", engine, {"max_examples": 4, "max_new_tokens": 8, "augmented_inference": False})
    from seal_gym.arc.generator import GeneratorConfig, generate_task
    from seal_gym.arc.ttt import build_plan
    from seal_gym.arc.recipe import Recipe

    for family in ("flip_lr", "transpose"):
        for k in range(2):
            task = generate_task(spread.TUNE_SEED + k, GeneratorConfig(families=(family,)))
            for seed in range(2):
                plan = build_plan(task, Recipe(), loop.config, seed)
                solutions[plan.request.queries[0].prompt] = answer_text(task.test_outputs[0])
    rows = spread.measure(tmp_path, ["flip_lr", "transpose"], tasks=2, count=4, seeds=2, loop=loop)
    assert len(rows) == 2 * 2 * 4 * 2 and len(engine.calls) == 4  # one engine call per family and task
    again = spread.measure(tmp_path, ["flip_lr", "transpose"], tasks=2, count=4, seeds=2, loop=loop)
    assert len(again) == len(rows) and len(engine.calls) == 4  # resumed: nothing scored twice
    for line in spread.report(rows, count=4, seeds=2):
        assert (line["default_success"], line["worst_success"]) == (1.0, 0.0)
        assert line["icc"] > 0.9


def test_arc_ranking_check_finds_the_same_and_the_reversed_ranking(tmp_path):
    """The ranking check's comparison of two spread runs: a candidate that keeps the reference's recipe order scores a
    Spearman of 1 and full success agreement; one that reverses it scores -1."""
    sys.path.insert(0, str(ROOT / "studies"))
    import arc_ranking_check as check

    def folder(name: str, logprob, success) -> Path:
        out = tmp_path / name
        out.mkdir()
        rows = [{"family": "flip_lr", "task": 0, "recipe": i, "seed": s, "logprob": logprob(i, s),
                 "success": success(i)} for i in range(4) for s in range(2)]
        (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        return out

    reference = folder("ref", lambda i, s: -i - 0.1 * s, lambda i: float(i == 0))
    same = folder("same", lambda i, s: -2 * i - 0.3 * s, lambda i: float(i == 0))
    reversed_ = folder("rev", lambda i, s: i, lambda i: float(i == 3))
    [line] = check.main([str(reference), str(same)])
    assert (line["spearman_dense"], line["success_agreement"], line["cells"]) == (1.0, 1.0, 8)
    [line] = check.main([str(reference), str(reversed_)])
    assert line["spearman_dense"] == -1.0 and line["success_agreement"] == 0.5
