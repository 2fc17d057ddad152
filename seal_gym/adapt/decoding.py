"""Greedy answering, batched with left padding, with per-row stop strings: what engines answer with."""

from __future__ import annotations

from typing import Callable

import torch

from seal_gym.adapt.tokens import pad_token_id
from seal_gym.adapt.types import Query


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


def asks_answer(query: Query) -> bool:
    """Whether ``query`` wants a generated answer (``max_new_tokens=0`` asks only for its target's score)."""
    return query.max_new_tokens > 0


@torch.no_grad()
def greedy_answers(model, tokenizer, queries: list[Query], batch_size: int = 32,
                   before_batch: Callable[[list[int]], None] | None = None) -> list[str]:
    """Greedy answers to ``queries``, batched with left padding; each cut at its own ``max_new_tokens``
    (a query with ``max_new_tokens=0`` gets ``""`` without a forward pass).

    ``before_batch`` is called with the indices (into ``queries``) of each batch's rows, in row order, before
    the batch is generated: the batched engine routes each row to its adapter there, so no caller depends on
    how this function orders its rows."""
    answers: list[str] = [""] * len(queries)
    live = [i for i, q in enumerate(queries) if asks_answer(q)]
    if len(live) < len(queries):
        inner = (lambda rows: before_batch([live[r] for r in rows])) if before_batch else None
        for i, text in zip(live, greedy_answers(model, tokenizer, [queries[i] for i in live], batch_size, inner)):
            answers[i] = text
        return answers
    if not queries:
        return answers
    # Imported here, not at module level: it costs ~0.5 s, and `seal-gym --help` need not pay it.
    from transformers import StoppingCriteriaList

    device = next(model.parameters()).device
    pad_id = pad_token_id(tokenizer)
    for batch in generation_batches(list(queries), batch_size):
        if before_batch is not None:
            before_batch(batch)
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


@torch.no_grad()
def target_logprobs(model, tokenizer, queries: list[Query], batch_size: int = 32) -> list[float | None]:
    """Mean per-token log-probability of each query's ``target`` right after its ``prompt`` (teacher-forced).

    Rows are scored in the order given, ``batch_size`` at a time (a caller that routes rows to adapters
    relies on that order). Queries without a target, or whose target has no tokens, get ``None``.

    Rows are left-padded so that every target ends the row: the model then computes logits for the last few
    positions only (``logits_to_keep``), not rows x tokens x vocabulary of them.
    """
    scores: list[float | None] = [None] * len(queries)
    rows = [i for i, q in enumerate(queries) if q.target]
    device = next(model.parameters()).device
    pad_id = pad_token_id(tokenizer)
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        prompts = [tokenizer(queries[i].prompt, add_special_tokens=False)["input_ids"] for i in batch]
        targets = [tokenizer(queries[i].target, add_special_tokens=False)["input_ids"] for i in batch]
        width = max(len(p) + len(t) for p, t in zip(prompts, targets))
        input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (p, t) in enumerate(zip(prompts, targets)):
            input_ids[row, width - len(p) - len(t) :] = torch.tensor(p + t, dtype=torch.long)
            mask[row, width - len(p) - len(t) :] = 1
        keep = max(len(t) for t in targets) + 1  # position j predicts token j + 1
        inputs = dict(input_ids=input_ids.to(device), attention_mask=mask.to(device), use_cache=False,
                      position_ids=(mask.cumsum(-1) - 1).clamp(min=0).to(device))
        try:
            logits = model(**inputs, logits_to_keep=keep).logits[:, -keep:]
        except TypeError:  # a model without logits_to_keep: all logits, then the same slice
            logits = model(**inputs).logits[:, -keep:]
        for row, (i, p, t) in enumerate(zip(batch, prompts, targets)):
            if not t or not p:
                continue
            predicting = torch.log_softmax(logits[row, keep - len(t) - 1 : keep - 1].float(), dim=-1)
            scores[i] = float(predicting.gather(1, torch.tensor(t, device=predicting.device)[:, None]).mean())
    return scores
