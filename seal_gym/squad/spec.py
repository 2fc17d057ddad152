"""SealSquad's plug-in: its presets, reward kinds, data check, inner-loop options and scripted baselines."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from seal_gym.adapt.types import TrainSpec
from seal_gym.domain_spec import BUDGET_PRESETS, WIDE_LORA, DomainSpec, OptionGroup, Preset
from seal_gym.sampling import SamplingConfig
from seal_gym.squad.domain import REWARD_KINDS
from seal_gym.squad.presets import INNER_PRESETS, InnerPreset
from seal_gym.squad.scripted import PassagePolicy, PromptEnsemblePolicy
from seal_gym.squad.splits import parse_split

PRESETS = {
    "smoke": dataclasses.replace(BUDGET_PRESETS["smoke"], env_kwargs=dict(train=TrainSpec(epochs=1), engine="batched")),
    "demo": dataclasses.replace(BUDGET_PRESETS["demo"], env_kwargs=dict(train=TrainSpec(epochs=3), engine="batched")),
    "paper": Preset(2, None, dict(prompts_per_round=50, samples_per_prompt=5, inner_seeds=3, learning_rate=3e-4,
                                  epochs=2, batch_size=5),
                    SamplingConfig(max_new_tokens=1024, batch_size=25), WIDE_LORA, dict(engine="batched")),
    # The laptop-scale experiment: the small-model inner loop, a dense reward relative to the passage alone (> 0:
    # the self-edit taught more than the passage; the SNR study in RESULTS.md found it as reliable within a
    # passage as the plain log-probability and half as variable across passages), train.json's train split
    # only. A run is 6 rounds x 16 inner loops + 4 passage references = 120 adapters (batched, 2 cores); under
    # 2 hours, so one run fits in one sitting.
    "cpu": Preset(6, None, dict(prompts_per_round=4, samples_per_prompt=4, learning_rate=3e-4, epochs=2, batch_size=4,
                                eval_every=0),
                  SamplingConfig(max_new_tokens=256, batch_size=16), WIDE_LORA,
                  dict(inner_preset="small", reward="answer_logprob_vs_passage", engine="batched"),
                  data="the 'train' split of SEAL's SQuAD file, e.g. --dataset ../shared/data/squad/train.json@train"),
}


def check_dataset(dataset: str) -> None:
    """Refuse a dataset that cannot load (before any model does).

    Raises:
        ValueError: not ``demo``, ``hf:...`` or an existing file (``PATH@SPLIT`` allowed).
    """
    if dataset != "demo" and not dataset.startswith("hf:") and not Path(parse_split(dataset)[0]).is_file():
        raise ValueError(f"dataset {dataset!r} not found: pass 'demo', 'hf:squad' or a SEAL-format JSON file")


def demonstrations(source: str, env_kwargs: dict) -> list[tuple[str, str]]:
    """The ``completions`` of a SEAL-format file (e.g. the 7B self-edits of ``train.json@train``) as
    (prompt, self-edit) pairs, each prompt rendered in the env's prompt style."""
    from seal_gym.squad.passages import load_passages
    from seal_gym.squad.prompts import get_prompt_style

    style = get_prompt_style(env_kwargs.get("prompt_style", "implications"))
    return [(style.render(p.title, p.context), c) for p in load_passages(source) for c in p.completions]


def _inner_train(env_kwargs: dict) -> TrainSpec:
    """What ``--inner-*`` options apply to: the preset's inner training, else the named inner preset's."""
    return env_kwargs.get("train") or INNER_PRESETS[env_kwargs.get("inner_preset", "seal")].train


SPEC = DomainSpec(
    name="squad",
    env_ids=("SealSquad-v0",),
    presets=PRESETS,
    reward_kinds=REWARD_KINDS,
    data_keyword="dataset",
    data_doc="'demo' (built in), a SEAL-format JSON path (PATH@train: one fixed split of it) or 'hf:squad'",
    check_data=check_dataset,
    named_settings={"inner_preset": INNER_PRESETS},
    supersedes={"inner_preset": tuple(f.name for f in dataclasses.fields(InnerPreset))},
    options=(OptionGroup("inner_", TrainSpec, "train", "SealSquad inner loop", _inner_train),),
    demonstrations=demonstrations,
    scripted={"passage": PassagePolicy, "prompt-ensemble": PromptEnsemblePolicy},
)
