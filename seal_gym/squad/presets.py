"""Named inner-loop settings for SealSquad: SEAL's own, and the small-model regime for a 135M model on a CPU.

``gym.make("SealSquad-v0", inner_preset="small")`` (CLI: ``--inner-preset small``) takes every setting of the
preset; arguments given explicitly (``train=``, ``lora=``, ``answer_style=``, ...) still win.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from seal_gym.adapt import LoraSpec, TrainSpec
from seal_gym.domain_spec import override
from seal_gym.squad.inner_loop import KnowledgeConfig


@dataclass(frozen=True)
class InnerPreset:
    """Inner-loop settings of SealSquad, as the env's keyword arguments."""

    lora: LoraSpec = field(default_factory=LoraSpec)
    """The temporary adapter's shape."""
    train: TrainSpec = field(default_factory=TrainSpec)
    """How it is trained."""
    answer_style: str = "free"
    """How questions are asked after the update (``"free"`` or ``"short"``)."""
    include_passage: bool = True
    """Train on the passage too, after the self-edit's items."""
    max_answer_tokens: int = 64
    """Greedy answer length."""

    def knowledge_config(self, **given: Any) -> KnowledgeConfig:
        """The inner loop's config with this preset's settings; each keyword (a :class:`KnowledgeConfig` field)
        that is not ``None`` wins over the preset's value (:func:`~seal_gym.domain_spec.override`)."""
        return override(KnowledgeConfig(**{f.name: getattr(self, f.name) for f in fields(self)}), **given)


INNER_PRESETS: dict[str, InnerPreset] = {
    "seal": InnerPreset(),
    # From the regime study on train.json's tune split so far (studies/regime_study.py, RESULTS.md): of the
    # regimes measured, SEAL's training leaves the widest paired margin of better self-edits over the passage
    # (lr 3e-4 closes it); short answers, which a recital cannot pass.
    "small": InnerPreset(answer_style="short", max_answer_tokens=24),
}
"""``seal``: SEAL's settings (rank 32 on every projection, lr 1e-3, 10 epochs, batch 1; free answers).
``small``: the settings the regime study chose for the embedded 135M model on a CPU."""


def inner_preset(name: str) -> InnerPreset:
    """The preset called ``name``.

    Raises:
        ValueError: an unknown name (the message lists the known ones).
    """
    if name not in INNER_PRESETS:
        raise ValueError(f"unknown inner preset {name!r}; choose one of {', '.join(INNER_PRESETS)}")
    return INNER_PRESETS[name]
