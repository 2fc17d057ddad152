"""Turning requests into training tensors, the same way for every engine: tokens, loss mask, data order.

The sequential and batched engines must agree to a tight tolerance on the same request, so tokenisation,
the completion-only loss mask, padding and the seeded per-epoch data order are defined once, here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from seal_gym.adapt.types import AdaptRequest, TrainSpec

IGNORE_INDEX = -100


@dataclass
class TokenizedSequence:
    input_ids: list[int]
    labels: list[int]

    @property
    def num_loss_tokens(self) -> int:
        return sum(label != IGNORE_INDEX for label in self.labels)


def pad_token_id(tokenizer) -> int:
    """The id used for padding: the tokenizer's pad token, else its end-of-sequence token."""
    if tokenizer.pad_token_id is not None:
        return tokenizer.pad_token_id
    if tokenizer.eos_token_id is not None:
        return tokenizer.eos_token_id
    raise ValueError("the tokenizer has neither a pad nor an eos token; set tokenizer.pad_token first")


def tokenize_request(tokenizer, request: AdaptRequest) -> list[TokenizedSequence]:
    """Token ids and labels of every training sequence, truncated to ``train.max_length``.

    Prompt and completion are tokenized separately so the loss mask falls exactly on the completion.
    """
    spec = request.train
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    out = []
    for seq in request.sequences:
        prompt_ids = tokenizer(seq.prompt, add_special_tokens=False)["input_ids"] if seq.prompt else []
        completion_ids = tokenizer(seq.completion, add_special_tokens=False)["input_ids"] if seq.completion else []
        completion_ids = completion_ids + eos
        ids = (prompt_ids + completion_ids)[: spec.max_length]
        if spec.loss_on == "completion":
            # A sequence without a completion carries no loss at all (not even on its end token).
            trained = completion_ids if seq.completion else [IGNORE_INDEX] * len(completion_ids)
            labels = [IGNORE_INDEX] * len(prompt_ids) + trained
        else:
            labels = prompt_ids + completion_ids
        out.append(TokenizedSequence(ids, labels[: spec.max_length]))
    return out


def batch_order(num_sequences: int, spec: TrainSpec) -> list[list[int]]:
    """Indices of the sequences in each optimizer step: a fresh seeded shuffle every epoch."""
    rng = np.random.default_rng(spec.seed)
    steps = []
    for _ in range(spec.epochs):
        order = rng.permutation(num_sequences).tolist()
        steps.extend(order[i : i + spec.batch_size] for i in range(0, num_sequences, spec.batch_size))
    return steps


def collate(sequences: list[TokenizedSequence], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a list of sequences into ``input_ids``, ``attention_mask`` and ``labels`` tensors."""
    width = max(len(s.input_ids) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    labels = torch.full((len(sequences), width), IGNORE_INDEX, dtype=torch.long)
    for row, s in enumerate(sequences):
        n = len(s.input_ids)
        ids[row, :n] = torch.tensor(s.input_ids)
        mask[row, :n] = 1
        labels[row, :n] = torch.tensor(s.labels)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def length_buckets(lengths: list[int], overhead_tokens: int) -> list[list[int]]:
    """Split rows into padded batches of similar length, minimising the padded tokens computed plus
    ``overhead_tokens`` per extra batch (the fixed cost of one forward and backward, in tokens).

    >>> length_buckets([40, 160, 45, 150], overhead_tokens=16)
    [[0, 2], [3, 1]]
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    # best[j]: cheapest split of the j shortest rows; the last batch of rows i..j-1 is padded to row j-1.
    best, cut = [0] + [math.inf] * len(order), [0] * (len(order) + 1)
    for j in range(1, len(order) + 1):
        for i in range(j):
            cost = best[i] + (j - i) * lengths[order[j - 1]] + overhead_tokens
            if cost < best[j]:
                best[j], cut[j] = cost, i
    buckets, j = [], len(order)
    while j > 0:
        buckets.append(order[cut[j] : j])
        j = cut[j]
    return buckets[::-1]
