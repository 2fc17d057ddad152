"""SealARC-v0 on the tiny random model: env checker, bad actions, cost guard, wrappers, vector env, CLI."""

from __future__ import annotations

import json
import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import seal_gym  # noqa: F401  (registers the envs)
from seal_gym.arc.generator import GeneratorConfig, generate_task
from seal_gym.arc.recipe import Recipe
from seal_gym.envs.arc import SealARCEnv
from seal_gym.envs.arc_structured import StructuredRecipe
from seal_gym.models import load_model
from seal_gym.testing import recipe_paying_engine

# Tiny everything: 4 examples, 1 epoch, short answers, a small adapter. Training is real, just small.
TINY_TTT = {"max_examples": 4, "max_new_tokens": 8}
TINY_LORA = {"rank": 4, "alpha": 8, "target_modules": ("q_proj", "v_proj", "gate_proj", "up_proj", "down_proj")}
CHEAP = Recipe(use_basic_augmentations=False, num_train_epochs=1, learning_rate=1e-3)


@pytest.fixture(scope="module")
def bundle():
    return load_model("tiny-random")


@pytest.fixture(scope="module")
def env(bundle):
    return SealARCEnv(model=bundle, ttt=TINY_TTT, lora=TINY_LORA)


def test_check_env_text_form(bundle):
    check_env(gym.make("SealARC-v0", model=bundle, ttt=TINY_TTT, lora=TINY_LORA).unwrapped, skip_render_check=True)


def test_check_env_structured_form(bundle):
    env = StructuredRecipe(SealARCEnv(model=bundle, ttt=TINY_TTT, lora=TINY_LORA))
    check_env(env, skip_render_check=True)


def test_step_trains_and_reports(env, bundle):
    before = {k: v.clone() for k, v in bundle.model.state_dict().items()}
    observation, info = env.reset(seed=3)
    assert '"data_generation"' in observation and "Example 1" in observation
    assert info["task_id"].startswith("gen-") and len(info["demonstrations"]) == 4
    assert env.observation_space.contains(observation)
    _, reward, terminated, truncated, info = env.step(CHEAP.to_json())
    assert terminated and not truncated and reward in (0.0, 1.0)
    assert info["error"] is None and info["trained"] and info["num_optimizer_steps"] == 2
    assert info["num_ttt_examples"] == 4 and 0.0 <= info["cell_accuracy"] <= 1.0
    assert info["recipe"]["num_train_epochs"] == 1 and len(info["answers"]) == 1
    assert env.unwrapped.last_result.train_seconds > 0  # timings live outside info
    assert all(torch_equal(before[k], v) for k, v in bundle.model.state_dict().items())
    with pytest.raises(gym.error.ResetNeeded):
        env.step(CHEAP.to_json())


def torch_equal(a, b) -> bool:
    return bool((a == b).all())


def test_no_training_recipe_answers_with_the_base_model(env):
    env.reset(seed=1)
    _, _, _, _, info = env.step(Recipe(num_train_epochs=0).to_json())
    assert info["error"] is None and not info["trained"] and info["num_optimizer_steps"] == 0


def test_same_seed_same_episode(env):
    first = env.reset(seed=11), env.step(CHEAP.to_json())
    second = env.reset(seed=11), env.step(CHEAP.to_json())
    assert first[0] == second[0]
    assert first[1][4]["answers"] == second[1][4]["answers"]


def test_cost_guard_refuses_expensive_recipes(bundle):
    env = SealARCEnv(model=bundle, ttt={"max_examples": 250}, lora=TINY_LORA)
    env.reset(seed=0)
    _, reward, _, _, info = env.step(Recipe(num_train_epochs=4).to_json())  # 250 examples -> 125 steps/epoch
    assert reward == 0.0 and not info["trained"] and info["num_optimizer_steps"] == 500
    assert info["error"].startswith("cost guard")


def test_non_string_action_raises_type_error(env):
    env.reset(seed=0)
    with pytest.raises(TypeError, match="str"):
        env.step({"use_basic_augmentations": True})


def test_reset_options_pin_the_task(bundle):
    task = generate_task(42)
    env = SealARCEnv(model=bundle, tasks=[generate_task(1), task], ttt=TINY_TTT, lora=TINY_LORA)
    assert env.reset(options={"task_id": task.task_id})[1]["task_id"] == task.task_id
    assert env.reset(options={"task_index": 0})[1]["task_id"] == "gen-" + generate_task(1).task_id.split("-", 1)[1]
    generated = SealARCEnv(model=bundle, ttt=TINY_TTT)
    assert generated.reset(options={"generator_seed": 42})[1]["task_id"] == task.task_id
    assert generated.reset(options={"task": task})[1]["task_id"] == task.task_id


