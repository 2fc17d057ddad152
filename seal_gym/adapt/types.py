"""Typed requests and outcomes of the adaptation engine: the one interface that trains adapters.

Every environment turns its self-edit into :class:`AdaptRequest` objects and hands a *list* of them to an
:class:`InnerLoopEngine`. Whether the engine trains them one by one (:class:`~seal_gym.adapt.SequentialEngine`,
the reference) or all at once over one frozen base (:class:`~seal_gym.adapt.BatchedEngine`) is invisible
to envs and agents.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, Protocol, Sequence, runtime_checkable

LossOn = Literal["all", "completion"]
Schedule = Literal["constant", "linear", "cosine"]

ALL_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class LoraSpec:
    """Shape of the temporary LoRA adapter. Defaults are SEAL's knowledge-incorporation settings."""

    rank: int = 32
    """LoRA rank r."""
    alpha: float = 64.0
    """LoRA alpha; the update is scaled by alpha / rank."""
    dropout: float = 0.0
    """Dropout on the LoRA input (0 keeps training deterministic)."""
    target_modules: tuple[str, ...] = ALL_PROJECTIONS
    """Names of the linear layers that get an adapter."""

    def __post_init__(self) -> None:
        # A list (JSON's: a resumed run's settings) would make the spec unhashable, and engines group adapters by it.
        modules = self.target_modules
        object.__setattr__(self, "target_modules", (modules,) if isinstance(modules, str) else tuple(modules))
        if self.rank < 1:
            raise ValueError(f"LoraSpec.rank must be >= 1, got {self.rank}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"LoraSpec.dropout must be in [0, 1), got {self.dropout}")
        if not self.target_modules:
            raise ValueError("LoraSpec.target_modules must name at least one module, e.g. ('q_proj', 'v_proj')")

    @property
    def scaling(self) -> float:
        return self.alpha / self.rank


@dataclass(frozen=True)
class TrainSpec:
    """How one adapter is trained. Defaults are SEAL's knowledge-incorporation settings."""

    epochs: int = 10
    """Passes over the training sequences."""
    learning_rate: float = 1e-3
    """Peak AdamW learning rate."""
    batch_size: int = 1
    """Sequences per optimizer step."""
    max_length: int = 2048
    """Sequences are truncated to this many tokens."""
    loss_on: LossOn = "all"
    """"all": loss on every token; "completion": only on the completion part of each sequence."""
    schedule: Schedule = "constant"
    """Learning-rate schedule over the optimizer steps."""
    warmup_steps: int = 0
    """Linear warm-up steps before the schedule."""
    weight_decay: float = 0.0
    """AdamW weight decay on the LoRA weights."""
    max_grad_norm: float | None = 1.0
    """Gradient clipping per adapter; None disables it."""
    seed: int = 0
    """Seeds the LoRA initialisation and the data order, so one request trains the same way anywhere."""

    def __post_init__(self) -> None:
        if self.epochs < 0:
            raise ValueError(f"TrainSpec.epochs must be >= 0, got {self.epochs}")
        if not (math.isfinite(self.learning_rate) and self.learning_rate >= 0):
            raise ValueError(f"TrainSpec.learning_rate must be finite and >= 0, got {self.learning_rate}")
        if self.batch_size < 1 or self.max_length < 2:
            raise ValueError("TrainSpec.batch_size must be >= 1 and max_length >= 2")
        if self.loss_on not in ("all", "completion"):
            raise ValueError(f"TrainSpec.loss_on must be 'all' or 'completion', got {self.loss_on!r}")
        if self.schedule not in ("constant", "linear", "cosine"):
            raise ValueError(f"TrainSpec.schedule must be constant, linear or cosine, got {self.schedule!r}")


@dataclass(frozen=True)
class TrainSequence:
    """One training sequence: ``prompt + completion``, followed by the end-of-sequence token.

    With ``loss_on="completion"`` only the completion tokens (and the end token) carry loss.
    """

    prompt: str
    completion: str = ""


@dataclass(frozen=True)
class Query:
    """One prompt to answer greedily after training. ``prompt`` is fed verbatim (already chat-formatted)."""

    prompt: str
    max_new_tokens: int = 64
    """Greedy answer length limit; 0 generates nothing (the answer is ``""``: a query asked only for its
    ``target``'s log-probability)."""
    stop: str | None = None
    """Generation of this answer ends once the answer contains ``stop`` (kept in the answer)."""
    target: str | None = None
    """A reference answer: the engine also reports the mean per-token log-probability of ``target`` following
    ``prompt`` (teacher-forced, no generation), in :attr:`AdaptOutcome.target_logprobs`."""


@dataclass(frozen=True)
class AdaptRequest:
    """Train one fresh adapter on ``sequences``, answer ``queries`` with it, then discard it."""

    sequences: tuple[TrainSequence, ...]
    queries: tuple[Query, ...]
    train: TrainSpec = field(default_factory=TrainSpec)
    lora: LoraSpec = field(default_factory=LoraSpec)

    def num_optimizer_steps(self) -> int:
        """Optimizer steps this request needs: ceil(sequences / batch) per epoch."""
        return math.ceil(len(self.sequences) / self.train.batch_size) * self.train.epochs


@dataclass
class AdaptOutcome:
    """What happened to one request."""

    answers: list[str]
    """One greedy answer per query, special tokens stripped."""
    losses: list[float]
    """Mean training loss of every optimizer step, in order (empty if nothing was trained)."""
    num_train_tokens: int
    """Tokens that carried loss, summed over all epochs."""
    num_optimizer_steps: int
    train_seconds: float
    answer_seconds: float
    target_logprobs: list[float | None] = field(default_factory=list)
    """Per query, the mean per-token log-probability of its ``target`` under the adapter (``None`` for a
    query without one); empty when no query of the request has a target."""

    @property
    def final_loss(self) -> float | None:
        """Loss of the last optimizer step (``None`` if nothing was trained)."""
        return self.losses[-1] if self.losses else None


@runtime_checkable
class InnerLoopEngine(Protocol):
    """The inner loop's engine. Implementations must leave the base model's weights bit-identical.

    Besides the built-in engines, any object with these two methods can be passed as ``engine=`` to an env
    (tests inject scripted engines whose answers are known).
    """

    def adapt(self, requests: Sequence[AdaptRequest]) -> list[AdaptOutcome]:
        """Train one adapter per request, answer its queries with it, discard it; one outcome per request."""
        ...

    def answer(self, queries: Sequence[Query]) -> list[str]:
        """Answer queries with the base model alone (no adapter), greedily."""
        ...
