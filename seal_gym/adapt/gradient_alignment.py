"""A first-order estimate of what training on a request would do to its targets, without training.

For a request (training sequences, queries with targets, LoRA shape and seed), the score is the dot product
``<grad L_train, grad L_targets>`` over the LoRA parameters of a fresh adapter at its initialisation (the
inner loop's own adapter before its first step), where

- ``L_train`` is the sum over the training sequences of each one's mean per-token cross-entropy: the losses of
  one epoch of the inner loop's optimizer steps at batch size 1 (the request's ``loss_on`` and ``max_length``
  apply, as in training);
- ``L_targets`` is the targets' mean per-token negative log-probability after their prompts, averaged over the
  queries: minus SealSquad's ``logprob`` metric (queries without a target, or whose target has no tokens,
  are left out).

One plain SGD step of rate ``lr`` on ``L_train`` changes ``L_targets`` by ``-lr * score + O(lr^2)``: a positive
score says training on the sequences raises the targets' log-probability, and ``lr * score`` is the first-order
change of the log-probability reward. That is why the score is the dot product and not the cosine: the cosine
would drop how far the sequences move the model (text the model already predicts has small gradients and
teaches little), and with it the link to the reward.

With B = 0 at initialisation (peft's default, and every engine's), the gradient with respect to A is exactly
zero, so the score is carried by the gradients with respect to B: per adapted layer, ``grad_B = s * grad_W @
A.T`` (``s`` = alpha / rank, ``grad_W`` the full weight's gradient), and the score is ``s^2 * sum over layers of
<grad_W_train @ A.T, grad_W_targets @ A.T>``, a rank-r random projection (through the seeded A) of the full
weights' gradient inner product. The gradient is taken with respect to all LoRA parameters (A's part is zero).

Costs one forward and backward pass over the training sequences per request; the targets' gradient is computed
once per (queries, LoRA shape, seed, max length) within a call and reused. The model is left bit-identical
(:func:`~seal_gym.adapt.sequential.temporary_lora`).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from seal_gym.adapt.sequential import temporary_lora
from seal_gym.adapt.tokens import IGNORE_INDEX, TokenizedSequence, collate, pad_token_id, tokenize_request
from seal_gym.adapt.types import AdaptRequest, Query

ROWS_PER_PASS = 8
"""Sequences per forward and backward pass (gradients accumulate over passes, so this changes no score)."""


def target_rows(tokenizer, queries: Sequence[Query], max_length: int) -> list[TokenizedSequence]:
    """Each query with a target as ``prompt + target`` tokens, loss on the target only (as
    :func:`~seal_gym.adapt.decoding.target_logprobs` scores it: no end token); targets without tokens are left out."""
    rows = []
    for query in queries:
        target = tokenizer(query.target, add_special_tokens=False)["input_ids"] if query.target else []
        prompt = tokenizer(query.prompt, add_special_tokens=False)["input_ids"]
        if target and prompt:
            ids = (prompt + target)[-max_length:]  # keep the target: cut the prompt's start if too long
            labels = ([IGNORE_INDEX] * len(prompt) + target)[-max_length:]
            rows.append(TokenizedSequence(ids, labels))
    return rows


def row_mean_losses(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Each row's mean next-token cross-entropy over its labelled positions (0 for a row without any)."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False).logits
    targets = batch["labels"][:, 1:]
    per_token = F.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                ignore_index=IGNORE_INDEX, reduction="none").view(targets.shape)
    return per_token.sum(1) / (targets != IGNORE_INDEX).sum(1).clamp(min=1)


def lora_gradient(model: torch.nn.Module, params: list[torch.Tensor], rows: list[TokenizedSequence], pad_id: int,
                  weight: float) -> list[torch.Tensor]:
    """The gradient of ``weight * sum of rows' mean losses`` with respect to ``params`` (zeros without rows)."""
    device = params[0].device
    for p in params:
        p.grad = None
    for start in range(0, len(rows), ROWS_PER_PASS):
        batch = {k: v.to(device) for k, v in collate(rows[start : start + ROWS_PER_PASS], pad_id).items()}
        (weight * row_mean_losses(model, batch).sum()).backward()
    grads = [torch.zeros_like(p) if p.grad is None else p.grad.detach().clone() for p in params]
    for p in params:
        p.grad = None
    return grads


def dot(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    """The inner product of two gradients given as lists of tensors, summed in float64."""
    return float(sum((x.double() * y.double()).sum() for x, y in zip(a, b)))


def gradient_alignments(model: torch.nn.Module, tokenizer, requests: Sequence[AdaptRequest]) -> list[float]:
    """Each request's ``<grad L_train, grad L_targets>`` at a fresh LoRA adapter (see the module docstring).

    A request without training sequences, or without a query whose target has tokens, scores 0.0 (one of the
    two gradients is zero). Requests sharing a LoRA shape and seed share one temporary adapter.
    """
    pad_id = pad_token_id(tokenizer)
    scores = [0.0] * len(requests)
    groups: dict[tuple, list[int]] = {}
    for i, request in enumerate(requests):
        groups.setdefault((request.lora, request.train.seed), []).append(i)
    for (lora, seed), indices in groups.items():
        with temporary_lora(model, lora, seed) as lora_model:
            lora_model.eval()  # no dropout: the gradient at the initial adapter, deterministically
            params = [p for p in lora_model.parameters() if p.requires_grad]
            targets: dict[tuple, list[torch.Tensor]] = {}
            for i in indices:
                request = requests[i]
                key = (request.queries, request.train.max_length)
                if key not in targets:
                    rows = target_rows(tokenizer, request.queries, request.train.max_length)
                    targets[key] = lora_gradient(lora_model, params, rows, pad_id, 1.0 / max(1, len(rows)))
                sequences = tokenize_request(tokenizer, request)
                edit = lora_gradient(lora_model, params, sequences, pad_id, 1.0)
                scores[i] = dot(edit, targets[key])
    return scores
