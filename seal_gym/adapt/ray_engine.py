"""The Ray engine: the batched engine on N Ray actors, each holding its own model replica, behind the same
:class:`~seal_gym.adapt.types.InnerLoopEngine` interface, so envs and agents do not change.

- Replicas are built from the local model's own config and weights, shipped once through Ray's object
  store, so any model works (the embedded one, a Hugging Face one, ``tiny-random``), with no download on
  the workers. A :class:`~seal_gym.adapt.policy_adapter.PolicyAdapter` in the model is rebuilt there too.
- Self mode: before every call, if :func:`~seal_gym.adapt.policy_adapter.weights_version` changed since the
  last sync, exactly the parameters whose version counters moved are pushed (with the generation config,
  if it changed) (the policy adapter after an
  optimizer step; the merged layers' base weights after ``merge()``); if parameters came or went (a
  policy adapter installed or removed), every replica is rebuilt.
- A call splits its requests over the actors (longest work first, to the least loaded actor), then
  gathers outcomes in request order. An actor that dies mid-call (or, with ``call_timeout_s``, hangs) has
  its requests retried on the others and is replaced by a fresh actor built from the current weights.

Ray is imported when an engine is made (``pip install 'seal-gym[ray]'``).
"""

from __future__ import annotations

import copy
import heapq
import math
import os
import time
from dataclasses import dataclass
from typing import Any, Sequence

import torch

from seal_gym.adapt.batched import BatchedEngine
from seal_gym.adapt.policy_adapter import PolicyAdapter, weights_version
from seal_gym.adapt.types import AdaptOutcome, AdaptRequest, LoraSpec, Query

RAY_INSTALL_HINT = "pip install 'seal-gym[ray]'"


def import_ray():
    """The ``ray`` module, or an error that says how to install it."""
    try:
        import ray
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(f"engine='ray' needs Ray, which is not installed: {RAY_INSTALL_HINT}") from err
    return ray


@dataclass
class ModelPayload:
    """Everything a worker needs to rebuild the local model: shipped once through the object store."""

    config: Any
    """The Hugging Face config (``model.config``)."""
    tokenizer: Any
    """The tokenizer object."""
    state: dict[str, torch.Tensor]
    """Base weights under the names of the plain model (a policy adapter's wrappers taken out), on the CPU."""
    dtype: torch.dtype
    """The local model's dtype."""
    device_type: str
    """The local model's device type ("cpu", "cuda")."""
    policy: tuple[LoraSpec, int, dict[str, torch.Tensor]] | None
    """The policy adapter's spec, seed and state, if the model has one."""
    generation_config: Any = None
    """``model.generation_config`` (answers are generated with it), if the model has one."""


def model_payload(model: torch.nn.Module, tokenizer) -> ModelPayload:
    """A CPU copy of ``model`` that :func:`build_model` turns back into an equal model anywhere."""
    state = {key: value.detach().to("cpu", copy=True) for key, value in model.state_dict().items()}
    policy = PolicyAdapter.of(model)
    if policy is not None:
        for name in policy.layers:
            for kind in ("policy_a", "policy_b"):
                del state[f"{name}.{kind}"]
            for key in [k for k in state if k.startswith(f"{name}.base.")]:
                state[f"{name}.{key.removeprefix(f'{name}.base.')}"] = state.pop(key)
    first = next(model.parameters())
    return ModelPayload(model.config, tokenizer, state, first.dtype, first.device.type,
                        None if policy is None else (policy.lora, policy.seed, policy.state_dict()),
                        copy.deepcopy(getattr(model, "generation_config", None)))


