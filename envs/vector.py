"""The one native vector env behind SealSquad-v0 and SealARC-v0: K episodes, K actions, ONE inner-loop call."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from seal_gym.domain import Domain, Episode, draw_episode
from seal_gym.spaces import FreeText


def stack_infos(infos: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per-env info dicts as Gymnasium vector infos: one array per key and a ``_key`` mask. Numbers stay
    numeric (a float key with some ``None`` values, such as the loss of an untrained episode, becomes a float
    array with NaN there); anything else goes into an object array."""
    out: dict[str, Any] = {}
    for key in dict.fromkeys(k for info in infos for k in info):
        values = [info.get(key) for info in infos]
        present = [v for v in values if v is not None]
        numeric = bool(present) and all(isinstance(v, (bool, int, float, np.number)) for v in present)
        if numeric and len(present) == len(values):
            out[key] = np.array(values)
        elif numeric and any(isinstance(v, (float, np.floating)) for v in present):
            out[key] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        else:
            out[key] = object_array(values)
        out[f"_{key}"] = np.array([key in info for info in infos])
    return out


def sub_env_rngs(seed: int | Sequence[int] | None, num_envs: int) -> list[np.random.Generator]:
    """One generator per sub-env: ``seed + i`` for an int seed, or one seed each from a list."""
    if seed is None or isinstance(seed, (int, np.integer)):
        seeds = [None if seed is None else int(seed) + i for i in range(num_envs)]
    else:
        seeds = list(seed)
        if len(seeds) != num_envs:
            raise ValueError(f"expected {num_envs} seeds, got {len(seeds)}")
    return [seeding.np_random(s)[0] for s in seeds]


def object_array(values: Sequence[Any]) -> np.ndarray:
    """A 1-D object array of ``values``, filled one by one: ``np.array`` would unpack lists into 2-D."""
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        out[i] = value
    return out


def per_env_options(options: dict[str, Any] | None, num_envs: int) -> list[dict[str, Any]]:
    """One options dict per sub-env: ``options`` shared by all, with ``options["per_env"]`` (a list of
    ``num_envs`` dicts) merged over it for each sub-env."""
    options = dict(options or {})
    per_env = options.pop("per_env", None)
    if per_env is None:
        return [options] * num_envs
    if len(per_env) != num_envs or not all(isinstance(o, dict) for o in per_env):
        raise ValueError(f"options['per_env'] must be a list of {num_envs} dicts, one per sub-env")
    return [{**options, **o} for o in per_env]


class SealVectorEnv(VectorEnv):
    """``num_envs`` episodes of one :class:`~seal_gym.domain.Domain`, stepped together: all their actions go
    through ONE call to the domain's inner loop, so the batched engine trains them at once.

    Groups: with ``group_size=G``, sub-envs ``[gG, (g+1)G)`` share one task and one inner seed, drawn by the
    group's first sub-env (sub-env ``gG`` draws exactly as alone); GRPO-style agents ask for G self-edits
    per prompt this way. ``reset(options=...)`` takes the domain's options for every sub-env, or per sub-env
    through ``options["per_env"]`` (a list of ``num_envs`` dicts): a group's task is pinned by its first
    sub-env's options, while ``inner_seed`` may differ per sub-env (r inner-loop seeds per self-edit).

    Every episode lasts one step, so sub-envs reset in the same step (``AutoresetMode.SAME_STEP``): ``step``
    returns the next tasks' prompts (drawn in the same groups), with the finished episodes' observations
    in ``infos["final_obs"]`` and their step infos in ``infos["final_info"]``. Actions that never reach the
    engine (empty, invalid, over budget) score 0 with the reason in their info.

    Seeding: ``reset(seed=s)`` seeds sub-env ``i`` with ``s + i`` (or pass a list of seeds), so with
    ``group_size=1`` sub-env ``i`` replays the single env reset with seed ``s + i``.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(self, domain: Domain, num_envs: int = 1, group_size: int = 1, render_mode: str | None = None):
        if num_envs < 1 or group_size < 1 or num_envs % group_size:
            raise ValueError(f"need num_envs >= 1 and a group_size that divides it; got {num_envs} and {group_size}")
        if render_mode is not None:
            raise ValueError(f"{type(self).__name__} does not render; use render_mode=None")
        self.domain, self.num_envs, self.group_size, self.render_mode = domain, num_envs, group_size, None
        self.single_observation_space = FreeText(domain.max_observation_chars)
        self.single_action_space = FreeText(domain.max_action_chars)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.last_results: list[Any] = []
        """The last step's typed results (``None`` where an action never reached the engine)."""
        self._rngs: list[np.random.Generator] = []
        self._episodes: list[Episode] = []

    def _draw(self, options: list[dict[str, Any]]) -> dict[str, Any]:
        episodes, infos = [], []
        for lead in range(0, self.num_envs, self.group_size):
            episode = draw_episode(self.domain, self._rngs[lead], options[lead])
            info = {**self.domain.reset_info(episode.task), "group": lead // self.group_size}
            for i in range(lead, lead + self.group_size):
                seed = options[i].get("inner_seed")
                episodes.append(episode if seed is None or i == lead else Episode(episode.task, int(seed)))
                infos.append(info)
        self._episodes = episodes
        return stack_infos(infos)

    def _observations(self) -> tuple[str, ...]:
        return tuple(self.domain.observation(e.task) for e in self._episodes)

    def reset(self, *, seed: int | Sequence[int] | None = None, options: dict[str, Any] | None = None):
        """New tasks for every sub-env (in groups of ``group_size``)."""
        if seed is not None or not self._rngs:
            self._rngs = sub_env_rngs(seed, self.num_envs)
        infos = self._draw(per_env_options(options, self.num_envs))
        return self._observations(), infos

    def step(self, actions: Sequence[str]):
        """Score all actions in one inner-loop call, then start the next tasks."""
        if not self._episodes:
            raise RuntimeError("call reset() before step()")
        if isinstance(actions, str) or len(actions) != self.num_envs:
            raise ValueError(f"step needs a sequence of {self.num_envs} action strings")
        scored = self.domain.score([(e.task, a, e.inner_seed) for e, a in zip(self._episodes, actions)])
        self.last_results = [s.result for s in scored]
        rewards = np.array([s.reward for s in scored], dtype=np.float64)
        final_obs = object_array(self._observations())
        infos = self._draw([{}] * self.num_envs)
        ones = np.ones(self.num_envs, dtype=bool)
        infos.update(final_obs=final_obs, _final_obs=ones, final_info=stack_infos([s.info for s in scored]),
                     _final_info=ones)
        return self._observations(), rewards, ones.copy(), np.zeros(self.num_envs, dtype=bool), infos
