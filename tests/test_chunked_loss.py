"""The chunked loss (LM head and cross-entropy over token chunks, recomputed in backward) and layer
checkpointing (decoder layers recomputed in backward) change no loss and no gradient: they only bound how
many logits and activations exist at once."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from seal_gym.adapt import AdaptRequest, BatchedEngine, LoraSpec, Query, TrainSequence, TrainSpec
from seal_gym.adapt.checkpointing import decoder_layers
from seal_gym.adapt.losses import body_and_head, chunked_loss_sums, logits_are_head_of_body, per_adapter_loss_sums
from seal_gym.adapt.stacked_lora import StackedLora
from seal_gym.adapt.tokens import IGNORE_INDEX, collate, pad_token_id, tokenize_request
from seal_gym.models import load_model

ATOL = 1e-5
SUM_RTOL = 1e-6
SPECS = [LoraSpec(rank=4, alpha=8), LoraSpec(rank=2, alpha=8, target_modules=("q_proj", "lm_head")), LoraSpec(rank=4)]


@pytest.fixture(scope="module")
def bundle():
    # A private model: tests here monkeypatch its methods.
    return load_model("tiny-random", device="cpu")


def batch_and_routing(tokenizer):
    """Right-padded rows of uneven length for 3 adapters (1, 3 and 2 rows, adapter-major), some labels ignored."""
    rows = []
    for j, count in enumerate((1, 3, 2)):
        for i in range(count):
            request = AdaptRequest((TrainSequence(f"row {j}.{i} " + "word " * (3 * i + j), " done" * i),), (),
                                   TrainSpec(loss_on="completion" if i == 1 else "all"))
            rows.append((j, tokenize_request(tokenizer, request)[0]))
    batch = collate([seq for _, seq in rows], pad_token_id(tokenizer))
    assert (batch["labels"] == IGNORE_INDEX).any() and (batch["labels"] != IGNORE_INDEX).any()
    return batch, [j for j, _ in rows]


def loss_and_grads(model, stack, batch, row_adapter, chunk_tokens):
    stack.grads.zero_()
    inputs = dict(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False)
    adapters = torch.tensor(row_adapter)
    if chunk_tokens is None:
        sums = per_adapter_loss_sums(model(**inputs).logits, batch["labels"], adapters, len(SPECS))
    else:
        body, head = body_and_head(model)
        hidden = body(**inputs).last_hidden_state
        sums = chunked_loss_sums(hidden, head, batch["labels"], adapters, len(SPECS), chunk_tokens)
    # Each adapter's mean over its own tokens, as the engine trains it.
    counts = torch.zeros(len(SPECS)).index_add(0, adapters, (batch["labels"][:, 1:] != IGNORE_INDEX).sum(1).float())
    (sums / counts).sum().backward()
    return sums.detach().clone(), stack.grads.clone()


def test_chunked_loss_and_gradients_equal_full_logits(bundle):
    model, tokenizer = bundle.model, bundle.tokenizer
    assert logits_are_head_of_body(model)
    batch, row_adapter = batch_and_routing(tokenizer)
    stack = StackedLora(model, SPECS, seeds=[0, 1, 2])
    with torch.no_grad():  # B = 0 would give A no gradient: start from random adapters
        stack.weights.copy_(torch.randn(stack.weights.shape, generator=torch.Generator().manual_seed(0)) * 0.05)
    model.train()
    with stack.installed(model):
        assert type(body_and_head(model)[1]).__name__ == "StackedLoraLinear"  # the head itself has adapters
        stack.route(row_adapter)
        full_sums, full_grads = loss_and_grads(model, stack, batch, row_adapter, None)
        assert full_grads.abs().sum() > 0
        for chunk_tokens in (1, 7, 10_000):
            sums, grads = loss_and_grads(model, stack, batch, row_adapter, chunk_tokens)
            # Loss *sums* (~100 nats): float32 summed in another order differ by an ulp or two of the sum (seen
            # 1.5e-5 on 136, relative 1.1e-7), so the sums get a relative tolerance of a few float32 epsilons.
            torch.testing.assert_close(sums, full_sums, atol=ATOL, rtol=SUM_RTOL)
            torch.testing.assert_close(grads, full_grads, atol=ATOL, rtol=0)
    model.eval()


def requests() -> list[AdaptRequest]:
    return [
        AdaptRequest(tuple(TrainSequence(f"Fact {i}.{j}: the tower is {'very ' * j}tall.", " yes" * (j % 2))
                           for j in range(3)),
                     (Query(f"Tower {i}?", 6),), TrainSpec(epochs=2, seed=i, batch_size=2, loss_on=on), SPECS[i])
        for i, on in enumerate(("all", "completion", "all"))
    ]


def assert_same_training(outcomes, states, other_outcomes, other_states) -> None:
    """Same answers, and losses and trained adapter weights within ``ATOL``."""
    for a, b in zip(outcomes, other_outcomes):
        assert a.answers == b.answers
        assert b.losses == pytest.approx(a.losses, abs=ATOL)
    for sa, sb in zip(states, other_states):
        for name in sa:
            torch.testing.assert_close(sb[name], sa[name], atol=ATOL, rtol=0)


def test_engine_outcomes_do_not_depend_on_the_chunk(bundle):
    runs = []
    for chunk_tokens in (None, 3, 2048):
        engine = BatchedEngine(bundle.model, bundle.tokenizer, loss_chunk_tokens=chunk_tokens, keep_lora_state=True)
        runs.append((engine.adapt(requests()), engine.lora_states, engine._chunked_loss))
    (full, full_states, used), *chunked = runs
    assert used is False and all(run[2] for run in chunked)
    for outcomes, states, _ in chunked:
        assert_same_training(full, full_states, outcomes, states)


def test_model_whose_logits_are_not_its_head_falls_back_to_full_logits(bundle, monkeypatch):
    """A model that scales or caps its logits after the head must not be chunked through the bare head."""
    model = bundle.model
    forward = type(model).forward

    def capped(self, *args, **kwargs):
        out = forward(self, *args, **kwargs)
        out.logits = 30.0 * torch.tanh(out.logits / 30.0) * 1.5
        return out

    monkeypatch.setattr(type(model), "forward", capped)
    assert not logits_are_head_of_body(model)
    engine = BatchedEngine(model, bundle.tokenizer)
    engine.adapt(requests()[:1])
    assert engine._chunked_loss is False
    monkeypatch.undo()
    assert logits_are_head_of_body(model)


def test_bad_chunk_size(bundle):
    with pytest.raises(ValueError, match="loss_chunk_tokens"):
        BatchedEngine(bundle.model, bundle.tokenizer, loss_chunk_tokens=0)


def test_layer_checkpointing_recomputes_the_layers_and_changes_no_outcome(bundle, monkeypatch):
    # LoRA dropout on: the recomputation in backward must replay the forward's dropout masks.
    reqs = [replace(r, lora=replace(r.lora, dropout=0.2)) for r in requests()]
    layer_class = type(decoder_layers(bundle.model)[0])
    forward, calls = layer_class.forward, []

    def counted(self, *args, **kwargs):
        calls.append(1)
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(layer_class, "forward", counted)
    runs = []
    for checkpointed in (False, True):
        engine = BatchedEngine(bundle.model, bundle.tokenizer, layer_checkpointing=checkpointed, keep_lora_state=True)
        torch.manual_seed(0)
        calls.clear()
        runs.append((engine.adapt(reqs), engine.lora_states, len(calls)))
    (plain, plain_states, plain_calls), (layered, layered_states, layered_calls) = runs
    # Same answers (same generate calls), and every training pass ran each layer once more in backward.
    assert layered_calls > plain_calls
    assert_same_training(plain, plain_states, layered, layered_states)
    assert all("forward" not in vars(layer) for layer in decoder_layers(bundle.model))  # put back as it was


def test_layer_checkpointing_needs_decoder_layers():
    with pytest.raises(ValueError, match="no list of decoder layers"):
        decoder_layers(torch.nn.Linear(2, 2))
