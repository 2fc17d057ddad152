"""SealARC with a structured action and a numeric observation, for agents such as Stable-Baselines3's.

:class:`StructuredRecipe` wraps a SealARC env you built; :class:`SealARCStructuredEnv` is the same thing
registered as ``SealARCStructured-v0`` (``gym.make("SealARCStructured-v0", model=...)``).
"""

from __future__ import annotations

from typing import Any, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from seal_gym.arc.data import ArcPair
from seal_gym.arc.features import FEATURE_NAMES, task_features
from seal_gym.arc.grids import as_grid
from seal_gym.arc.recipe import GRID_EPOCHS, GRID_LEARNING_RATES, STRATEGIES, Recipe
from seal_gym.envs.arc import SealARCEnv

LEARNING_RATES = GRID_LEARNING_RATES
EPOCHS = GRID_EPOCHS


def recipe_space(learning_rates: Sequence[float] = LEARNING_RATES,
                 epochs: Sequence[int] = EPOCHS) -> spaces.MultiDiscrete:
    """The structured action over these grids: four switches, the strategy, a learning rate, an epoch count."""
    return spaces.MultiDiscrete([2, 2, 2, 2, len(STRATEGIES), len(learning_rates), len(epochs)])


def action_recipe(action: Any, learning_rates: Sequence[float] = LEARNING_RATES,
                  epochs: Sequence[int] = EPOCHS) -> Recipe:
    """The recipe a structured action stands for (the same for the env and for a saved policy evaluated again).

    Raises:
        ValueError: ``action`` is not in :func:`recipe_space` of these grids.
    """
    a = np.asarray(action, dtype=np.int64).reshape(-1)
    space = recipe_space(learning_rates, epochs)
    if a.shape != space.shape or not space.contains(a):
        raise ValueError(f"action must be in {space}, got {action!r}")
    return Recipe(bool(a[0]), bool(a[1]), bool(a[2]), bool(a[3]), STRATEGIES[a[4]],  # type: ignore[arg-type]
                  float(learning_rates[a[5]]), int(epochs[a[6]]))


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
        self.action_space = recipe_space(self.learning_rates, self.epochs)
        self.observation_space = spaces.Box(0.0, 1.0, (len(FEATURE_NAMES),), np.float32)
        self._features = np.zeros(len(FEATURE_NAMES), np.float32)

    def recipe(self, action: Any) -> Recipe:
        """The recipe an action stands for."""
        return action_recipe(action, self.learning_rates, self.epochs)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        _, info = self.env.reset(seed=seed, options=options)
        demos = [ArcPair(as_grid(d["input"]), as_grid(d["output"])) for d in info["demonstrations"]]
        self._features = task_features(demos)
        return self._features.copy(), info

    def step(self, action: Any):
        _, reward, terminated, truncated, info = self.env.step(self.recipe(action).to_json())
        return self._features.copy(), reward, terminated, truncated, info


class SealARCStructuredEnv(gym.Env[np.ndarray, np.ndarray]):
    """SealARCStructured-v0: SealARC-v0 with a ``MultiDiscrete`` recipe and task features, as an env of its own.

    ## Description
    The few-shot ARC task of :class:`~seal_gym.envs.arc.SealARCEnv` for agents that act on numbers (e.g.
    Stable-Baselines3's PPO): each episode shows the features of one ARC task; the action picks a
    test-time-training recipe from a grid; ``step`` trains it exactly as SealARC-v0 trains an LLM's JSON
    recipe. It is :class:`StructuredRecipe` over a SealARC env this class builds (composition, so that
    ``gym.make``'s spec and ``unwrapped`` are this env's).

    ## Action Space
    ``MultiDiscrete([2, 2, 2, 2, 2, len(learning_rates), len(epochs)])``: see :class:`StructuredRecipe`.

    ## Observation Space
    ``Box(0, 1, (12,), float32)``: :data:`~seal_gym.arc.features.FEATURE_NAMES` of the demonstrations.

    ## Rewards
    1.0 if the adapted model predicts every test output exactly, else 0.0; ``info`` is SealARC-v0's (the
    recipe, cell accuracy, training steps, answers).

    ## Starting State
    As SealARC-v0: a task and an inner-loop seed drawn from the ``reset`` seed; ``options`` may pin them.

    ## Episode End
    One recipe per episode: ``terminated=True`` after the first step; never truncated.

    ## Arguments
    - ``learning_rates``, ``epochs``: the grids an action indexes into (defaults :data:`LEARNING_RATES`,
      :data:`EPOCHS`).
    - ``render_mode``: ``None`` or ``"ansi"``.
    - every other keyword (``model``, ``engine``, ``tasks``, ``generator``, ``ttt``, ``lora``) goes to
      :class:`~seal_gym.envs.arc.SealARCEnv`.

    ## Version History
    - v0: initial release.
    """

    metadata = SealARCEnv.metadata

    def __init__(self, learning_rates: Sequence[float] = LEARNING_RATES, epochs: Sequence[int] = EPOCHS,
                 render_mode: str | None = None, **kwargs: Any) -> None:
        self.text_env = SealARCEnv(render_mode=render_mode, **kwargs)
        """The SealARC env that trains the recipes (its ``domain`` and ``last_result`` included)."""
        self.structured = StructuredRecipe(self.text_env, learning_rates, epochs)
        self.action_space, self.observation_space = self.structured.action_space, self.structured.observation_space
        self.render_mode = render_mode

    def recipe(self, action: Any) -> Recipe:
        """The recipe an action stands for."""
        return self.structured.recipe(action)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        return self.structured.reset(seed=seed, options=options)

    def step(self, action: Any):
        return self.structured.step(action)

    def render(self) -> str | None:
        return self.text_env.render()
