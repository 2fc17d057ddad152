"""SealARC with a structured action and a numeric observation, for agents such as Stable-Baselines3's."""

from __future__ import annotations

from typing import Any, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from seal_gym.arc.data import ArcPair
from seal_gym.arc.features import FEATURE_NAMES, task_features
from seal_gym.arc.grids import as_grid
from seal_gym.arc.recipe import STRATEGIES, Recipe

LEARNING_RATES = (1e-5, 1e-4, 3e-4, 1e-3, 3e-3)
EPOCHS = (0, 1, 2, 3, 5)


class StructuredRecipe(gym.Wrapper[np.ndarray, np.ndarray, str, str]):
    """Wraps :class:`~seal_gym.envs.arc.SealARCEnv`: a ``MultiDiscrete`` recipe in, task features out.

    ## Action Space
    ``MultiDiscrete([2, 2, 2, 2, 2, len(learning_rates), len(epochs)])``: the four augmentation switches
    (basic, size, chain, repeat), the strategy (0 = all tokens, 1 = output tokens), an index into
    ``learning_rates`` and an index into ``epochs``. The action becomes the recipe's JSON text, which the
    wrapped env parses and trains exactly as an LLM's recipe; ``info["recipe"]`` shows it.

    ## Observation Space
    ``Box(0, 1, (12,), float32)``: :data:`~seal_gym.arc.features.FEATURE_NAMES` of the demonstrations
    (count, mean grid sizes, shape relations, colour counts, unchanged cells).

    Rewards, starting state and episode end are the wrapped env's.

    ## Arguments
    - ``env``: a SealARC env (e.g. ``gym.make("SealARC-v0", model="tiny-random")``).
    - ``learning_rates``, ``epochs``: the grids an action indexes into.
    """

    def __init__(self, env: gym.Env, learning_rates: Sequence[float] = LEARNING_RATES, epochs: Sequence[int] = EPOCHS):
        super().__init__(env)
        self.learning_rates = tuple(float(x) for x in learning_rates)
        self.epochs = tuple(int(x) for x in epochs)
        self.action_space = spaces.MultiDiscrete([2, 2, 2, 2, 2, len(self.learning_rates), len(self.epochs)])
        self.observation_space = spaces.Box(0.0, 1.0, (len(FEATURE_NAMES),), np.float32)
        self._features = np.zeros(len(FEATURE_NAMES), np.float32)

    def recipe(self, action: Any) -> Recipe:
        """The recipe an action stands for."""
        a = np.asarray(action, dtype=np.int64).reshape(-1)
        if a.shape != (7,) or not self.action_space.contains(a):
            raise ValueError(f"action must be in {self.action_space}, got {action!r}")
        return Recipe(bool(a[0]), bool(a[1]), bool(a[2]), bool(a[3]), STRATEGIES[a[4]],  # type: ignore[arg-type]
                      self.learning_rates[a[5]], self.epochs[a[6]])

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        _, info = self.env.reset(seed=seed, options=options)
        demos = [ArcPair(as_grid(d["input"]), as_grid(d["output"])) for d in info["demonstrations"]]
        self._features = task_features(demos)
        return self._features.copy(), info

    def step(self, action: Any):
        _, reward, terminated, truncated, info = self.env.step(self.recipe(action).to_json())
        return self._features.copy(), reward, terminated, truncated, info
