"""GRPO: G self-edits per prompt, each judged against its own group; a clipped update that stays on-policy.

Per round: draw prompts, sample ``samples_per_prompt`` self-edits each (the group), score them (mean over
``inner_seeds`` inner-loop seeds), turn rewards into group-relative advantages, and take ``passes`` clipped
gradient steps on the policy adapter (see :mod:`seal_gym.agents.policy_gradient`). Options cover the
variants that matter for stability: std scaling or not (Dr. GRPO), a leave-one-out baseline (RLOO), token
or sequence ratios (GSPO), separate low/high clips, a k3 KL anchor, and skipping groups whose rewards are
all equal (they carry no signal, only noise in the loss normaliser).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from seal_gym.agents.losses import group_advantages
from seal_gym.agents.policy import Completion
from seal_gym.agents.policy_gradient import PolicyGradient, PolicyGradientConfig, group_reward_stats
from seal_gym.agents.rollouts import Rollouts


@dataclass
class GRPOConfig(PolicyGradientConfig):
    """GRPO's settings (the group is ``samples_per_prompt``)."""

    scale_rewards: bool = True
    """Divide advantages by the group's reward std (GRPO); False: Dr. GRPO's unscaled advantages."""
    leave_one_out: bool = False
    """Baseline each self-edit with the mean of the others in its group (RLOO) instead of the group mean."""
    skip_equal_groups: bool = True
    """Drop groups whose rewards are all equal: their advantages are zero."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.samples_per_prompt < 2:
            raise ValueError("GRPO compares self-edits within a group: samples_per_prompt must be >= 2")


class GRPO(PolicyGradient):
    """Group-relative policy optimisation (see the module docstring)."""

    name = "grpo"
    config_class = GRPOConfig
    config: GRPOConfig

    def advantages(self, rollouts: Rollouts) -> tuple[list[Completion], torch.Tensor, dict[str, float]]:
        rewards = torch.tensor(rollouts.mean_rewards, dtype=torch.float32)
        advantages = group_advantages(rewards, self.config.scale_rewards, self.config.leave_one_out)
        G, n = rewards.shape
        keep = torch.ones(G, dtype=torch.bool)
        if self.config.skip_equal_groups:
            keep = rewards.max(dim=1).values > rewards.min(dim=1).values
        batch = [rollouts.completions[g * n + i] for g in range(G) if keep[g] for i in range(n)]
        self._kept = [bool(keep[k // n]) for k in range(G * n)]
        stats = {**group_reward_stats(rollouts.mean_rewards), "charts/trained_fraction": float(keep.float().mean())}
        return batch, advantages[keep].reshape(-1), stats

    def kept(self, rollouts: Rollouts) -> list[bool] | None:
        return getattr(self, "_kept", None)
