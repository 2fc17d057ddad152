"""The batched engine trains every adapter exactly as the sequential reference trains it alone."""

from __future__ import annotations

import gc
import warnings

import pytest
import torch

import seal_gym.adapt.optimizer as optimizer
import seal_gym.adapt.sequential as sequential
from seal_gym.adapt import (
    AdaptRequest,
    AutoEngine,
    LoraSpec,
    Query,
    SequentialEngine,
    TrainSequence,
    TrainSpec,
    make_engine,
)
from seal_gym.adapt.batched import BatchedEngine
from seal_gym.adapt.tokens import length_buckets
from seal_gym.models import load_model
from tests.conftest import weights_checksum

WEIGHT_ATOL = 1e-5  # observed: < 1e-6 after up to 6 AdamW steps at lr 1e-3..3e-3
LOSS_ATOL = 1e-5
# Different bucketings sum gradients in different orders; AdamW turns an element's near-zero gradient into
# a ~lr-sized step, so float noise there shows up to ~lr * 1e-2 (observed 1.5e-5 at lr 1e-3).
REORDER_ATOL = 1e-4


@pytest.fixture
def bundle(tiny_bundle):
    return tiny_bundle


def request(i: int, sequences: int, epochs: int, lora: LoraSpec = LoraSpec(rank=8, alpha=16), **train) -> AdaptRequest:
    seqs = tuple(
        TrainSequence(f"Topic {i}: fact {j} says {'very ' * (j % 4)}blue thing {7 * i + j}.", f" ok {j}" * (j % 2))
        for j in range(sequences)
    )
    queries = tuple(Query(f"Q{i}.{q}: what about {'it ' * q}?", max_new_tokens=6 + q) for q in range(3))
    return AdaptRequest(seqs, queries, TrainSpec(epochs=epochs, seed=i, **train), lora)


REQUESTS = [
    request(0, 3, 2),
    request(1, 5, 1, batch_size=2, schedule="cosine", warmup_steps=1, loss_on="completion"),
    request(2, 2, 3, weight_decay=0.1, learning_rate=3e-3, max_grad_norm=0.01),
    request(3, 4, 2, schedule="linear", max_grad_norm=None),
    request(4, 1, 0),  # nothing to train: answers as the base model
]
MIXED = [
    request(5, 3, 2, LoraSpec(rank=4, alpha=8, target_modules=("q_proj", "v_proj"))),
    request(6, 2, 2, LoraSpec(rank=16, alpha=8, target_modules=("up_proj", "down_proj", "o_proj"))),
]


def sequential_run(bundle, requests, monkeypatch):
    """Outcomes of the reference, and each adapter's trained weights (read just before it answers)."""
    states = []
    answer = sequential.greedy_answers

    def spy(model, *args, **kwargs):
        lora = {n: p.detach().clone() for n, p in model.named_parameters() if ".lora_" in n}
        states.append({n.removeprefix("base_model.model."): p for n, p in lora.items()})
        return answer(model, *args, **kwargs)

    monkeypatch.setattr(sequential, "greedy_answers", spy)
    outcomes = SequentialEngine(bundle.model, bundle.tokenizer).adapt(requests)
    monkeypatch.setattr(sequential, "greedy_answers", answer)
    return outcomes, states


@pytest.mark.parametrize("group_by", ["spec", "none"])
def test_matches_sequential(bundle, monkeypatch, group_by):
    requests = REQUESTS + MIXED
    expected, expected_states = sequential_run(bundle, requests, monkeypatch)
    engine = BatchedEngine(bundle.model, bundle.tokenizer, group_by=group_by, keep_lora_state=True)
    got = engine.adapt(requests)
    for ref, out, ref_state, state in zip(expected, got, expected_states, engine.lora_states):
        assert out.answers == ref.answers
        assert out.num_optimizer_steps == ref.num_optimizer_steps == len(out.losses)
        assert out.num_train_tokens == ref.num_train_tokens
        assert out.losses == pytest.approx(ref.losses, abs=LOSS_ATOL)
        assert len(ref_state) == 2 * len(state)
        for name, (a, b) in state.items():
            torch.testing.assert_close(a, ref_state[f"{name}.lora_A.default.weight"], atol=WEIGHT_ATOL, rtol=0)
            torch.testing.assert_close(b, ref_state[f"{name}.lora_B.default.weight"], atol=WEIGHT_ATOL, rtol=0)
    trained = [s for r, s in zip(requests, engine.lora_states) if r.train.epochs]
    assert all(bool(b.abs().sum() > 0) for s in trained for _, b in s.values()), "every B must have trained"


