"""The inner loop's engine: train a temporary LoRA adapter per request, answer with it, discard it.

This package is the only code that touches LoRA internals. Public pieces: the typed requests and outcomes
(:mod:`~seal_gym.adapt.types`), the engines and :func:`make_engine`, the policy adapter that agents train
(:mod:`~seal_gym.adapt.policy_adapter`), the weights version that caches key on (:mod:`~seal_gym.adapt.versions`),
and :func:`greedy_answers` for plain base-model answers; :func:`gradient_alignments` estimates a request's effect
on its targets to first order, without training.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from seal_gym.adapt.types import (
    AdaptOutcome,
    AdaptRequest,
    InnerLoopEngine,
    LoraSpec,
    Query,
    TrainSequence,
    TrainSpec,
)

ENGINES = ("auto", "sequential", "batched", "ray")

# The engines import torch and peft (~2 s); the types and ENGINES do not, so a command that only builds its
# options from them (``seal-gym --help``) stays fast. The engines load on first use (PEP 562).
_LAZY = {"AutoEngine": "auto", "BatchedEngine": "batched", "greedy_answers": "decoding",
         "gradient_alignments": "gradient_alignment", "PolicyAdapter": "policy_adapter",
         "weights_version": "versions", "SequentialEngine": "sequential"}

if TYPE_CHECKING:
    from seal_gym.adapt.auto import AutoEngine
    from seal_gym.adapt.batched import BatchedEngine
    from seal_gym.adapt.decoding import greedy_answers
    from seal_gym.adapt.gradient_alignment import gradient_alignments
    from seal_gym.adapt.policy_adapter import PolicyAdapter
    from seal_gym.adapt.sequential import SequentialEngine
    from seal_gym.adapt.versions import weights_version


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"seal_gym.adapt.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'seal_gym.adapt' has no attribute {name!r}")


def make_engine(model, tokenizer, engine: str | InnerLoopEngine = "auto", **kwargs: Any) -> InnerLoopEngine:
    """The inner-loop engine for ``model``; ``kwargs`` go to the engine's constructor.

    Args:
        engine: ``"sequential"`` (the peft reference, one adapter at a time), ``"batched"`` (all requests
            of an ``adapt`` call trained together over one frozen base model), ``"auto"``
            (:class:`AutoEngine`: batched on CUDA; on CPU sequential for one request, batched for more),
            ``"ray"`` (:class:`~seal_gym.adapt.ray_engine.RayEngine`: the batched engine on ``num_workers``
            Ray actors; ``address="auto"`` a running cluster, ``None`` that or else a local Ray; needs
            ``pip install 'seal-gym[ray]'``), or an engine object, returned as it is.

    Raises:
        ValueError: for an unknown engine name. TypeError: for an object that is not an engine.
    """
    if not isinstance(engine, str):
        if not isinstance(engine, InnerLoopEngine):
            raise TypeError(f"engine must be one of {ENGINES} or an object with adapt() and answer(), "
                            f"got {type(engine).__name__}")
        return engine
    if engine in ("sequential", "batched", "auto"):
        return __getattr__(f"{engine.capitalize()}Engine")(model, tokenizer, **kwargs)
    if engine == "ray":
        from seal_gym.adapt.ray_engine import RayEngine  # Ray is an optional extra: imported only when asked for

        return RayEngine(model, tokenizer, **kwargs)
    raise ValueError(f"unknown engine {engine!r}; choose one of {ENGINES} or pass an engine object")


__all__ = [
    "ENGINES",
    "AdaptOutcome",
    "AdaptRequest",
    "AutoEngine",
    "BatchedEngine",
    "InnerLoopEngine",
    "LoraSpec",
    "PolicyAdapter",
    "Query",
    "SequentialEngine",
    "TrainSequence",
    "TrainSpec",
    "gradient_alignments",
    "greedy_answers",
    "make_engine",
    "weights_version",
]
