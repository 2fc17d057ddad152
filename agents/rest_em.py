"""ReST-EM (the SEAL paper's optimizer): sample, keep the self-edits that worked, fine-tune on them, merge.

Per round (Zweiger et al., 2025, after Singh et al.'s ReST-EM):

1. draw G prompts, sample n self-edits each, score every self-edit with r inner-loop seeds (one env step);
2. E-step, filtering: per prompt keep the self-edit with the best mean reward (SQuAD), or keep every
   self-edit whose mean reward reaches ``min_reward`` (ARC keeps those that solved the task, reward 1);
3. M-step: supervised fine-tuning of the policy adapter on the kept (prompt, self-edit) pairs: token-mean
   negative log-likelihood of the self-edit given the prompt, AdamW, ``epochs`` passes;
4. merge the adapter into the weights: the merged model is the next round's writer and, in self mode,
   the next round's inner-loop base. (The pretrained weights stay recoverable; no file on disk changes.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from seal_gym.agents.base import Agent, AgentConfig, gradient_step
from seal_gym.agents.rollouts import Rollouts


@dataclass
class ReSTEMConfig(AgentConfig):
    """ReST-EM's settings. Defaults: the paper's SQuAD SFT (lr 3e-4, 2 epochs, batch 5) at a CPU-sized budget."""

    keep: Literal["best", "threshold"] = "best"
    """"best": the top self-edit of each prompt; "threshold": every self-edit with mean reward >= min_reward."""
    min_reward: float | None = None
    """A kept self-edit's mean reward must reach this (ARC: 1.0); none: no floor."""
    min_gain: float | None = None
    """Keep only self-edits whose reward beats the env's info["baseline_accuracy"] by at least this."""
    epochs: int = 2
    """Supervised passes over the kept pairs per round."""
    batch_size: int = 5
    """Kept pairs per optimizer step (the paper's effective batch)."""
    merge: bool = True
    """Merge the policy adapter into the weights after every round, as the paper does."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.keep == "threshold" and self.min_reward is None:
            raise ValueError("keep='threshold' needs min_reward (e.g. 1.0 for ARC: keep the recipes that solved it)")
        if self.epochs < 0 or self.batch_size < 1:
            raise ValueError(f"need epochs >= 0 and batch_size >= 1, got {self.epochs} and {self.batch_size}")


class ReSTEM(Agent):
    """Rejection sampling + supervised fine-tuning, one merge per round (see the module docstring)."""

    name = "rest-em"
    config_class = ReSTEMConfig
    needs_behaviour_logprobs = False
    config: ReSTEMConfig

    def kept(self, rollouts: Rollouts) -> list[bool]:
        c, means = self.config, rollouts.mean_rewards
        G, n = means.shape
        keep = np.zeros((G, n), dtype=bool)
        if c.keep == "best":
            keep[np.arange(G), means.argmax(axis=1)] = True
        else:
            keep[:] = True
        if c.min_reward is not None:
            keep &= means >= c.min_reward
        if c.min_gain is not None:
            baseline = np.array([[info[0].get("baseline_accuracy", 0.0) if info else 0.0
                                  for info in rollouts.infos[g * n:(g + 1) * n]] for g in range(G)])
            keep &= means - baseline >= c.min_gain
        return keep.reshape(-1).tolist()

    def update(self, rollouts: Rollouts) -> dict[str, float]:
        c = self.config
        pairs = [x for x, k in zip(rollouts.completions, self.kept(rollouts)) if k and x.completion_ids]
        stats = {"charts/kept_fraction": len(pairs) / len(rollouts.completions), "charts/num_kept": float(len(pairs))}
        if not pairs or c.epochs == 0:
            return stats
        optimizer = torch.optim.AdamW(self.policy.parameters(), lr=c.learning_rate, weight_decay=0.0)
        losses = []
        for _ in range(c.epochs):
            order = self.rng.permutation(len(pairs))
            for start in range(0, len(pairs), c.batch_size):
                batch = [pairs[i] for i in order[start:start + c.batch_size]]
                tokens = sum(len(x.completion_ids) for x in batch)

                def loss_fn(scores, part, tokens=tokens):
                    return -(scores.logprobs * scores.mask).sum() / tokens

                step = gradient_step(self.policy, optimizer, batch, loss_fn, c.minibatch_size, c.max_grad_norm)
                losses.append(step["loss"])
        if c.merge:
            self.policy.end_round()
        steps_per_epoch = -(-len(pairs) // c.batch_size)
        return {**stats, "losses/sft_loss": float(np.mean(losses[-steps_per_epoch:])),
                "losses/sft_loss_first_step": losses[0]}
