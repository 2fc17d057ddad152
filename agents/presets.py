"""Training presets, looked up by env id in the env's domain plug-in, and the testbed agents' settings.

Every domain declares its own presets (:attr:`seal_gym.domain_spec.DomainSpec.presets`); the names in use:

- ``smoke``: seconds, on ``tiny-random``: one or two updates on a handful of self-edits (tests, trying it out);
- ``demo``: about 15 minutes on a 2-core CPU with the embedded SmolLM2-135M-Instruct;
- ``paper``: the SEAL paper's budget and hyperparameters (a GPU's work);
- ``cpu`` (SealSquad): the laptop-scale experiment, 1.5-2.2 hours of a 2-core CPU per agent.

An env without a domain spec (a user's) gets the budgets of :data:`~seal_gym.domain_spec.BUDGET_PRESETS`.
A preset's ``agent`` fields apply to whichever agent is trained (fields an agent does not have are skipped),
so one preset serves every optimizer on the same budget; an agent whose policy is not the language model
adapts them (:meth:`~seal_gym.agents.base.AgentConfig.from_preset`: sb3-ppo keeps SB3's own learning rate
for its MLP and gets ``G x n`` tasks per round).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from seal_gym.adapt import LoraSpec
from seal_gym.agents.policy import LMPolicy
from seal_gym.domain_spec import BUDGET_PRESETS, Preset
from seal_gym.registration import domain_specs, domain_spec
from seal_gym.sampling import SamplingConfig
from seal_gym.testing import TESTBED_LORA, TESTBED_SAMPLING

__all__ = ["Preset", "TESTBED_AGENTS", "TESTBED_LORA", "TESTBED_SAMPLING", "agent_config", "preset_for",
           "preset_names", "presets_of", "testbed_policy"]


def presets_of(env_id: str) -> dict[str, Preset]:
    """The presets an env can be trained with: its domain's, else the generic budgets."""
    spec = domain_spec(env_id)
    return dict(spec.presets) if spec is not None and spec.presets else dict(BUDGET_PRESETS)


def preset_names() -> str:
    """Every preset with the domains that have it, for ``--help``."""
    owners: dict[str, list[str]] = {}
    specs = domain_specs()
    for spec in specs:
        for name in spec.presets:
            owners.setdefault(name, []).extend(spec.env_ids)
    every = sum(len(spec.env_ids) for spec in specs if spec.presets)
    return ", ".join(f"{name} ({'every seal_gym env' if len(where) == every else ', '.join(where)})"
                     for name, where in owners.items())


def preset_for(env_id: str, name: str) -> Preset:
    """The preset ``name`` for an env.

    Raises:
        ValueError: an unknown preset name (the message lists the env's).
    """
    table = presets_of(env_id)
    if name not in table:
        raise ValueError(f"unknown preset {name!r} for {env_id}; choose one of {sorted(table)}")
    return table[name]


def agent_config(config_class: type, preset: Preset, **overrides: Any) -> Any:
    """The agent's config: its defaults, then the preset's fields as the agent takes them
    (:meth:`~seal_gym.agents.base.AgentConfig.from_preset`), then ``overrides``."""
    names = {f.name for f in dataclasses.fields(config_class)}
    values = config_class.from_preset(preset.agent)
    return config_class(**{k: v for k, v in {**values, **overrides}.items() if k in names})


TESTBED_AGENTS: dict[str, dict[str, Any]] = {
    # merge=False: merging every round rose in 21 of 24 runs (one rose, then collapsed), keeping one adapter in
    # all 24 (4 reward functions x 3 policy seeds x 2 agent seeds: benchmarks/RESULTS.md, ReST-EM's stability).
    "rest-em": dict(learning_rate=5e-2, epochs=4, batch_size=2, merge=False),
    "grpo": dict(learning_rate=3e-2),
    "ppo": dict(learning_rate=5e-2),
}
"""Per-agent settings that learn ``seal_gym.testing.TargetCharEnv`` with :func:`testbed_policy` (measured on
seeds 0/1/2 in benchmarks/RESULTS.md); the tests and ``studies/agents_testbed.py`` use them."""


def testbed_policy(seed: int = 0, lora: LoraSpec = TESTBED_LORA, sampling: SamplingConfig = TESTBED_SAMPLING) -> LMPolicy:
    """A policy on a FRESH tiny random model (policies install their adapter in the model they are given)."""
    from seal_gym.models import load_model

    return LMPolicy(load_model("tiny-random"), sampling, lora, seed=seed)


testbed_policy.__test__ = False  # a factory, not a test: pytest would collect it by its name where it is imported
