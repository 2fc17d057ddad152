"""SealARCStructured-v0: registered, checked, and PPO learns from its reward (on a scripted engine).

The tiny random model solves no task, so every reward there is 0 and "PPO runs" is all a test could
show. A :class:`~seal_gym.testing.ScriptedEngine` solves a task exactly when the recipe's learning rate is
1e-3 and its loss is on the output tokens (1 in 10 random recipes): a policy that learns finds that recipe.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import seal_gym  # noqa: F401  (registers the envs)
from seal_gym.arc.generator import GeneratorConfig, generate_task
from seal_gym.envs.arc_structured import SealARCStructuredEnv
from seal_gym.testing import ScriptedEngine, recipe_paying_engine

# Two demonstrations and leave-one-out only: building the TTT data is most of a scripted step.
TASKS = [generate_task(seed, GeneratorConfig(min_demos=2, max_demos=2)) for seed in range(6)]
TTT = {"max_examples": 4, "max_new_tokens": 8, "leave_out": (1,)}


def recipe_dependent_engine() -> ScriptedEngine:
    return recipe_paying_engine(TASKS)  # pays for learning rate 1e-3 with the loss on output tokens


def make_env(bundle) -> gym.Env:
    return gym.make("SealARCStructured-v0", model=bundle, engine=recipe_dependent_engine(), tasks=TASKS, ttt=TTT)


def success_rate(env: gym.Env, act, episodes: int = 30) -> float:
    """Mean reward of ``act(observation)`` over fixed episodes."""
    rewards = []
    for seed in range(episodes):
        observation, _ = env.reset(seed=1000 + seed)
        rewards.append(env.step(act(observation))[1])
    return float(np.mean(rewards))


def test_registered_as_its_own_env_and_passes_the_checker(tiny_bundle):
    env = make_env(tiny_bundle)
    assert env.spec.id == "SealARCStructured-v0" and isinstance(env.unwrapped, SealARCStructuredEnv)
    assert env.spec.additional_wrappers == ()  # gym.make(env.spec) rebuilds it
    assert isinstance(env.action_space, gym.spaces.MultiDiscrete) and env.observation_space.shape == (12,)
    check_env(env.unwrapped, skip_render_check=True)
    env.reset(seed=0)
    right = env.unwrapped.recipe([1, 0, 0, 0, 1, 3, 1])
    assert right.learning_rate == 1e-3 and right.strategy == "train_using_output_tokens"
    _, reward, terminated, _, info = env.step([1, 0, 0, 0, 1, 3, 1])
    assert reward == 1.0 and terminated and info["recipe"]["learning_rate"] == 1e-3
    env.reset(seed=0)
    assert env.step([1, 0, 0, 0, 0, 3, 1])[1] == 0.0  # all-token loss: the scripted engine fails it


def test_ppo_learns_the_recipe_that_pays(tiny_bundle):
    sb3 = pytest.importorskip("stable_baselines3")
    env = make_env(tiny_bundle)
    env.action_space.seed(0)
    random_rate = success_rate(env, lambda _: env.action_space.sample(), episodes=100)
    model = sb3.PPO("MlpPolicy", env, n_steps=64, batch_size=64, n_epochs=10, learning_rate=3e-3, seed=0,
                    device="cpu")
    model.learn(total_timesteps=384)  # 6 updates; seeds 0-4 all reached 30/30 in 4
    learned_rate = success_rate(env, lambda obs: model.predict(obs, deterministic=True)[0])
    assert random_rate <= 0.3 and learned_rate >= 0.9, (random_rate, learned_rate)
