"""SealSquad-v0 as a verifiers environment (issue 34.4), against the real verifiers package (its v1 API): rollouts
scored through verifiers' own ``Task.score``, concurrently on one event loop, by one batched reward service."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("verifiers")

from seal_gym.envs.squad import SealSquadEnv  # noqa: E402
from seal_gym.serve import RewardService, ServiceConfig, ServiceThread  # noqa: E402
from seal_gym.testing import ScriptedEngine  # noqa: E402
from tests.test_domains import PASSAGES, squad_engine  # noqa: E402


@pytest.fixture(scope="module")
def vf():
    """verifiers' v1 API, imported by the tests that run (not at collection, in every pytest-xdist worker: it
    imports openai, anthropic and math-verify, about 5 CPU-seconds)."""
    return pytest.importorskip("verifiers.v1")


def taskset(tiny_bundle, engine, passages, **config):
    from seal_gym.agents import verifiers_env

    domain = SealSquadEnv(model=tiny_bundle, engine=engine).domain
    rewards = ServiceThread(RewardService(domain, ServiceConfig(**config)))
    config = verifiers_env.SealSquadTasksetConfig(id=verifiers_env.TASKSET_ID, passages=passages)
    return verifiers_env.SealSquadTaskset(config, rewards)


def rollout(vf, task, reply: str):
    """A finished rollout of ``task`` whose reply is ``reply`` (what a harness records)."""
    return vf.Trace(task=vf.TraceTask(type=type(task).__name__, data=task.data, key=task.key, hash=task.hash),
                    agent=vf.AgentInfo(config=vf.AgentConfig(), name="test", trainable=False), root_reply=reply)


def test_rollouts_scored_at_once_share_one_engine_call(tiny_bundle, vf):
    engine = squad_engine()
    tasks_ = taskset(tiny_bundle, engine, [0, 3, 5], max_batch=8, max_wait_ms=300)
    try:
        tasks = list(tasks_)
        assert [t.data.passage_index for t in tasks] == [0, 3, 5]
        assert all(PASSAGES[t.data.passage_index].context in t.data.prompt_text for t in tasks)
        traces = [rollout(vf, t, "GOOD: every fact." if i != 1 else "no facts") for i, t in enumerate(tasks)]

        async def score_all():  # one event loop: a reward that blocked it would be scored in three engine calls
            await asyncio.gather(*(t.score(trace) for t, trace in zip(tasks, traces)))

        asyncio.run(score_all())
    finally:
        tasks_.rewards().close()
    assert [trace.reward for trace in traces] == [1.0, 0.0, 1.0]
    assert [len(call) for call in engine.calls] == [3]
    assert {r.train.seed for r in engine.calls[0]} == {t.data.inner_seed for t in tasks}
    assert traces[0].info["seal_reward"]["ok"] is True


def test_a_failed_reward_is_none_with_the_reason(tiny_bundle, vf):
    def broken(request, query):
        raise RuntimeError("engine down")

    tasks_ = taskset(tiny_bundle, ScriptedEngine(broken), [0])
    try:
        task = next(iter(tasks_))
        trace = rollout(vf, task, "GOOD")
        with pytest.raises(vf.TaskError, match="engine failure: RuntimeError: engine down"):
            asyncio.run(task.score(trace))
    finally:
        tasks_.rewards().close()
    assert trace.rewards == {"seal_reward": None}  # verifiers' "scoring did not run", never a 0
    assert trace.info["seal_reward"]["reason"] == "engine failure: RuntimeError: engine down"


def test_load_environment_goes_through_the_verifiers_loader(vf):
    from seal_gym.agents.verifiers_env import SealSquadTaskset, load_environment

    env = load_environment(model="tiny-random", passages=[2, 4], seed=1)
    try:
        assert isinstance(env, vf.Env) and isinstance(env.taskset, SealSquadTaskset)
        tasks = list(env.taskset)
        assert [t.data.passage_index for t in tasks] == [2, 4] and tasks[0].data.inner_seed != tasks[1].data.inner_seed
        assert PASSAGES[2].context in tasks[0].data.prompt_text
    finally:
        env.taskset.rewards().close()
