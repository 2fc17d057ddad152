"""Training presets: a budget and the paper's settings for each env family, as config dataclass instances.

- ``smoke``: seconds, on ``tiny-random``: one or two updates on a handful of self-edits (tests, trying it out);
- ``demo``: about 15 minutes on a 2-core CPU with the embedded SmolLM2-135M-Instruct (on SealARC its recipes
  are restricted to the recipe grid, ``choices="arc-recipes"``: free-form, not one of its recipes parses);
- ``paper``: the SEAL paper's budget and hyperparameters (a GPU's work);
- ``cpu`` (SealSquad): the laptop-scale experiment: 1.5-2.2 hours of a 2-core CPU per agent, on train.json's
  ``train`` split, with the small-model inner loop (``inner_preset="small"``) and the relative reward
  ``answer_logprob_vs_passage``; held-out passages are left for ``eval squad``.

A preset's ``agent`` fields apply to whichever agent is trained (fields an agent does not have are skipped),
so one preset serves every optimizer on the same budget; an agent whose policy is not the language model
adapts them (:meth:`~seal_gym.agents.base.AgentConfig.from_preset`: sb3-ppo keeps SB3's own learning rate
for its MLP and gets ``G x n`` tasks per round).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from seal_gym.adapt import LoraSpec, TrainSpec
from seal_gym.agents.policy import LMPolicy, SamplingConfig
from seal_gym.arc.ttt import TTT_PRESETS

SQUAD_POLICY_LORA = LoraSpec(rank=64, alpha=128.0)
"""ReST-EM's SFT adapter on SQuAD in the paper: rank 64, alpha 128, all projections."""
ARC_POLICY_LORA = LoraSpec(rank=16, alpha=16.0)
"""ReST-EM's SFT adapter on ARC in the paper: rank 16, alpha 16."""
SMOKE_LORA = LoraSpec(rank=4, alpha=8.0, target_modules=("q_proj", "v_proj"))


@dataclass(frozen=True)
class Preset:
    """A training budget and settings."""

    rounds: int
    """Rounds of collect -> update."""
    model: str | None
    """Default model (None: the embedded SmolLM2-135M-Instruct)."""
    agent: dict[str, Any]
    """Agent config fields (applied where the agent has them)."""
    sampling: SamplingConfig
    """How self-edits are sampled."""
    policy_lora: LoraSpec
    """The policy adapter's shape."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """The env's arguments (inner-loop budget, dataset)."""


PRESETS: dict[str, dict[str, Preset]] = {
    "SealSquad-v0": {
        "smoke": Preset(2, "tiny-random", dict(prompts_per_round=2, samples_per_prompt=2, learning_rate=1e-2),
                        SamplingConfig(max_new_tokens=16), SMOKE_LORA,
                        dict(train=TrainSpec(epochs=1), engine="batched")),
        "demo": Preset(2, None, dict(prompts_per_round=3, samples_per_prompt=3, learning_rate=3e-4, epochs=2,
                                     batch_size=3, eval_every=0),
                       SamplingConfig(max_new_tokens=128, batch_size=9), SQUAD_POLICY_LORA,
                       dict(train=TrainSpec(epochs=3), engine="batched")),
        "paper": Preset(2, None, dict(prompts_per_round=50, samples_per_prompt=5, inner_seeds=3, learning_rate=3e-4,
                                      epochs=2, batch_size=5),
                        SamplingConfig(max_new_tokens=1024, batch_size=25), SQUAD_POLICY_LORA,
                        dict(engine="batched")),
        # The laptop-scale experiment: the small-model inner loop, a dense reward relative to the passage
        # alone (> 0: the self-edit taught more than the passage; the SNR study in RESULTS.md found it as
        # reliable within a passage as the plain log-probability and half as variable across passages),
        # train.json's train split only. A run is
        # 6 rounds x 16 inner loops + 4 passage references = 120 adapters (batched, 2 cores); rest-em's run
        # took 95 minutes (benchmarks/RESULTS.md): under 2 hours, so one run fits in one sitting.
        "cpu": Preset(6, None, dict(prompts_per_round=4, samples_per_prompt=4, learning_rate=3e-4, epochs=2,
                                     batch_size=4, eval_every=0),
                      SamplingConfig(max_new_tokens=256, batch_size=16), SQUAD_POLICY_LORA,
                      dict(inner_preset="small", reward="answer_logprob_vs_passage", engine="batched",
                           dataset="../shared/data/squad/train.json@train")),
    },
    "SealARC-v0": {
        "smoke": Preset(2, "tiny-random", dict(prompts_per_round=2, samples_per_prompt=2, learning_rate=1e-2,
                                               keep="best"),
                        SamplingConfig(max_new_tokens=400, choices="arc-recipes"), SMOKE_LORA,  # ~300 bytes a recipe
                        dict(ttt=dict(max_examples=4, leave_out=(1,), permute_colours=False), engine="batched")),
        "demo": Preset(2, None, dict(prompts_per_round=3, samples_per_prompt=4, learning_rate=5e-5, epochs=8,
                                     batch_size=5, keep="threshold", min_reward=1.0),
                       SamplingConfig(max_new_tokens=128, batch_size=12, choices="arc-recipes"), ARC_POLICY_LORA,
                       dict(ttt=dataclasses.replace(TTT_PRESETS["cpu"], max_examples=12), engine="batched")),
        "paper": Preset(2, None, dict(prompts_per_round=12, samples_per_prompt=15, learning_rate=5e-5, epochs=8,
                                      batch_size=5, keep="threshold", min_reward=1.0),
                        SamplingConfig(max_new_tokens=256, batch_size=16), ARC_POLICY_LORA,
                        dict(ttt=TTT_PRESETS["paper"], engine="batched", tasks="kaggle:../shared/data/arc")),
    },
}


