"""Training arithmetic every engine shares: the learning-rate schedule and the seeded LoRA initialisation."""

from __future__ import annotations

import math

import torch

from seal_gym.adapt.types import TrainSpec


def lr_multiplier(step: int, total_steps: int, spec: TrainSpec) -> float:
    """Multiplier of the peak learning rate at optimizer step ``step`` (0-based)."""
    if step < spec.warmup_steps:
        return (step + 1) / (spec.warmup_steps + 1)
    if spec.schedule == "constant":
        return 1.0
    progress = (step - spec.warmup_steps) / max(1, total_steps - spec.warmup_steps)
    if spec.schedule == "linear":
        return max(0.0, 1.0 - progress)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def lora_a_init(seed: int, module_index: int, rank: int, in_features: int) -> torch.Tensor:
    """Seeded LoRA ``A`` matrix ``[rank, in_features]`` (B starts at zero, so the adapter starts as a no-op).

    Same distribution as peft's default (Kaiming-uniform with a=sqrt(5), i.e. U(-1/sqrt(in), 1/sqrt(in))),
    but drawn from a private generator: the result depends on (seed, module) only, never on global RNG
    state, so any engine reproduces it.
    """
    generator = torch.Generator().manual_seed(seed * 1_000_003 + module_index)
    bound = 1.0 / math.sqrt(in_features)
    return (torch.rand((rank, in_features), generator=generator, dtype=torch.float32) * 2 - 1) * bound
