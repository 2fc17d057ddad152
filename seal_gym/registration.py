"""Gymnasium registration of the seal_gym environments (metadata and lazy string entry points only)."""

from __future__ import annotations

import gymnasium as gym

ENV_SPECS = {
    "SealSquad-v0": {
        "entry_point": "seal_gym.envs.squad:SealSquadEnv",
        "vector_entry_point": "seal_gym.envs.squad_vector:SealSquadVectorEnv",
    },
    "SealARC-v0": {
        "entry_point": "seal_gym.envs.arc:SealARCEnv",
        "vector_entry_point": "seal_gym.envs.arc_vector:SealARCVectorEnv",
    },
    "SealARCStructured-v0": {
        # SealARC-v0 with a MultiDiscrete recipe and numeric task features (Stable-Baselines3 agents).
        "entry_point": "seal_gym.envs.arc_structured:SealARCStructuredEnv",
    },
}


def register_envs() -> None:
    """Register every env once; calling it again is a no-op."""
    for env_id, kwargs in ENV_SPECS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, **kwargs)
