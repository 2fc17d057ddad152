"""The native vector SealSquad env: one inner-loop call for K self-edits, same rewards as K single envs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import seal_gym  # noqa: F401
from seal_gym.adapt import LoraSpec, TrainSpec
from seal_gym.testing import ScriptedEngine

from .scripted_squad import first_questions_answer, good_lines_answer

FAST = dict(train=TrainSpec(epochs=1), lora=LoraSpec(rank=2, alpha=4))


def test_make_vec_steps_all_sub_envs_in_one_inner_loop_call(tiny_bundle, monkeypatch):
    envs = gym.make_vec("SealSquad-v0", num_envs=3, vectorization_mode="vector_entry_point", model=tiny_bundle, **FAST)
    calls = []
    inner_loop = envs.unwrapped.domain.inner_loop
    run = inner_loop.run
    monkeypatch.setattr(inner_loop, "run", lambda items, **kw: calls.append(len(items)) or run(items, **kw))
    observations, infos = envs.reset(seed=0)
    assert len(observations) == 3 and infos["title"][0] in observations[0]
    actions = ["A fact.\nAnother fact.", "", "One more fact."]
    next_obs, rewards, terminated, truncated, infos = envs.step(actions)
    assert calls == [2]  # the empty self-edit never reached the engine
    assert terminated.all() and not truncated.any() and rewards.shape == (3,)
    assert rewards[1] == 0.0 and "empty" in infos["final_info"]["error"][1]
    assert infos["final_obs"][0] == observations[0] and len(next_obs) == 3


@pytest.mark.parametrize("reward", ["accuracy", "gain"])
def test_vector_rewards_match_single_envs(tiny_bundle, reward):
    # Scripted: each GOOD line earns one more right answer, the base model gets the first one right.
    def make():
        return ScriptedEngine(good_lines_answer, first_questions_answer(1))

    envs = gym.make_vec("SealSquad-v0", num_envs=3, vectorization_mode="vector_entry_point", model=tiny_bundle,
                        engine=make(), reward=reward)
    observations, _ = envs.reset(seed=7)
    actions = ["GOOD one.\nGOOD two.\nGOOD three.", "A fact.", "GOOD one.\nAnother fact."]
    _, rewards, _, _, infos = envs.step(actions)
    expected = np.array([0.6, 0.0, 0.2]) - (0.2 if reward == "gain" else 0.0)
    assert rewards == pytest.approx(expected)
    assert infos["final_info"]["adapter_accuracy"] == pytest.approx([0.6, 0.0, 0.2])
    for i in range(3):
        single = gym.make("SealSquad-v0", model=tiny_bundle, engine=make(), reward=reward)
        obs, _ = single.reset(seed=7 + i)
        assert obs == observations[i]
        assert single.step(actions[i])[1] == pytest.approx(rewards[i])


def test_vector_losses_match_single_envs(tiny_bundle):
    """The real inner loop: the same training per sub-env (final losses), whatever the (zero) accuracies."""
    envs = gym.make_vec("SealSquad-v0", num_envs=2, vectorization_mode="vector_entry_point", model=tiny_bundle, **FAST)
    envs.reset(seed=7)
    actions = ["Fact one.\nFact two.", "Fact three."]
    infos = envs.step(actions)[4]
    for i in range(2):
        single = gym.make("SealSquad-v0", model=tiny_bundle, **FAST)
        single.reset(seed=7 + i)
        info = single.step(actions[i])[4]
        assert info["final_loss"] == pytest.approx(infos["final_info"]["final_loss"][i], rel=1e-4)


def test_wrong_number_of_actions(tiny_bundle):
    envs = gym.make_vec("SealSquad-v0", num_envs=2, vectorization_mode="vector_entry_point", model=tiny_bundle, **FAST)
    envs.reset(seed=0)
    with pytest.raises(ValueError, match="sequence of 2"):
        envs.step(["only one"])
    with pytest.raises(TypeError):
        envs.step(["ok", 3])
    assert np.all(envs.reset(seed=1)[1]["_title"])
