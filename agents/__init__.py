"""Agents that train the self-edit writer (installed as ``seal_gym.agents``).

Agents depend only on the policy protocols (:class:`TextPolicy`, :class:`TrainablePolicy`) and on
observations, rewards and ``info``: never on an environment's internals, so every agent works with every
text env. The loop (:class:`Agent`) is written once; each algorithm is one file that adds its update.

>>> sorted(AGENTS)
['grpo', 'ppo', 'rest-em', 'sb3-ppo', 'sft']
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from seal_gym.agents.base import Agent, AgentConfig, RoundStats
from seal_gym.agents.env_traits import MODEL_KWARG, model_keyword
from seal_gym.agents.grpo import GRPO, GRPOConfig
from seal_gym.agents.policy import (Completion, LMPolicy, SamplingConfig, TextPolicy, TokenScores, TrainablePolicy,
                                    lora_from_json)
from seal_gym.agents.ppo import PPO, PPOConfig
from seal_gym.agents.rest_em import ReSTEM, ReSTEMConfig
from seal_gym.agents.rollouts import Collector, Rollouts
from seal_gym.agents.sb3_ppo import SB3PPO, SB3PPOConfig
from seal_gym.agents.sft import SFT, SFTConfig
from seal_gym.agents.scripted import ConstantPolicy, ReplayPolicy
from seal_gym.agents.writers import policy_folder, publish_writer, trained_env

AGENTS: dict[str, type[Agent]] = {cls.name: cls for cls in (ReSTEM, GRPO, PPO, SB3PPO, SFT)}


def make_agent(name: str, policy: TrainablePolicy | None = None, env: Any = "SealSquad-v0",
               config: AgentConfig | None = None, env_kwargs: dict[str, Any] | None = None,
               self_mode: bool | None = None, **kwargs: Any) -> Agent:
    """An agent by name, for the CLI and notebooks.

    Args:
        name: one of :data:`AGENTS` (``"rest-em"``, ...).
        policy: the self-edit writer; default: an :class:`LMPolicy` on the model in ``env_kwargs`` (the
            embedded model when absent).
        env: a registered env id or an env object (any env with Text observations and actions for the
            agents that write text).
        config: the agent's config dataclass (default: its defaults).
        env_kwargs: arguments of the env when ``env`` is an id.
        self_mode: whether the env gets the policy's own model, as in SEAL. ``None``: when the env declares a
            model keyword (``metadata["model_kwarg"]``, see :mod:`~seal_gym.agents.env_traits`) and
            ``env_kwargs`` leave it out; give the env its own model there for teacher-student mode.
        kwargs: passed to the agent's constructor (e.g. ``eval_env``).

    Raises:
        ValueError: an unknown agent name, an env the agent cannot use, or ``self_mode=True`` where the env
            cannot share the policy's model.
    """
    if name not in AGENTS:
        raise ValueError(f"unknown agent {name!r}; choose one of {sorted(AGENTS)}")
    env_kwargs = dict(env_kwargs or {})
    keyword = model_keyword(env)
    if policy is None and AGENTS[name].needs_text_policy:
        policy = LMPolicy(env_kwargs.get(keyword) if keyword else None)
    if _shares_model(env, keyword, env_kwargs, policy, self_mode):
        env_kwargs[keyword] = policy.bundle
    return AGENTS[name](policy, env, config, env_kwargs=env_kwargs, **kwargs)


def _shares_model(env: Any, keyword: str | None, env_kwargs: dict[str, Any], policy: Any, self_mode: bool | None) -> bool:
    """Whether the env is to get the policy's model (``self_mode=None``: when it can and none is given)."""
    can = keyword is not None and keyword not in env_kwargs and hasattr(policy, "bundle")
    if self_mode is None:
        return can
    if not self_mode or can:
        return self_mode
    if not isinstance(env, str):
        why = "an env object has its model already: pass its id to share the policy's model"
    elif keyword is None:
        why = f"{env} declares no model keyword (metadata[{MODEL_KWARG!r}]), so it cannot take the policy's model"
    elif keyword in env_kwargs:
        why = f"env_kwargs[{keyword!r}] gives the env a model of its own (teacher-student mode)"
    else:
        why = f"the policy ({type(policy).__name__}) has no language model to share"
    raise ValueError(f"self_mode=True: {why}")


def load_policy(run_dir: str | Path, model: Any = None) -> LMPolicy:
    """A trained policy: a ``seal-gym train`` run's newest checkpoint, or a published writer
    (:func:`~seal_gym.agents.writers.publish_writer`; its folder or a file in it).

    Args:
        run_dir: the run folder or the writer.
        model: the model to load the policy into (default: the run's own model by name).

    Raises:
        FileNotFoundError: ``run_dir`` is neither, or a run with no checkpoint yet.
        ValueError: ``model`` is a loaded model other than the one the policy was trained on.
    """
    meta = policy_meta(run_dir)
    given = getattr(model, "name", None)
    if given is not None and given != meta["model"]:
        raise ValueError(f"{run_dir} holds a policy trained on model {meta['model']!r}; it cannot be loaded into "
                         f"{given!r} (load {meta['model']!r})")
    policy = LMPolicy(model if model is not None else _model_arg(meta["model"]), SamplingConfig(**meta["sampling"]),
                      lora_from_json(meta["lora"]), seed=meta["seed"])
    policy.load(policy_folder(run_dir))
    return policy


def policy_meta(run_dir: str | Path) -> dict[str, Any]:
    """The ``policy.json`` of a run's newest checkpoint or of a published writer (``model``, ``sampling``,
    ``lora``, ``seed``).

    Raises:
        FileNotFoundError: neither a run folder with a checkpoint nor a published writer.
    """
    folder = policy_folder(run_dir)
    try:
        return json.loads((folder / "policy.json").read_text())
    except (OSError, json.JSONDecodeError):
        raise FileNotFoundError(f"{folder} holds no readable policy.json") from None


def _model_arg(name: str | None) -> str | None:
    from seal_gym.models import EMBEDDED_NAME

    return None if name in (None, EMBEDDED_NAME) else name


__all__ = [
    "AGENTS", "Agent", "AgentConfig", "Collector", "Completion", "ConstantPolicy", "GRPO", "GRPOConfig", "LMPolicy",
    "PPO", "PPOConfig", "ReSTEM", "SB3PPO", "SB3PPOConfig", "SFT", "SFTConfig",
    "ReSTEMConfig", "ReplayPolicy", "Rollouts", "RoundStats", "SamplingConfig", "TextPolicy", "TokenScores",
    "TrainablePolicy", "load_policy", "make_agent", "policy_folder", "policy_meta", "publish_writer",
    "trained_env",
]
