"""What every engine shares: the model it adapts, which of its layers get adapters, base-model answers."""

from __future__ import annotations

import torch

from seal_gym.adapt.decoding import greedy_answers
from seal_gym.adapt.progress import ProgressCallback
from seal_gym.adapt.types import LoraSpec, Query


def linear_of(module: torch.nn.Module) -> torch.nn.Linear | None:
    """The ``nn.Linear`` a layer computes with: the layer itself, or the one it wraps (a policy adapter's
    layer keeps it as ``base``, a peft LoRA layer as ``base_layer``); ``None`` for anything else."""
    for _ in range(4):  # wrappers nest at most a few deep
        if isinstance(module, torch.nn.Linear):
            return module
        inner = getattr(module, "base", None) or getattr(module, "base_layer", None)
        if not isinstance(inner, torch.nn.Module):
            return None
        module = inner
    return None


def linear_path(model: torch.nn.Module, name: str) -> str:
    """Qualified name of the ``nn.Linear`` that the layer ``name`` is or wraps (see :func:`linear_of`)."""
    module = model.get_submodule(name)
    while not isinstance(module, torch.nn.Linear):
        attr = "base" if isinstance(getattr(module, "base", None), torch.nn.Module) else "base_layer"
        name, module = f"{name}.{attr}", getattr(module, attr)
    return name


def set_submodule(model: torch.nn.Module, name: str, module: torch.nn.Module) -> None:
    """Replace the submodule at the qualified ``name`` by ``module``."""
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def target_linear_names(model: torch.nn.Module, lora: LoraSpec) -> list[str]:
    """Qualified names of the layers that get an adapter, in the model's module order.

    A layer qualifies when its name ends in one of ``lora.target_modules`` and it is a linear layer or wraps
    one (see :func:`linear_of`). For a wrapped layer the name is the wrapper's, so an inner-loop adapter goes
    on top of it and the wrapped term (e.g. the policy adapter) stays part of the frozen base.
    """
    names = [
        name
        for name, module in model.named_modules()
        if name.rsplit(".", 1)[-1] in lora.target_modules and linear_of(module) is not None
    ]
    if not names:
        raise ValueError(f"no linear layer of the model matches LoRA target_modules={lora.target_modules}")
    return names


class EngineBase:
    """What every engine shares: the frozen model it adapts, its tokenizer, base-model answers, and the
    callback its ``adapt`` calls report progress to (:mod:`seal_gym.adapt.progress`; ``None``: no reports)."""

    def __init__(self, model: torch.nn.Module, tokenizer, answer_batch_size: int,
                 progress: ProgressCallback | None = None) -> None:
        if answer_batch_size < 1:
            raise ValueError(f"answer_batch_size must be >= 1, got {answer_batch_size}")
        self.model = model
        self.tokenizer = tokenizer
        self.answer_batch_size = answer_batch_size
        self.progress = progress

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def answer(self, queries: list[Query]) -> list[str]:
        """Greedy answers of the base model alone, in eval mode (the previous mode is restored)."""
        was_training = self.model.training
        self.model.eval()
        try:
            return greedy_answers(self.model, self.tokenizer, list(queries), self.answer_batch_size)
        finally:
            self.model.train(was_training)