def build_model(payload: ModelPayload, device: torch.device) -> torch.nn.Module:
    """The model described by ``payload`` on ``device``: the local dtype on the same kind of device, else the
    one ``load_model`` picks there (bfloat16 on CUDA, float32 on the CPU)."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_config(payload.config)
    model.load_state_dict(payload.state)
    if device.type == payload.device_type:
        dtype = payload.dtype
    else:
        dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    model.to(device=device, dtype=dtype).eval()
    if payload.generation_config is not None:
        model.generation_config = payload.generation_config
    if payload.policy is not None:
        lora, seed, state = payload.policy
        PolicyAdapter(model, lora, seed=seed).load_state_dict(state)
    return model


class RayWorker:
    """One Ray actor: a model replica on its own device and a :class:`BatchedEngine` over it."""

    def __init__(self, payload: ModelPayload, num_threads: int, engine_kwargs: dict[str, Any]) -> None:
        import ray

        torch.set_num_threads(num_threads)
        self.device = torch.device("cuda" if ray.get_gpu_ids() else "cpu")
        self.engine_kwargs = engine_kwargs
        self.rebuild(payload)

    def rebuild(self, payload: ModelPayload) -> None:
        self.model = build_model(payload, self.device)
        self.engine = BatchedEngine(self.model, payload.tokenizer, **self.engine_kwargs)

    def device_name(self) -> str:
        return torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else "cpu"

    @torch.no_grad()
    def update(self, params: dict[str, torch.Tensor], generation_config: Any = None) -> None:
        """Copy new values into named parameters (in place, as the local model was updated)."""
        if generation_config is not None:
            self.model.generation_config = generation_config
        named = dict(self.model.named_parameters())
        for name, value in params.items():
            named[name].copy_(value)

    def adapt(self, requests: list[AdaptRequest]) -> list[AdaptOutcome]:
        return self.engine.adapt(requests)

    def answer(self, queries: list[Query]) -> list[str]:
        return self.engine.answer(queries)


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


def start_ray(ray, address: str | None, cpus_needed: int) -> None:
    """Connect this process to Ray as :class:`RayEngine`'s ``address`` says (Ray is not initialised yet)."""
    if address is None:
        try:  # Ray's own default: a Ray running for this machine. Asking for CPUs there would be refused.
            ray.init(address="auto", include_dashboard=False)
            return
        except ConnectionError:  # none is running: start one below
            address = "local"
    if address == "local":
        # A local Ray gets at least the logical CPUs its workers ask for, so that they all start.
        ray.init(address="local", num_cpus=max(os.cpu_count() or 1, cpus_needed), include_dashboard=False)
    else:
        ray.init(address=address, include_dashboard=False)


