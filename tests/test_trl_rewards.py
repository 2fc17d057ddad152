"""The TRL reward adapter: the env's rewards for the same passages and seeds, one engine call per batch,
failures given no reward (None), and one real GRPOTrainer step on the tiny model."""

from __future__ import annotations

import doctest
import logging

import gymnasium as gym
import pytest

import seal_gym  # noqa: F401
from seal_gym.agents import trl_rewards
from seal_gym.agents.trl_rewards import SealSquadReward
from seal_gym.models import load_model
from seal_gym.squad.passages import demo_passages
from seal_gym.testing import ScriptedEngine

PASSAGES = demo_passages()
GOLD = {qa.question: qa.answer for p in PASSAGES for qa in p.questions}


def gold_for(prompt: str) -> str:
    return next(answer for question, answer in GOLD.items() if question in prompt)


def passage_of(request) -> int:
    """Which demo passage a request's questions are about."""
    return next(i for i, p in enumerate(PASSAGES) if p.questions[0].question in request.queries[0].prompt)


def seeded_engine() -> ScriptedEngine:
    """Answers everything right after a self-edit that says GOOD, trained with an even inner seed."""
    return ScriptedEngine(lambda request, query: gold_for(query.prompt)
                          if request.train.seed % 2 == 0 and any("GOOD" in s.prompt for s in request.sequences)
                          else "no idea")


def said(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def test_module_doctests():
    assert doctest.testmod(trl_rewards).failed == 0


def test_rewards_equal_the_env_for_the_same_passages_and_seeds(tiny_bundle):
    completions = ["GOOD a", said("bad"), "GOOD b", said("GOOD c"), said("GOOD"), ""]
    indices, seeds = [0, 0, 5, 5, 9, 9], [2, 2, 3, 3, 4, 4]
    engine = seeded_engine()
    seal_reward = SealSquadReward(model=tiny_bundle, engine=engine)
    rewards = seal_reward(["prompt"] * 6, completions, passage_index=indices, inner_seed=seeds)
    assert rewards == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]  # odd seeds never learn; the empty self-edit is not trained
    assert len(engine.calls) == 1 and [passage_of(r) for r in engine.calls[0]] == [0, 0, 5, 5, 9]
    env = gym.make("SealSquad-v0", model=tiny_bundle, engine=seeded_engine())
    expected = []
    for completion, index, seed in zip(completions, indices, seeds):
        env.reset(options={"passage_index": index, "inner_seed": seed})
        expected.append(env.step(trl_rewards.completion_text(completion))[1])
    assert rewards == expected


def test_completions_of_one_passage_share_a_drawn_seed(tiny_bundle):
    engine = seeded_engine()
    seal_reward = SealSquadReward(model=tiny_bundle, engine=engine, seed=7)
    seal_reward(["p"] * 4, ["a", "b", "c", "d"], passage_index=[1, 1, 2, 2])
    seal_reward(["p"] * 4, ["a", "b", "c", "d"], passage_index=[1, 1, 2, 2])
    first, second = ([r.train.seed for r in call] for call in engine.calls)
    assert first[0] == first[1] != first[2] == first[3] and first != second
    again = seeded_engine()
    SealSquadReward(model=tiny_bundle, engine=again, seed=7)(["p"] * 4, list("abcd"), passage_index=[1, 1, 2, 2])
    assert [r.train.seed for r in again.calls[0]] == first  # seeded: a run is reproducible


def test_a_failing_step_is_no_reward_and_logs_why(tiny_bundle, caplog):
    def broken(request, query):
        raise RuntimeError("engine down")

    metrics, extras = {}, {}
    seal_reward = SealSquadReward(model=tiny_bundle, engine=ScriptedEngine(broken))
    with caplog.at_level(logging.WARNING, logger=trl_rewards.__name__):
        rewards = seal_reward(["p", "p"], ["GOOD", "GOOD"], passage_index=[0, 1],
                              log_metric=metrics.__setitem__, log_extra=extras.__setitem__)
    assert rewards == [None, None] and "engine down" in caplog.text  # TRL's "no reward", not a 0
    assert metrics == {"seal_squad_reward/errors": 1.0}
    assert extras["seal_squad_reward/error"] == ["RuntimeError: engine down"] * 2


