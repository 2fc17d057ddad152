"""An asynchronous TRL reward function backed by the reward service (:mod:`seal_gym.serve`).

TRL's ``GRPOTrainer`` runs an ``async`` reward function on an event loop of its own and awaits it; this one sends
every completion of the call to a :class:`~seal_gym.serve.RewardService` at once, so the service trains them
together (at most ``max_batch`` adapters an engine call) without blocking TRL's loop, and the same service can
serve other trainers, threads or HTTP clients at the same time. A failed item (timeout, engine failure, stale
weights) is ``None``, TRL's "no reward", with its reason logged.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Sequence

import numpy as np

from seal_gym.agents.trl_rewards import InnerSeeds, completion_text

logger = logging.getLogger(__name__)
TASK_COLUMNS = ("passage_index", "task_id", "task_index", "generator_seed")
"""Dataset columns that pin a completion's task (the env's reset options)."""


class ServiceReward:
    """``await reward(prompts, completions, passage_index=..., inner_seed=None, **kwargs) -> list[float | None]``.

    Args:
        service: a :class:`~seal_gym.serve.ServiceThread` (a service on its own loop, shareable), or ``None`` to
            build one for ``env_id`` with ``env_kwargs`` (and ``config``).
        seed: seeds the inner-loop seeds drawn when the dataset has no ``inner_seed`` column (one per task and
            call, so a prompt's G completions differ only by their text).
        name: the function's ``__name__`` (TRL logs ``rewards/<name>/mean``).
    """

    def __init__(self, service: Any = None, *, env_id: str = "SealSquad-v0", config: Any = None, seed: int = 0,
                 name: str = "seal_service_reward", **env_kwargs: Any) -> None:
        from seal_gym.serve import RewardService, ServiceThread

        self.rewards = service if service is not None else ServiceThread(RewardService.from_env(env_id, config,
                                                                                                 **env_kwargs))
        self.__name__ = name
        self._seeds = InnerSeeds(seed)

    async def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], inner_seed: Sequence[int] | None = None,
                       **kwargs: Any) -> list[float | None]:
        n = len(completions)
        columns = {c: list(kwargs[c]) for c in TASK_COLUMNS if kwargs.get(c) is not None}
        if not columns:
            raise ValueError(f"the dataset needs a task column, one of {TASK_COLUMNS} (the env's reset options)")
        if any(len(values) != n for values in columns.values()) or len(prompts) != n:
            raise ValueError(f"expected one value per completion ({n})")
        tasks = [task_of({c: values[i] for c, values in columns.items()}) for i in range(n)]
        seeds = self._seeds.for_batch([task_key(t) for t in tasks], inner_seed)
        results = await asyncio.gather(*(asyncio.wrap_future(self.rewards.submit(t, completion_text(c), s))
                                         for t, c, s in zip(tasks, completions, seeds)))
        return report(self.__name__, results, kwargs)

    def close(self) -> None:
        """Close the service (answering what it accepted)."""
        self.rewards.close()


def report(name: str, results: Sequence[Any], kwargs: dict[str, Any]) -> list[float | None]:
    """TRL's rewards for the service's answers (``None`` for a failed one), with the failures logged: a warning,
    ``<name>/failed`` through TRL's ``log_metric`` and each reason through ``log_extra`` (when TRL passes them)."""
    failed = [r.reason for r in results if not r.ok]
    if failed:
        logger.warning("%s: %d of %d completions got no reward (None); first reason: %s", name, len(failed),
                       len(results), failed[0])
    if "log_metric" in kwargs:
        kwargs["log_metric"](f"{name}/failed", len(failed) / len(results))
    if "log_extra" in kwargs:
        kwargs["log_extra"](f"{name}/reason", [r.reason or "" for r in results])
    return [r.reward if r.ok else None for r in results]


def task_of(row: dict[str, Any]) -> dict[str, Any]:
    """The task (the env's reset options) a dataset row pins through its :data:`TASK_COLUMNS`."""
    return {c: _plain(row[c]) for c in TASK_COLUMNS if row.get(c) is not None}


def task_key(task: dict[str, Any]) -> str:
    """A hashable key of a task, for drawing one inner seed per task."""
    return repr(sorted(task.items()))


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
