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

from seal_gym.agents.base import Agent, AgentConfig
from seal_gym.agents.gradient import gradient_step
from seal_gym.agents.rollouts import Rollouts


@dataclass
class ReSTEMConfig(AgentConfig):
    """ReST-EM's settings. Defaults: the paper's SQuAD SFT (lr 3e-4, 2 epochs, batch 5) at a CPU-sized budget."""

    keep: Literal["best", "threshold", "above_mean"] = "best"
    """"best": the top self-edit of each prompt; "threshold": every self-edit with mean reward >= min_reward;
    "above_mean": every self-edit whose mean reward is above its prompt's mean (none when all are equal)."""
    min_reward: float | None = None
    """A kept self-edit's mean reward must reach this (ARC: 1.0); none: no floor."""
    min_info_key: str | None = None
    """A step-info key (e.g. SealSquad-v0's "gain", the accuracy gained over the base model): keep only
    self-edits whose value there, averaged over inner-loop seeds, reaches ``min_info``; none: no such floor."""
    min_info: float = 0.0
    """The floor of ``min_info_key``'s value."""
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
        elif c.keep == "above_mean":
            keep = means > means.mean(axis=1, keepdims=True) + 1e-12
        else:
            keep[:] = True
        if c.min_reward is not None:
            keep &= means >= c.min_reward
        if c.min_info_key is not None:
            values = np.array([_info_mean(rows, c.min_info_key) for rows in rollouts.infos]).reshape(G, n)
            keep &= values >= c.min_info  # NaN (the key missing) never passes
        return keep.reshape(-1).tolist()

    def update(self, rollouts: Rollouts) -> dict[str, float]:
        c = self.config
        pairs = [x for x, k in zip(rollouts.completions, self.kept(rollouts)) if k and x.completion_ids]
        return fine_tune(self, pairs, len(pairs) / len(rollouts.completions) if c.epochs else 0.0)


def fine_tune(agent: Agent, pairs: list, trained: float) -> dict[str, float]:
    """ReST-EM's M-step on (prompt, self-edit) ``pairs``: ``epochs`` shuffled passes of token-mean NLL with AdamW
    at the agent's learning rate, then a merge if ``merge``; the numbers to log (``trained``: the trained share).
    Shared with :class:`~seal_gym.agents.sft.SFT`, whose pairs are a teacher's."""
    c = agent.config
    if not trained or not pairs:
        return {"charts/trained_fraction": 0.0}
    optimizer = torch.optim.AdamW(agent.policy.parameters(), lr=c.learning_rate, weight_decay=0.0)
    losses, grad_norms, entropy, tokens_seen = [], [], [], []
    for _ in range(c.epochs):
        order = agent.update_rng.permutation(len(pairs))
        for start in range(0, len(pairs), c.batch_size):
            batch = [pairs[i] for i in order[start:start + c.batch_size]]
            tokens = sum(len(x.completion_ids) for x in batch)

            def loss_fn(scores, part, tokens=tokens):
                entropy.append(float(scores.entropy[scores.mask].mean()))
                tokens_seen.append(int(scores.mask.sum()))
                return -(scores.logprobs * scores.mask).sum() / tokens

            step = gradient_step(agent.policy, optimizer, batch, loss_fn, c.minibatch_size, c.max_grad_norm)
            losses.append(step["loss"])
            grad_norms.append(step["grad_norm"])
    if c.merge:
        agent.policy.end_round()
    steps_per_epoch = -(-len(pairs) // c.batch_size)
    return {"charts/trained_fraction": trained, "losses/policy_loss": float(np.mean(losses[-steps_per_epoch:])),
            "losses/first_step_loss": losses[0], "losses/grad_norm": float(np.mean(grad_norms)),
            "losses/entropy": float(np.average(entropy, weights=tokens_seen))}


def _info_mean(rows: list[dict], key: str) -> float:
    """Mean of a numeric step-info value over a self-edit's inner-loop seeds (NaN if none reports it)."""
    values = [row[key] for row in rows if isinstance(row.get(key), (int, float))]
    return float(np.mean(values)) if values else float("nan")
