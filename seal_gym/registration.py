"""Gymnasium registration of the seal_gym environments, and the registry of domain plug-ins beside their ids.

Built-in envs are registered with lazy string entry points, and their :class:`~seal_gym.domain_spec.DomainSpec`
is named by a string too: nothing heavy is imported until an env is made or a spec is looked up.
"""

from __future__ import annotations

import importlib
import string
from typing import Any, Mapping

import gymnasium as gym

ENV_SPECS = {
    "SealSquad-v0": {
        "entry_point": "seal_gym.envs.squad:SealSquadEnv",
        "vector_entry_point": "seal_gym.envs.squad_vector:SealSquadVectorEnv",
        "domain": "seal_gym.squad.spec:SPEC",
    },
    "SealARC-v0": {
        "entry_point": "seal_gym.envs.arc:SealARCEnv",
        "vector_entry_point": "seal_gym.envs.arc_vector:SealARCVectorEnv",
        "domain": "seal_gym.arc.spec:SPEC",
    },
    # A toy with a known reward and no inner loop: the share of letters and digits in the text (the tiny random
    # model writes mostly other tokens), so a newcomer sees an agent learn within a minute on a CPU
    # (`seal-gym train --env seal_gym/TargetChar-v0 --preset smoke --agent grpo`) before spending hours on the
    # real inner loop.
    "seal_gym/TargetChar-v0": {
        "entry_point": "seal_gym.testing:TargetCharEnv",
        "kwargs": {"targets": string.ascii_letters + string.digits},
        "domain": "seal_gym.testing:SPEC",
    },
    "SealARCStructured-v0": {
        # SealARC-v0 with a MultiDiscrete recipe and numeric task features (Stable-Baselines3 agents).
        "entry_point": "seal_gym.envs.arc_structured:SealARCStructuredEnv",
        "domain": "seal_gym.arc.spec:SPEC",
    },
}

USER_DOMAINS: dict[str, Any] = {}
"""name -> each DomainSpec registered with :func:`register_domain` (a later one of the same name replaces it)."""


def register_envs() -> None:
    """Register every built-in env once; calling it again is a no-op."""
    for env_id, kwargs in ENV_SPECS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, **{k: v for k, v in kwargs.items() if k != "domain"})


def register_domain(spec: Any, entry_points: Mapping[str, Mapping[str, Any]] | None = None) -> Any:
    """Make ``spec`` (a :class:`~seal_gym.domain_spec.DomainSpec`) the domain of its env ids, and register with
    Gymnasium each id of ``entry_points`` (id -> ``gym.register`` keywords) that is not registered yet.

    Returns ``spec``, so a module can write ``SPEC = register_domain(DomainSpec(...), {...})``.

    Raises:
        ValueError: an id of ``entry_points`` that is not one of ``spec.env_ids``, or an id that another
            domain already claims.
    """
    stray = sorted(set(entry_points or {}) - set(spec.env_ids))
    if stray:
        raise ValueError(f"{spec.name}: entry points for ids not in env_ids: {', '.join(stray)}")
    for env_id in spec.env_ids:
        owner = domain_spec(env_id)
        if owner is not None and owner.name != spec.name:
            raise ValueError(f"{env_id} already belongs to the domain {owner.name!r}")
    for env_id, kwargs in (entry_points or {}).items():
        if env_id not in gym.registry:
            gym.register(id=env_id, **kwargs)
    USER_DOMAINS[spec.name] = spec
    return spec


def domain_spec(env_id: str):
    """The :class:`~seal_gym.domain_spec.DomainSpec` of an env id, or ``None`` for an env without one."""
    for spec in reversed(USER_DOMAINS.values()):
        if env_id in spec.env_ids:
            return spec
    where = ENV_SPECS.get(env_id, {}).get("domain")
    if where is None:
        return None
    module, _, name = where.partition(":")
    return getattr(importlib.import_module(module), name)


def domain_specs() -> list:
    """Every known domain spec (the built-in ones and those registered so far), each once."""
    specs = [domain_spec(env_id) for env_id in ENV_SPECS]
    return list({spec.name: spec for spec in [*specs, *USER_DOMAINS.values()] if spec is not None}.values())


def reward_kinds(env_id: str):
    """The :class:`~seal_gym.rewards.RewardKinds` of an env id (``None`` for an env whose reward is its own)."""
    spec = domain_spec(env_id)
    return spec.reward_kinds if spec is not None else None


def choice_set_names() -> list[str]:
    """Every choice set any known domain declares (``SamplingConfig.choices`` names one)."""
    return sorted(name for spec in domain_specs() for name in spec.choices)


def choice_set(name: str) -> list[str]:
    """The texts of the choice set ``name``.

    Raises:
        ValueError: no known domain declares it.
    """
    for spec in domain_specs():
        if name in spec.choices:
            return spec.choices[name]()
    raise ValueError(f"unknown choice set {name!r}; choose one of {choice_set_names()}")