VALID = json.loads(CHEAP.to_json())
bad_values = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), st.floats(allow_nan=True, allow_infinity=True),
                       st.text(max_size=20), st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))


def _is_valid(key: str, value) -> bool:
    if key.startswith("use_"):
        return isinstance(value, bool)
    if key == "strategy":
        return value in ("train_using_all_tokens", "train_using_output_tokens")
    if key == "learning_rate":
        return not isinstance(value, bool) and isinstance(value, (int, float)) and 1e-7 <= value <= 0.1
    return not isinstance(value, bool) and isinstance(value, int) and 0 <= value <= 100


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(section=st.sampled_from(["data_generation", "training"]), data=st.data())
def test_bad_recipe_values_score_zero_with_a_reason(env, section, data):
    key = data.draw(st.sampled_from(sorted(VALID[section])))
    value = data.draw(bad_values.filter(lambda v: not _is_valid(key, v)))
    action = json.loads(json.dumps(VALID))
    action[section][key] = value
    text = json.dumps(action, allow_nan=True)
    env.reset(seed=0)
    _, reward, terminated, _, info = env.step(text)
    assert reward == 0.0 and terminated and key in info["error"] and not info["trained"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(st.text(max_size=300), st.binary(max_size=100).map(lambda b: b.decode("latin-1")),
                      st.just("x" * 1_000_000), st.just("{" * 5000), st.just('{"training": {"strategy": "\ud800"}}')))
def test_arbitrary_text_never_crashes(env, text):
    env.reset(seed=0)
    _, reward, _, _, info = env.step(text)
    assert reward == 0.0 and isinstance(info["error"], str)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drop=st.sets(st.sampled_from(sorted(set(VALID["data_generation"]) | set(VALID["training"]))), min_size=1))
def test_missing_keys_are_named(env, drop):
    action = {s: {k: v for k, v in VALID[s].items() if k not in drop} for s in VALID}
    env.reset(seed=0)
    _, reward, _, _, info = env.step(json.dumps(action))
    assert reward == 0.0 and info["error"].startswith("invalid recipe: missing keys") and all(k in info["error"] for k in drop)


def test_ttt_settings_default_to_the_preset_for_the_device(bundle):
    from seal_gym.arc.inner_loop import make_ttt_config
    from seal_gym.arc.ttt import TTT_PRESETS, TTTConfig

    assert bundle.device.type == "cpu"
    assert SealARCEnv(model=bundle).domain.inner_loop.config == TTT_PRESETS["cpu"]  # what a newcomer on a CPU gets
    assert TTT_PRESETS["cpu"].max_examples == 24 and TTT_PRESETS["cpu"].augmented_inference
    assert SealARCEnv(model=bundle, ttt="paper").domain.inner_loop.config == TTTConfig() == TTT_PRESETS["paper"]
    assert make_ttt_config(None, None, "cuda:0") == TTT_PRESETS["paper"]
    assert make_ttt_config({"max_examples": 7}, None, "cpu") == TTTConfig(max_examples=7)  # overrides of the study's
    with pytest.raises(ValueError, match="'cpu', 'paper'"):
        SealARCEnv(model=bundle, ttt="gpu")


def test_unknown_recipe_keys_are_noted_in_info(env):
    recipe = json.loads(CHEAP.to_json())
    recipe["training"]["warmup"] = 3  # not a recipe key: trained without it, and said so
    env.reset(seed=0)
    _, _, _, _, info = env.step(json.dumps(recipe))
    assert info["error"] is None and info["trained"]
    assert info["action_notes"] == ["unknown keys ignored: training.warmup"]
    env.reset(seed=0)
    assert env.step(CHEAP.to_json())[4]["action_notes"] == []


def test_structured_action_maps_to_recipe(bundle):
    env = StructuredRecipe(SealARCEnv(model=bundle, ttt=TINY_TTT, lora=TINY_LORA))
    recipe = env.recipe([1, 0, 0, 1, 1, 3, 1])
    assert recipe.use_basic_augmentations and recipe.use_repeat_augmentations and not recipe.use_size_augmentations
    assert recipe.strategy == "train_using_output_tokens" and recipe.learning_rate == 1e-3 and recipe.num_train_epochs == 1
    with pytest.raises(ValueError):
        env.recipe([2, 0, 0, 0, 0, 0, 0])


