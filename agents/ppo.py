"""PPO with a learned value baseline, for one-step episodes whose reward comes at the end.

An episode is one prompt (the state) and one self-edit (the action, a sequence of tokens) with a terminal
reward, so with discount 1 every token's return is that reward. The value is defined per prompt: a linear
head on the policy's last hidden state at the prompt's final token (scaled to unit length), ``V(prompt)``,
trained by regression on the observed rewards (on a detached hidden state, so the value loss does not move
the policy; its gradient is clipped apart from the policy's). The
advantage of every token of a self-edit is ``R - V(prompt)`` (GAE with lambda = 1 over a single step),
optionally normalised over the batch; a batch whose rewards are all equal gives the policy no step. The
policy update is the clipped surrogate of :mod:`seal_gym.agents.policy_gradient`; the value loss may be
clipped around the old values, and the k3 KL anchor is available as for GRPO.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from seal_gym.agents.policy import Completion, TokenScores
from seal_gym.agents.policy_gradient import Batch, PolicyGradient, PolicyGradientConfig
from seal_gym.agents.rollouts import Rollouts


@dataclass
class PPOConfig(PolicyGradientConfig):
    """PPO's settings."""

    value_coef: float = 0.5
    """Weight of the value loss."""
    value_clip: float | None = None
    """Clip the new value to within this of the old one in the value loss (PPO2-style); none: no clip."""
    normalize_advantages: bool = True
    """Standardise advantages over the batch."""
    skip_equal_rewards: bool = True
    """A batch whose rewards are all equal gives the policy no step (its advantages are zero; the value head
    still learns). Such a batch says nothing about which self-edit is better: its advantages R - V are only the
    value head's error, and Adam would turn even that tiny gradient into a full-size step (standardising it
    blows it up too). GRPO's ``skip_equal_groups`` is the same rule per group."""
    value_learning_rate: float = 1e-2
    """Learning rate of the value head (it starts from zero and must catch up with the rewards)."""


@dataclass
class ValueBatch(Batch):
    """PPO's batch: the policy's targets plus the value head's (for :meth:`PPO.extra_loss`)."""

    returns: torch.Tensor
    """``[B]``: each completion's return, its reward (discount 1, one step)."""
    old_values: torch.Tensor
    """``[B]``: ``V(prompt)`` before the update (the centre of the value clip)."""


class PPO(PolicyGradient):
    """Clipped PPO with a per-prompt value head (see the module docstring)."""

    name = "ppo"
    config_class = PPOConfig
    config: PPOConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.value_head: torch.nn.Linear | None = None  # made on first use, when the hidden width is known

    def _head(self, width: int) -> torch.nn.Linear:
        if self.value_head is None:
            self.value_head = torch.nn.Linear(width, 1)
            torch.nn.init.zeros_(self.value_head.weight)  # V starts at 0 whatever the hidden scale
            torch.nn.init.zeros_(self.value_head.bias)
        return self.value_head

    def extra_parameters(self) -> list[torch.nn.Parameter]:
        return list(self.value_head.parameters()) if self.value_head is not None else []

    def parameter_groups(self) -> list[dict[str, Any]]:
        return [{"params": self.policy.parameters(), "lr": self.config.learning_rate},
                {"params": self.extra_parameters(), "lr": self.config.value_learning_rate}]

    def _value(self, scores: TokenScores) -> torch.Tensor:
        """``V(prompt)`` from the prompt's last hidden state scaled to unit length. Adam moves every weight by
        about the learning rate in its first steps, so the head's output moves by ``lr * sum |h_i|``: with raw
        hidden states (or unit RMS) that overshot rewards in [0, 1] after one step on the embedded model
        (benchmarks/RESULTS.md); at unit length it moves by at most ``lr * sqrt(H)``."""
        hidden = torch.nn.functional.normalize(scores.prompt_hidden.detach().cpu(), dim=-1)
        return self._head(hidden.shape[1])(hidden)[:, 0]

    @torch.no_grad()
    def _values(self, completions: list[Completion]) -> torch.Tensor:
        values = []
        for start in range(0, len(completions), self.config.minibatch_size):
            scores = self.policy.score(completions[start:start + self.config.minibatch_size])
            values.append(self._value(scores))
        return torch.cat(values)

    def kept(self, rollouts: Rollouts) -> list[bool]:
        """Every self-edit, or none when the policy takes no step (``skip_equal_rewards`` on equal rewards)."""
        return [not self._skips(rollouts)] * len(rollouts.completions)

    def _skips(self, rollouts: Rollouts) -> bool:
        returns = rollouts.mean_rewards.reshape(-1).astype(np.float32)  # as the advantages see them
        return self.config.skip_equal_rewards and len(returns) > 1 and bool((returns == returns[0]).all())

    def advantages(self, rollouts: Rollouts) -> ValueBatch:
        batch = list(rollouts.completions)
        returns = torch.tensor(rollouts.mean_rewards.reshape(-1), dtype=torch.float32)
        values = self._values(batch)
        advantages = returns - values
        explained = 1 - float((returns - values).var() / returns.var()) if returns.var() > 0 else 0.0
        skips = self._skips(rollouts)
        if skips:
            advantages = torch.zeros_like(advantages)  # the value head still learns from the batch
        elif self.config.normalize_advantages and len(batch) > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        stats = {"charts/value_mean": float(values.mean()), "losses/explained_variance": explained,
                 "losses/value_loss": float(((values - returns) ** 2).mean())}
        return ValueBatch(batch, advantages, 0.0 if skips else 1.0, stats, returns, values)

    def extra_loss(self, scores: TokenScores, part: slice, batch: Batch) -> torch.Tensor:
        assert isinstance(batch, ValueBatch)
        values = self._value(scores)
        returns, old = batch.returns[part], batch.old_values[part]
        loss = (values - returns) ** 2
        if self.config.value_clip is not None:
            clipped = old + (values - old).clamp(-self.config.value_clip, self.config.value_clip)
            loss = torch.maximum(loss, (clipped - returns) ** 2)
        # This minibatch's share of the batch mean, like the policy loss.
        return self.config.value_coef * loss.sum() / len(batch.returns)

    def algorithm_state(self) -> dict[str, Any]:
        head = None if self.value_head is None else self.value_head.state_dict()
        return {**super().algorithm_state(), "value_head": head}

    def load_algorithm_state(self, state: dict[str, Any]) -> None:
        super().load_algorithm_state(state)
        if state.get("value_head") is not None:
            weight = state["value_head"]["weight"]
            self._head(weight.shape[1]).load_state_dict(state["value_head"])
