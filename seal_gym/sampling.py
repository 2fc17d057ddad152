"""How a policy samples self-edits: plain data, so a domain's presets can say it without importing agents."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SamplingConfig:
    """How self-edits are sampled."""

    temperature: float = 0.7
    """Softmax temperature; 0 means greedy decoding."""
    top_p: float = 0.95
    """Nucleus sampling mass."""
    max_new_tokens: int = 384
    """Longest self-edit, in tokens."""
    batch_size: int = 8
    """Prompts per generate call."""
    score_batch_size: int = 8
    """Completions per forward pass when scoring without gradients (memory bound)."""
    choices: str | None = None
    """A finite set of allowed self-edits to restrict sampling and scoring to (``"arc-recipes"``: SealARC's
    recipe grid); none: free text. A domain declares its sets (:attr:`seal_gym.domain_spec.DomainSpec.choices`);
    see :mod:`seal_gym.agents.choices`. The name is checked where a policy or the CLI takes the config (a
    domain's own presets name its sets while the domain is still being imported)."""

    def __post_init__(self) -> None:
        if not 0 <= self.temperature < float("inf"):
            raise ValueError(f"temperature must be >= 0 (0: greedy), got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        for name in ("max_new_tokens", "batch_size", "score_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.choices is not None and not isinstance(self.choices, str):
            raise TypeError(f"choices must be the name of a choice set or None, got {self.choices!r}")

    def check_choices(self) -> None:
        """Raises ``ValueError`` when ``choices`` names a set no known domain declares."""
        from seal_gym.registration import choice_set_names

        if self.choices is not None and self.choices not in choice_set_names():
            raise ValueError(f"unknown choice set {self.choices!r}; choose one of {choice_set_names()} or None")
