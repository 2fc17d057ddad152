"""The Ray engine: the batched engine on N Ray actors, each holding its own model replica, behind the same
:class:`~seal_gym.adapt.types.InnerLoopEngine` interface, so envs and agents do not change.

- Replicas (:mod:`~seal_gym.adapt.ray_worker`) are built from the local model's config and weights, shipped
  once through Ray's object store.
- Self mode: before every call, if :func:`~seal_gym.adapt.versions.weights_version` changed since the last
  sync, exactly the parameters its bumps named are pushed (with the generation config, if it changed): the
  policy adapter after an optimizer step; the merged layers' base weights after ``merge()``; every parameter
  when a bump did not say which. If parameters came or went (a policy adapter installed or removed), every
  replica is rebuilt.
- A call splits its requests over the actors and gathers outcomes in request order
  (:mod:`~seal_gym.adapt.ray_scheduling`); an actor that dies mid-call (or, with ``call_timeout_s``, hangs)
  has its requests retried on the others and is replaced by a fresh actor built from the current weights.

Ray is imported when an engine is made (``pip install 'seal-gym[ray]'``).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch

from seal_gym.adapt.progress import ProgressCallback, report
from seal_gym.adapt.ray_cluster import import_ray, start_ray
from seal_gym.adapt.ray_scheduling import dead_actor_errors, request_cost, scatter_gather
from seal_gym.adapt.ray_worker import RayWorker, model_payload
from seal_gym.adapt.types import AdaptOutcome, AdaptRequest, Query
from seal_gym.adapt.versions import changes_since, weights_version


class RayEngine:
    """The batched engine spread over ``num_workers`` Ray actors (see the module docstring).

    Args:
        model: the local model (read, never changed); its current weights are what the actors compute with.
        tokenizer: its tokenizer.
        num_workers: actors, each with its own replica.
        address: used only when Ray is not initialised yet. ``None``, as Ray's own default, joins a Ray
            already running for this machine (started with ``ray start``, or named by ``RAY_ADDRESS``) and
            otherwise starts a local one with at least ``num_workers * num_cpus_per_worker`` logical CPUs;
            ``"local"`` always starts that local one; ``"auto"`` must join a running cluster; or a
            ``ray://`` or ``HOST:PORT`` address. Call ``ray.init`` yourself for other options; the
            engine then uses that Ray as it is.
        num_cpus_per_worker: CPUs each actor reserves (also its torch thread count, at least 1).
        num_gpus_per_worker: GPUs each actor reserves; ``None``: 1 when the cluster has GPUs, else 0.
        max_attempts: tries per request across actor deaths before the call fails.
        call_timeout_s: seconds an actor may spend on its share of a call (or on a weight sync) before it
            counts as hung: it is killed and replaced, and its requests are retried on the others. ``None``
            (default) waits as long as it takes. Set it well above a share's normal time: a slow actor
            cannot be told from a hung one.
        startup_timeout_s: how long to wait for the actors to come up before failing with the cluster's resources.
        progress: called with (requests done, requests in the call) when a call starts and when it ends (the
            actors' own engines report in their processes, where no one listens).
        engine_kwargs: passed to every actor's :class:`BatchedEngine` (e.g. ``max_adapters``).

    Raises:
        ModuleNotFoundError: Ray is not installed. ValueError: bad sizes. TimeoutError: actors did not start.
    """

    def __init__(self, model: torch.nn.Module, tokenizer, num_workers: int = 2, address: str | None = None,
                 num_cpus_per_worker: float = 1, num_gpus_per_worker: float | None = None, max_attempts: int = 3,
                 call_timeout_s: float | None = None, startup_timeout_s: float = 300.0,
                 progress: ProgressCallback | None = None, **engine_kwargs: Any) -> None:
        bad_timeout = call_timeout_s is not None and call_timeout_s <= 0
        if num_workers < 1 or max_attempts < 1 or num_cpus_per_worker < 0 or bad_timeout:
            raise ValueError(f"need num_workers >= 1, max_attempts >= 1, num_cpus_per_worker >= 0 and "
                             f"call_timeout_s > 0 or None, got {num_workers}, {max_attempts}, {num_cpus_per_worker}, "
                             f"{call_timeout_s}")
        ray = self._ray = import_ray()
        self.started_ray = not ray.is_initialized()
        if self.started_ray:
            start_ray(ray, address, math.ceil(num_workers * num_cpus_per_worker))
        if num_gpus_per_worker is None:
            num_gpus_per_worker = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        self.model, self.tokenizer = model, tokenizer
        self.max_attempts, self.startup_timeout_s = max_attempts, startup_timeout_s
        self.call_timeout_s, self.progress = call_timeout_s, progress
        self._actor_class = ray.remote(RayWorker).options(num_cpus=num_cpus_per_worker, num_gpus=num_gpus_per_worker)
        self._worker_args = (max(1, int(num_cpus_per_worker)), dict(engine_kwargs))
        self.restarts = 0
        """Actors replaced after dying, over this engine's life."""
        self._names: set[str] = set()  # the parameters the replicas hold
        self._synced, self._generation = weights_version(model), ""
        self._payload_ref, self._payload_key = None, None
        payload = self._payload()
        self.workers = [self._start_worker(payload) for _ in range(num_workers)]
        self.devices = self._get([w.device_name.remote() for w in self.workers], "start")
        """The device of every actor ("cpu" or the GPU's name)."""

    # -- the InnerLoopEngine interface ------------------------------------------------------------------

    def adapt(self, requests: Sequence[AdaptRequest]) -> list[AdaptOutcome]:
        requests = list(requests)
        report(self.progress, 0, len(requests))
        outcomes = self._map("adapt", requests, [request_cost(r) for r in requests])
        report(self.progress, len(requests), len(requests))
        return outcomes

    def answer(self, queries: Sequence[Query]) -> list[str]:
        queries = list(queries)
        return self._map("answer", queries, [len(q.prompt) + q.max_new_tokens for q in queries])

    def close(self) -> None:
        """Stop the actors (and the local Ray, if this engine started it)."""
        if self._ray.is_initialized():
            for worker in self.workers:
                self._ray.kill(worker)
            if self.started_ray:
                self._ray.shutdown()
        self.workers = []

    def __enter__(self) -> "RayEngine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------------------------

    def _payload(self):
        """The current model in the object store (made again only after a change); records what it holds."""
        self._names = {n for n, _ in self.model.named_parameters()}
        self._synced, self._generation = weights_version(self.model), self._generation_json()
        if self._payload_key != (self._synced, self._generation):
            self._payload_ref = self._ray.put(model_payload(self.model, self.tokenizer))
            self._payload_key = (self._synced, self._generation)
        return self._payload_ref

    def _start_worker(self, payload_ref):
        return self._actor_class.remote(payload_ref, *self._worker_args)

    def _get(self, refs: list, what: str) -> list:
        ray = self._ray
        try:
            return ray.get(refs, timeout=self.startup_timeout_s)
        except ray.exceptions.GetTimeoutError as err:
            raise TimeoutError(f"Ray actors did not {what} within {self.startup_timeout_s:.0f} s; cluster resources "
                               f"{ray.cluster_resources()}, available {ray.available_resources()}") from err

    def _generation_json(self) -> str:
        config = getattr(self.model, "generation_config", None)
        return "" if config is None else config.to_json_string()

    def _sync(self) -> None:
        """Bring every replica to the local weights and generation config, if they changed since the last sync."""
        generation = self._generation_json()
        if weights_version(self.model) == self._synced and generation == self._generation:
            return
        params = dict(self.model.named_parameters())
        if params.keys() != self._names:  # parameters came or went: rebuild every replica
            payload = self._payload()
            calls = [w.rebuild.remote(payload) for w in self.workers]
        else:
            names = changes_since(self.model, self._synced)
            changed = {n: p.detach().to("cpu", copy=True) for n, p in params.items() if names is None or n in names}
            new_generation = None if generation == self._generation else self.model.generation_config
            self._synced, self._generation = weights_version(self.model), generation
            if not changed and new_generation is None:  # e.g. a policy's disabled() came and went
                return
            update = self._ray.put(changed)
            calls = [w.update.remote(update, new_generation) for w in self.workers]
        for index, call in enumerate(calls):
            try:
                self._ray.get(call, timeout=self.call_timeout_s)
            except (*dead_actor_errors(self._ray), self._ray.exceptions.GetTimeoutError):
                self._replace(index)  # the replacement is built from the current weights

    def _replace(self, index: int) -> None:
        self._ray.kill(self.workers[index])  # in case it is only unreachable
        self.workers[index] = self._start_worker(self._payload())
        self.restarts += 1

    def _map(self, method: str, items: list, costs: list[float]) -> list:
        self._sync()
        return scatter_gather(self._ray, self.workers, method, items, costs, self._replace, self.max_attempts,
                              self.call_timeout_s)
