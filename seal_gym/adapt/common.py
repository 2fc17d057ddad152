"""Pieces every adaptation engine shares, so that each engine trains an adapter exactly the same way.

The sequential and batched engines must agree to a tight tolerance on the same request: same tokens, same
data order, same LoRA initialisation, same learning-rate schedule, same greedy decoding. Those are defined
once here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from seal_gym.adapt.types import AdaptRequest, LoraSpec, Query, TrainSpec

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


def target_linear_names(model: torch.nn.Module, lora: LoraSpec) -> list[str]:
    """Qualified names of the linear layers that get an adapter, in the model's module order."""
    names = [
        name
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and name.rsplit(".", 1)[-1] in lora.target_modules
    ]
    if not names:
        raise ValueError(f"no linear layer of the model matches LoRA target_modules={lora.target_modules}")
    return names


def generation_batches(queries: list[Query], batch_size: int) -> list[list[int]]:
    """Indices of queries per generation batch, grouped by length so that little padding is wasted."""
    order = sorted(range(len(queries)), key=lambda i: len(queries[i].prompt))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


class StopOnText:
    """Per-row stopping criterion for ``generate`` (a transformers ``StoppingCriteria`` by duck typing): row
    ``i`` is done once its new text contains ``stops[i]``.

    Only the tail of each row is decoded (a few tokens more than the stop string can span), so the check
    costs little per step; rows with no stop string never stop here.
    """

    def __init__(self, tokenizer, stops: list[str | None], prompt_width: int):
        self.tokenizer, self.stops, self.prompt_width = tokenizer, stops, prompt_width

    def __call__(self, input_ids: torch.Tensor, scores, **kwargs) -> torch.Tensor:
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        for row, stop in enumerate(self.stops):
            if stop:
                tail = input_ids[row, max(self.prompt_width, input_ids.shape[1] - len(stop) - 4) :]
                done[row] = stop in self.tokenizer.decode(tail, skip_special_tokens=True)
        return done


def cut_at_stop(answer: str, stop: str | None) -> str:
    r"""``answer`` up to and including the first ``stop`` (unchanged without one).

    >>> cut_at_stop("12\n21\n#\n99", "\n#")
    '12\n21\n#'
    """
    if stop and stop in answer:
        return answer[: answer.index(stop) + len(stop)]
    return answer


@torch.no_grad()
def greedy_answers(model, tokenizer, queries: list[Query], batch_size: int = 32) -> list[str]:
    """Greedy answers to ``queries``, batched with left padding; each cut at its own ``max_new_tokens``."""
    answers: list[str] = [""] * len(queries)
    if not queries:
        return answers
    # Imported here, not at module level: it costs ~0.5 s, and `seal-gym --help` need not pay it.
    from transformers import StoppingCriteriaList

    device = next(model.parameters()).device
    pad_id = pad_token_id(tokenizer)
    for batch in generation_batches(list(queries), batch_size):
        encoded = [tokenizer(queries[i].prompt, add_special_tokens=False)["input_ids"] for i in batch]
        width = max(len(ids) for ids in encoded)
        input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, ids in enumerate(encoded):
            input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
            mask[row, width - len(ids) :] = 1
        max_new = max(queries[i].max_new_tokens for i in batch)
        stops = [queries[i].stop for i in batch]
        stopping = StoppingCriteriaList([StopOnText(tokenizer, stops, width)]) if any(stops) else None
        generated = model.generate(
            stopping_criteria=stopping,
            input_ids=input_ids.to(device),
            attention_mask=mask.to(device),
            max_new_tokens=max_new,
            do_sample=False,
            num_beams=1,
            pad_token_id=pad_id,
            eos_token_id=tokenizer.eos_token_id,
            temperature=None,
            top_p=None,
            top_k=None,
        )
        for row, i in enumerate(batch):
            new_tokens = generated[row, width : width + queries[i].max_new_tokens]
            answers[i] = cut_at_stop(tokenizer.decode(new_tokens, skip_special_tokens=True), queries[i].stop).strip()
    return answers


class EngineBase:
    """What every engine shares: the frozen model it adapts, its tokenizer, and base-model answers."""

    def __init__(self, model: torch.nn.Module, tokenizer, answer_batch_size: int) -> None:
        if answer_batch_size < 1:
            raise ValueError(f"answer_batch_size must be >= 1, got {answer_batch_size}")
        self.model = model
        self.tokenizer = tokenizer
        self.answer_batch_size = answer_batch_size

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
