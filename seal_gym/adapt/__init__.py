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

__all__ = [
    "Adapter",
    "AdaptOutcome",
    "AdaptRequest",
    "LoraSpec",
    "Query",
    "SequentialAdapter",
    "TrainSequence",
    "TrainSpec",
]
