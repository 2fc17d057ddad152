"""The Ray engine on the session's Ray cluster (``ray_cluster`` in conftest.py, 3 CPUs): the same outcomes as
the local batched engine, in request order, after policy updates and merges, and when an actor is killed in
the middle of a call or hangs."""

from __future__ import annotations

import time

import pytest
import torch

from seal_gym.adapt import (
    AdaptRequest,
    BatchedEngine,
    LoraSpec,
    PolicyAdapter,
    Query,
    TrainSequence,
    TrainSpec,
    make_engine,
)
from seal_gym.models import load_model
from tests.conftest import weights_checksum

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'seal-gym[ray]'")
from seal_gym.adapt.ray_engine import RayEngine  # noqa: E402  (needs ray)
from seal_gym.adapt.ray_scheduling import balanced_shards  # noqa: E402  (needs ray)

LOSS_ATOL = 1e-5
# Two actors of half a CPU each: two engines fit at once in the 3-CPU cluster, and a killed actor's
# replacement can start while the survivor works.
WORKER = dict(num_workers=2, num_cpus_per_worker=0.5)
HUNG_AFTER_S = 6.0
"""The hung-actor test's call timeout: well above a warm actor's share of its call (under a second alone, a
few seconds on a loaded 2-core machine), far below the minutes a hung actor would take."""