@pytest.mark.parametrize("call,error", [
    (lambda f: f(["p"], ["a", "b"], passage_index=[0, 0]), ValueError),  # prompts and completions differ
    (lambda f: f(["p", "p"], ["a", "b"], passage_index=[0]), ValueError),
    (lambda f: f(["p", "p"], ["a", "b"], passage_index=[0, 0], inner_seed=[1]), ValueError),
    (lambda f: f(["p"], ["a"]), ValueError),  # no passage_index column
    (lambda f: f(["p"], ["a"], passage_index=[99]), ValueError),  # out of range
    (lambda f: f(["p"], [42], passage_index=[0]), TypeError),
    (lambda f: f([], [], passage_index=[]), ValueError),
])
def test_programming_errors_raise(tiny_bundle, call, error):
    with pytest.raises(error):
        call(SealSquadReward(model=tiny_bundle, engine=seeded_engine()))


def test_a_given_vector_env_must_fit_the_batch(tiny_bundle):
    envs = gym.make_vec("SealSquad-v0", num_envs=2, vectorization_mode="vector_entry_point", model=tiny_bundle,
                        engine=seeded_engine())
    seal_reward = SealSquadReward(envs)
    assert seal_reward(["p", "p"], ["GOOD", "bad"], passage_index=[3, 4], inner_seed=[0, 0]) == [1.0, 0.0]
    with pytest.raises(ValueError, match="num_envs=2"):
        seal_reward(["p"] * 3, ["a"] * 3, passage_index=[0, 1, 2])
    grouped = gym.make_vec("SealSquad-v0", num_envs=2, group_size=2, vectorization_mode="vector_entry_point",
                           model=tiny_bundle, engine=seeded_engine())
    with pytest.raises(ValueError, match="group_size=1"):
        SealSquadReward(grouped)(["p", "p"], ["a", "b"], passage_index=[3, 4])


@pytest.mark.parametrize("given_env", [False, True])
def test_prompt_dataset_holds_the_env_prompts(tiny_bundle, given_env):
    pytest.importorskip("datasets")
    kwargs = dict(model=tiny_bundle, engine=seeded_engine(), prompt_style="rewrite")
    envs = gym.make_vec("SealSquad-v0", num_envs=2, vectorization_mode="vector_entry_point", **kwargs)
    seal_reward = SealSquadReward(envs) if given_env else SealSquadReward(**kwargs)
    dataset = seal_reward.prompt_dataset([4, 0, 7])  # three passages through a 2-env vector env: two resets
    env = gym.make("SealSquad-v0", **kwargs)
    observations = [env.reset(options={"passage_index": i})[0] for i in (4, 0, 7)]
    assert dataset["passage_index"] == [4, 0, 7]
    assert dataset["prompt"] == [[{"role": "user", "content": o}] for o in observations]
    assert seal_reward.prompt_dataset(2, conversational=False)["prompt"] == [
        env.reset(options={"passage_index": i})[0] for i in (0, 1)]


