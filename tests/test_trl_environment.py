"""TRL's environment_factory backed by the reward service (issue 34.3): one real GRPOTrainer step on the tiny
model, a tool call that sends its self-edit before the reward is asked for, and a failed reward given None."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from seal_gym.agents.trl_environment import SealEnvironments
from seal_gym.envs.squad import SealSquadEnv
from seal_gym.models import load_model
from seal_gym.serve import RewardService, ServiceConfig, ServiceThread
from seal_gym.testing import ScriptedEngine
from tests.test_domains import PASSAGES, squad_engine
from tests.test_trl_rewards import gold_for, passage_of


def environments(tiny_bundle, engine, **config) -> SealEnvironments:
    domain = SealSquadEnv(model=tiny_bundle, engine=engine).domain
    return SealEnvironments(ServiceThread(RewardService(domain, ServiceConfig(**config))))


def test_one_grpo_trainer_step_with_the_environment_factory(tiny_bundle, tmp_path):
    trl = pytest.importorskip("trl")
    from trl.chat_template_utils import qwen2_5_chat_template

    def learns(request) -> bool:  # a property of the completion's text that the scripted model rewards
        return sum(map(ord, request.sequences[0].prompt)) % 2 == 0

    engine = ScriptedEngine(lambda request, query: gold_for(query.prompt) if learns(request) else "no idea")
    envs = environments(tiny_bundle, engine, max_batch=8, max_wait_ms=300)
    try:
        policy = load_model("tiny-random", device="cpu")
        # environment_factory needs a chat template that renders tool calls (TRL 1.16 checks); the byte-level
        # tokenizer renders any template, so give it one TRL knows how to parse.
        policy.tokenizer.chat_template = qwen2_5_chat_template
        args = trl.GRPOConfig(output_dir=str(tmp_path), max_steps=1, per_device_train_batch_size=4, num_generations=2,
                              max_completion_length=8, report_to="none", save_strategy="no", logging_steps=1,
                              use_cpu=True, bf16=False, seed=0)
        trainer = trl.GRPOTrainer(model=policy.model, processing_class=policy.tokenizer, reward_funcs=envs.reward,
                                  environment_factory=envs, args=args, train_dataset=envs.task_dataset([0, 1]))
        trainer.train()
    finally:
        envs.close()
    assert trainer.state.global_step == 1 and [len(c) for c in engine.calls] == [4]  # one batch of the 4 rollouts
    requests = engine.calls[0]
    by_passage = {}
    for request in requests:
        by_passage.setdefault(passage_of(request), set()).add(request.train.seed)
    assert set(by_passage) <= {0, 1} and all(len(seeds) == 1 for seeds in by_passage.values())  # a group, a seed
    logged = trainer.state.log_history[0]
    assert logged["rewards/seal_environment_reward/mean"] == pytest.approx(sum(map(learns, requests)) / 4)
    assert logged["seal_environment_reward/failed"] == 0.0


def test_reset_gives_the_env_prompt_unless_the_row_has_one(tiny_bundle):
    envs = environments(tiny_bundle, squad_engine())
    try:
        environment = envs()
        assert PASSAGES[3].context in environment.reset(passage_index=3)
        assert environment.reset(prompt=[{"role": "user", "content": "p"}], passage_index=3) is None
        with pytest.raises(ValueError, match="must pin a task"):
            environment.reset(prompt="p")
    finally:
        envs.close()


def test_a_tool_call_starts_training_before_the_reward_is_asked_for(tiny_bundle):
    engine = squad_engine()
    envs = environments(tiny_bundle, engine, max_wait_ms=0)
    try:
        environment = envs()
        environment.reset(passage_index=2, inner_seed=5)
        assert environment.write_self_edit("GOOD: the facts.").startswith("Submitted")
        assert environment.write_self_edit("GOOD again").startswith("Already")
        deadline = time.monotonic() + 30
        while not engine.calls and time.monotonic() < deadline:  # the service trains before any reward call
            time.sleep(0.01)
        assert [len(c) for c in engine.calls] == [1] and engine.calls[0][0].train.seed == 5
        # the completion text ("no facts") is not what is scored: the self-edit sent by the tool is
        rewards = asyncio.run(envs.reward(["p"], ["no facts"], environments=[environment]))
        assert rewards == [1.0] and len(engine.calls) == 1
    finally:
        envs.close()


def test_a_failed_reward_is_none_with_the_reason(tiny_bundle, caplog):
    def broken(request, query):
        raise RuntimeError("engine down")

    envs = environments(tiny_bundle, ScriptedEngine(broken))
    metrics, extras = {}, {}
    try:
        group = [envs(), envs()]
        for environment in group:
            environment.reset(passage_index=0)
        with caplog.at_level(logging.WARNING):
            rewards = asyncio.run(envs.reward(["p", "p"], ["GOOD", "GOOD"], environments=group,
                                              log_metric=metrics.__setitem__, log_extra=extras.__setitem__))
        with pytest.raises(ValueError, match="environment_factory"):
            asyncio.run(envs.reward(["p"], ["GOOD"]))
    finally:
        envs.close()
    assert rewards == [None, None] and "engine failure: RuntimeError: engine down" in caplog.text
    assert metrics == {"seal_environment_reward/failed": 1.0}
    assert extras["seal_environment_reward/reason"] == ["engine failure: RuntimeError: engine down"] * 2
