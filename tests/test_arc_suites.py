"""Issue 32.2: named task suites (``tasks="suite:NAME:SPLIT"``) whose train, tune and held-out splits never overlap."""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from seal_gym.arc.domain import TaskPool
from seal_gym.arc.generator import GeneratorConfig, generate_task
from seal_gym.arc.spec import check_tasks
from seal_gym.arc.suites import SPLIT_CAPACITY, SPLIT_SEEDS, SPLITS, SUITES, suite_table, suite_tasks
from seal_gym.cli import main

ROOT = Path(__file__).resolve().parents[1]


def seed_of(task) -> int:
    return int(task.task_id.rsplit("-", 1)[1])


def content(task):
    return task.train, task.test_inputs, task.test_outputs


@pytest.mark.parametrize("name", sorted(SUITES))
def test_splits_never_share_a_seed_a_task_or_a_test_question(name):
    splits = {split: suite_tasks(f"suite:{name}:{split}") for split in SPLITS}
    for split, tasks in splits.items():
        assert len(tasks) == SUITES[name].count(split)
        seeds = {seed_of(t) for t in tasks}
        assert min(seeds) >= SPLIT_SEEDS[split] and max(seeds) < SPLIT_SEEDS[split] + SPLIT_CAPACITY
    starts = sorted(SPLIT_SEEDS.values())
    assert all(b - a >= SPLIT_CAPACITY for a, b in zip(starts, starts[1:]))  # the seed ranges are disjoint
    for a, b in itertools.combinations(SPLITS, 2):
        assert not {seed_of(t) for t in splits[a]} & {seed_of(t) for t in splits[b]}, (a, b)
        assert not {t.task_id for t in splits[a]} & {t.task_id for t in splits[b]}, (a, b)
        assert not {content(t) for t in splits[a]} & {content(t) for t in splits[b]}, (a, b)
        # no split's test question (input and answer) is asked in another
        assert not ({(t.test_inputs, t.test_outputs) for t in splits[a]}
                    & {(t.test_inputs, t.test_outputs) for t in splits[b]}), (a, b)


def test_a_split_is_the_same_list_every_time_and_round_robin_over_families():
    from seal_gym.arc import suites

    first = suite_tasks("suite:easy:heldout")
    suites._tasks.cache_clear()  # generated again, not the cached tuple
    assert suite_tasks("suite:easy:heldout") == first
    families = SUITES["easy"].families
    assert [t.task_id for t in first[: len(families)]] == [f"gen-{f}-{SPLIT_SEEDS['heldout']}" for f in families]
    assert {t.task_id for t in first} == {f"gen-{f}-{SPLIT_SEEDS['heldout'] + k}" for f in families for k in range(12)}


def test_the_tune_split_is_the_recipe_spreads_task_set():
    """studies/arc_recipe_spread.py measured families on TUNE_SEED + k: those rows stay the tune split's."""
    sys.path.insert(0, str(ROOT / "studies"))
    from arc_recipe_spread import TUNE_SEED, tune_task

    assert TUNE_SEED == 500_000
    tune = {t.task_id: t for t in suite_tasks("suite:easy:tune")}
    for family in SUITES["easy"].families:
        for k in range(SUITES["easy"].tasks_per_family[1]):
            assert tune_task(family, k) == generate_task(TUNE_SEED + k, GeneratorConfig(families=(family,)))
            assert tune[f"gen-{family}-{TUNE_SEED + k}"] == tune_task(family, k)


def test_the_env_draws_only_the_splits_tasks():
    pool = TaskPool("suite:easy:train")
    ids = {t.task_id for t in suite_tasks("suite:easy:train")}
    rng = np.random.default_rng(0)
    drawn = {pool.sample(rng).task_id for _ in range(50)}
    assert drawn <= ids and len(drawn) > 10
    assert pool.sample(rng, {"task_id": "gen-recolour-100003"}).task_id == "gen-recolour-100003"


