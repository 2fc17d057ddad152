"""Teacher-forced log-probabilities of reference answers (``Query.target``), in every engine."""

from __future__ import annotations

import math

import pytest
import torch

from seal_gym.adapt import AdaptRequest, BatchedEngine, Query, SequentialEngine, TrainSequence, TrainSpec
from seal_gym.adapt.decoding import target_logprobs

FACT = "The lighthouse of Varnel was built by Odila Brenn in 1783."


def by_hand(bundle, prompt: str, target: str) -> float:
    """The mean log-probability of ``target`` after ``prompt``, one token at a time (no batching, no padding)."""
    tok, model = bundle.tokenizer, bundle.model
    ids = tok(prompt, add_special_tokens=False)["input_ids"]
    total, target_ids = 0.0, tok(target, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        for t in target_ids:
            logits = model(input_ids=torch.tensor([ids])).logits[0, -1].float()
            total += float(torch.log_softmax(logits, -1)[t])
            ids = ids + [t]
    return total / len(target_ids)


def test_batched_scores_equal_one_at_a_time(tiny_bundle):
    queries = [Query("Who built it?", target="Odila Brenn"), Query("When?", target="1783"),
               Query("No target here"), Query("A much longer question about the lighthouse?", target="Varnel")]
    scores = target_logprobs(tiny_bundle.model, tiny_bundle.tokenizer, queries, batch_size=4)
    assert scores[2] is None
    for q, s in zip(queries, scores):
        if q.target:
            assert s == pytest.approx(by_hand(tiny_bundle, q.prompt, q.target), abs=1e-4)


@pytest.mark.parametrize("engine_class", [SequentialEngine, BatchedEngine])
def test_untrained_adapter_scores_as_the_base_model(tiny_bundle, engine_class):
    """An adapter that took no step is the base model: its scores are the base model's."""
    queries = (Query("Who built it?", max_new_tokens=0, target="Odila Brenn"), Query("When?", max_new_tokens=3))
    (outcome,) = engine_class(tiny_bundle.model, tiny_bundle.tokenizer).adapt(
        [AdaptRequest((), queries, TrainSpec(epochs=0))])
    assert outcome.answers[0] == ""  # asked for its score only: nothing generated
    assert outcome.target_logprobs[1] is None
    assert outcome.target_logprobs[0] == pytest.approx(by_hand(tiny_bundle, "Who built it?", "Odila Brenn"), abs=1e-4)


def test_engines_agree_and_training_on_the_answer_raises_its_score(tiny_bundle):
    """Both engines give the same scores per adapter, and training on an answer makes it likelier (the tiny
    random model learns slowly, so the margin is small; over many steps the two engines' float32 training
    drifts apart, so the comparison uses three)."""
    question = "Who built the lighthouse of Varnel?"
    queries = (Query(question, max_new_tokens=4, target="Odila Brenn"),)
    data = (TrainSequence(question, "Odila Brenn"), TrainSequence(FACT))
    requests = [AdaptRequest(data, queries, TrainSpec(epochs=e, learning_rate=1e-2, seed=s))
                for e, s in ((0, 0), (3, 1), (3, 2))]
    sequential = SequentialEngine(tiny_bundle.model, tiny_bundle.tokenizer).adapt(requests)
    batched = BatchedEngine(tiny_bundle.model, tiny_bundle.tokenizer).adapt(requests)
    for one, many in zip(sequential, batched):
        assert one.answers == many.answers
        assert one.target_logprobs[0] == pytest.approx(many.target_logprobs[0], abs=1e-4)
    before, after = sequential[0].target_logprobs[0], sequential[1].target_logprobs[0]
    assert math.isfinite(before) and after > before + 0.05  # the scores see the adapter
