"""The asynchronous reward service (issue 34): concurrent requests become few engine calls of at most
``max_batch``, each request gets its own answer (or its own reason), and the service's promises (cache,
back-pressure, timeouts, weights versions, clean shutdown) hold, on a scripted engine whose rewards are known."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from seal_gym.envs.squad import SealSquadEnv
from seal_gym.serve import RewardService, ServiceConfig, ServiceThread
from seal_gym.testing import ScriptedEngine
from tests.test_domains import PASSAGES, squad_engine


class Gate(ScriptedEngine):
    """squad_engine's answers, behind a gate the test opens, counting calls; ``fail`` raises in adapt."""

    def __init__(self, fail: bool = False, delay: float = 0.0) -> None:
        inner = squad_engine()
        super().__init__(inner.after_training, inner.before_training)
        self.open, self.fail, self.delay = threading.Event(), fail, delay
        self.open.set()

    def adapt(self, requests):
        self.open.wait(30)
        time.sleep(self.delay)
        if self.fail:
            raise RuntimeError("CUDA out of memory (scripted)")
        return super().adapt(requests)


def service(tiny_bundle, engine, **config) -> RewardService:
    domain = SealSquadEnv(model=tiny_bundle, engine=engine).domain
    return RewardService(domain, ServiceConfig(**config), name="SealSquad-v0")


def run(coroutine):
    return asyncio.run(coroutine)


def test_concurrent_requests_become_batches_of_at_most_k_with_their_own_rewards(tiny_bundle):
    engine = Gate()

    async def main():
        async with service(tiny_bundle, engine, max_batch=4, max_wait_ms=200) as rewards:
            texts = ["GOOD: all the facts." if i % 2 == 0 else "nothing useful" for i in range(10)]
            return await asyncio.gather(*(rewards.score({"passage_index": i % 3}, t, seed=i) for i, t in enumerate(texts))), \
                rewards.metrics()

    results, metrics = run(main())
    assert [r.reward for r in results] == [1.0 if i % 2 == 0 else 0.0 for i in range(10)]
    assert all(r.ok and r.reason is None for r in results)
    sizes = [len(call) for call in engine.calls]
    assert sum(sizes) == 10 and max(sizes) <= 4 and len(sizes) <= 4  # gathered, not one call per request
    assert metrics["requests"]["requests"] == 10 and metrics["requests"]["ok"] == 10 and metrics["max_batch_size"] <= 4


def test_a_repeat_is_answered_from_the_cache_and_a_concurrent_twin_shares_the_call(tiny_bundle):
    engine = Gate()

    async def main():
        async with service(tiny_bundle, engine, max_wait_ms=100) as rewards:
            twins = await asyncio.gather(*(rewards.score({"passage_index": 1}, "GOOD facts", seed=5) for _ in range(3)))
            again = await rewards.score({"passage_index": 1}, "GOOD facts", seed=5)
            other_seed = await rewards.score({"passage_index": 1}, "GOOD facts", seed=6)
            return twins, again, other_seed

    twins, again, other_seed = run(main())
    assert [t.reward for t in twins] == [1.0] * 3 and again.cached and not other_seed.cached
    assert sum(len(call) for call in engine.calls) == 2  # the three twins trained once; the repeat not at all


def test_an_engine_failure_is_each_requests_reason_not_a_zero(tiny_bundle):
    async def main():
        async with service(tiny_bundle, Gate(fail=True), max_batch=8) as rewards:
            return await asyncio.gather(*(rewards.score({"passage_index": 0}, f"GOOD {i}", seed=i) for i in range(3)))

    for result in run(main()):
        assert not result.ok and result.reward is None
        assert result.reason == "engine failure: RuntimeError: CUDA out of memory (scripted)"


@pytest.mark.parametrize("task,self_edit,reason", [
    ({"passage_index": 999}, "GOOD", "bad task: ValueError: passage_index must be in [0, 20), got 999"),
    ({}, 7, "bad self-edit: a self-edit is text, got int"),
])
def test_bad_requests_are_answered_at_once(tiny_bundle, task, self_edit, reason):
    engine = Gate()

    async def main():
        async with service(tiny_bundle, engine) as rewards:
            return await rewards.score(task, self_edit)

    result = run(main())
    assert not result.ok and result.reason == reason and engine.calls == []


