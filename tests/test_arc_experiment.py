"""The SealARC experiment's stages (studies/arc_experiment.py) on known answers: the plan's decisions on a hand-written
spread folder, the tests and verdicts on hand-written eval runs, the training commands and rounds on a recording
runner, and one smoke pass of every stage on the tiny model."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "studies"))

import arc_experiment  # noqa: E402
import arc_experiment_choice as choice_stage  # noqa: E402
import arc_experiment_report as report_stage  # noqa: E402
import arc_experiment_runs as runs  # noqa: E402
import arc_experiment_training as training  # noqa: E402
import arc_warm_check  # noqa: E402

TINY_TTT = {"max_examples": 4, "leave_out": [1], "permute_colours": False, "augmented_inference": False,
            "max_new_tokens": 16}


def spread_folder(path: Path, success, families: dict[str, int], logprob=lambda r, s: -r + 0.5 * s,
                  ttt: dict | None = None, skip=()) -> Path:
    """A spread folder of 6 recipes x 2 seeds: ``success(family, task, recipe, seed)``; ``families``: tasks each."""
    path.mkdir(parents=True)
    rows = [{"family": f, "task": t, "recipe": r, "seed": s, "success": float(success(f, t, r, s)),
             "logprob": logprob(r, s), "cell_accuracy": 0.0, "error": None, "seconds": 1.0}
            for f, n in families.items() for t in range(n) for r in range(6) for s in range(2)
            if (f, t, r, s) not in skip]
    (path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if ttt is not None:
        (path / "ttt.json").write_text(json.dumps(ttt))
    return path


def known_success(family: str, task: int, recipe: int, seed: int) -> bool:
    """Per family, the rates over 2 tasks x 2 seeds (recipe 0 is the default one):
    flip_lr: default 0.25, recipe 1 solves all, recipe 5 none -> qualifies (margin 0.75);
    transpose: default 0.5, best 0.75, worst 0 -> qualifies (margin exactly 0.25);
    flip_ud: default 0.25, best 1, every recipe solves something -> worst 0.25, no;
    colour_map: default 0.5 = best -> margin 0, no;
    recolour: default 0, recipe 1 all: only 1 task measured in full, no."""
    cell = 2 * task + seed  # 0..3
    if family == "flip_lr":
        return {0: cell == 0, 1: True, 5: False}.get(recipe, cell < 2)
    if family == "transpose":
        return {0: cell < 2, 2: cell < 3, 5: False}.get(recipe, cell == 0)
    if family == "flip_ud":
        return {0: cell == 0, 1: True}.get(recipe, cell == recipe % 4)
    if family == "colour_map":
        return recipe != 5 and cell < 2
    return recipe == 1


def test_choose_applies_the_plans_three_decisions(tmp_path):
    families = {"flip_lr": 2, "transpose": 2, "flip_ud": 2, "colour_map": 2, "recolour": 2}
    spread = spread_folder(tmp_path / "spread", known_success, families, skip={("recolour", 1, 3, 1)})
    same = spread_folder(tmp_path / "same", known_success, families, logprob=lambda r, s: -2 * r, ttt=TINY_TTT)
    result = arc_experiment.main(["--out", str(tmp_path / "out"), "--stage", "choose", "--spread", str(spread),
                                  "--ranking-candidate", str(same)])
    lines = {line["family"]: line for line in result["families"]}
    assert {f for f, line in lines.items() if line["qualifies"]} == {"flip_lr", "transpose"}
    assert (lines["flip_lr"]["default_success"], lines["flip_lr"]["best_success"]) == (0.25, 1.0)
    assert lines["flip_ud"]["worst_success"] == 0.25 and lines["colour_map"]["margin"] == 0
    assert lines["recolour"]["tasks"] == 1  # its task 1 misses a cell: not measured in full
    assert result["name"] == "spread" and result["suite"]["families"] == ["flip_lr", "transpose"]
    assert result["recipe_shown_to_matter"] is True
    # ICC by hand: each recipe's two seeds 0.5 apart (s2_seed = 0.125), recipe means -r (s2_recipe = (2 x 3.5 -
    # 0.125) / 2); 86 tasks would be needed: the held-out split grows to the cap of 60, 30 per family (the plan's
    # addition 1.2; it was 12 per family, 24 tasks).
    assert result["icc"]["icc"] == pytest.approx(3.4375 / 3.5625) and result["icc"]["tasks"] == 4
    held = result["heldout"]
    assert (held["needed"], held["tasks"], held["capped"]) == (86, 60, True)
    assert held["detectable_effect"] == pytest.approx(held["z_sum"] * held["sd_difference"] / math.sqrt(60))
    assert result["suite"]["tasks_per_family"] == [20, 4, 30]
    assert result["ttt"]["setting"] == "candidate" and result["ttt"]["ttt"] == TINY_TTT
    assert result["ttt"]["mean_spearman"] == 1.0 and result["ttt"]["success_agreement"] == 1.0
    suite = json.loads((tmp_path / "out" / "suite.json").read_text())
    assert suite == {"name": "spread", "suite": result["suite"]}

    # A candidate that reverses the ranking keeps the cpu preset; once a later stage started, a choice that differs
    # is refused.
    reversed_ = spread_folder(tmp_path / "rev", known_success, families, logprob=lambda r, s: r, ttt=TINY_TTT)
    other = arc_experiment.main(["--out", str(tmp_path / "out2"), "--stage", "choose", "--spread", str(spread),
                                 "--ranking-candidate", str(reversed_)])
    assert other["ttt"]["setting"] == "cpu" and other["ttt"]["ttt"]["max_examples"] == 24
    runs.write_json(tmp_path / "out" / "state.json", {})
    with pytest.raises(SystemExit, match="the new choice differs"):
        arc_experiment.main(["--out", str(tmp_path / "out"), "--stage", "choose", "--spread", str(spread)])


def test_without_a_qualifying_family_the_experiment_runs_on_easy(tmp_path):
    spread = spread_folder(tmp_path / "spread", known_success, {"flip_ud": 2, "colour_map": 2},
                           logprob=lambda r, s: 0.0)
    result = choice_stage.choose(spread, 6, 2, None)
    assert result["name"] == "easy" and result["recipe_shown_to_matter"] is False
    assert "not shown to matter" in result["note"] and result["ttt"]["setting"] == "cpu"
    assert result["icc"]["icc"] is None  # no variance at all: the largest SD is assumed
    assert (result["heldout"]["needed"], result["heldout"]["tasks"]) == (88, 60)


@pytest.mark.parametrize("icc,families,effect,needed,tasks", [
    (0.0, 5, 0.15, 44, 45),    # (2.8016 x sqrt(0.125) / 0.15)^2 = 43.6; whole rounds of 5 families
    (0.0, 1, 0.15, 44, 12),    # at most the held-out split, even below the minimum of 24
    (0.0, 5, 0.30, 11, 25),    # at least 24, then whole rounds
    (None, 3, 0.15, 88, 36),   # no ICC: 1, the largest SD (0.5)
])
def test_heldout_tasks_follow_the_power_formula(icc, families, effect, needed, tasks):
    found = choice_stage.heldout_tasks(icc, families, 12, effect)
    assert (found["needed"], found["tasks"]) == (needed, tasks)


def eval_group(root: Path, group: str, per_task, seeds: int = 2, condition: str = "x", tasks: int = 24,
               labels: dict | None = None, chunk: int = 12) -> list[Path]:
    """A group's finished runs, a chunk each: ``per_task(task) -> [(condition, sample, seed, reward, logprob)]``."""
    paths = []
    for start in range(0, tasks, chunk):
        path = root / "eval" / group / f"chunk-{start:03d}" / "eval-arc__run" / "results.json"
        path.parent.mkdir(parents=True)
        rows = [{"task_id": f"t{t}", "condition": c, "sample": k, "seed": s, "recipe_text": "{}", "reward": float(r),
                 "cell_accuracy": float(r), "num_optimizer_steps": 4, "trained": True, "final_loss": 0.1, "error": None,
                 "prediction": None, "logprob": lp} for t in range(start, min(tasks, start + chunk))
                for c, k, s, r, lp in per_task(t)]
        path.write_text(json.dumps({"runs": rows, "labels": labels or {condition: condition},
                                    "metadata": {"versions": {"torch": "2.13.0"}}}))
        paths.append(path)
    return paths


