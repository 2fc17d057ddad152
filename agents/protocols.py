"""What agents depend on: the policy protocols and the data they pass around.

Agents see a policy only through :class:`TextPolicy` (``act``) and :class:`TrainablePolicy` (sample with
token ids and log-probs, score completions with gradients, save and load the trainable state). They never
see a model's internals, so a scripted policy, a teacher model or the env's own model all plug in alike.
:class:`~seal_gym.agents.policy.LMPolicy` is the language-model implementation.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

import torch


@runtime_checkable
class TextPolicy(Protocol):
    """Anything that maps text observations to text actions (one action per observation)."""

    def act(self, observations: Sequence[str]) -> list[str]: ...


@dataclass
class Completion:
    """One sampled self-edit, with the tokens it was sampled as."""

    prompt: str
    """The observation it answers."""
    text: str
    """The self-edit (decoded, stripped): the env's action."""
    prompt_ids: list[int]
    """The observation in the chat template, as token ids."""
    completion_ids: list[int]
    """The sampled tokens (end-of-sequence included when the model stopped)."""
    logprobs: list[float] = field(default_factory=list)
    """Per-token log-probs under the policy that sampled it (the behaviour policy)."""


@dataclass
class TokenScores:
    """Per-token scores of a batch of completions, padded to the longest completion ``T``."""

    logprobs: torch.Tensor
    """``[B, T]`` log-probs of the completion tokens (with gradients when computed under grad)."""
    mask: torch.Tensor
    """``[B, T]`` True on real completion tokens."""
    entropy: torch.Tensor
    """``[B, T]`` entropy of the next-token distribution at each completion position (no gradient)."""
    prompt_hidden: torch.Tensor
    """``[B, H]`` last layer's hidden state at the prompt's last token (a value head's input)."""


@runtime_checkable
class TrainablePolicy(TextPolicy, Protocol):
    """What every optimizer needs from a policy (see :class:`LMPolicy`)."""

    def sample(self, prompts: Sequence[str], n: int, greedy: bool = False, logprobs: bool = True) -> list[Completion]:
        """``n`` completions per prompt, prompt-major (``[p0s0, p0s1, ..., p1s0, ...]``), with their behaviour
        log-probs unless ``logprobs=False`` (an agent that does not need them saves a forward pass)."""
        ...

    def logprobs(self, completions: Sequence[Completion]) -> list[list[float]]:
        """Per-token log-probs of each completion under the current weights, without gradients (batched)."""
        ...

    def encode(self, prompt: str, text: str) -> Completion:
        """A given ``text`` as a completion of ``prompt`` (for supervised steps on text from elsewhere)."""
        ...

    def score(self, completions: Sequence[Completion]) -> TokenScores:
        """Per-token log-probs under the current weights; differentiable when grad is enabled."""
        ...

    def parameters(self) -> list[torch.nn.Parameter]: ...

    def updated(self) -> None:
        """Called after every optimizer step on :meth:`parameters`: caches keyed on the weights see the change."""
        ...

    def reference(self) -> contextlib.AbstractContextManager:
        """Within the block the policy is its reference (the weights at the last merge)."""
        ...

    def end_round(self) -> None:
        """Fold the trained state into the weights (ReST-EM merges after every round)."""
        ...

    def save(self, folder: str | Path) -> None: ...

    def load(self, folder: str | Path) -> None: ...
