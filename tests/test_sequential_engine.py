"""The reference adaptation engine on the tiny model."""

from __future__ import annotations

import gc

import pytest
import torch

from seal_gym.adapt import AdaptRequest, LoraSpec, Query, SequentialEngine, TrainSequence, TrainSpec
from seal_gym.adapt.tokens import batch_order
from seal_gym.adapt.training import lr_multiplier
from tests.conftest import weights_checksum


def make_request(bundle, epochs=3, lr=1e-2, loss_on="all", seed=0) -> AdaptRequest:
    return AdaptRequest(
        sequences=(
            TrainSequence("Port Varrow\nThe founder of Port Varrow was Odila Brenn."),
            TrainSequence("Question: founder of Port Varrow?", " Odila Brenn"),
            TrainSequence("Port Varrow\nIts houses are painted saffron yellow."),
        ),
        queries=(Query(bundle.chat_prompt("Topic: Port Varrow\nWho founded it?"), 12),),
        train=TrainSpec(epochs=epochs, learning_rate=lr, loss_on=loss_on, seed=seed),
        lora=LoraSpec(rank=4, alpha=8),
    )


def test_base_weights_bit_identical_and_no_adapter_left(tiny_bundle):
    engine = SequentialEngine(tiny_bundle.model, tiny_bundle.tokenizer)
    before = weights_checksum(tiny_bundle.model)
    flags = [p.requires_grad for p in tiny_bundle.model.parameters()]
    outcomes = engine.adapt([make_request(tiny_bundle), make_request(tiny_bundle, seed=1)])
    assert all(o.num_optimizer_steps == 9 for o in outcomes)
    assert weights_checksum(tiny_bundle.model) == before
    assert [p.requires_grad for p in tiny_bundle.model.parameters()] == flags
    assert not any("lora" in name for name, _ in tiny_bundle.model.named_modules())
    assert not hasattr(tiny_bundle.model, "peft_config")


def test_training_lowers_the_loss(tiny_bundle):
    engine = SequentialEngine(tiny_bundle.model, tiny_bundle.tokenizer)
    outcome = engine.adapt([make_request(tiny_bundle, epochs=8, lr=1e-2)])[0]
    assert len(outcome.losses) == 24
    assert outcome.losses[-1] < outcome.losses[0] - 0.3


def test_same_request_same_result_and_seed_matters(tiny_bundle):
    engine = SequentialEngine(tiny_bundle.model, tiny_bundle.tokenizer)
    a, b, c = engine.adapt([make_request(tiny_bundle), make_request(tiny_bundle), make_request(tiny_bundle, seed=5)])
    assert a.losses == b.losses and a.answers == b.answers
    assert a.losses != c.losses


def test_completion_loss_counts_only_completion_tokens(tiny_bundle):
    engine = SequentialEngine(tiny_bundle.model, tiny_bundle.tokenizer)
    all_tokens, completion_only = engine.adapt(
        [make_request(tiny_bundle, epochs=1), make_request(tiny_bundle, epochs=1, loss_on="completion")]
    )
    # Only the second sequence has a completion: " Odila Brenn" (12 bytes) + the end token.
    assert completion_only.num_train_tokens == 13
    assert all_tokens.num_train_tokens > completion_only.num_train_tokens


def test_zero_epochs_answers_like_the_base_model(tiny_bundle):
    engine = SequentialEngine(tiny_bundle.model, tiny_bundle.tokenizer)
    request = make_request(tiny_bundle, epochs=0)
    outcome = engine.adapt([request])[0]
    assert outcome.losses == [] and outcome.num_optimizer_steps == 0
    assert outcome.answers == engine.answer(request.queries)


def test_memory_does_not_grow_across_steps(tiny_bundle):
    engine = SequentialEngine(tiny_bundle.model, tiny_bundle.tokenizer)

    def live_tensors() -> int:
        gc.collect()
        return sum(isinstance(o, torch.Tensor) for o in gc.get_objects())

    engine.adapt([make_request(tiny_bundle, epochs=1)])
    first = live_tensors()
    for _ in range(4):
        engine.adapt([make_request(tiny_bundle, epochs=1)])
    assert live_tensors() <= first


def test_batch_order_shuffles_per_epoch_and_covers_everything():
    steps = batch_order(5, TrainSpec(epochs=2, batch_size=2, seed=3))
    assert len(steps) == 6
    assert sorted(i for s in steps[:3] for i in s) == list(range(5))
    assert steps == batch_order(5, TrainSpec(epochs=2, batch_size=2, seed=3))


@pytest.mark.parametrize("schedule,last", [("constant", 1.0), ("linear", 0.1), ("cosine", 0.0245)])
def test_lr_schedules(schedule, last):
    spec = TrainSpec(schedule=schedule)
    assert lr_multiplier(0, 10, spec) == pytest.approx(1.0)
    assert lr_multiplier(9, 10, spec) == pytest.approx(last, abs=1e-3)


def test_invalid_specs_say_how_to_fix():
    with pytest.raises(ValueError, match="learning_rate"):
        TrainSpec(learning_rate=float("nan"))
    with pytest.raises(ValueError, match="rank"):
        LoraSpec(rank=0)
    with pytest.raises(ValueError, match="loss_on"):
        TrainSpec(loss_on="outputs")


def test_stop_strings_end_each_row_on_its_own(tiny_bundle):
    from seal_gym.adapt import greedy_answers

    # The random tiny model continues "abc" with "c" forever: an easy row to stop.
    queries = [Query("abc", 30), Query("abc", 30, stop="ccc"), Query("abc", 30, stop="never")]
    plain, stopped, never = greedy_answers(tiny_bundle.model, tiny_bundle.tokenizer, queries)
    assert plain == "c" * 30 and never == plain
    assert stopped == "ccc"
