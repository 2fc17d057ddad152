"""Per-adapter gradient clipping and AdamW over a stack of adapters: the same numbers as
``torch.nn.utils.clip_grad_norm_`` and ``torch.optim.AdamW`` give each adapter alone."""

from __future__ import annotations

import math

import torch

from seal_gym.adapt.stacked_lora import StackedLora
from seal_gym.adapt.types import TrainSpec

ADAM_BETAS = (0.9, 0.999)  # torch.optim.AdamW defaults, like the sequential engine
ADAM_EPS = 1e-8
OPTIMIZER_SLICE_VALUES = 2**26  # float32 values per optimizer temporary (256 MB); see clip_and_step


def max_grad_norm(spec: TrainSpec) -> float:
    """The clipping bound of a request (``inf``: no clipping)."""
    return math.inf if spec.max_grad_norm is None else spec.max_grad_norm


@torch.no_grad()
def clip_and_step(stack: StackedLora, moments: tuple[torch.Tensor, torch.Tensor], max_norm: torch.Tensor,
                  lrs: list[float], decay: list[float], step: int) -> None:
    """Per-adapter gradient clipping (as ``clip_grad_norm_``) and one AdamW step (as ``torch.optim.AdamW``)
    on the first ``len(lrs)`` rows of the stack; the other adapters are finished and left untouched."""
    n = len(lrs)
    weights, grads = stack.weights[:n], stack.grads[:n]
    exp_avg, exp_avg_sq = moments[0][:n], moments[1][:n]
    norm = torch.linalg.vector_norm(grads, dim=1)
    grads.mul_((max_norm / (norm + 1e-6)).clamp(max=1.0)[:, None])
    beta1, beta2 = ADAM_BETAS
    # Scalars are computed in double precision, as torch's AdamW does, then rounded once to float32.
    step_size = torch.tensor([lr / (1 - beta1**step) for lr in lrs], device=weights.device)[:, None]
    weights.mul_(torch.tensor(decay, device=weights.device)[:, None])
    exp_avg.lerp_(grads, 1 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(grads, grads, value=1 - beta2)
    # The update needs two temporaries of its operands' size; taken a slice of adapters at a time (the
    # arithmetic is elementwise, so the numbers are the same), they stay near OPTIMIZER_SLICE_VALUES each
    # instead of K x the adapter size (2.5 GB at K=64, rank 32 on every projection of SmolLM2-135M).
    rows = max(1, OPTIMIZER_SLICE_VALUES // max(1, weights.shape[1]))
    for first in range(0, n, rows):
        part = slice(first, first + rows)
        denom = exp_avg_sq[part].sqrt().div_(math.sqrt(1 - beta2**step)).add_(ADAM_EPS)
        weights[part].sub_((exp_avg[part] * step_size[part]).div_(denom))