def two_recipes(success, logprob=-1.0, condition="policy_recipes"):
    return lambda t: [(condition, k, s, success(t, k, s), logprob) for k in range(2) for s in range(2)]


def known_eval_groups(root: Path) -> dict[str, list[Path]]:
    """24 tasks: the untrained writer solves with one of its 2 recipes (0.5 a task); rest-em with both (+0.5 on every
    task: learned), grpo with neither (-0.5: lower), sb3-ppo +0.5 on 4 tasks and -0.5 on 4 (no difference)."""
    def sb3(t):
        rate = 1.0 if t < 4 else (0.0 if t < 8 else 0.5)
        return [("sb3_recipes", 0, s, float(s < 2 * rate), -1.0) for s in range(2)]

    grid = {"grid-a": "TTT, grid-a", "grid-b": "TTT, grid-b"}
    return {
        "in-context": eval_group(root, "in-context", lambda t: [("in_context", 0, s, 0, -3.0) for s in range(2)]),
        "default": eval_group(root, "default", lambda t: [("default", 0, s, s == 0, -1.5) for s in range(2)]),
        "oracle": eval_group(root, "oracle", lambda t: [(g, 0, s, g == "grid-a", -0.2) for g in grid
                                                        for s in range(2)], labels=grid),
        "random-recipes": eval_group(root, "random-recipes", two_recipes(lambda t, k, s: 0, -2.0, "random_recipes")),
        "untrained": eval_group(root, "untrained", two_recipes(lambda t, k, s: k == 0, -1.0, "base_recipes")),
        "rest-em-seed0": eval_group(root, "rest-em-seed0", two_recipes(lambda t, k, s: 1, -0.5)),
        "rest-em-seed1": eval_group(root, "rest-em-seed1", two_recipes(lambda t, k, s: k == 0, -1.0)),
        "grpo-seed0": eval_group(root, "grpo-seed0", two_recipes(lambda t, k, s: 0, -0.9)),
        "sb3-ppo-seed0": eval_group(root, "sb3-ppo-seed0", sb3),
    }


