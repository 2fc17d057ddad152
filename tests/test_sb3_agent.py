"""sb3-ppo: SB3's PPO on structured ARC recipes through the shared loop (run folder, TensorBoard, resume)."""

from __future__ import annotations

import json

import pytest

from seal_gym.agents import SB3PPO, GRPOConfig, SB3PPOConfig, make_agent
from seal_gym.agents.sb3_ppo import SB3Policy
from seal_gym.agents.presets import agent_config, preset_for
from seal_gym.arc.generator import generate_task
from seal_gym.arc.grids import answer_text
from seal_gym.testing import ScriptedEngine

TASK = generate_task(3)


def scripted_arc_env_kwargs(tiny_bundle) -> dict:
    """A recipe that trains (epochs > 0) "solves" the task: rewards depend on the recipe, known in advance."""
    solution = answer_text(TASK.test_outputs[0])
    engine = ScriptedEngine(lambda request, query: solution if request.train.epochs else "12\n#")
    return {"model": tiny_bundle, "engine": engine, "tasks": [TASK], "ttt": {"max_examples": 4}}


def test_sb3_ppo_runs_in_the_shared_loop_and_resumes(tiny_bundle, tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))  # where SB3's default logger makes folders
    (tmp_path / "tmp").mkdir()
    config = SB3PPOConfig(prompts_per_round=4, batch_size=4)
    agent = make_agent("sb3-ppo", env="SealARC-v0", config=config, env_kwargs=scripted_arc_env_kwargs(tiny_bundle))
    assert isinstance(agent.policy, SB3Policy)  # a policy like any other: saved, loaded, checkpointed
    lines: list[str] = []
    history = agent.learn(2, run_dir=tmp_path / "run", progress=lines.append)
    assert [s.global_step for s in history] == [4, 8]
    assert any(line.startswith("round 2/2: reward") for line in lines)
    assert all(s.seconds["inner_loop"] > 0 and s.seconds["update"] > 0 and s.seconds["sampling"] >= 0 for s in history)
    assert all(0.0 <= s.reward_mean <= 1.0 for s in history)
    assert "losses/value_loss" in history[-1].update and "losses/approx_kl" in history[-1].update  # SB3's, renamed
    assert history[-1].extra["solved"] == history[-1].reward_mean  # the env's declared infos, averaged
    records = [json.loads(line) for line in (tmp_path / "run" / "episodes.jsonl").read_text().splitlines()]
    assert len(records) == 8 and "num_train_epochs" in records[0]["self_edit"]
    assert {r["prompt"] for r in records} == {f"task_id={TASK.task_id}"}  # the env's task_key
    # The rewards are the scripted engine's: 1 exactly when the recipe trains.
    for record in records:
        assert record["reward"] == float(json.loads(record["self_edit"])["num_train_epochs"] > 0)
    resumed = make_agent("sb3-ppo", env="SealARC-v0", config=config, env_kwargs=scripted_arc_env_kwargs(tiny_bundle))
    resumed.resume(tmp_path / "run")
    assert resumed.round == 2 and resumed.policy.model.num_timesteps == 8
    assert resumed.learn(3)[-1].global_step == 12
    assert not list((tmp_path / "tmp").iterdir())  # no SB3-<time> log folder, trained or resumed


def test_sb3_ppo_budget_and_errors():
    demo = preset_for("SealARC-v0", "demo")
    config = agent_config(SB3PPOConfig, demo)
    assert config.prompts_per_round == 3 * 4 and config.samples_per_prompt == 1  # same inner loops per round
    # The preset's learning rate is the language model's (5e-5); SB3's MLP keeps its own unless asked.
    assert demo.agent["learning_rate"] == 5e-5 and config.learning_rate == 3e-4
    assert agent_config(SB3PPOConfig, demo, learning_rate=1e-3).learning_rate == 1e-3
    assert agent_config(GRPOConfig, demo).learning_rate == 5e-5
    with pytest.raises(ValueError, match="SealARC-v0"):
        SB3PPO(None, "SealSquad-v0", SB3PPOConfig())
    with pytest.raises(ValueError, match="samples_per_prompt"):
        SB3PPOConfig(samples_per_prompt=2)
    with pytest.raises(TypeError, match="SB3PPOConfig"):
        SB3PPO(None, "SealARC-v0", GRPOConfig())
