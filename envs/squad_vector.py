"""SealSquad-v0 as a native vector env: K passages, K self-edits, one inner-loop call per step."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from seal_gym.envs.squad import MAX_OBSERVATION_CHARS, SquadEpisodes
from seal_gym.spaces import FreeText
from seal_gym.vector import object_array, stack_infos, sub_env_rngs


class SealSquadVectorEnv(VectorEnv):
    """``num_envs`` SealSquad episodes stepped together; their self-edits go through ONE inner-loop call,
    so the batched engine trains all of them at once over one frozen base model.

    Same passages, prompts, actions, rewards and ``info`` keys as :class:`~seal_gym.envs.squad.SealSquadEnv`,
    and the same keyword arguments (see its docstring). Every episode lasts one step, so sub-envs reset in
    the same step (``AutoresetMode.SAME_STEP``): ``step`` returns the next passages' prompts, with the
    finished episodes' observations in ``infos["final_obs"]`` and their step infos in
    ``infos["final_info"]``. Self-edits that are empty after cleaning score 0 and never reach the engine.

    Seeding: ``reset(seed=s)`` seeds sub-env ``i`` with ``s + i`` (or pass a list of seeds), so sub-env
    ``i`` replays ``SealSquadEnv`` reset with seed ``s + i``.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(self, num_envs: int = 1, render_mode: str | None = None, **kwargs: Any):
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if render_mode is not None:
            raise ValueError("SealSquadVectorEnv does not render; use render_mode=None")
        self.num_envs = num_envs
        self.render_mode = None
        self.episodes = SquadEpisodes(**kwargs)
        self.inner_loop = self.episodes.inner_loop
        self.single_observation_space = FreeText(MAX_OBSERVATION_CHARS)
        self.single_action_space = FreeText(self.episodes.max_self_edit_chars)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._rngs: list[np.random.Generator] = []
        self._indices: list[int] = [0] * num_envs
        self._inner_seeds: list[int] = [0] * num_envs

    def _new_episode(self, i: int) -> dict[str, Any]:
        self._indices[i] = int(self._rngs[i].integers(len(self.episodes.passages)))
        self._inner_seeds[i] = int(self._rngs[i].integers(2**31 - 1))
        return self.episodes.reset_info(self._indices[i])

    def _observations(self) -> tuple[str, ...]:
        return tuple(self.episodes.observation(index) for index in self._indices)

    def reset(self, *, seed: int | Sequence[int] | None = None, options: dict[str, Any] | None = None):
        """New passages for every sub-env."""
        if seed is not None or not self._rngs:
            self._rngs = sub_env_rngs(seed, self.num_envs)
        infos = [self._new_episode(i) for i in range(self.num_envs)]
        return self._observations(), stack_infos(infos)

    def step(self, actions: Sequence[str]):
        """Apply all self-edits in one inner-loop call, then start the next passages."""
        if not self._rngs:
            raise RuntimeError("call reset() before step()")
        if isinstance(actions, str) or len(actions) != self.num_envs:
            raise ValueError(f"step needs a sequence of {self.num_envs} self-edit strings")
        scored = self.episodes.score(list(zip(self._indices, actions, self._inner_seeds)))
        rewards = np.array([reward for reward, _, _ in scored], dtype=np.float64)
        final_obs = object_array(self._observations())
        infos = stack_infos([self._new_episode(i) for i in range(self.num_envs)])
        infos.update(final_obs=final_obs, _final_obs=np.ones(self.num_envs, dtype=bool),
                     final_info=stack_infos([info for _, info, _ in scored]),
                     _final_info=np.ones(self.num_envs, dtype=bool))
        return self._observations(), rewards, np.ones(self.num_envs, dtype=bool), np.zeros(self.num_envs, dtype=bool), infos