def test_report_gives_the_plans_verdicts_on_known_runs(tmp_path):
    """The known runs of :func:`known_eval_groups`: each agent's verdict, Holm, the table, the secondary tests."""
    results = known_eval_groups(tmp_path)
    result = report_stage.report(tmp_path, results)
    primary = result["primary"]
    verdicts = {w: t["verdict"] for w, t in primary["writers"].items()}
    assert verdicts == {"rest-em-seed0": "learned", "grpo-seed0": "lower", "sb3-ppo-seed0": "no measurable difference"}
    assert primary["holm_family"] == 3 and primary["complete"]
    rest_em, sb3_test = primary["writers"]["rest-em-seed0"], primary["writers"]["sb3-ppo-seed0"]
    assert (rest_em["n"], rest_em["mean"], rest_em["low"], rest_em["high"]) == (24, 0.5, 0.5, 0.5)
    assert rest_em["p_holm"] == pytest.approx(3 * rest_em["p_value"])  # tied smallest with grpo's: x 3 for both
    assert (sb3_test["mean"], sb3_test["wins"], sb3_test["losses"], sb3_test["ties"]) == (0.0, 4, 4, 16)
    assert sb3_test["low"] < 0 < sb3_test["high"] and sb3_test["p_value"] > 0.05
    assert primary["further_seeds"]["rest-em-seed1"]["verdict"] == "no measurable difference"
    table = {line["condition"]: line for line in result["table"]}
    assert list(table) == ["in-context", "default", "random-recipes", "untrained", "grpo-seed0", "rest-em-seed0",
                           "rest-em-seed1", "sb3-ppo-seed0", "oracle"]
    assert (table["untrained"]["runs"], table["untrained"]["success"]) == (96, 50.0)
    assert table["oracle"]["runs"] == 48 and table["oracle"]["success"] == 100.0  # best grid run per task and seed
    from seal_gym.stats import wilson_interval

    assert table["untrained"]["wilson_low"] == pytest.approx(100 * wilson_interval(48, 96)[0])
    assert table["in-context"]["wilson_high"] == pytest.approx(100 * wilson_interval(0, 48)[1])
    dense = {(r["writer"], r["reference"], r["metric"]): r for r in result["secondary"]}
    assert dense[("rest-em-seed0", "untrained", "dense")]["mean"] == pytest.approx(0.5)
    assert dense[("grpo-seed0", "default", "success")]["mean"] == pytest.approx(-0.5)
    assert dense[("sb3-ppo-seed0", "random-recipes", "dense")]["mean"] == pytest.approx(1.0)
    assert result["unpaired"] == [] and result["mixed_versions"] == {}
    text = report_stage.markdown(result)
    assert "| rest-em-seed0 | 24 | +0.500 | [+0.500, +0.500] |" in text and "| lower |" in text
    assert json.loads((tmp_path / "report.json").read_text())["primary"]["writers"]["grpo-seed0"]["verdict"] == "lower"


