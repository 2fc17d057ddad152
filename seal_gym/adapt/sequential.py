"""The reference engine: one peft LoRA adapter at a time, trained with a plain PyTorch loop."""

from __future__ import annotations

import contextlib
import time
import warnings
from typing import Iterator, Sequence

import torch
import torch.nn.functional as F

from seal_gym.adapt.decoding import greedy_answers, target_logprobs
from seal_gym.adapt.engine_base import EngineBase, linear_path, target_linear_names
from seal_gym.adapt.progress import ProgressCallback, report
from seal_gym.adapt.tokens import IGNORE_INDEX, batch_order, collate, pad_token_id, tokenize_request
from seal_gym.adapt.training import lora_a_init, lr_multiplier
from seal_gym.adapt.types import AdaptOutcome, AdaptRequest, LoraSpec


def causal_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Mean next-token cross-entropy over the labelled positions, and how many there were."""
    targets = labels[:, 1:]
    count = int((targets != IGNORE_INDEX).sum())
    loss_sum = F.cross_entropy(
        logits[:, :-1].float().reshape(-1, logits.shape[-1]),
        targets.reshape(-1),
        ignore_index=IGNORE_INDEX,
        reduction="sum",
    )
    return loss_sum / max(count, 1), count


def remove_peft_adapter(peft_model, model: torch.nn.Module) -> None:
    """Undo ``get_peft_model(model, ...)`` without merging: original layers back, peft's attributes gone."""
    peft_model.base_model.unload()
    for attr in ("peft_config", "_hf_peft_config_loaded"):
        model.__dict__.pop(attr, None)


@contextlib.contextmanager
def temporary_lora(model: torch.nn.Module, lora: LoraSpec, seed: int) -> Iterator[torch.nn.Module]:
    """Inject a fresh, seeded peft LoRA adapter into ``model``; remove it (unmerged) on exit.

    The base weights are never written to: ``unload()`` puts the original linear layers back, so the
    model is bit-identical afterwards, and an agent sharing the same model object sees no adapter. A policy
    adapter in the model (:mod:`seal_gym.adapt.policy_adapter`) stays in place, frozen, under this one.
    """
    from peft import LoraConfig, get_peft_model

    requires_grad = {name: p.requires_grad for name, p in model.named_parameters()}
    was_training = model.training
    # peft adapts the innermost linear of each target layer, so a policy adapter's layer around it keeps its
    # own term (and its parameters) while the temporary adapter trains on top.
    paths = [linear_path(model, name) for name in target_linear_names(model, lora)]
    config = LoraConfig(
        r=lora.rank,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=paths,
        bias="none",
    )
    with warnings.catch_warnings():
        # peft calls a transformers API that transformers 5 deprecates; the warning is noise for our users.
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        peft_model = get_peft_model(model, config)
    try:
        with torch.no_grad():
            for index, path in enumerate(paths):
                layer = peft_model.base_model.model.get_submodule(path)
                a, b = layer.lora_A["default"].weight, layer.lora_B["default"].weight
                a.copy_(lora_a_init(seed, index, lora.rank, a.shape[1]))
                b.zero_()
        yield peft_model
    finally:
        remove_peft_adapter(peft_model, model)
        for name, p in model.named_parameters():
            p.requires_grad_(requires_grad.get(name, p.requires_grad))
        model.train(was_training)


class SequentialEngine(EngineBase):
    """Trains and evaluates requests one after another with peft; the reference for other engines.

    Args:
        model: a Hugging Face causal LM (shared: it is never modified).
        tokenizer: its tokenizer.
        answer_batch_size: queries answered per ``generate`` call.
        progress: called with (requests done, requests in the call) at the start and after each request.
    """

    def __init__(self, model: torch.nn.Module, tokenizer, answer_batch_size: int = 32,
                 progress: ProgressCallback | None = None) -> None:
        super().__init__(model, tokenizer, answer_batch_size, progress)

    def adapt(self, requests: Sequence[AdaptRequest]) -> list[AdaptOutcome]:
        outcomes = []
        report(self.progress, 0, len(requests))
        for request in requests:
            outcomes.append(self._adapt_one(request))
            report(self.progress, len(outcomes), len(requests))  # a line per request in a training loop's output
        return outcomes

    def _adapt_one(self, request: AdaptRequest) -> AdaptOutcome:
        start = time.perf_counter()
        with temporary_lora(self.model, request.lora, request.train.seed) as lora_model:
            losses, num_tokens, num_steps = train_lora(lora_model, self.tokenizer, request)
            trained = time.perf_counter()
            lora_model.eval()
            answers = greedy_answers(lora_model, self.tokenizer, list(request.queries), self.answer_batch_size)
            scores = (target_logprobs(lora_model, self.tokenizer, list(request.queries), self.answer_batch_size)
                      if any(q.target for q in request.queries) else [])
        answered = time.perf_counter()
        return AdaptOutcome(
            answers=answers,
            losses=losses,
            num_train_tokens=num_tokens,
            num_optimizer_steps=num_steps,
            train_seconds=trained - start,
            answer_seconds=answered - trained,
            target_logprobs=scores,
        )


def train_lora(lora_model: torch.nn.Module, tokenizer, request: AdaptRequest) -> tuple[list[float], int, int]:
    """Train the adapter that :func:`temporary_lora` put into ``lora_model`` on ``request.sequences``.

    The request's ``train`` spec decides everything (data order, schedule, clipping), so any caller that trains
    this way (the sequential engine, :mod:`seal_gym.adapt.persistent`) trains identically. Returns the loss
    of every optimizer step, the tokens that carried loss, and the number of steps.
    """
    spec = request.train
    tokenized = tokenize_request(tokenizer, request)
    steps = batch_order(len(tokenized), spec) if tokenized else []
    pad_id = pad_token_id(tokenizer)
    device = next(lora_model.parameters()).device
    losses: list[float] = []
    num_tokens = 0
    params = [p for p in lora_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=spec.learning_rate, weight_decay=spec.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_multiplier(step, len(steps), spec))
    lora_model.train()
    for indices in steps:
        batch = {k: v.to(device) for k, v in collate([tokenized[i] for i in indices], pad_id).items()}
        logits = lora_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        loss, count = causal_lm_loss(logits, batch["labels"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if spec.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, spec.max_grad_norm)
        optimizer.step()
        schedule.step()
        losses.append(float(loss.detach()))
        num_tokens += count
    return losses, num_tokens, len(steps)
