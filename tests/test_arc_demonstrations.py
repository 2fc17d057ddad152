"""A warm start for ARC writers (studies/arc_demonstrations.py): a recipe search's successes as demonstrations,
then one SFT round."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import gymnasium as gym
import pytest

from seal_gym.arc.inner_loop import ArcInnerLoop
from seal_gym.arc.recipe import parse_recipe, recipe_grid
from seal_gym.arc.suites import suite_tasks
from seal_gym.cli import main
from seal_gym.testing import recipe_paying_engine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "studies"))
import arc_demonstrations  # noqa: E402

TINY_TTT = {"max_examples": 4, "leave_out": (1,), "permute_colours": False}


@pytest.fixture(scope="module")
def warm(tiny_bundle, tmp_path_factory):
    """A tiny search on the train split, on an engine that solves a task exactly for lr 1e-3 on output tokens.

    (The engine knows a task by its test input, which flip_lr, flip_ud and transpose of one seed share: of the first
    five tasks it solves transpose, colour_map and recolour.)"""
    tasks = suite_tasks("suite:easy:train")[:5]
    loop = ArcInnerLoop(tiny_bundle, recipe_paying_engine(tasks), TINY_TTT)
    out = tmp_path_factory.mktemp("warm") / "warm.jsonl"
    records = arc_demonstrations.main(["--tasks", "5", "--recipes-per-task", "25", "--seeds", "2", "--out", str(out)],
                                      loop=loop)
    return out, records, tasks


def test_the_search_keeps_exactly_the_recipes_that_solved(warm):
    out, records, tasks = warm
    assert [json.loads(line) for line in out.read_text().splitlines()] == records
    assert len({r["task_id"] for r in records}) >= 2  # 25 draws find the paying 1 in 10 on most tasks
    members = {recipe.to_json() for recipe in recipe_grid()}
    for record in records:
        recipe = parse_recipe(record["completion"])
        assert (recipe.learning_rate, recipe.strategy) == (1e-3, "train_using_output_tokens")  # the paying ones only
        assert record["completion"] in members and record["success"] == 1.0
    # the search tried each drawn recipe; every paying one is kept, once per task
    assert len({(r["task_id"], r["completion"]) for r in records}) == len(records)


def test_each_prompt_is_the_envs_observation_of_its_task(warm, tiny_bundle):
    _, records, tasks = warm
    env = gym.make("SealARC-v0", model=tiny_bundle, tasks="suite:easy:train")
    for record in records:
        observation, info = env.reset(seed=0, options={"task_id": record["task_id"]})
        assert record["prompt"] == observation and info["task_id"] == record["task_id"]


def test_one_sft_round_on_the_demonstrations_changes_the_writer(warm, tmp_path):
    from safetensors.torch import load_file

    out, records, _ = warm
    runs = tmp_path / "runs"
    assert main(["train", "--env", "SealARC-v0", "--preset", "smoke", "--agent", "sft", "--demonstrations", str(out),
                 "--dataset", "suite:easy:train", "--rounds", "1", "--threads", "1", "--runs-dir", str(runs)]) == 0
    (run,) = runs.iterdir()
    settings = json.loads((run / "config.json").read_text())
    assert settings["config"]["demonstrations"] == str(out)
    weights = {name: tensor for path in (run / "checkpoints" / "round-0001" / "policy").glob("*.safetensors")
               for name, tensor in load_file(path).items()}
    lora_b = [t for name, t in weights.items() if name.endswith("policy_b")]
    assert lora_b and any(t.abs().sum() > 0 for t in lora_b)  # B starts at zero: only training moves it


def test_a_spread_file_becomes_demonstrations_of_its_tune_tasks(tmp_path):
    from arc_recipe_spread import recipes, tune_task

    rows = [{"family": "flip_lr", "task": 0, "recipe": 2, "seed": s, "success": 1.0} for s in (0, 1)]
    rows += [{"family": "flip_lr", "task": 1, "recipe": 3, "seed": s, "success": float(s)} for s in (0, 1)]
    spread = tmp_path / "results.jsonl"
    spread.write_text("".join(json.dumps(r) + "\n" for r in rows))
    records = arc_demonstrations.main(["--spread", str(spread), "--out", str(tmp_path / "d.jsonl")])
    assert [(r["task_id"], r["completion"]) for r in records] == [(tune_task("flip_lr", 0).task_id,
                                                                     recipes(8)[2].to_json())]
    half = arc_demonstrations.main(["--spread", str(spread), "--min-success", "0.5",
                                    "--out", str(tmp_path / "h.jsonl")])
    assert len(half) == 2