def test_training_plan_and_commands_give_every_agent_the_same_inner_loops(tmp_path, monkeypatch):
    plan = training.training_plan(10.0, "given", 2.0)
    # GRPO's round also trains the default recipe once per task: 15 adapters x 10 s x 1.25 = 187.5 s a round.
    assert plan["rounds"] == 38 and plan["inner_loops_per_agent"] == 38 * 12
    assert plan["adapters_per_round"] == {"rest-em": 12, "grpo": 15, "sb3-ppo": 12}
    assert max(plan["estimated_hours"].values()) <= 2.0
    choice = {"name": "spread", "ttt": {"ttt": TINY_TTT}}
    rest_em = training.agent_command("rest-em", 0, choice, plan, tmp_path, "demo")
    grpo = training.agent_command("grpo", 1, choice, plan, tmp_path, "demo")
    sb3 = training.agent_command("sb3-ppo", 0, choice, plan, tmp_path, "demo")

    def value(args, option):
        return args[args.index(option) + 1]

    assert value(rest_em, "--init-policy") == str(tmp_path / "writers" / "warm")
    assert value(rest_em, "--reward") == "success"
    assert value(grpo, "--reward") == "answer_logprob_vs_default" and value(grpo, "--seed") == "1"
    assert value(sb3, "--env") == "SealARCStructured-v0" and value(sb3, "--prompts-per-round") == "12"
    assert "--samples-per-prompt" not in sb3 and value(rest_em, "--samples-per-prompt") == "4"
    assert {value(a, "--rounds") for a in (rest_em, grpo, sb3)} == {"38"}
    assert {value(a, "--dataset") for a in (rest_em, grpo, sb3)} == {"suite:spread:train"}
    options = runs.ttt_options(TINY_TTT)
    assert value(options, "--ttt-max-examples") == "4" and value(options, "--ttt-leave-out") == "1"
    assert "--no-ttt-augmented-inference" in options and "--ttt-permute-demos" in options
    assert value(options, "--ttt-lora-rank") == "128"  # the fields it does not name: TTTConfig's own

    # A run is started once (refused from a dirty tree without --allow-dirty), then resumed, then published.
    calls = []

    def fake(args, log, on_line=None, launcher=None):
        calls.append((args, launcher))
        on_line(f"run folder: {tmp_path / 'runs' / 'r'}\n")
        return 0

    monkeypatch.setattr("study_runs.seal_gym", fake)  # train_or_resume's: the optimizer comparison's too
    monkeypatch.setattr("seal_gym.agents.publish_writer", lambda run, to: {"round": "round-0001", "run": str(run)})
    monkeypatch.setattr("seal_gym.runs.git_commit", lambda root=None: "abc+dirty")
    with pytest.raises(SystemExit, match="commit first"):
        runs.train_and_publish(tmp_path, "grpo-seed0", grpo, 2, allow_dirty=False)
    runs.train_and_publish(tmp_path, "grpo-seed0", grpo, 2, allow_dirty=True)
    (tmp_path / "runs" / "r").mkdir(parents=True)
    state = runs.read_json(tmp_path / "state.json")
    del state["published"]  # as if it stopped before publishing
    runs.write_json(tmp_path / "state.json", state)
    runs.train_and_publish(tmp_path, "grpo-seed0", grpo, 2, allow_dirty=False)
    assert calls[0][0][:len(grpo)] == grpo and calls[0][1] == [str(runs.LAUNCHER), str(tmp_path / "suite.json")]
    assert calls[1][0] == ["train", "--resume", str(tmp_path / "runs" / "r"), "--threads", "2"]
    assert set(runs.read_json(tmp_path / "state.json")["seconds"]) == {"train-grpo-seed0"}


