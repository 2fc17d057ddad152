"""An asynchronous reward service: many concurrent requests in, few large inner-loop engine calls out.

SEAL's reward trains an adapter, so it costs seconds to minutes, and an engine that trains many adapters in
one call (the batched engine) is what makes it affordable. Trainers, however, ask for rewards one rollout at a
time, from many coroutines or threads. :class:`RewardService` sits between them:

- ``await service.score(task, self_edit, seed=...)`` queues a request and returns its own
  :class:`RewardResult`: whether it is valid (``ok``, or the ``reason``: timeout, engine failure, bad
  self-edit, bad task, overloaded, stale weights, shutting down) separately from its ``reward``;
- one worker gathers queued requests into a batch (at most ``max_batch``, waiting at most ``max_wait_ms``
  for it to fill) and scores it through the domain's ONE engine call, in a thread of its own, so the event
  loop never blocks on training;
- a request identical to one answered (same task, self-edit text, inner seed and weights version) is
  answered from a bounded cache, and one identical to a request in flight shares its answer;
- the queue is bounded: beyond ``max_queue`` a request is refused at once (``overloaded``), never parked;
- ``close()`` answers every accepted request (scored, or refused with ``shutting down``) before it returns;
- the weights have a version: a request names the version it was generated for, a batch holds one version
  only, and :meth:`RewardService.update_weights` changes the weights between batches, never during one.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import hashlib
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from seal_gym.caching import BoundedCache
from seal_gym.domain import Domain


@dataclass(frozen=True)
class ServiceConfig:
    """How requests become engine calls."""

    max_batch: int = 8
    """At most this many self-edits (adapters) in one engine call."""
    max_wait_ms: float = 50.0
    """How long a batch waits for more requests after its first one."""
    max_queue: int = 1024
    """Requests waiting beyond this are refused at once (``overloaded``)."""
    timeout_s: float | None = 3600.0
    """A request's default time limit, queueing included (``None``: none)."""
    cache_size: int = 4096
    """Answered requests kept for repeats (least recently used dropped first; 0: no cache)."""

    def __post_init__(self) -> None:
        if self.max_batch < 1 or self.max_queue < 1 or self.cache_size < 0:
            raise ValueError("max_batch and max_queue must be >= 1 and cache_size >= 0")
        if not self.max_wait_ms >= 0 or (self.timeout_s is not None and not self.timeout_s > 0):
            raise ValueError("max_wait_ms must be >= 0 and timeout_s > 0 (or None)")


@dataclass
class RewardResult:
    """One request's answer."""

    ok: bool
    """Whether ``reward`` is the inner loop's verdict on the self-edit (False: see ``reason``)."""
    reward: float | None
    reason: str | None = None
    """Why there is no reward: starts with ``timeout``, ``engine failure``, ``bad self-edit``, ``bad task``,
    ``overloaded``, ``stale weights`` or ``shutting down``."""
    info: dict[str, Any] = field(default_factory=dict)
    """The env step's ``info`` (notes such as an empty self-edit's are here, with a valid reward)."""
    cached: bool = False
    weights_version: str = ""
    seconds: float = 0.0
    """From the request to its answer."""

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class _Request:
    task: Any
    key: tuple
    text: str
    seed: int
    version: str
    future: asyncio.Future


