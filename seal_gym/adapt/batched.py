"""The batched engine: K adapters trained together over one frozen base model, then answered together.

Each optimizer step runs one forward and one backward over the step's sequences of *all* adapters still
training (right-padded into one batch, or a few batches of similar length, every row routed to its own
adapter, see :mod:`seal_gym.adapt.stacked_lora`). Each adapter's loss is the mean over its own tokens, so its gradient
is exactly the one it would get alone; clipping, the learning-rate schedule and AdamW are applied per
adapter (:mod:`seal_gym.adapt.optimizer`). Requests may differ in sequences, epochs, batch size, learning rate, schedule and LoRA shape:
an adapter whose steps are over simply has no rows in later steps and is not updated.

The loss never holds the logits of a whole batch: the model's body gives hidden states, and the LM head
and cross-entropy run over chunks of ``loss_chunk_tokens`` tokens, each recomputed in backward
(:func:`~seal_gym.adapt.losses.chunked_loss_sums`). Peak memory then grows with the chunk, not with rows x tokens x vocabulary.
With ``layer_checkpointing`` the decoder layers' activations are recomputed in backward too
(:func:`~seal_gym.adapt.checkpointing.checkpointed_layers`), so what remains is each layer's input, not every intermediate of every layer.
"""

from __future__ import annotations

import contextlib
import gc
import time
from typing import Literal, Sequence

import torch

from seal_gym.adapt.checkpointing import checkpointed_layers, decoder_layers
from seal_gym.adapt.decoding import asks_answer, greedy_answers, target_logprobs
from seal_gym.adapt.engine_base import EngineBase
from seal_gym.adapt.losses import body_and_head, chunked_loss_sums, logits_are_head_of_body, per_adapter_loss_sums
from seal_gym.adapt.optimizer import clip_and_step, max_grad_norm
from seal_gym.adapt.progress import ProgressCallback, report
from seal_gym.adapt.stacked_lora import StackedLora
from seal_gym.adapt.tokens import IGNORE_INDEX, batch_order, collate, length_buckets, pad_token_id, tokenize_request
from seal_gym.adapt.training import lr_multiplier
from seal_gym.adapt.types import AdaptOutcome, AdaptRequest

GroupBy = Literal["none", "spec"]