@pytest.mark.heavy
def test_every_stage_runs_on_the_tiny_model(tmp_path, tiny_bundle, monkeypatch):
    """choose -> warm (a search on a scripted engine, one real SFT round) -> train (ReST-EM from the warm writer and
    SB3's PPO, 1 round) -> eval of both writers on 1 held-out task (through the launcher that registers the suite)
    -> report; a rerun of warm and train does nothing again."""
    from seal_gym.arc import suites
    from seal_gym.arc.inner_loop import ArcInnerLoop
    from seal_gym.testing import recipe_paying_engine

    monkeypatch.setattr(suites, "SUITES", dict(suites.SUITES))  # the chosen suite stays this test's
    out, families = tmp_path / "out", {"transpose": 2, "flip_ud": 2}
    spread = spread_folder(tmp_path / "spread", known_success, families)
    same = spread_folder(tmp_path / "same", known_success, families, logprob=lambda r, s: -2 * r, ttt=TINY_TTT)
    choice = arc_experiment.main(["--out", str(out), "--stage", "choose", "--spread", str(spread),
                                  "--ranking-candidate", str(same)])
    assert choice["suite"]["families"] == ["transpose"] and choice["heldout"]["tasks"] == 60  # addition 1.2
    choice["heldout"]["tasks"] = 1  # a smoke budget (choice.json is what the later stages read)
    runs.write_json(out / "choice.json", choice)
    runs.register(out)
    engine = recipe_paying_engine(suites.suite_tasks("suite:spread:train")[:3])
    warm = ["--out", str(out), "--stage", "warm", "--search-tasks", "3", "--search-recipes", "25", "--preset", "smoke",
            "--threads", "1", "--allow-dirty"]
    arc_experiment.main(warm, loop=ArcInnerLoop(tiny_bundle, engine, TINY_TTT))
    records = [json.loads(line) for line in (out / "warm" / "demonstrations.jsonl").read_text().splitlines()]
    assert records and all('"learning_rate": 0.001' in r["completion"] for r in records)  # the paying recipes only
    assert (out / "writers" / "warm" / "writer.json").is_file() and len(engine.calls) == 3
    from seal_gym.runs import git_commit
    searched = [json.loads(line) for line in (out / "warm" / "search.jsonl").read_text().splitlines()]
    assert [line["code"] for line in searched] == [git_commit(ROOT)] * 3  # each task's code is on record
    arc_experiment.main(warm, loop=ArcInnerLoop(tiny_bundle, engine, TINY_TTT))
    assert len(engine.calls) == 3  # searched once
    checked = arc_warm_check.check(out, tasks=1, samples=2, model="tiny-random")  # the warm writer's recipes
    assert {n: f["recipes"] for n, f in checked["writers"].items()} == {"untrained": 2, "warm": 2} and checked["code"]

    train = ["--out", str(out), "--stage", "train", "--agents", "rest-em,sb3-ppo", "--preset", "smoke",
             "--step-seconds", "3600", "--threads", "1", "--allow-dirty"]
    arc_experiment.main(train)  # a step of an hour: the 2-hour budget holds 1 round
    state = runs.read_json(out / "state.json")
    assert state["training"]["rounds"] == 1 and set(state["published"]) == {"warm", "rest-em-seed0", "sb3-ppo-seed0"}
    rest_em = json.loads((Path(state["runs"]["rest-em-seed0"]) / "config.json").read_text())
    assert "writers/warm" in json.dumps(rest_em) and "suite:spread:train" in json.dumps(rest_em)
    sb3 = json.loads((out / "writers" / "sb3-ppo-seed0" / "writer.json").read_text())
    assert sb3["env"] == "SealARCStructured-v0" and set(sb3["files"]) == {"sb3_ppo.zip"}
    logs = {p.name: p.stat().st_size for p in out.glob("train-*.log")}
    arc_experiment.main(train)
    assert {p.name: p.stat().st_size for p in out.glob("train-*.log")} == logs  # published runs: not run again

    result = arc_experiment.main(["--out", str(out), "--stage", "eval", "--groups", "rest-em-seed0,sb3-ppo-seed0",
                                  "--model", "tiny-random", "--threads", "1"])
    table = {line["condition"]: line for line in result["table"]}
    assert (table["rest-em-seed0"]["runs"], table["sb3-ppo-seed0"]["runs"]) == (4, 2)  # 2 recipes or 1, x 2 seeds
    assert table["rest-em-seed0"]["dense_tasks"] == 1 and math.isfinite(table["rest-em-seed0"]["dense_mean"])
    evaluated = json.loads(next((out / "eval" / "sb3-ppo-seed0").glob("chunk-000/*/results.json")).read_text())
    assert evaluated["args"]["adapters_per_call"] == 1 and evaluated["args"]["source"] == "suite:spread:heldout"
    assert evaluated["ttt"]["max_examples"] == 4
    assert {r["task_id"] for r in evaluated["runs"]} == {"gen-transpose-900000"}