def request_cost(request: AdaptRequest) -> float:
    """Rough work of a request: characters trained over all epochs plus tokens generated."""
    trained = sum(len(s.prompt) + len(s.completion) for s in request.sequences) * request.train.epochs
    return trained + sum(q.max_new_tokens for q in request.queries)


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
        engine_kwargs: passed to every actor's :class:`BatchedEngine` (e.g. ``max_adapters``).

    Raises:
        ModuleNotFoundError: Ray is not installed. ValueError: bad sizes. TimeoutError: actors did not start.
    """

    def __init__(self, model: torch.nn.Module, tokenizer, num_workers: int = 2, address: str | None = None,
                 num_cpus_per_worker: float = 1, num_gpus_per_worker: float | None = None, max_attempts: int = 3,
                 call_timeout_s: float | None = None, startup_timeout_s: float = 300.0, **engine_kwargs: Any) -> None:
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
        self.call_timeout_s = call_timeout_s
        self._actor_class = ray.remote(RayWorker).options(num_cpus=num_cpus_per_worker, num_gpus=num_gpus_per_worker)
        self._worker_args = (max(1, int(num_cpus_per_worker)), dict(engine_kwargs))
        self.restarts = 0
        """Actors replaced after dying, over this engine's life."""
        self._versions: dict[str, tuple[int, int]] = {}
        self._synced, self._generation = weights_version(model), ""
        self._payload_ref, self._payload_key = None, None
        payload = self._payload()
        self.workers = [self._start_worker(payload) for _ in range(num_workers)]
        self.devices = self._get([w.device_name.remote() for w in self.workers], "start")
        """The device of every actor ("cpu" or the GPU's name)."""

    # -- the InnerLoopEngine interface ------------------------------------------------------------------

    def adapt(self, requests: Sequence[AdaptRequest]) -> list[AdaptOutcome]:
        requests = list(requests)
        return self._map("adapt", requests, [request_cost(r) for r in requests])

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
        self._versions = {n: (id(p), p._version) for n, p in self.model.named_parameters()}
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
        if params.keys() != self._versions.keys():  # parameters came or went: rebuild every replica
            payload = self._payload()
            calls = [w.rebuild.remote(payload) for w in self.workers]
        else:
            changed = {n: p.detach().to("cpu", copy=True) for n, p in params.items()
                       if (id(p), p._version) != self._versions[n]}
            new_generation = None if generation == self._generation else self.model.generation_config
            self._versions = {n: (id(p), p._version) for n, p in params.items()}
            self._synced, self._generation = weights_version(self.model), generation
            update = self._ray.put(changed)
            calls = [w.update.remote(update, new_generation) for w in self.workers]
        for index, call in enumerate(calls):
            try:
                self._ray.get(call, timeout=self.call_timeout_s)
            except (*self._dead_errors(), self._ray.exceptions.GetTimeoutError):
                self._replace(index)  # the replacement is built from the current weights

    def _dead_errors(self) -> tuple[type[BaseException], ...]:
        errors = self._ray.exceptions
        return errors.RayActorError, errors.WorkerCrashedError, errors.ObjectLostError

    def _replace(self, index: int) -> None:
        self._ray.kill(self.workers[index])  # in case it is only unreachable
        self.workers[index] = self._start_worker(self._payload())
        self.restarts += 1

    def _map(self, method: str, items: list, costs: list[float]) -> list:
        """``worker.<method>(shard)`` over balanced shards of ``items``; results in item order. Shards of an
        actor that died are split over the live actors (replacements too, if none is left) and tried again;
        an actor past ``call_timeout_s`` on a shard is killed, so that its shards die the same way."""
        self._sync()
        results: list = [None] * len(items)
        attempts = [0] * len(items)
        pending: dict = {}
        deadlines: dict = {}  # ref -> when its actor counts as hung

        def submit(indices: list[int], workers: list[int]) -> None:
            for w, shard in zip(workers, balanced_shards([costs[i] for i in indices], len(workers))):
                shard = [indices[j] for j in shard]
                if shard:
                    for i in shard:
                        attempts[i] += 1
                    actor = self.workers[w]
                    ref = getattr(actor, method).remote([items[i] for i in shard])
                    pending[ref] = (w, actor, shard)
                    deadlines[ref] = time.monotonic() + (self.call_timeout_s or math.inf)

        submit(list(range(len(items))), list(range(len(self.workers))))
        dead: set[int] = set()
        while pending:
            wait_s = min(deadlines[r] for r in pending) - time.monotonic()
            ready, _ = self._ray.wait(list(pending), num_returns=1,
                                      timeout=None if wait_s == math.inf else max(0.0, wait_s))
            if not ready:  # hung actors: killed, their shards then fail as dead ones below
                for late in [r for r in pending if deadlines[r] <= time.monotonic()]:
                    self._ray.kill(pending[late][1])
                    deadlines[late] = math.inf
                continue
            (ref,) = ready
            worker, actor, shard = pending.pop(ref)
            try:
                out = self._ray.get(ref)
            except self._dead_errors() as err:
                dead.add(worker)
                if self.workers[worker] is actor:  # not replaced yet (it may have run several shards)
                    self._replace(worker)
                if max(attempts[i] for i in shard) >= self.max_attempts:
                    raise RuntimeError(f"Ray actors died {self.max_attempts} times running the same requests") from err
                live = [w for w in range(len(self.workers)) if w not in dead] or list(range(len(self.workers)))
                submit(shard, live)
                continue
            for i, value in zip(shard, out):
                results[i] = value
        return results