class RewardService:
    """See the module docstring. Make it inside a running event loop, or with :meth:`from_env`; call
    :meth:`start` before the first :meth:`score` (``async with`` does both ends)."""

    def __init__(self, domain: Domain, config: ServiceConfig | None = None, weights_version: str = "0",
                 name: str = "") -> None:
        self.domain, self.config, self.name = domain, config or ServiceConfig(), name or type(domain).__name__
        self.weights_version = str(weights_version)
        self._queue: asyncio.Queue | None = None
        self._worker: asyncio.Task | None = None
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="seal-reward")
        self._weights = asyncio.Lock()
        self._cache = BoundedCache(self.config.cache_size)
        self._in_flight: dict[tuple, asyncio.Future] = {}
        self._closing = False
        self.counts: Counter = Counter()
        self.batch_sizes: list[int] = []
        self.batch_seconds: list[float] = []

    @classmethod
    def from_env(cls, env_id: str, config: ServiceConfig | None = None, **env_kwargs: Any) -> "RewardService":
        """A service over the domain of a registered seal_gym env (``gym.make(env_id, **env_kwargs)``)."""
        import gymnasium as gym

        import seal_gym  # noqa: F401  (registers the envs)

        env = gym.make(env_id, **env_kwargs).unwrapped
        if not hasattr(env, "domain"):
            raise ValueError(f"{env_id} is not a seal_gym env over a domain: it has no reward to serve")
        return cls(env.domain, config, name=env_id)

    # --- lifecycle ---------------------------------------------------------------------------------------
    async def start(self) -> "RewardService":
        if self._worker is None:
            self._queue = asyncio.Queue(self.config.max_queue)
            self._worker = asyncio.create_task(self._run(), name=f"{self.name} reward batches")
        return self

    async def close(self, drain: bool = True) -> None:
        """Stop accepting; score what is queued (``drain``) or refuse it, then stop the worker."""
        self._closing = True
        if self._worker is None:
            return
        if not drain:
            while not self._queue.empty():
                self._answer(self._queue.get_nowait(), _failed("shutting down: the service was closed", self))
        await self._queue.put(None)  # the worker stops when it reaches it
        await self._worker
        self._worker = None
        self._executor.shutdown(wait=True)

    async def __aenter__(self) -> "RewardService":
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def update_weights(self, version: str, change: Callable[[], None] | None = None) -> None:
        """Run ``change`` (in the engine's thread: e.g. load a new policy adapter into the shared model) between
        two batches, then serve ``version``. Requests queued for the old version are answered ``stale``."""
        async with self._weights:
            if change is not None:
                await asyncio.get_running_loop().run_in_executor(self._executor, change)
            self.weights_version = str(version)

    # --- requests ----------------------------------------------------------------------------------------
    def prompt(self, task: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The observation (the self-edit prompt) and ``reset`` info of a task given as reset options."""
        resolved = self.domain.draw(np.random.default_rng(0), dict(task))
        return self.domain.observation(resolved), self.domain.reset_info(resolved)

    async def score(self, task: dict[str, Any], self_edit: Any, seed: int = 0, weights_version: str | None = None,
                    timeout: float | None = -1.0) -> RewardResult:
        """The reward of ``self_edit`` on ``task`` (the env's reset options that pin it, e.g.
        ``{"passage_index": 3}``) with inner-loop seed ``seed``; see :class:`RewardResult`. ``timeout``:
        seconds (default: the config's; ``None``: none). Never raises for a bad request: it answers it."""
        started = time.perf_counter()
        version = self.weights_version if weights_version is None else str(weights_version)
        result = await self._score(task, self_edit, seed, version, self.config.timeout_s if timeout == -1.0 else timeout)
        result.seconds = time.perf_counter() - started
        self.counts["requests"] += 1
        self.counts["ok" if result.ok else (result.reason or "failed").split(":", 1)[0]] += 1
        return result

    async def _score(self, task, self_edit, seed, version, timeout) -> RewardResult:
        if self._worker is None or self._closing:
            return _failed("shutting down: the service is not running", self)
        if not isinstance(self_edit, str):
            return _failed(f"bad self-edit: a self-edit is text, got {type(self_edit).__name__}", self)
        if version != self.weights_version:
            return _failed(f"stale weights: the service holds version {self.weights_version}, the request asked for "
                           f"{version}", self)
        try:
            resolved = self.domain.draw(np.random.default_rng(0), dict(task or {}))
            task_key = self.domain.reset_info(resolved)["task_key"]
        except (KeyError, ValueError, TypeError, IndexError) as err:
            return _failed(f"bad task: {type(err).__name__}: {err}", self)
        key = (task_key, hashlib.sha256(self_edit.encode("utf-8", "surrogatepass")).hexdigest(), int(seed), version)
        hit = self._cache.get(key)
        if hit is not None:
            self.counts["cache_hits"] += 1
            return dataclasses.replace(hit, cached=True, info=dict(hit.info))
        future = self._in_flight.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            try:
                self._queue.put_nowait(_Request(resolved, key, self_edit, int(seed), version, future))
            except asyncio.QueueFull:
                return _failed(f"overloaded: {self.config.max_queue} requests are queued; retry later", self)
            self._in_flight[key] = future
        try:
            result = await asyncio.wait_for(asyncio.shield(future), timeout)
        except asyncio.TimeoutError:
            return _failed(f"timeout: no reward within {timeout} s (it is still computed and cached)", self)
        return dataclasses.replace(result, info=dict(result.info))

    # --- the worker --------------------------------------------------------------------------------------
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            batch = [first]
            deadline = loop.time() + self.config.max_wait_ms / 1000
            while len(batch) < self.config.max_batch:
                try:
                    item = self._queue.get_nowait() if self._closing else \
                        await asyncio.wait_for(self._queue.get(), max(0.0, deadline - loop.time()))
                except (asyncio.TimeoutError, asyncio.QueueEmpty):
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            async with self._weights:
                stale = [r for r in batch if r.version != self.weights_version]
                for request in stale:
                    self._answer(request, _failed(f"stale weights: the weights changed to {self.weights_version} "
                                                  f"before this request (for {request.version}) was scored", self))
                live = [r for r in batch if r.version == self.weights_version]
                if live:
                    started = time.perf_counter()
                    results = await loop.run_in_executor(self._executor, self._score_batch, live)
                    self.batch_sizes.append(len(live))
                    self.batch_seconds.append(time.perf_counter() - started)
                    for request, result in zip(live, results):
                        self._answer(request, result)

    def _score_batch(self, batch: list[_Request]) -> list[RewardResult]:
        """ONE domain call for the whole batch (in the engine's thread)."""
        try:
            scored = self.domain.score([(r.task, r.text, r.seed) for r in batch])
        except Exception as err:  # noqa: BLE001 - every request of the batch gets the reason, the service goes on
            return [_failed(f"engine failure: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}",
                            self) for _ in batch]
        return [RewardResult(True, float(s.reward), None, json_ready(s.info), weights_version=r.version)
                if np.isfinite(s.reward) else _failed(f"engine failure: a non-finite reward {s.reward}", self)
                for r, s in zip(batch, scored)]

    def _answer(self, request: _Request, result: RewardResult) -> None:
        self._in_flight.pop(request.key, None)
        if result.ok:
            self._cache[request.key] = result
        if not request.future.done():
            request.future.set_result(result)

    # --- what it has done --------------------------------------------------------------------------------
    def metrics(self) -> dict[str, Any]:
        """Queue depth, requests by outcome, cache hits, batch sizes and seconds per reward so far."""
        rewards = sum(self.batch_sizes)
        return {"env": self.name, "weights_version": self.weights_version,
                "queue_depth": self._queue.qsize() if self._queue is not None else 0,
                "in_flight": len(self._in_flight), "requests": dict(self.counts), "batches": len(self.batch_sizes),
                "mean_batch_size": rewards / len(self.batch_sizes) if self.batch_sizes else None,
                "max_batch_size": max(self.batch_sizes, default=None),
                "seconds_per_reward": sum(self.batch_seconds) / rewards if rewards else None,
                "cache_entries": len(self._cache)}


def _failed(reason: str, service: RewardService) -> RewardResult:
    return RewardResult(False, None, reason, weights_version=service.weights_version)


def json_ready(info: dict[str, Any]) -> dict[str, Any]:
    """Step info as JSON-ready data (numbers, strings, lists, dicts)."""
    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, np.generic):
            return value.item()
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        return str(value)
    return plain(info)
