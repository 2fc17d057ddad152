"""The adaptation engine: train a temporary LoRA adapter per request, answer with it, discard it."""

from seal_gym.adapt.sequential import SequentialAdapter
from seal_gym.adapt.types import (
    AdaptOutcome,
    AdaptRequest,
    Adapter,
    LoraSpec,
    Query,
    TrainSequence,
    TrainSpec,
)



def make_adapter(model, tokenizer, engine: str = "auto", **kwargs) -> Adapter:
    """The adaptation engine for ``model``.

    Args:
        engine: ``"sequential"`` (the peft reference), or ``"auto"`` (the fastest correct engine for the
            device; today the sequential one).
    """
    if engine in ("auto", "sequential"):
        return SequentialAdapter(model, tokenizer, **kwargs)
    raise ValueError(f"unknown engine {engine!r}; choose 'auto' or 'sequential'")


__all__ = [
    "make_adapter",
    "Adapter",
    "AdaptOutcome",
    "AdaptRequest",
    "LoraSpec",
    "Query",
    "SequentialAdapter",
    "TrainSequence",
    "TrainSpec",
]