PRESETS["SealARCStructured-v0"] = PRESETS["SealARC-v0"]  # the same TTT budget: it trains SealARC's recipes


def preset_names() -> str:
    """Every preset with the envs that have it, for ``--help``."""
    envs: dict[str, list[str]] = {}
    for env_id, table in PRESETS.items():
        for name in table:
            envs.setdefault(name, []).append(env_id)
    return ", ".join(f"{name} ({'every seal_gym env' if len(where) == len(PRESETS) else ', '.join(where)})"
                     for name, where in envs.items())


def preset_for(env_id: str, name: str) -> Preset:
    """The preset ``name`` for an env; an env without its own presets gets SealSquad's budget.

    Raises:
        ValueError: an unknown preset name.
    """
    table = PRESETS.get(env_id, PRESETS["SealSquad-v0"])
    if name not in table:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(table)}")
    preset = table[name]
    if env_id not in PRESETS:  # a user's env: keep the budget, drop seal_gym env arguments
        preset = dataclasses.replace(preset, env_kwargs={})
    return preset


def agent_config(config_class: type, preset: Preset, **overrides: Any) -> Any:
    """The agent's config: its defaults, then the preset's fields as the agent takes them
    (:meth:`~seal_gym.agents.base.AgentConfig.from_preset`), then ``overrides``."""
    names = {f.name for f in dataclasses.fields(config_class)}
    values = config_class.from_preset(preset.agent)
    return config_class(**{k: v for k, v in {**values, **overrides}.items() if k in names})


TESTBED_LORA = LoraSpec(rank=8, alpha=16.0, target_modules=("q_proj", "v_proj", "lm_head"))
"""The testbed policy's adapter. lm_head is wrapped too: on the random tiny model the hidden states barely
move the tied output layer, so without it a known reward is not learnable in a few rounds."""
TESTBED_SAMPLING = SamplingConfig(temperature=1.0, max_new_tokens=16)
TESTBED_AGENTS: dict[str, dict[str, Any]] = {
    # merge=False: merging every round rose in 21 of 24 runs (one rose, then collapsed), keeping one adapter in
    # all 24 (4 reward functions x 3 policy seeds x 2 agent seeds: benchmarks/RESULTS.md, ReST-EM's stability).
    "rest-em": dict(learning_rate=5e-2, epochs=4, batch_size=2, merge=False),
    "grpo": dict(learning_rate=3e-2),
    "ppo": dict(learning_rate=5e-2),
}
"""Per-agent settings that learn ``seal_gym.testing.TargetCharEnv`` with :func:`testbed_policy` (measured on
seeds 0/1/2 in benchmarks/RESULTS.md); the tests and ``benchmarks/agents_testbed.py`` use them."""

# The toy's smoke run learns: the testbed's policy shape and sampling, 4 prompts x 16 samples, 5 rounds on the
# tiny model (the reward rises within a minute on 2 cores: benchmarks/RESULTS.md, "A smoke run that learns").
PRESETS["seal_gym/TargetChar-v0"] = {
    "smoke": Preset(5, "tiny-random", dict(prompts_per_round=4, samples_per_prompt=16, learning_rate=3e-2),
                    TESTBED_SAMPLING, TESTBED_LORA)}


def testbed_policy(seed: int = 0, lora: LoraSpec = TESTBED_LORA, sampling: SamplingConfig = TESTBED_SAMPLING) -> LMPolicy:
    """A policy on a FRESH tiny random model (policies install their adapter in the model they are given)."""
    from seal_gym.models import load_model

    return LMPolicy(load_model("tiny-random"), sampling, lora, seed=seed)


testbed_policy.__test__ = False  # a factory, not a test: pytest would collect it by its name where it is imported
