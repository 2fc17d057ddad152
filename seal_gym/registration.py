"""Gymnasium registration of the seal_gym environments (metadata and lazy string entry points only)."""

from __future__ import annotations

import string

import gymnasium as gym

ENV_SPECS = {
    "SealSquad-v0": {
        "entry_point": "seal_gym.envs.squad:SealSquadEnv",
        "vector_entry_point": "seal_gym.envs.squad_vector:SealSquadVectorEnv",
        "reward_kinds": "seal_gym.squad.domain:REWARD_KINDS",
    },
    "SealARC-v0": {
        "entry_point": "seal_gym.envs.arc:SealARCEnv",
        "vector_entry_point": "seal_gym.envs.arc_vector:SealARCVectorEnv",
        "reward_kinds": "seal_gym.arc.domain:REWARD_KINDS",
    },
    # A toy with a known reward and no inner loop: the share of letters and digits in the text (the tiny random
    # model writes mostly other tokens), so a newcomer sees an agent learn within a minute on a CPU
    # (`seal-gym train --env seal_gym/TargetChar-v0 --preset smoke --agent grpo`) before spending hours on the
    # real inner loop.
    "seal_gym/TargetChar-v0": {
        "entry_point": "seal_gym.testing:TargetCharEnv",
        "kwargs": {"targets": string.ascii_letters + string.digits},
    },
    "SealARCStructured-v0": {
        # SealARC-v0 with a MultiDiscrete recipe and numeric task features (Stable-Baselines3 agents).
        "entry_point": "seal_gym.envs.arc_structured:SealARCStructuredEnv",
        "reward_kinds": "seal_gym.arc.domain:REWARD_KINDS",
    },
}


def register_envs() -> None:
    """Register every env once; calling it again is a no-op."""
    for env_id, kwargs in ENV_SPECS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, **{k: v for k, v in kwargs.items() if k != "reward_kinds"})


def reward_kinds(env_id: str):
    """The :class:`~seal_gym.rewards.RewardKinds` of a seal_gym env id (``None`` for any other env)."""
    import importlib

    where = ENV_SPECS.get(env_id, {}).get("reward_kinds")
    if where is None:
        return None
    module, _, name = where.partition(":")
    return getattr(importlib.import_module(module), name)
