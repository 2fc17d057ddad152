"""Agents that train the self-edit writer (installed as ``seal_gym.agents``).

Agents depend only on the policy protocols (:class:`TextPolicy`, :class:`TrainablePolicy`) and on
observations, rewards and ``info``: never on an environment's internals, so every agent works with every
text env. The loop (:class:`Agent`) is written once; each algorithm is one file that adds its update.

>>> sorted(AGENTS)
['grpo', 'ppo', 'rest-em', 'sb3-ppo']
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from seal_gym.agents.base import Agent, AgentConfig, RoundStats
from seal_gym.agents.grpo import GRPO, GRPOConfig
from seal_gym.agents.policy import (Completion, LMPolicy, SamplingConfig, TextPolicy, TokenScores, TrainablePolicy,
                                    lora_from_json)
from seal_gym.agents.ppo import PPO, PPOConfig
from seal_gym.agents.rest_em import ReSTEM, ReSTEMConfig
from seal_gym.agents.rollouts import Collector, Rollouts
from seal_gym.agents.runlog import latest_checkpoint, run_settings
from seal_gym.agents.sb3_ppo import SB3PPO, SB3PPOConfig
from seal_gym.agents.scripted import ConstantPolicy, ReplayPolicy

AGENTS: dict[str, type[Agent]] = {cls.name: cls for cls in (ReSTEM, GRPO, PPO, SB3PPO)}


def make_agent(name: str, policy: TrainablePolicy | None = None, env: Any = "SealSquad-v0",
               config: AgentConfig | None = None, env_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> Agent:
    """An agent by name, for the CLI and notebooks.

    Args:
        name: one of :data:`AGENTS` (``"rest-em"``, ...).
        policy: the self-edit writer; default: an :class:`LMPolicy` on ``env_kwargs["model"]`` (the embedded
            model when absent).
        env: a registered env id or an env object.
        config: the agent's config dataclass (default: its defaults).
        env_kwargs: arguments of the env when ``env`` is an id. Without a ``"model"`` key the env gets the
            policy's model: self mode, as in SEAL. Give the env its own model for teacher-student mode.
        kwargs: passed to the agent's constructor (e.g. ``eval_env``).

    Raises:
        ValueError: an unknown agent name.
    """
    if name not in AGENTS:
        raise ValueError(f"unknown agent {name!r}; choose one of {sorted(AGENTS)}")
    env_kwargs = dict(env_kwargs or {})
    if policy is None and AGENTS[name].needs_text_policy:
        policy = LMPolicy(env_kwargs.get("model"))
    if isinstance(env, str) and "model" not in env_kwargs and hasattr(policy, "bundle"):
        env_kwargs["model"] = policy.bundle
    return AGENTS[name](policy, env, config, env_kwargs=env_kwargs, **kwargs)


def load_policy(run_dir: str | Path, model: Any = None) -> LMPolicy:
    """The trained policy of a ``seal-gym train`` run, from its newest checkpoint.

    Args:
        run_dir: the run folder.
        model: the model to load the policy into (default: the run's own model by name).

    Raises:
        FileNotFoundError: ``run_dir`` is not a run folder, or it has no checkpoint yet.
    """
    run_dir = Path(run_dir)
    run_settings(run_dir)  # a run folder, or a FileNotFoundError that says so
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None:
        raise FileNotFoundError(f"{run_dir} has no checkpoint yet (the run stopped before its first update)")
    meta = json.loads((checkpoint / "policy" / "policy.json").read_text())
    policy = LMPolicy(model if model is not None else _model_arg(meta["model"]), SamplingConfig(**meta["sampling"]),
                      lora_from_json(meta["lora"]), seed=meta["seed"])
    policy.load(checkpoint / "policy")
    return policy


def _model_arg(name: str | None) -> str | None:
    from seal_gym.models import EMBEDDED_NAME

    return None if name in (None, EMBEDDED_NAME) else name


__all__ = [
    "AGENTS", "Agent", "AgentConfig", "Collector", "Completion", "ConstantPolicy", "GRPO", "GRPOConfig", "LMPolicy",
    "PPO", "PPOConfig", "ReSTEM", "SB3PPO", "SB3PPOConfig",
    "ReSTEMConfig", "ReplayPolicy", "Rollouts", "RoundStats", "SamplingConfig", "TextPolicy", "TokenScores",
    "TrainablePolicy", "load_policy", "make_agent",
]