def test_an_empty_self_edit_has_a_valid_reward_with_a_note(tiny_bundle):
    async def main():
        async with service(tiny_bundle, Gate()) as rewards:
            return await rewards.score({"passage_index": 0}, "   ")

    result = run(main())
    assert result.ok and result.reward == 0.0 and "empty self-edit" in result.info["error"]


def test_timeouts_back_pressure_and_shutdown(tiny_bundle):
    engine = Gate()
    engine.open.clear()  # the engine holds its first batch until the gate opens

    async def main():
        rewards = await service(tiny_bundle, engine, max_batch=1, max_queue=2, max_wait_ms=0).start()
        first = asyncio.create_task(rewards.score({"passage_index": 0}, "GOOD 0", timeout=None))
        await asyncio.sleep(0.2)  # the worker took it: the engine is busy
        queued = [asyncio.create_task(rewards.score({"passage_index": 0}, f"GOOD {i}", timeout=None)) for i in (1, 2)]
        await asyncio.sleep(0.05)
        overloaded = await rewards.score({"passage_index": 0}, "GOOD 3")
        late = await rewards.score({"passage_index": 0}, "GOOD 1", timeout=0.05)  # shares queued[0], which waits
        engine.open.set()
        closing = asyncio.create_task(rewards.close(drain=True))
        answers = await asyncio.gather(first, *queued)
        await closing
        after = await rewards.score({"passage_index": 0}, "GOOD 4")
        return overloaded, late, answers, after

    overloaded, late, answers, after = run(main())
    assert overloaded.reason.startswith("overloaded: 2 requests are queued")
    assert late.reason.startswith("timeout: no reward within 0.05 s")
    assert [a.reward for a in answers] == [1.0, 1.0, 1.0]  # every accepted request answered, once
    assert after.reason.startswith("shutting down")


def test_weights_versions_never_mix_in_a_batch(tiny_bundle):
    engine = Gate()
    engine.open.clear()
    changed = []

    async def main():
        async with service(tiny_bundle, engine, max_batch=1, max_wait_ms=0) as rewards:
            scoring = asyncio.create_task(rewards.score({"passage_index": 0}, "GOOD", weights_version="0"))
            await asyncio.sleep(0.2)  # in the engine, under version 0
            queued = asyncio.create_task(rewards.score({"passage_index": 1}, "GOOD", weights_version="0"))
            await asyncio.sleep(0.05)
            change = asyncio.create_task(rewards.update_weights("1", lambda: changed.append(len(engine.calls))))
            await asyncio.sleep(0.05)
            assert not change.done()  # it waits for the batch in the engine
            engine.open.set()
            await change
            stale = await rewards.score({"passage_index": 0}, "GOOD", weights_version="0")
            new = await rewards.score({"passage_index": 0}, "GOOD", weights_version="1")
            return await scoring, await queued, stale, new

    scoring, queued, stale, new = run(main())
    assert scoring.ok and scoring.weights_version == "0"  # scored before the weights changed
    assert changed == [1]  # the change ran after that engine call, before the next
    assert queued.reason.startswith("stale weights: the weights changed to 1 before this request (for 0)")
    assert stale.reason == "stale weights: the service holds version 1, the request asked for 0"
    assert new.ok and new.weights_version == "1" and not new.cached  # the cache is per version


def test_threads_share_one_service(tiny_bundle):
    engine = Gate()
    with ServiceThread(service(tiny_bundle, engine, max_batch=8, max_wait_ms=300)) as rewards:
        results = [None] * 6

        def ask(i):
            results[i] = rewards.score({"passage_index": i}, "GOOD", seed=i)

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert [r.reward for r in results] == [1.0] * 6 and len(engine.calls) <= 2


def test_prompt_is_the_envs_observation(tiny_bundle):
    rewards = service(tiny_bundle, Gate())
    prompt, info = rewards.prompt({"passage_index": 2})
    assert PASSAGES[2].context in prompt and info["passage_index"] == 2