def test_one_grpo_trainer_step_logs_the_env_reward(tiny_bundle, tmp_path):
    trl = pytest.importorskip("trl")

    def learns(request) -> bool:  # a property of the completion's text that the scripted model rewards
        return sum(map(ord, request.sequences[0].prompt)) % 2 == 0

    engine = ScriptedEngine(lambda request, query: gold_for(query.prompt) if learns(request) else "no idea")
    seal_reward = SealSquadReward(model=tiny_bundle, engine=engine)
    policy = load_model("tiny-random", device="cpu")  # fresh: the trainer changes the model it trains
    args = trl.GRPOConfig(output_dir=str(tmp_path), max_steps=1, per_device_train_batch_size=4, num_generations=2,
                          max_completion_length=8, report_to="none", save_strategy="no", logging_steps=1,
                          use_cpu=True, bf16=False, seed=0)
    trainer = trl.GRPOTrainer(model=policy.model, processing_class=policy.tokenizer, reward_funcs=seal_reward,
                              args=args, train_dataset=seal_reward.prompt_dataset([0, 1]))
    before = [p.detach().clone() for p in policy.model.parameters()]
    trainer.train()
    assert any(not b.equal(p) for b, p in zip(before, policy.model.parameters()))  # rewards differed: a real update
    assert trainer.state.global_step == 1 and len(engine.calls) == 1  # 4 completions, one engine call
    requests = engine.calls[0]
    assert {passage_of(r) for r in requests} <= {0, 1}
    logged = trainer.state.log_history[0]
    assert logged["rewards/seal_squad_reward/mean"] == pytest.approx(sum(map(learns, requests)) / 4)
    assert "seal_squad_reward/errors" in logged


def test_one_grpo_trainer_step_with_the_async_service_reward(tiny_bundle, tmp_path):
    """Issue 34.3: TRL awaits the service-backed reward on its own loop; the service trains the step's
    completions together, and a failed item is None."""
    trl = pytest.importorskip("trl")
    from seal_gym.agents.trl_service import ServiceReward
    from seal_gym.envs.squad import SealSquadEnv
    from seal_gym.serve import RewardService, ServiceConfig, ServiceThread

    def learns(request) -> bool:
        return sum(map(ord, request.sequences[0].prompt)) % 2 == 0

    engine = ScriptedEngine(lambda request, query: gold_for(query.prompt) if learns(request) else "no idea")
    domain = SealSquadEnv(model=tiny_bundle, engine=engine).domain
    reward = ServiceReward(ServiceThread(RewardService(domain, ServiceConfig(max_batch=8, max_wait_ms=300))))
    try:
        policy = load_model("tiny-random", device="cpu")
        args = trl.GRPOConfig(output_dir=str(tmp_path), max_steps=1, per_device_train_batch_size=4, num_generations=2,
                              max_completion_length=8, report_to="none", save_strategy="no", logging_steps=1,
                              use_cpu=True, bf16=False, seed=0)
        trainer = trl.GRPOTrainer(model=policy.model, processing_class=policy.tokenizer, reward_funcs=reward, args=args,
                                  train_dataset=SealSquadReward(model=tiny_bundle, engine=engine).prompt_dataset([0, 1]))
        trainer.train()
        assert trainer.state.global_step == 1 and [len(c) for c in engine.calls] == [4]  # one batch of 4
        logged = trainer.state.log_history[0]
        assert logged["rewards/seal_service_reward/mean"] == pytest.approx(sum(map(learns, engine.calls[0])) / 4)
        assert logged["seal_service_reward/failed"] == 0.0
    finally:
        reward.close()


def test_the_async_service_reward_gives_none_with_the_reason_for_a_failed_item(tiny_bundle, caplog):
    import asyncio

    from seal_gym.agents.trl_service import ServiceReward
    from seal_gym.envs.squad import SealSquadEnv
    from seal_gym.serve import RewardService, ServiceThread

    def broken(request, query):
        raise RuntimeError("engine down")

    domain = SealSquadEnv(model=tiny_bundle, engine=ScriptedEngine(broken)).domain
    reward = ServiceReward(ServiceThread(RewardService(domain)))
    try:
        with caplog.at_level(logging.WARNING):
            rewards = asyncio.run(reward(["p", "p"], ["GOOD", "GOOD"], passage_index=[0, 1]))
        assert rewards == [None, None] and "engine failure: RuntimeError: engine down" in caplog.text
    finally:
        reward.close()