@pytest.fixture(scope="module")
def local_ray(ray_cluster):
    ray.init(address=ray_cluster, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()  # disconnects this process; the cluster stays for the other Ray tests


@pytest.fixture(scope="module")
def engine(local_ray, tiny_bundle):
    engine = make_engine(tiny_bundle.model, tiny_bundle.tokenizer, "ray", **WORKER)
    yield engine
    engine.close()


def requests(count: int, epochs: int = 2) -> list[AdaptRequest]:
    """Requests of different sizes, so that the longest-first split sends them to actors out of order."""
    return [
        AdaptRequest(
            tuple(TrainSequence(f"Town {i}: fact {j} is {'big ' * j}news.", " yes" * (j % 2)) for j in range(1 + i % 3)),
            tuple(Query(f"Town {i}, question {q}?", 5 + q) for q in range(2)),
            TrainSpec(epochs=epochs, seed=i, learning_rate=1e-2),
            LoraSpec(rank=4, alpha=8),
        )
        for i in range(count)
    ]


def assert_same(got, expected) -> None:
    assert len(got) == len(expected)
    for out, ref in zip(got, expected):
        assert out.answers == ref.answers
        assert out.num_train_tokens == ref.num_train_tokens
        assert out.losses == pytest.approx(ref.losses, abs=LOSS_ATOL)


def test_outcomes_equal_the_local_batched_engine_in_request_order(engine, tiny_bundle):
    before = weights_checksum(tiny_bundle.model)
    batch = requests(5)
    local = BatchedEngine(tiny_bundle.model, tiny_bundle.tokenizer)
    assert isinstance(engine, RayEngine) and engine.devices == ["cpu", "cpu"]
    assert_same(engine.adapt(batch), local.adapt(batch))
    queries = [q for r in batch for q in r.queries]
    assert engine.answer(queries) == local.answer(queries)
    assert engine.adapt([]) == [] and engine.answer([]) == []
    assert weights_checksum(tiny_bundle.model) == before


def test_killed_actor_mid_call_is_retried_and_replaced(engine, tiny_bundle, monkeypatch):
    batch = requests(4, epochs=3)
    expected = BatchedEngine(tiny_bundle.model, tiny_bundle.tokenizer).adapt(batch)
    victim, restarts = engine.workers[0], engine.restarts
    wait = ray.wait

    def kill_then_wait(refs, **kwargs):
        # Runs after every shard was submitted and before any result is read: the actor dies mid-call.
        if victim in engine.workers:
            ray.kill(victim)
        return wait(refs, **kwargs)

    monkeypatch.setattr(ray, "wait", kill_then_wait)
    got = engine.adapt(batch)
    monkeypatch.setattr(ray, "wait", wait)
    assert engine.restarts == restarts + 1 and victim not in engine.workers and len(engine.workers) == 2
    assert_same(got, expected)
    assert_same(engine.adapt(batch), expected)  # the replacement works too


def test_hung_actor_is_killed_after_call_timeout_and_its_requests_retried(engine, tiny_bundle, monkeypatch):
    batch = requests(4)
    expected = BatchedEngine(tiny_bundle.model, tiny_bundle.tokenizer).adapt(batch)
    assert_same(engine.adapt(batch), expected)  # both actors warm: the timed call below measures no start-up
    monkeypatch.setattr(engine, "call_timeout_s", HUNG_AFTER_S)
    hung, restarts = engine.workers[0], engine.restarts
    hung.__ray_call__.remote(lambda worker: time.sleep(600))  # an actor runs one task at a time: it hangs
    start = time.monotonic()
    got = engine.adapt(batch)
    assert time.monotonic() - start < 10 * HUNG_AFTER_S, "the call waited for the hung actor"
    assert engine.restarts == restarts + 1 and hung not in engine.workers
    assert_same(got, expected)
    monkeypatch.setattr(engine, "call_timeout_s", None)  # the replacement's first share includes its start-up
    assert_same(engine.adapt(batch), expected)  # the replacement works too
    with pytest.raises(ValueError, match="call_timeout_s"):
        RayEngine(tiny_bundle.model, tiny_bundle.tokenizer, call_timeout_s=0)


def test_ray_step_equals_local_step_after_policy_update_merge_and_removal(local_ray):
    bundle = load_model("tiny-random", device="cpu")  # fresh: the policy adapter changes this model in place
    policy = PolicyAdapter(bundle.model, LoraSpec(rank=4, alpha=8), seed=1)
    local = BatchedEngine(bundle.model, bundle.tokenizer)
    batch = requests(3)
    with RayEngine(bundle.model, bundle.tokenizer, **WORKER) as remote:
        before = remote.adapt(batch)
        assert_same(before, local.adapt(batch))
        generator = torch.Generator().manual_seed(0)
        with torch.no_grad():  # an optimizer step that never calls policy.updated(): the version's safety net sees it
            for p in policy.parameters():
                p.add_(torch.randn(p.shape, generator=generator) * 0.5)
        policy.merge()  # base weights of every adapted layer change; the adapter restarts
        with torch.no_grad():
            for p in policy.parameters():
                p.add_(torch.randn(p.shape, generator=generator) * 0.5)
        after = local.adapt(batch)
        assert [o.losses for o in after] != [o.losses for o in before], "the update must change the outcome"
        assert_same(remote.adapt(batch), after)
        policy.remove()  # parameters go: every replica is rebuilt without the policy adapter
        plain = local.adapt(batch)
        assert_same(remote.adapt(batch), plain)
        bundle.model.generation_config.repetition_penalty = 3.0  # answers follow the local generation config
        penalised = local.adapt(batch)
        assert [o.answers for o in penalised] != [o.answers for o in plain]
        assert_same(remote.adapt(batch), penalised)


def test_bad_arguments_and_missing_ray(tiny_bundle, monkeypatch):
    with pytest.raises(ValueError, match="num_workers"):
        RayEngine(tiny_bundle.model, tiny_bundle.tokenizer, num_workers=0)
    monkeypatch.setitem(__import__("sys").modules, "ray", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'seal-gym\[ray\]'"):
        make_engine(tiny_bundle.model, tiny_bundle.tokenizer, "ray")


def test_balanced_shards_cover_every_index_once():
    shards = balanced_shards([3, 9, 1, 1, 4, 7, 2], 3)
    assert sorted(i for s in shards for i in s) == list(range(7))
    assert balanced_shards([1.0], 3) == [[0], [], []]
