"""SealARC-v0 as a native vector env: K episodes, K self-edits, ONE inner-loop call per step."""

from __future__ import annotations

from typing import Any

from seal_gym.envs.arc import INFO_METRICS
from seal_gym.envs.vector import SealVectorEnv
from seal_gym.arc.domain import ArcDomain


class SealARCVectorEnv(SealVectorEnv):
    """``num_envs`` SealARC episodes stepped together (see :class:`~seal_gym.envs.vector.SealVectorEnv`
    for groups, per-sub-env options, autoreset and seeding).

    Same tasks, prompts, actions, rewards, ``info`` keys and keyword arguments as
    :class:`~seal_gym.envs.arc.SealARCEnv` (see its docstring), plus ``num_envs`` and ``group_size``.
    """

    metadata = {**SealVectorEnv.metadata, "info_metrics": INFO_METRICS}

    def __init__(self, num_envs: int = 1, group_size: int = 1, render_mode: str | None = None, **kwargs: Any):
        super().__init__(ArcDomain(**kwargs), num_envs, group_size, render_mode)