@pytest.mark.parametrize("source,message", [
    ("suite:nope:train", "unknown task suite 'nope' in 'suite:nope:train'; known suites: easy"),
    ("suite:easy:test", "unknown split 'test' of task suite 'easy'; use one of train, tune, heldout"),
    ("suite:easy", "a task suite is 'suite:NAME:SPLIT', got 'suite:easy'"),
    ("suite:easy:train:3", "a task suite is 'suite:NAME:SPLIT'"),
])
def test_a_bad_suite_is_one_clear_line_everywhere(source, message, tmp_path, capsys):
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")) as raised:
        check_tasks(source)
    assert "\n" not in str(raised.value)
    with pytest.raises(ValueError, match=message.split(";")[0]):
        TaskPool(source)
    for argv in (["eval", "arc", "--model", "tiny-random", "--source", source],
                 ["train", "--env", "SealARC-v0", "--preset", "smoke", "--dataset", source]):
        assert main([*argv, "--runs-dir", str(tmp_path / "runs")]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "runs").exists()


def test_the_docs_list_every_suite():
    envs = (ROOT / "docs" / "envs.md").read_text(encoding="utf-8")
    assert suite_table() in envs
    assert "suite:NAME:SPLIT" in envs and "suite:NAME:SPLIT" in (ROOT / "envs" / "arc.py").read_text()


def test_train_takes_a_suite_split_as_its_dataset(tmp_path):
    runs = tmp_path / "runs"
    assert main(["train", "--env", "SealARC-v0", "--preset", "smoke", "--rounds", "1", "--threads", "1",
                 "--dataset", "suite:easy:train", "--runs-dir", str(runs)]) == 0
    (run,) = runs.iterdir()
    ids = {f"task_id={t.task_id}" for t in suite_tasks("suite:easy:train")}
    prompts = {json.loads(line)["prompt"] for line in (run / "episodes.jsonl").read_text().splitlines()}
    assert prompts and prompts <= ids


def test_a_suite_registered_at_run_time_is_a_task_source_and_keeps_its_definition(monkeypatch):
    """A study chooses a suite's families from its data and registers it from a file (studies/arc_experiment)."""
    import dataclasses

    from seal_gym.arc import suites

    monkeypatch.setattr(suites, "SUITES", dict(SUITES))
    chosen = suites.Suite("two families", ("transpose", "flip_ud"), tasks_per_family=(3, 1, 2))
    again = suites.suite_from_dict(json.loads(json.dumps(dataclasses.asdict(chosen))))
    assert again == chosen
    suites.register_suite("chosen-test", again)
    suites.register_suite("chosen-test", chosen)  # the same definition again: nothing changes
    tasks = suite_tasks("suite:chosen-test:heldout")
    assert [t.task_id.rsplit("-", 1)[0] for t in tasks] == ["gen-transpose", "gen-flip_ud"] * 2
    assert tasks[0].task_id == f"gen-transpose-{SPLIT_SEEDS['heldout']}"
    check_tasks("suite:chosen-test:train")  # what train and eval check before loading a model
    with pytest.raises(ValueError, match="already defined otherwise"):
        suites.register_suite("chosen-test", dataclasses.replace(chosen, families=("transpose",)))
    with pytest.raises(ValueError, match="already defined otherwise"):
        suites.register_suite("easy", chosen)
    with pytest.raises(ValueError, match="one word without ':'"):
        suites.register_suite("a:b", chosen)


def test_eval_arc_start_takes_a_chunk_of_the_split(tmp_path):
    runs = tmp_path / "runs"
    assert main(["eval", "arc", "--model", "tiny-random", "--threads", "1", "--source", "suite:easy:heldout",
                 "--start", "3", "--tasks", "2", "--conditions", "in-context", "--runs-dir", str(runs)]) == 0
    (run,) = runs.iterdir()
    evaluated = {r["task_id"] for r in json.loads((run / "results.json").read_text())["runs"]}
    assert evaluated == {t.task_id for t in suite_tasks("suite:easy:heldout")[3:5]}
