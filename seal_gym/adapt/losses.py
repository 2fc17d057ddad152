"""Per-adapter losses of a batch whose rows belong to different adapters, and the model's body and head.

The batched engine's loss never holds the logits of a whole batch when the model allows it: the body gives
hidden states, and the LM head and cross-entropy run over chunks (:func:`chunked_loss_sums`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from seal_gym.adapt.tokens import IGNORE_INDEX


def per_adapter_loss_sums(logits: torch.Tensor, labels: torch.Tensor, adapter_of_row: torch.Tensor,
                          num_adapters: int) -> torch.Tensor:
    """Each adapter's summed next-token cross-entropy over its own rows' labelled positions (the numerator
    of ``sequential.causal_lm_loss``)."""
    return _target_loss_sums(logits[:, :-1], labels[:, 1:], adapter_of_row, num_adapters)


def _target_loss_sums(logits: torch.Tensor, targets: torch.Tensor, adapter_of_row: torch.Tensor,
                      num_adapters: int) -> torch.Tensor:
    # ``logits[:, i]`` predicts ``targets[:, i]`` (already shifted); cross-entropy in float32 on any base dtype.
    per_token = F.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]),
        targets.reshape(-1),
        ignore_index=IGNORE_INDEX,
        reduction="none",
    ).view(targets.shape)
    return per_token.new_zeros(num_adapters).index_add(0, adapter_of_row, per_token.sum(1))


def _head_loss_sums(hidden: torch.Tensor, head: torch.nn.Module, targets: torch.Tensor,
                    adapter_of_row: torch.Tensor, num_adapters: int) -> torch.Tensor:
    return _target_loss_sums(head(hidden), targets, adapter_of_row, num_adapters)


def chunked_loss_sums(hidden: torch.Tensor, head: torch.nn.Module, labels: torch.Tensor, adapter_of_row: torch.Tensor,
                      num_adapters: int, chunk_tokens: int) -> torch.Tensor:
    """:func:`per_adapter_loss_sums` of ``head(hidden)``, with only about ``chunk_tokens`` tokens' logits alive
    at a time, in forward and in backward.

    The positions are cut into chunks of ``chunk_tokens // rows`` columns (all rows together, so a head
    with per-row adapters still sees every routed row). Each chunk's logits and cross-entropy are freed
    after its forward and recomputed in backward (activation checkpointing), which costs one more pass
    of the head's matmul and leaves every gradient unchanged.
    """
    width = max(1, chunk_tokens // hidden.shape[0])
    parts = zip(hidden[:, :-1].split(width, dim=1), labels[:, 1:].split(width, dim=1))
    sums = [checkpoint(_head_loss_sums, h, head, t, adapter_of_row, num_adapters, use_reentrant=False) for h, t in parts]
    return torch.stack(sums).sum(0)


def body_and_head(model: torch.nn.Module) -> tuple[torch.nn.Module | None, torch.nn.Module | None]:
    """A Hugging Face causal LM's body (input ids -> ``last_hidden_state``) and LM head, where it has them."""
    get_body, get_head = getattr(model, "get_decoder", None), getattr(model, "get_output_embeddings", None)
    body, head = (get_body() if callable(get_body) else None), (get_head() if callable(get_head) else None)
    return (body if isinstance(body, torch.nn.Module) else None), (head if isinstance(head, torch.nn.Module) else None)


@torch.no_grad()
def logits_are_head_of_body(model: torch.nn.Module) -> bool:
    """Whether the model's logits are exactly ``head(body(...).last_hidden_state)`` (see :func:`body_and_head`):
    false for a model that does more (logit soft-capping, scaling), whose loss then uses its full logits.

    Checked once on a short input rather than assumed, so any Hugging Face causal LM is handled correctly.
    """
    body, head = body_and_head(model)
    if body is None or head is None:
        return False
    was_training = model.training
    model.eval()
    try:
        ids = torch.arange(1, 9, device=next(model.parameters()).device)[None] % model.config.vocab_size
        expected = model(input_ids=ids, use_cache=False).logits
        got = head(body(input_ids=ids, use_cache=False).last_hidden_state)
    except Exception:  # a model whose parts do not compose this way keeps the full-logits loss
        return False
    finally:
        model.train(was_training)
    return got.shape == expected.shape and torch.allclose(got.float(), expected.float(), rtol=1e-3, atol=1e-3)
