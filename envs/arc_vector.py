"""SealARC-v0 as a native vector env: K tasks, K recipes, ONE call to the adaptation engine per step."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from seal_gym.arc.data import ArcTask
from seal_gym.arc.episode import (
    ArcSetup,
    ArcStepTimings,
    observation_prompt,
    reset_info,
    run_recipes,
)
from seal_gym.envs.arc import MAX_ACTION_CHARS, MAX_OBSERVATION_CHARS
from seal_gym.spaces import FreeText
from seal_gym.vector import object_array, stack_infos, sub_env_rngs


class SealARCVectorEnv(VectorEnv):
    """``num_envs`` SealARC episodes stepped together; their recipes are trained in one engine call.

    Same tasks, prompts, actions, rewards and ``info`` keys as :class:`~seal_gym.envs.arc.SealARCEnv` (see
    its docstring and arguments). Every episode lasts one step, so the env resets each sub-env in the same
    step (``AutoresetMode.SAME_STEP``): ``step`` returns the prompts of the next tasks, with the finished
    episodes' observations in ``infos["final_obs"]`` and their step infos (reward details) in
    ``infos["final_info"]``. Invalid or over-budget recipes are skipped (reward 0) and never reach the engine.

    Seeding: ``reset(seed=s)`` seeds sub-env ``i`` with ``s + i`` (or ``seed`` may be a list of seeds).
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(self, num_envs: int = 1, render_mode: str | None = None, **kwargs: Any):
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if render_mode is not None:
            raise ValueError("SealARCVectorEnv does not render; use render_mode=None")
        self.num_envs = num_envs
        self.render_mode = None
        setup = ArcSetup.build(**kwargs)
        self.pool, self.config, self.bundle, self.adapter = setup.pool, setup.config, setup.bundle, setup.adapter
        self.single_observation_space = FreeText(MAX_OBSERVATION_CHARS)
        self.single_action_space = FreeText(MAX_ACTION_CHARS)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.last_timings = ArcStepTimings()
        self._rngs: list[np.random.Generator] = []
        self._tasks: list[ArcTask] = []
        self._seeds: list[int] = []
        self._observations: list[str] = []

    def _new_episode(self, i: int, options: dict[str, Any] | None) -> dict[str, Any]:
        task = self.pool.sample(self._rngs[i], options)
        self._tasks[i] = task
        self._seeds[i] = int(self._rngs[i].integers(2**31 - 1))
        self._observations[i] = observation_prompt(task)
        return reset_info(task)

    def reset(self, *, seed: int | Sequence[int] | None = None, options: dict[str, Any] | None = None):
        """New tasks for every sub-env; ``options`` (see SealARCEnv) apply to each of them."""
        if seed is not None or not self._rngs:
            self._rngs = sub_env_rngs(seed, self.num_envs)
        self._tasks = [None] * self.num_envs  # type: ignore[list-item]
        self._seeds = [0] * self.num_envs
        self._observations = [""] * self.num_envs
        infos = [self._new_episode(i, options) for i in range(self.num_envs)]
        return tuple(self._observations), stack_infos(infos)

    def step(self, actions: Sequence[str]):
        """Train and score all recipes (one engine call), then start the next tasks."""
        if not self._tasks:
            raise RuntimeError("call reset() before step()")
        if isinstance(actions, str) or len(actions) != self.num_envs:
            raise ValueError(f"step needs a sequence of {self.num_envs} recipe strings")
        items = list(zip(self._tasks, actions, self._seeds))
        results = run_recipes(self.adapter, self.config, items, self.last_timings)
        rewards = np.array([r.reward for r in results], dtype=np.float64)
        final_obs = object_array(self._observations)
        step_infos = [{**r.info, "final_loss": np.nan if r.info["final_loss"] is None else r.info["final_loss"]}
                      for r in results]
        infos = stack_infos([self._new_episode(i, None) for i in range(self.num_envs)])
        infos.update(final_obs=final_obs, _final_obs=np.ones(self.num_envs, dtype=bool),
                     final_info=stack_infos(step_infos), _final_info=np.ones(self.num_envs, dtype=bool))
        terminations = np.ones(self.num_envs, dtype=bool)
        truncations = np.zeros(self.num_envs, dtype=bool)
        return tuple(self._observations), rewards, terminations, truncations, infos
