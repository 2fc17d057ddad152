"""Issue 31.1's candidate (b), SealSquad's ``answer_gradient_alignment``: the self-edit's training-loss gradient
dotted with the gold answers' loss gradient on a fresh LoRA adapter, checked at known values on the tiny model:
against a dot product of gradients computed here directly, and against the real change of the gold answers'
log-probability after one small SGD step."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import seal_gym  # noqa: F401  (registers the envs)
from seal_gym.adapt import AdaptRequest, LoraSpec, Query, TrainSequence, TrainSpec, gradient_alignments
from seal_gym.adapt.decoding import target_logprobs
from seal_gym.adapt.sequential import causal_lm_loss, temporary_lora
from seal_gym.testing import ScriptedEngine

LORA = LoraSpec(rank=4, alpha=8.0)
TEXTS = ("Varnel\nThe tower of Varnel is grey and was built in 1847.", "Varnel\nIts architect was Teodor Vask.")
QUERIES = (Query("Topic: Varnel\nWho built the tower?\n", 0, target="Teodor Vask"),
           Query("Topic: Varnel\nWhen was it built?\n", 0, target="1847"),
           Query("A query without a target", 0))


def request(texts=TEXTS, queries=QUERIES, seed: int = 3) -> AdaptRequest:
    return AdaptRequest(tuple(TrainSequence(t) for t in texts), queries, TrainSpec(seed=seed), LORA)


def gradients(bundle, lora_model, params, texts=TEXTS, queries=QUERIES):
    """The training loss's and the gold answers' loss's gradients, one sequence at a time, no padding."""
    tok = bundle.tokenizer
    train = 0.0
    for text in texts:  # the engine's own training loss of each sequence (ids + end token), summed
        ids = torch.tensor([tok(text, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]])
        train = train + causal_lm_loss(lora_model(input_ids=ids).logits, ids)[0]
    answers = []
    for q in (q for q in queries if q.target):
        prompt, target = (tok(s, add_special_tokens=False)["input_ids"] for s in (q.prompt, q.target))
        logits = lora_model(input_ids=torch.tensor([prompt + target])).logits[0]
        picked = torch.log_softmax(logits[len(prompt) - 1 : -1].float(), -1).gather(1, torch.tensor(target)[:, None])
        answers.append(-picked.mean())
    return torch.autograd.grad(train, params), torch.autograd.grad(torch.stack(answers).mean(), params)


def test_the_score_is_the_dot_product_of_the_two_gradients_and_only_b_carries_them(tiny_bundle):
    model = tiny_bundle.model
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    [score] = gradient_alignments(model, tiny_bundle.tokenizer, [request()])
    with temporary_lora(model, LORA, 3) as lora_model:
        named = [(n, p) for n, p in lora_model.named_parameters() if p.requires_grad]
        edit, answers = gradients(tiny_bundle, lora_model, [p for _, p in named])
    expected = sum(float((a.double() * b.double()).sum()) for a, b in zip(edit, answers))
    assert score == pytest.approx(expected, rel=1e-4) and abs(score) > 1e-6
    # At the start B = 0, so the gradient with respect to every A is exactly zero and B's carries the score.
    assert all(not g.any() for (n, _), g in zip(named, edit) if "lora_A" in n)
    assert all(g.any() for (n, _), g in zip(named, edit) if "lora_B" in n)
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())  # the model is left as it was


def test_one_small_sgd_step_changes_the_gold_answers_log_probability_by_lr_times_the_score(tiny_bundle):
    model, tok = tiny_bundle.model, tiny_bundle.tokenizer
    [score] = gradient_alignments(model, tok, [request()])
    lr = 2e-3 / abs(score)  # a step that moves the mean log-probability by about 2e-3
    with temporary_lora(model, LORA, 3) as lora_model:
        params = [p for p in lora_model.parameters() if p.requires_grad]
        edit, _ = gradients(tiny_bundle, lora_model, params)
        asked = [q for q in QUERIES if q.target]
        start = np.mean(target_logprobs(lora_model, tok, asked))  # the reward's own measure
        with torch.no_grad():
            for p, g in zip(params, edit):
                p -= lr * g
        moved = np.mean(target_logprobs(lora_model, tok, asked))
    assert (moved - start) / lr == pytest.approx(score, rel=0.05)


def test_requests_share_the_answers_gradient_and_empty_ones_score_zero(tiny_bundle):
    model, tok = tiny_bundle.model, tiny_bundle.tokenizer
    separate = [gradient_alignments(model, tok, [request(texts=(t,))])[0] for t in TEXTS]
    together = gradient_alignments(model, tok, [request(texts=(t,)) for t in TEXTS] + [request()])
    assert together == pytest.approx(separate + [sum(separate)], rel=1e-4)  # additive over sequences
    assert gradient_alignments(model, tok, [request(texts=()), request(queries=QUERIES[2:])]) == [0.0, 0.0]
    assert gradient_alignments(model, tok, [request(seed=4)])[0] != pytest.approx(together[-1], rel=1e-3)


def test_the_env_reward_is_the_alignment_of_the_inner_loops_own_training_sequences(tiny_bundle):
    from seal_gym.squad.domain import ALIGNMENT_SEED
    from seal_gym.squad.inner_loop import question_prompt

    def untouched(request, query):
        raise AssertionError("the gradient reward trains nothing through the engine")

    engine = ScriptedEngine(untouched, untouched)
    env = gym.make("SealSquad-v0", model=tiny_bundle, engine=engine, reward="answer_gradient_alignment")
    _, info = env.reset(seed=0, options={"passage_index": 0})
    passage = env.unwrapped.domain.passages[0]
    queries = tuple(Query(question_prompt(tiny_bundle, passage, qa.question), 0, target=qa.answer)
                    for qa in passage.questions)
    lora = env.unwrapped.domain.inner_loop.config.lora

    def expected(*texts):
        sequences = tuple(TrainSequence(f"{passage.title}\n{t}") for t in texts + (passage.context,))
        return gradient_alignments(tiny_bundle.model, tiny_bundle.tokenizer,
                                   [AdaptRequest(sequences, queries, TrainSpec(seed=ALIGNMENT_SEED), lora)])[0]

    reward, info = env.step("- The tower is grey.\n- It was built in 1847.")[1::3]
    assert reward == pytest.approx(expected("The tower is grey.", "It was built in 1847."), rel=1e-5)
    assert info["answer_gradient_alignment"] == reward
    env.reset(seed=1, options={"passage_index": 0})  # another inner seed: the same reward (seeded apart)
    assert env.step("- The tower is grey.\n- It was built in 1847.")[1] == reward
    env.reset(seed=0, options={"passage_index": 0})
    empty = env.step("   ")[1]  # the registry: scored as the do-nothing action, the passage alone
    assert empty == pytest.approx(expected(), rel=1e-5) and empty != 0.0 and engine.calls == []
    bare = gym.make("SealSquad-v0", model=tiny_bundle, engine=engine, reward="answer_gradient_alignment",
                    include_passage=False)
    bare.reset(seed=0, options={"passage_index": 0})
    assert bare.step("   ")[1] == 0.0  # nothing to train on: a zero gradient
