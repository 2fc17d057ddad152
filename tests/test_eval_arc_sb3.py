"""Issue 32.5: `seal-gym eval arc --policy` evaluates an sb3-ppo run (or its saved policy file) again."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seal_gym.cli import main

EVAL = ["eval", "arc", "--model", "tiny-random", "--threads", "1", "--source", "suite:easy:heldout", "--tasks", "3",
        "--max-examples", "4", "--no-ttt-augmented-inference"]


def picked_by_sb3_itself(zip_path, tasks) -> list[str]:
    """The recipes SB3's own loader (which unpickles: fine for a file this test wrote) picks, deterministically."""
    from stable_baselines3 import PPO

    from seal_gym.arc.features import task_features
    from seal_gym.envs.arc_structured import action_recipe

    model = PPO.load(str(zip_path), device="cpu")
    return [action_recipe(model.predict(task_features(list(t.train)), deterministic=True)[0]).to_json() for t in tasks]


def test_the_saved_policy_is_sb3s_network_with_its_weights(sb3_run):
    import torch
    from stable_baselines3 import PPO

    from seal_gym.agents.sb3_saved import load_sb3_policy, sb3_policy_file

    path = sb3_policy_file(sb3_run)
    assert path == sb3_run / "checkpoints" / "round-0001" / "policy" / "sb3_ppo.zip"
    assert sb3_policy_file(path) == sb3_policy_file(path.parent) == path
    saved, model = load_sb3_policy(path), PPO.load(str(path), device="cpu")
    expected = model.policy.state_dict()
    assert all(torch.equal(saved.network.state_dict()[k], v) for k, v in expected.items())
    observations = np.random.default_rng(0).random((32, 12), dtype=np.float32)
    assert all((saved.act(o) == model.predict(o, deterministic=True)[0]).all() for o in observations)


@pytest.mark.parametrize("given", ["run", "zip"])
def test_eval_arc_scores_the_recipes_an_sb3_run_picks(sb3_run, tmp_path, given):
    from seal_gym.arc.suites import suite_tasks

    zip_path = sb3_run / "checkpoints" / "round-0001" / "policy" / "sb3_ppo.zip"
    policy = sb3_run if given == "run" else zip_path
    assert main([*EVAL, "--conditions", "default", "--inner-seeds", "2", "--policy", str(policy),
                 "--runs-dir", str(tmp_path)]) == 0
    (run,) = tmp_path.iterdir()
    results = json.loads((run / "results.json").read_text())
    assert list(results["labels"]) == ["default", "sb3_recipes"]
    tasks = suite_tasks("suite:easy:heldout")[:3]
    mine = [r for r in results["runs"] if r["condition"] == "sb3_recipes"]
    assert sorted((r["task_id"], r["seed"]) for r in mine) == sorted((t.task_id, s) for t in tasks for s in (0, 1))
    picked = {r["task_id"]: r["recipe_text"] for r in mine}
    assert [picked[t.task_id] for t in tasks] == picked_by_sb3_itself(zip_path, tasks)
    assert all(r["error"] is None or "optimizer steps" in r["error"] for r in mine), mine


def test_bad_sb3_policies_are_one_line(sb3_run, tmp_path, capsys):
    not_a_zip = tmp_path / "policy.zip"
    not_a_zip.write_text("not a zip")
    cases = [
        (["--policy", str(sb3_run), "--conditions", "policy-recipes"],
         f"the condition policy-recipes needs --policy with a text writer's run (or a published writer); {sb3_run} "
         "is an sb3-ppo run"),
        (["--conditions", "sb3-recipes"], "the condition sb3-recipes needs --policy with an sb3-ppo run"),
        (["--policy", str(not_a_zip)], "is not a policy file of sb3-ppo (BadZipFile"),
    ]
    for extra, message in cases:
        assert main([*EVAL, *extra, "--runs-dir", str(tmp_path / "runs")]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "runs").exists()