def test_base_model_untouched_and_memory_flat(bundle):
    model = bundle.model
    before = weights_checksum(model)
    modules = [(n, type(m)) for n, m in model.named_modules()]
    flags = [p.requires_grad for p in model.parameters()]
    engine = BatchedEngine(model, bundle.tokenizer)
    base_answers = engine.answer([q for r in REQUESTS for q in r.queries])

    def live_tensors() -> int:
        gc.collect()
        with warnings.catch_warnings():  # isinstance on every object pokes deprecated torch attributes
            warnings.simplefilter("ignore")
            return sum(1 for o in gc.get_objects() if isinstance(o, torch.Tensor))

    engine.adapt(REQUESTS[:3])
    counts = []
    for _ in range(2):
        engine.adapt(REQUESTS[:3])
        counts.append(live_tensors())
    assert counts[0] == counts[1], "tensors leak across adapt calls"
    assert weights_checksum(model) == before
    assert [(n, type(m)) for n, m in model.named_modules()] == modules
    assert [p.requires_grad for p in model.parameters()] == flags
    assert all(p.grad is None for p in model.parameters())
    assert engine.answer([q for r in REQUESTS for q in r.queries]) == base_answers
    assert engine.adapt(REQUESTS[4:])[0].answers == base_answers[-3:]


def test_many_adapters_in_cohorts_match_one_cohort(bundle):
    requests = [request(10 + i, 2 + i % 3, 1 + i % 2) for i in range(6)]
    one = BatchedEngine(bundle.model, bundle.tokenizer, keep_lora_state=True)
    small = BatchedEngine(bundle.model, bundle.tokenizer, max_adapters=4, answer_batch_size=5,
                           bucket_overhead_tokens=0, keep_lora_state=True)
    for a, b in zip(one.adapt(requests), small.adapt(requests)):
        assert a.answers == b.answers
        assert a.losses == pytest.approx(b.losses, abs=LOSS_ATOL)
    for sa, sb in zip(one.lora_states, small.lora_states):
        for name in sa:
            torch.testing.assert_close(sa[name], sb[name], atol=REORDER_ATOL, rtol=0)


def test_optimizer_in_slices_of_adapters_gives_the_same_weights(bundle, monkeypatch):
    """The AdamW update runs a slice of adapters at a time to bound its temporaries: elementwise, so the
    weights must be equal to the bit whatever the slice."""
    requests = [request(10 + i, 2 + i % 3, 1 + i % 2) for i in range(5)]
    states = []
    for values in (2**26, 1):  # one slice for all, then one adapter per slice
        monkeypatch.setattr(optimizer, "OPTIMIZER_SLICE_VALUES", values)
        engine = BatchedEngine(bundle.model, bundle.tokenizer, keep_lora_state=True)
        engine.adapt(requests)
        states.append(engine.lora_states)
    for whole, sliced in zip(*states):
        for name in whole:
            assert all(torch.equal(a, b) for a, b in zip(whole[name], sliced[name]))


def test_length_buckets_cover_every_row_once():
    lengths = [5, 90, 7, 88, 40, 6, 41]
    for overhead in (0, 16, 10_000):
        buckets = length_buckets(lengths, overhead)
        assert sorted(i for b in buckets for i in b) == list(range(len(lengths)))
    assert len(length_buckets(lengths, 10_000)) == 1


def test_make_engine(bundle):
    assert isinstance(make_engine(bundle.model, bundle.tokenizer, "batched"), BatchedEngine)
    auto = make_engine(bundle.model, bundle.tokenizer)
    assert isinstance(auto, AutoEngine)  # on CPU: sequential for one request, batched for several
    assert isinstance(auto.engine_for(1), SequentialEngine) and isinstance(auto.engine_for(4), BatchedEngine)
    assert isinstance(make_engine(bundle.model, bundle.tokenizer, "sequential"), SequentialEngine)
    one_at_a_time = make_engine(bundle.model, bundle.tokenizer, "auto", batch_on_cpu=False)
    assert isinstance(one_at_a_time.engine_for(4), SequentialEngine)
    with pytest.raises(ValueError, match="unknown engine"):
        make_engine(bundle.model, bundle.tokenizer, "fast")


def test_bfloat16_base_keeps_float32_adapters():
    """On a bf16 base (as on GPU) the LoRA state stays float32 and the losses track the float32 run."""
    requests = REQUESTS[:2]
    runs = []
    for dtype in (torch.float32, torch.bfloat16):
        bundle = load_model("tiny-random", device="cpu", dtype=dtype)
        engine = BatchedEngine(bundle.model, bundle.tokenizer, keep_lora_state=True)
        runs.append((engine.adapt(requests), engine.lora_states))
    (full, _), (half, half_states) = runs
    assert all(a.dtype == torch.float32 for s in half_states for pair in s.values() for a in pair)
    for a, b in zip(full, half):
        assert b.losses == pytest.approx(a.losses, rel=2e-2)