def test_sb3_ppo_collects_the_rewards_its_recipes_earn(bundle):
    """SB3 PPO on the wrapper, with a scripted engine that pays exactly for output-token loss at lr 1e-3:
    every reward in its rollout buffer is the one its action's recipe earns."""
    sb3 = pytest.importorskip("stable_baselines3")
    tasks = [generate_task(seed, GeneratorConfig(min_demos=2, max_demos=2)) for seed in range(4)]
    arc = SealARCEnv(model=bundle, engine=recipe_paying_engine(tasks), tasks=tasks, ttt={**TINY_TTT, "leave_out": (1,)})
    env = StructuredRecipe(arc, learning_rates=(1e-4, 1e-3), epochs=(1, 2))
    model = sb3.PPO("MlpPolicy", env, n_steps=16, batch_size=16, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=16)
    actions = model.rollout_buffer.actions.reshape(16, 7).astype(int)
    pays = (actions[:, 4] == 1) & (actions[:, 5] == 1)  # strategy: output tokens; learning rate: 1e-3
    assert 0 < pays.sum() < 16  # both kinds of recipe were tried, so the check below can tell them apart
    assert model.rollout_buffer.rewards.reshape(16).tolist() == pays.astype(float).tolist()


def test_vector_env_one_engine_call_per_step(bundle, monkeypatch):
    venv = gym.make_vec("SealARC-v0", num_envs=3, vectorization_mode="vector_entry_point", model=bundle,
                        ttt={**TINY_TTT, "max_optimizer_steps": 10}, lora=TINY_LORA)
    observations, infos = venv.reset(seed=0)
    assert len(observations) == 3 and len(set(infos["task_id"])) == 3
    calls = []
    engine = venv.unwrapped.domain.inner_loop.engine
    original = engine.adapt
    monkeypatch.setattr(engine, "adapt", lambda requests: calls.append(len(requests)) or original(requests))
    too_costly = Recipe(num_train_epochs=6).to_json()  # 4 examples, batch 2: 12 steps > 10
    actions = (CHEAP.to_json(), "not json", json.dumps({**VALID, "training": {**VALID["training"], "num_train_epochs": 0}}))
    new_obs, rewards, terminated, truncated, infos = venv.step(actions)
    assert calls == [2]  # the invalid recipe never reaches the engine
    assert rewards.shape == (3,) and terminated.all() and not truncated.any()
    final = infos["final_info"]
    assert final["error"][0] is None and "malformed JSON" in final["error"][1] and final["trained"].tolist() == [True, False, False]
    assert math.isnan(final["final_loss"][1]) and list(infos["final_obs"]) == list(observations)
    assert list(new_obs) != list(observations)
    _, rewards, _, _, infos = venv.step((too_costly, too_costly, too_costly))
    assert calls == [2] and not rewards.any()  # nothing affordable: the engine is not called at all
    assert all(e.startswith("cost guard") for e in infos["final_info"]["error"])
    venv.close()


def test_auto_engine_trains_arc_adapters_one_at_a_time_on_cpu(bundle):
    """Batching a task's adapters was no faster on a CPU (benchmarks/arc_batching.py), so SealARC's "auto" does not."""
    from seal_gym.adapt import BatchedEngine, SequentialEngine

    auto = SealARCEnv(model=bundle, ttt=TINY_TTT).domain.inner_loop.engine
    assert isinstance(auto.engine_for(12), SequentialEngine)
    batched = SealARCEnv(model=bundle, ttt=TINY_TTT, engine="batched").domain.inner_loop.engine
    assert isinstance(batched, BatchedEngine)


def test_vector_env_seeding_matches_per_slot(bundle):
    from seal_gym.envs.arc_vector import SealARCVectorEnv
    a = SealARCVectorEnv(2, model=bundle, ttt=TINY_TTT).reset(seed=5)[1]["task_id"].tolist()
    b = SealARCVectorEnv(2, model=bundle, ttt=TINY_TTT).reset(seed=5)[1]["task_id"].tolist()
    assert a == b and a[0] != a[1]
    assert np.asarray(a).shape == (2,)


def test_arc_eval_cli_writes_a_new_run_folder(tmp_path, capsys):
    from seal_gym.cli import main
    argv = ["arc-eval", "--model", "tiny-random", "--tasks", "1", "--max-examples", "2", "--grid-lrs", "1e-3",
            "--grid-basic", "0", "--grid-epochs", "1", "--default-epochs", "1", "--no-augmented-inference", "--runs-dir", str(tmp_path)]
    assert main(argv) == 0
    assert main(argv) == 0
    runs = sorted(tmp_path.iterdir())
    assert len(runs) == 2
    for run in runs:
        results = json.loads((run / "results.json").read_text())
        assert {r["condition"] for r in results["runs"]} == {"in_context", "default", "grid-plain-output-lr0.001-ep1"}
        assert (run / "results.csv").read_text().startswith("task_id,")
    out = capsys.readouterr().out
    assert "oracle" in out and "in context (no training)" in out