class BatchedEngine(EngineBase):
    """Trains and answers many requests at once; per adapter, the same result as the sequential engine.

    Args:
        model: a Hugging Face causal LM (shared: its layers are swapped only during a call, then restored).
        tokenizer: its tokenizer.
        answer_batch_size: (adapter, query) rows per ``generate`` call.
        max_adapters: adapters trained together at most (bounds memory: each holds weights, gradients and
            two AdamW moments in float32); more requests run in cohorts. Default: 64 on CUDA, 8 on CPU.
        group_by: ``"none"`` stacks all requests together (ranks zero-padded to the largest, absent target
            modules zero); ``"spec"`` trains requests with different :class:`LoraSpec` in separate cohorts.
        bucket_overhead_tokens: a step's sequences are split by length into several forward/backward passes
            when that saves more padded tokens than this per extra pass (default: 16 on CPU, where compute
            is the cost; 2048 on CUDA, where launching a pass is).
        loss_chunk_tokens: tokens (rows x positions) whose logits exist at once while computing the loss;
            ``None`` materialises every row's logits (needs rows x tokens x vocabulary x 4 bytes).
        layer_checkpointing: recompute each decoder layer's activations in backward instead of keeping them
            (one more forward pass per step): training memory then grows with the layers' inputs, not with
            all their intermediates. Results are unchanged (dropout masks are replayed).
        keep_lora_state: keep every adapter's trained weights in ``lora_states`` (for tests).
        progress: called with (requests done, requests in the call) at the start and after each cohort.
    """

    def __init__(self, model: torch.nn.Module, tokenizer, answer_batch_size: int = 256, max_adapters: int | None = None,
                 group_by: GroupBy = "spec", bucket_overhead_tokens: int | None = None,
                 loss_chunk_tokens: int | None = 2048, layer_checkpointing: bool = False,
                 keep_lora_state: bool = False, progress: ProgressCallback | None = None) -> None:
        super().__init__(model, tokenizer, answer_batch_size, progress)
        if group_by not in ("none", "spec"):
            raise ValueError(f"group_by must be 'none' or 'spec', got {group_by!r}")
        if max_adapters is None:
            max_adapters = 64 if self.device.type == "cuda" else 8
        if max_adapters < 1:
            raise ValueError(f"max_adapters must be >= 1, got {max_adapters}")
        if loss_chunk_tokens is not None and loss_chunk_tokens < 1:
            raise ValueError(f"loss_chunk_tokens must be >= 1 or None, got {loss_chunk_tokens}")
        self.max_adapters = max_adapters
        self.loss_chunk_tokens = loss_chunk_tokens
        self.layer_checkpointing = layer_checkpointing
        if layer_checkpointing:
            decoder_layers(model)  # fails now, with the reason, for a model whose layers cannot be found
        self._chunked_loss: bool | None = None  # whether the model allows it; checked on first use
        self.group_by = group_by
        self.bucket_overhead_tokens = bucket_overhead_tokens
        self.keep_lora_state = keep_lora_state
        self.lora_states: list[dict[str, tuple[torch.Tensor, torch.Tensor]]] = []
        """Per request of the last ``adapt`` call (if ``keep_lora_state``): ``{module: (A [r, in], B [out, r])}``."""

    def adapt(self, requests: Sequence[AdaptRequest]) -> list[AdaptOutcome]:
        outcomes: list[AdaptOutcome | None] = [None] * len(requests)
        states: list[dict] = [{} for _ in requests]
        done = 0
        report(self.progress, done, len(requests))
        for cohort in self._cohorts(requests):
            results = self._adapt_cohort([requests[i] for i in cohort])
            for i, (outcome, state) in zip(cohort, results):
                outcomes[i], states[i] = outcome, state
            done += len(cohort)
            report(self.progress, done, len(requests))  # a line per batch in a training loop's output
        self.lora_states = states if self.keep_lora_state else []
        return outcomes  # type: ignore[return-value]

    def _cohorts(self, requests: Sequence[AdaptRequest]) -> list[list[int]]:
        """Indices of the requests trained together; within a cohort, longest training first."""
        groups: dict[object, list[int]] = {}
        for i, request in enumerate(requests):
            groups.setdefault(request.lora if self.group_by == "spec" else None, []).append(i)
        cohorts = []
        for members in groups.values():
            # Longest first, so the adapters still training are always a prefix of the stack.
            members.sort(key=lambda i: -requests[i].num_optimizer_steps())
            cohorts.extend(members[j : j + self.max_adapters] for j in range(0, len(members), self.max_adapters))
        return cohorts

    def _adapt_cohort(self, requests: list[AdaptRequest]) -> list[tuple[AdaptOutcome, dict]]:
        start = time.perf_counter()
        was_training = self.model.training
        stack = StackedLora(self.model, [r.lora for r in requests], [r.train.seed for r in requests])
        if self._chunked_loss is None:
            self._chunked_loss = bool(self.loss_chunk_tokens) and logits_are_head_of_body(self.model)
        try:
            with stack.installed(self.model):
                self.model.train()
                with checkpointed_layers(self.model) if self.layer_checkpointing else contextlib.nullcontext():
                    losses, tokens, steps = self._train(stack, requests)
                trained = time.perf_counter()
                self.model.eval()
                answers = self._answer(stack, requests)
                scores = self._score(stack, requests)
        finally:
            self.model.train(was_training)
        answered = time.perf_counter()
        states = [stack.adapter_state(k) if self.keep_lora_state else {} for k in range(len(requests))]
        del stack
        gc.collect()
        # Wall time is shared by the whole cohort: report each request's equal share.
        share = 1.0 / len(requests)
        return [
            (
                AdaptOutcome(
                    answers=answers[k],
                    losses=losses[k],
                    num_train_tokens=tokens[k],
                    num_optimizer_steps=steps[k],
                    train_seconds=(trained - start) * share,
                    answer_seconds=(answered - trained) * share,
                    target_logprobs=scores[k],
                ),
                states[k],
            )
            for k in range(len(requests))
        ]

    def _train(self, stack: StackedLora, requests: list[AdaptRequest]) -> tuple[list[list[float]], list[int], list[int]]:
        """Train every adapter of ``stack`` on its request; returns per-adapter losses, tokens and steps."""
        tokenized = [tokenize_request(self.tokenizer, r) for r in requests]
        plans = [batch_order(len(t), r.train) if t else [] for t, r in zip(tokenized, requests)]
        steps = [len(p) for p in plans]
        device, pad_id, k = self.device, pad_token_id(self.tokenizer), len(requests)
        overhead = self.bucket_overhead_tokens
        if overhead is None:
            overhead = 2048 if device.type == "cuda" else 16
        max_norm = torch.tensor([max_grad_norm(r.train) for r in requests], device=device)
        moments = (torch.zeros_like(stack.weights), torch.zeros_like(stack.weights))
        losses = torch.zeros(max(steps, default=0), k, device=device)
        tokens = [0] * k
        for t in range(max(steps, default=0)):
            n = sum(s > t for s in steps)  # cohort is sorted longest first: active adapters are a prefix
            rows = [(j, tokenized[j][i]) for j in range(n) for i in plans[j][t]]
            counts = [0] * n
            for j, seq in rows:
                counts[j] += sum(label != IGNORE_INDEX for label in seq.labels[1:])
            for j in range(n):
                tokens[j] += counts[j]
            # Each adapter's loss is its summed token losses over the whole step divided by its own token
            # count, so splitting the step's rows into several passes leaves every gradient unchanged.
            denominators = torch.tensor(counts, device=device).clamp(min=1)
            stack.grads.zero_()
            for bucket in length_buckets([len(seq.input_ids) for _, seq in rows], overhead):
                part = [rows[r] for r in sorted(bucket)]  # sorted: keeps rows adapter-major
                batch = {key: v.to(device) for key, v in collate([seq for _, seq in part], pad_id).items()}
                stack.route([j for j, _ in part])
                row_adapter = torch.tensor([j for j, _ in part], device=device)
                loss = self._loss_sums(batch, row_adapter, n) / denominators
                loss.sum().backward()
                losses[t, :n] += loss.detach()
            lrs = [r.train.learning_rate * lr_multiplier(t, s, r.train) for r, s in zip(requests[:n], steps)]
            decay = [1.0 - lr * r.train.weight_decay for lr, r in zip(lrs, requests)]
            clip_and_step(stack, moments, max_norm[:n], lrs, decay, t + 1)
        table = losses.T.tolist()
        return [table[j][: steps[j]] for j in range(k)], tokens, steps

    def _loss_sums(self, batch: dict[str, torch.Tensor], row_adapter: torch.Tensor, n: int) -> torch.Tensor:
        """Each of the ``n`` adapters' summed token losses over its rows of ``batch``."""
        inputs = dict(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False)
        if not self._chunked_loss:
            return per_adapter_loss_sums(self.model(**inputs).logits, batch["labels"], row_adapter, n)
        # Looked up on every call: a stacked adapter may be installed on the head itself.
        body, head = body_and_head(self.model)
        hidden = body(**inputs).last_hidden_state
        return chunked_loss_sums(hidden, head, batch["labels"], row_adapter, n, self.loss_chunk_tokens)

    @torch.no_grad()
    def _answer(self, stack: StackedLora, requests: list[AdaptRequest]) -> list[list[str]]:
        """Greedy answers of every adapter to its queries, many adapters per ``generate`` call."""
        answers: list[list[str]] = [[] for _ in requests]
        chunks, chunk, size = [], [], 0
        for k, request in enumerate(requests):
            if chunk and size + len(request.queries) > self.answer_batch_size:
                chunks.append(chunk)
                chunk, size = [], 0
            chunk.append(k)
            size += len(request.queries)
        for chunk in chunks + [chunk]:
            self._answer_chunk(stack, requests, chunk, answers)
        return answers

    def _answer_chunk(self, stack: StackedLora, requests: list[AdaptRequest], chunk: list[int],
                      answers: list[list[str]]) -> None:
        for k in chunk:
            answers[k].extend("" for _ in requests[k].queries)
        rows = [(k, j) for k in chunk for j, q in enumerate(requests[k].queries) if asks_answer(q)]
        if not rows:
            return
        queries = [requests[k].queries[j] for k, j in rows]
        # greedy_answers says which rows each batch holds, in row order: each row's adapter is routed there.
        texts = greedy_answers(self.model, self.tokenizer, queries, batch_size=len(queries),
                               before_batch=lambda batch: stack.route([rows[i][0] for i in batch]))
        for (k, j), text in zip(rows, texts):
            answers[k][j] = text

    @torch.no_grad()
    def _score(self, stack: StackedLora, requests: list[AdaptRequest]) -> list[list[float | None]]:
        """Each adapter's log-probability of its queries' targets (an empty list for a request without any)."""
        scores: list[list[float | None]] = [[None] * len(r.queries) if any(q.target for q in r.queries) else []
                                            for r in requests]
        rows = [(k, j) for k, r in enumerate(requests) for j, q in enumerate(r.queries) if q.target]
        for start in range(0, len(rows), self.answer_batch_size):
            part = rows[start : start + self.answer_batch_size]
            stack.route([k for k, _ in part])  # target_logprobs keeps the rows' order in one batch
            values = target_logprobs(self.model, self.tokenizer, [requests[k].queries[j] for k, j in part],
                                     batch_size=len(part))
            for (k, j), value in zip(part, values):
                scores[k][j] = value
        return scores


