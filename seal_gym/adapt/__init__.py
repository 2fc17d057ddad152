"""The adaptation engine: train a temporary LoRA adapter per request, answer with it, discard it."""

from seal_gym.adapt.auto import AutoAdapter
from seal_gym.adapt.batched import BatchedAdapter
from seal_gym.adapt.sequential import SequentialAdapter
from seal_gym.adapt.types import (
    Adapter,
    AdaptOutcome,
    AdaptRequest,
    LoraSpec,
    Query,
    TrainSequence,
    TrainSpec,
)


def make_adapter(model, tokenizer, engine: str = "auto", **kwargs) -> Adapter:
    """The adaptation engine for ``model``; ``kwargs`` go to the engine's constructor.

    Args:
        engine: ``"sequential"`` (the peft reference, one adapter at a time), ``"batched"`` (all requests
            of an ``adapt`` call trained together over one frozen base model), or ``"auto"``
            (:class:`AutoAdapter`: batched on CUDA; on CPU sequential for one request, batched for more).
    """
    if engine == "sequential":
        return SequentialAdapter(model, tokenizer, **kwargs)
    if engine == "batched":
        return BatchedAdapter(model, tokenizer, **kwargs)
    if engine == "auto":
        return AutoAdapter(model, tokenizer, **kwargs)
    raise ValueError(f"unknown engine {engine!r}; choose 'auto', 'sequential' or 'batched'")


__all__ = [
    "make_adapter",
    "Adapter",
    "AutoAdapter",
    "AdaptOutcome",
    "AdaptRequest",
    "BatchedAdapter",
    "LoraSpec",
    "Query",
    "SequentialAdapter",
    "TrainSequence",
    "TrainSpec",
]
