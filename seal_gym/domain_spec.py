"""A task family as a plug-in: what the generic floors (agents, the CLI, the reward service) need from a domain.

A :class:`~seal_gym.domain.Domain` says how tasks are drawn, shown and scored; a :class:`DomainSpec` says the
rest, as plain data: its gym ids, its training presets, its reward kinds, the env argument its data goes to
(and how to check it before a model loads), its inner-loop settings as option groups the CLI generates, the
finite choice sets its policies may be restricted to, its scripted baselines and its structured twin (an env
whose actions are numbers, for Stable-Baselines3). agents/ and commands/ look these up by env id
(:func:`seal_gym.registration.domain_spec`); none of them names a task family. A user's domain registers
one with :func:`seal_gym.registration.register_domain` (docs/architecture.md shows a whole domain in one file).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from seal_gym.adapt.types import LoraSpec
from seal_gym.rewards import RewardKinds
from seal_gym.sampling import SamplingConfig


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
    """The env's arguments (inner-loop budget, reward)."""
    data: str | None = None
    """The data this preset was designed for, when it is not the domain's built-in default: then the data must
    be given (``--dataset``), and this text says which (library code names no path outside the package)."""


@dataclass(frozen=True)
class OptionGroup:
    """A settings dataclass whose fields the CLI offers as ``--PREFIX-FIELD`` options, overriding an env argument."""

    prefix: str
    """The options' prefix as a settings key (``"inner_"`` gives ``--inner-epochs``)."""
    config: type
    """The dataclass; one option per field (``seed`` aside: the command's ``--seed`` seeds everything)."""
    keyword: str
    """The env argument the options override; ``"a.b"``: field ``b`` of argument ``a``'s value."""
    title: str
    """The ``--help`` group's title."""
    base: Callable[[dict[str, Any]], Any] | None = None
    """The value the options apply to, given the env arguments so far (for ``"a.b"``: the value of ``a``);
    ``None``: the argument's value there, else the dataclass's defaults."""


@dataclass(frozen=True)
class DomainSpec:
    """Everything generic code needs to know about one task family (see the module docstring)."""

    name: str
    """The family's name (``"squad"``, ``"arc"``)."""
    env_ids: tuple[str, ...]
    """The gym ids that belong to it (one spec serves an env, its vector form and its structured twin)."""
    presets: Mapping[str, Preset] = field(default_factory=dict)
    """Training presets by name (``smoke``, ``demo``, ...); an env of another domain without presets gets none."""
    reward_kinds: RewardKinds | None = None
    """What the envs' ``reward=`` takes; ``None``: the env's reward is its own."""
    data_keyword: str | None = None
    """The env argument the CLI's ``--dataset`` sets (``"dataset"``, ``"tasks"``); ``None``: it takes no data."""
    data_doc: str = ""
    """What ``--dataset`` takes, in a few words (for ``--help``)."""
    check_data: Callable[[str], None] | None = None
    """Raises ``ValueError`` (one line) for a ``--dataset`` value that cannot load, before any model loads."""
    named_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Env arguments that take a name from a table (SealSquad's ``inner_preset``), offered as ``--ARG`` options."""
    supersedes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """An env argument given explicitly drops the training preset's values of these arguments (``--inner-preset
    small`` replaces the preset's inner-loop ``train``): an explicit argument always wins over a preset."""
    options: tuple[OptionGroup, ...] = ()
    """The inner loop's settings the CLI offers as options (see :class:`OptionGroup`)."""
    choices: Mapping[str, Callable[[], list[str]]] = field(default_factory=dict)
    """Finite sets of self-edits a policy can be restricted to (``SamplingConfig.choices`` names one)."""
    demonstrations: Callable[[str, Mapping[str, Any]], list[tuple[str, str]]] | None = None
    """A teacher's (prompt, self-edit) pairs from a source, each prompt as the env made with the given arguments
    shows it (``--agent sft --demonstrations SOURCE``); ``None``: only ``.jsonl`` files of pairs."""
    scripted: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    """Scripted baselines by name (factories of objects with ``act(observations)``)."""
    structured_twin: str | None = None
    """The id of an env over the same tasks whose actions are numbers (Stable-Baselines3 agents train there)."""

    def preset(self, name: str) -> Preset:
        """The preset ``name``.

        Raises:
            ValueError: an unknown name (the message lists the known ones).
        """
        if name not in self.presets:
            raise ValueError(f"unknown preset {name!r} for {self.name}; choose one of {sorted(self.presets)}")
        return self.presets[name]


WIDE_LORA = LoraSpec(rank=64, alpha=128.0)
"""Rank 64, alpha 128 on every projection: the paper's ReST-EM adapter for knowledge incorporation."""
SMOKE_LORA = LoraSpec(rank=4, alpha=8.0, target_modules=("q_proj", "v_proj"))

BUDGET_PRESETS: dict[str, Preset] = {
    "smoke": Preset(2, "tiny-random", dict(prompts_per_round=2, samples_per_prompt=2, learning_rate=1e-2),
                    SamplingConfig(max_new_tokens=16), SMOKE_LORA),
    "demo": Preset(2, None, dict(prompts_per_round=3, samples_per_prompt=3, learning_rate=3e-4, epochs=2, batch_size=3,
                                 eval_every=0),
                   SamplingConfig(max_new_tokens=128, batch_size=9), WIDE_LORA),
}
"""Budgets without env arguments: what an env with no presets of its own gets (``smoke``: seconds on the tiny
random model; ``demo``: about 15 minutes of a 2-core CPU on the embedded model); domains build on them."""


def override(base: Any, **given: Any) -> Any:
    """``base`` (a dataclass instance) with every field of ``given`` that is not ``None``: the one precedence rule
    (an argument given explicitly wins over a preset's value).

    >>> override(LoraSpec(rank=4), rank=None, alpha=2.0) == LoraSpec(rank=4, alpha=2.0)
    True
    """
    return dataclasses.replace(base, **{k: v for k, v in given.items() if v is not None})


def apply_options(env_kwargs: dict[str, Any], group: OptionGroup, values: Mapping[str, Any]) -> dict[str, Any]:
    """``env_kwargs`` with ``group``'s option ``values`` (field -> value) applied to the argument it overrides.

    >>> apply_options({}, OptionGroup("x_", LoraSpec, "lora", "adapter"), {"rank": 2})["lora"].rank
    2
    """
    if not values:
        return env_kwargs
    out = dict(env_kwargs)
    top, _, inner = group.keyword.partition(".")
    current = group.base(out) if group.base else out.get(top)
    if inner:
        out[top] = dataclasses.replace(current, **{inner: override(getattr(current, inner), **values)})
    else:
        out[top] = override(current if current is not None else group.config(), **values)
    return out
