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

import numpy as np
import torch

from seal_gym.agents.losses import group_advantages
from seal_gym.agents.policy_gradient import Batch, PolicyGradient, PolicyGradientConfig
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

    def kept(self, rollouts: Rollouts) -> list[bool]:
        """Every self-edit of a group whose rewards differ (all of them without ``skip_equal_groups``)."""
        n = rollouts.mean_rewards.shape[1]
        return [bool(k) for k in self._kept_groups(rollouts) for _ in range(n)]

    def _kept_groups(self, rollouts: Rollouts) -> np.ndarray:
        rewards = rollouts.mean_rewards.astype(np.float32)  # as the advantages see them
        if not self.config.skip_equal_groups:
            return np.ones(rewards.shape[0], dtype=bool)
        return rewards.max(axis=1) > rewards.min(axis=1)

    def advantages(self, rollouts: Rollouts) -> Batch:
        rewards = torch.tensor(rollouts.mean_rewards, dtype=torch.float32)
        advantages = group_advantages(rewards, self.config.scale_rewards, self.config.leave_one_out)
        keep = torch.from_numpy(self._kept_groups(rollouts))
        G, n = rewards.shape
        batch = [rollouts.completions[g * n + i] for g in range(G) if keep[g] for i in range(n)]
        return Batch(batch, advantages[keep].reshape(-1), float(keep.float().mean()), {})
