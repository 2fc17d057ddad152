"""Activation checkpointing of a model's decoder layers, installed for the duration of a block."""

from __future__ import annotations

import contextlib
import functools
from typing import Iterator

import torch
from torch.utils.checkpoint import checkpoint

from seal_gym.adapt.losses import body_and_head


def decoder_layers(model: torch.nn.Module) -> torch.nn.ModuleList:
    """The repeated blocks of a Hugging Face causal LM: the first ``ModuleList`` of its body (``layers`` of
    Llama-like models, ``h`` of GPT-2).

    Raises:
        ValueError: the model has no such list.
    """
    body, _ = body_and_head(model)
    for module in (body or model).children():
        if isinstance(module, torch.nn.ModuleList) and len(module) > 0:
            return module
    raise ValueError(f"{type(model).__name__} has no list of decoder layers to checkpoint; "
                     "use BatchedEngine(layer_checkpointing=False)")


@contextlib.contextmanager
def checkpointed_layers(model: torch.nn.Module) -> Iterator[None]:
    """Within the block, every decoder layer runs under non-reentrant activation checkpointing.

    Done here rather than with the model's own ``gradient_checkpointing_enable`` (renamed across
    transformers versions, and a switch the user may own): each layer's ``forward`` is shadowed by a
    checkpointed call of itself and put back afterwards, whatever was there before.
    """
    layers = list(decoder_layers(model))
    saved = [vars(layer).get("forward") for layer in layers]  # an instance-level forward (e.g. a hook's), if any
    for layer in layers:
        layer.forward = functools.partial(checkpoint, layer.forward, use_reentrant=False)
    try:
        yield
    finally:
        for layer, forward in zip(layers, saved):
            if forward is None:
                del layer.forward  # the class's forward shows through again
            else:
                layer.forward = forward
