"""How a :class:`~seal_gym.adapt.ray_engine.RayEngine` call is spread over its actors: shards of similar cost,
gathered back in order, and the shards of an actor that dies (or hangs) retried on the others."""

from __future__ import annotations

import heapq
import math
import time
from typing import Callable, Sequence

from seal_gym.adapt.types import AdaptRequest


def balanced_shards(costs: Sequence[float], num_shards: int) -> list[list[int]]:
    """Indices split into ``num_shards`` lists of similar total cost (largest first, each to the least loaded
    shard); each list in increasing order.

    >>> balanced_shards([5, 1, 4, 2, 3], 2)
    [[0, 1, 3], [2, 4]]
    """
    loads = [(0.0, shard) for shard in range(num_shards)]
    shards: list[list[int]] = [[] for _ in range(num_shards)]
    for i in sorted(range(len(costs)), key=lambda i: -costs[i]):
        load, shard = heapq.heappop(loads)
        shards[shard].append(i)
        heapq.heappush(loads, (load + costs[i], shard))
    return [sorted(s) for s in shards]


def request_cost(request: AdaptRequest) -> float:
    """Rough work of a request: characters trained over all epochs plus tokens generated."""
    trained = sum(len(s.prompt) + len(s.completion) for s in request.sequences) * request.train.epochs
    return trained + sum(q.max_new_tokens for q in request.queries)


def dead_actor_errors(ray) -> tuple[type[BaseException], ...]:
    """The exceptions by which Ray says an actor is gone."""
    errors = ray.exceptions
    return errors.RayActorError, errors.WorkerCrashedError, errors.ObjectLostError


def scatter_gather(ray, workers: list, method: str, items: list, costs: list[float],
                   replace: Callable[[int], None], max_attempts: int, call_timeout_s: float | None) -> list:
    """``worker.<method>(shard)`` over balanced shards of ``items``; results in item order.

    Shards of an actor that died are split over the live actors (replacements too, if none is left) and tried
    again; an actor past ``call_timeout_s`` on a shard is killed, so that its shards die the same way.
    ``replace(index)`` puts a fresh actor at ``workers[index]`` (the list is read again after every death).

    Raises:
        RuntimeError: some item's shard died ``max_attempts`` times.
    """
    results: list = [None] * len(items)
    attempts = [0] * len(items)
    pending: dict = {}
    deadlines: dict = {}  # ref -> when its actor counts as hung

    def submit(indices: list[int], live: list[int]) -> None:
        for w, shard in zip(live, balanced_shards([costs[i] for i in indices], len(live))):
            shard = [indices[j] for j in shard]
            if shard:
                for i in shard:
                    attempts[i] += 1
                actor = workers[w]
                ref = getattr(actor, method).remote([items[i] for i in shard])
                pending[ref] = (w, actor, shard)
                deadlines[ref] = time.monotonic() + (call_timeout_s or math.inf)

    submit(list(range(len(items))), list(range(len(workers))))
    dead: set[int] = set()
    while pending:
        wait_s = min(deadlines[r] for r in pending) - time.monotonic()
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=None if wait_s == math.inf else max(0.0, wait_s))
        if not ready:  # hung actors: killed, their shards then fail as dead ones below
            for late in [r for r in pending if deadlines[r] <= time.monotonic()]:
                ray.kill(pending[late][1])
                deadlines[late] = math.inf
            continue
        (ref,) = ready
        worker, actor, shard = pending.pop(ref)
        try:
            out = ray.get(ref)
        except dead_actor_errors(ray) as err:
            dead.add(worker)
            if workers[worker] is actor:  # not replaced yet (it may have run several shards)
                replace(worker)
            if max(attempts[i] for i in shard) >= max_attempts:
                raise RuntimeError(f"Ray actors died {max_attempts} times running the same requests") from err
            submit(shard, [w for w in range(len(workers)) if w not in dead] or list(range(len(workers))))
            continue
        for i, value in zip(shard, out):
            results[i] = value
    return results
