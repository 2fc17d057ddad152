"""Policy-gradient arithmetic shared by GRPO and PPO: group advantages, the clipped surrogate, the k3 KL.

Each function is plain tensor math, callable on its own and unit-tested against hand-computed values.

>>> group_advantages(torch.tensor([[1.0, 0.0, 0.0, 1.0]]), scale=False).tolist()
[[0.5, -0.5, -0.5, 0.5]]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

RatioLevel = Literal["token", "sequence"]
Aggregation = Literal["token_mean", "sequence_mean"]


def group_advantages(rewards: torch.Tensor, scale: bool = True, leave_one_out: bool = False,
                     eps: float = 1e-4) -> torch.Tensor:
    """Advantages relative to each group (row) of ``rewards`` ``[G, n]``.

    Args:
        scale: divide by the group's (unbiased) standard deviation, as GRPO does; ``False`` is Dr. GRPO.
        leave_one_out: baseline each sample by the mean of the *other* samples of its group (RLOO):
            ``r_i - mean_{j != i} r_j = n / (n - 1) * (r_i - mean)``.
        eps: added to the standard deviation (a zero-variance group gets zero advantages, not NaN).
    """
    centred = rewards - rewards.mean(dim=1, keepdim=True)
    n = rewards.shape[1]
    if leave_one_out:
        if n < 2:
            raise ValueError("a leave-one-out baseline needs at least 2 samples per group")
        centred = centred * n / (n - 1)
    if scale:
        std = rewards.std(dim=1, keepdim=True) if n > 1 else torch.zeros_like(rewards[:, :1])
        centred = centred / (std + eps)
    return centred


def k3_kl(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """Per-token k3 estimator of KL(policy || reference): ``exp(ref - lp) - (ref - lp) - 1`` (>= 0)."""
    delta = ref_logprobs - logprobs
    return torch.exp(delta) - delta - 1


@dataclass
class SurrogateStats:
    """What explains a clipped update (token-weighted over the minibatch)."""

    clip_fraction: float
    ratio_min: float
    ratio_max: float
    kl: float
    """k3 KL to the reference policy."""
    num_tokens: int
    approx_kl: float = 0.0
    """KL(behaviour || current) estimated as ``mean((ratio - 1) - log ratio)`` (Stable-Baselines3's)."""


def clipped_surrogate(logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor,
                      mask: torch.Tensor, clip_low: float = 0.2, clip_high: float = 0.2,
                      ratio_level: RatioLevel = "token", ref_logprobs: torch.Tensor | None = None,
                      kl_coef: float = 0.0) -> tuple[torch.Tensor, SurrogateStats]:
    """Per-token PPO-clip loss ``-min(ratio A, clip(ratio, 1 - low, 1 + high) A) + kl_coef * KL``, masked.

    Args:
        logprobs, old_logprobs, mask: ``[B, T]`` (current policy with gradients; behaviour policy; real tokens).
        advantages: ``[B]``, one per sequence (broadcast over its tokens).
        ratio_level: ``"token"`` (PPO/GRPO) or ``"sequence"`` (GSPO: the geometric mean of the sequence's
            token ratios, one ratio per sequence).
        ref_logprobs: reference log-probs: the KL is measured when given, and added to the loss when
            ``kl_coef > 0`` (then they are required).

    Returns:
        ``[B, T]`` per-token losses (zero on padding) and their statistics.
    """
    m = mask.to(logprobs.dtype)
    log_ratio = (logprobs - old_logprobs) * m
    if ratio_level == "sequence":
        per_sequence = log_ratio.sum(1) / m.sum(1).clamp(min=1)
        log_ratio = per_sequence[:, None].expand_as(logprobs)
    ratio = torch.exp(log_ratio)
    adv = advantages[:, None].to(logprobs.dtype)
    loss = -torch.minimum(ratio * adv, torch.clamp(ratio, 1 - clip_low, 1 + clip_high) * adv)
    if kl_coef > 0 and ref_logprobs is None:
        raise ValueError("kl_coef > 0 needs ref_logprobs")
    kl = torch.zeros_like(loss) if ref_logprobs is None else k3_kl(logprobs, ref_logprobs)
    if kl_coef > 0:
        loss = loss + kl_coef * kl
    with torch.no_grad():
        real = mask.bool()
        r = ratio[real]
        clipped = ((r < 1 - clip_low) | (r > 1 + clip_high)).float()
        approx_kl = float(((r - 1) - log_ratio[real]).mean()) if r.numel() else 0.0
        stats = SurrogateStats(float(clipped.mean()) if r.numel() else 0.0, float(r.min()) if r.numel() else 1.0,
                               float(r.max()) if r.numel() else 1.0, float(kl[real].mean()) if r.numel() else 0.0,
                               int(r.numel()), approx_kl)
    return loss * m, stats


def aggregate(token_losses: torch.Tensor, mask: torch.Tensor, how: Aggregation, batch_tokens: int,
              batch_sequences: int) -> torch.Tensor:
    """A minibatch's share of the batch loss, so that accumulated minibatch gradients equal the batch's.

    ``token_mean``: every token of the batch weighs the same (sum / batch tokens). ``sequence_mean``: every
    sequence weighs the same (its token mean, summed, / batch sequences).
    """
    if how == "token_mean":
        return token_losses.sum() / max(1, batch_tokens)
    per_sequence = token_losses.sum(1) / mask.sum(1).clamp(min=1)
    return per_sequence.sum() / max(1, batch_sequences)
