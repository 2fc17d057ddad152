"""What GRPO and PPO share: an optimizer that lives across rounds, the clipped update over gradient passes,
an optional KL anchor to the reference policy, and the numbers that explain instability.

A subclass says how advantages are computed (:meth:`PolicyGradient.advantages`, which returns a
:class:`Batch`) and may add a loss term (:meth:`PolicyGradient.extra_loss`, PPO's value loss, which reads
the batch it is handed: nothing passes between the hooks through ``self``). The policy adapter is not
merged between rounds: the reference policy (the KL anchor) is the model without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from seal_gym.agents.base import Agent, AgentConfig
from seal_gym.agents.gradient import gradient_step
from seal_gym.agents.losses import Aggregation, RatioLevel, SurrogateStats, aggregate, clipped_surrogate
from seal_gym.agents.policy import Completion, TokenScores
from seal_gym.agents.rollouts import Rollouts


@dataclass
class PolicyGradientConfig(AgentConfig):
    """Settings of the clipped policy-gradient update (shared by GRPO and PPO)."""

    learning_rate: float = 1e-5
    """Peak learning rate of the policy adapter (Adam)."""
    clip_low: float = 0.2
    """Lower clip of the importance ratio: 1 - clip_low."""
    clip_high: float = 0.2
    """Upper clip of the importance ratio: 1 + clip_high (DAPO raises it to 0.28)."""
    ratio_level: RatioLevel = "token"
    """"token": a ratio per token (PPO/GRPO); "sequence": one per self-edit (GSPO)."""
    kl_coef: float = 0.0
    """Weight of the k3 KL to the reference policy (the weights before training); 0: no anchor."""
    aggregation: Aggregation = "token_mean"
    """"token_mean": every token of the batch weighs the same; "sequence_mean": every self-edit does."""
    passes: int = 1
    """Gradient passes over each round's batch; 1 keeps the update strictly on-policy."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.passes < 1 or not (0 <= self.clip_low < 1) or self.clip_high < 0 or self.kl_coef < 0:
            raise ValueError("need passes >= 1, 0 <= clip_low < 1, clip_high >= 0 and kl_coef >= 0")


@dataclass
class Batch:
    """What :meth:`PolicyGradient.advantages` hands the loss: the completions to train on and their targets."""

    completions: list[Completion]
    """The completions to train on (empty: nothing is trained this round)."""
    advantages: torch.Tensor
    """``[len(completions)]``: one advantage per completion."""
    trained_fraction: float
    """Share of the round's completions in the batch (``charts/trained_fraction``)."""
    stats: dict[str, float]
    """Numbers to log (tags of :data:`~seal_gym.agents.scalars.SCHEMA`)."""


class PolicyGradient(Agent):
    """Base of GRPO and PPO (see the module docstring)."""

    config: PolicyGradientConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.optimizer: torch.optim.Optimizer | None = None
        self._pending_optimizer_state: dict | None = None

    # --- what a subclass adds --------------------------------------------------------------------------------
    def advantages(self, rollouts: Rollouts) -> Batch:
        """The completions to train on, one advantage each, and numbers to log."""
        raise NotImplementedError

    def extra_loss(self, scores: TokenScores, part: slice, batch: Batch) -> torch.Tensor | None:
        """A loss term added to each minibatch (e.g. a value loss; ``part`` locates the minibatch in ``batch``);
        ``None``: nothing."""
        return None

    def extra_parameters(self) -> list[torch.nn.Parameter]:
        """Trainable parameters besides the policy's (e.g. a value head)."""
        return []

    # --- the update -------------------------------------------------------------------------------------------
    def parameter_groups(self) -> list[dict[str, Any]]:
        """The optimizer's parameter groups (a subclass may give its extra parameters their own rate)."""
        return [{"params": [*self.policy.parameters(), *self.extra_parameters()], "lr": self.config.learning_rate}]

    def _make_optimizer(self) -> torch.optim.Optimizer:
        if self.optimizer is None:
            self.optimizer = torch.optim.AdamW(self.parameter_groups(), weight_decay=0.0)
            if self._pending_optimizer_state is not None:
                self.optimizer.load_state_dict(self._pending_optimizer_state)
                self._pending_optimizer_state = None
        return self.optimizer

    def update(self, rollouts: Rollouts) -> dict[str, float]:
        c = self.config
        data = self.advantages(rollouts)
        batch, advantages = data.completions, data.advantages
        stats = {**data.stats, "charts/trained_fraction": data.trained_fraction if batch else 0.0}
        if not batch:
            return stats
        optimizer = self._make_optimizer()
        old = [torch.tensor(x.logprobs) for x in batch]
        with self.policy.reference():  # the KL to the reference is logged even when not penalised
            ref = [torch.tensor(row) for row in self.policy.logprobs(batch)]
        tokens, sequences = sum(len(x.completion_ids) for x in batch), len(batch)
        surrogate: list[SurrogateStats] = []
        entropy: list[float] = []

        def loss_fn(scores: TokenScores, part: slice) -> torch.Tensor:
            old_lp = _pad(old[part], scores.logprobs)
            ref_lp = _pad(ref[part], scores.logprobs)
            token_losses, s = clipped_surrogate(scores.logprobs, old_lp, advantages[part].to(scores.logprobs.device),
                                                scores.mask, c.clip_low, c.clip_high, c.ratio_level, ref_lp, c.kl_coef)
            surrogate.append(s)
            entropy.append(float(scores.entropy[scores.mask].mean()))
            loss = aggregate(token_losses, scores.mask, c.aggregation, tokens, sequences)
            extra = self.extra_loss(scores, part, data)
            return loss if extra is None else loss + extra

        steps = [gradient_step(self.policy, optimizer, batch, loss_fn, c.minibatch_size, c.max_grad_norm,
                               extra_parameters=self.extra_parameters()) for _ in range(c.passes)]
        weights = np.array([s.num_tokens for s in surrogate], dtype=float)
        return {
            **stats,
            "losses/policy_loss": float(np.mean([s["loss"] for s in steps])),
            "losses/first_step_loss": steps[0]["loss"],
            "losses/grad_norm": float(np.mean([s["grad_norm"] for s in steps])),
            "losses/clip_fraction": float(np.average([s.clip_fraction for s in surrogate], weights=weights)),
            "losses/kl": float(np.average([s.kl for s in surrogate], weights=weights)),
            "losses/approx_kl": float(np.average([s.approx_kl for s in surrogate], weights=weights)),
            "losses/ratio_min": min(s.ratio_min for s in surrogate),
            "losses/ratio_max": max(s.ratio_max for s in surrogate),
            "losses/entropy": float(np.average(entropy, weights=weights)),
        }

    # --- checkpoints ------------------------------------------------------------------------------------------
    def algorithm_state(self) -> dict[str, Any]:
        return {"optimizer": None if self.optimizer is None else self.optimizer.state_dict()}

    def load_algorithm_state(self, state: dict[str, Any]) -> None:
        self.optimizer, self._pending_optimizer_state = None, state.get("optimizer")


def _pad(rows: list[torch.Tensor], like: torch.Tensor) -> torch.Tensor:
    """Per-row 1-D tensors right-padded with zeros into ``like``'s ``[B, T]`` shape and device."""
    out = torch.zeros(like.shape, dtype=like.dtype, device=like.device)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row.to(like.device, like.dtype)
    return out
