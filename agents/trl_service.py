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

from seal_gym.agents.trl_rewards import completion_text
from seal_gym.domain import MAX_SEED

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
        self._rng = np.random.default_rng(seed)

    async def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], inner_seed: Sequence[int] | None = None,
                       **kwargs: Any) -> list[float | None]:
        n = len(completions)
        columns = {c: list(kwargs[c]) for c in TASK_COLUMNS if kwargs.get(c) is not None}
        if not columns:
            raise ValueError(f"the dataset needs a task column, one of {TASK_COLUMNS} (the env's reset options)")
        if any(len(values) != n for values in columns.values()) or len(prompts) != n:
            raise ValueError(f"expected one value per completion ({n})")
        tasks = [{c: _plain(values[i]) for c, values in columns.items()} for i in range(n)]
        if inner_seed is None:
            drawn: dict[str, int] = {}
            seeds = [drawn.setdefault(repr(sorted(t.items())), int(self._rng.integers(MAX_SEED))) for t in tasks]
        else:
            seeds = [int(s) for s in inner_seed]
        service, loop = self.rewards.service, self.rewards.loop
        results = await asyncio.gather(*(
            asyncio.wrap_future(asyncio.run_coroutine_threadsafe(service.score(t, completion_text(c), s), loop))
            for t, c, s in zip(tasks, completions, seeds)))
        failed = [r.reason for r in results if not r.ok]
        if failed:
            logger.warning("%s: %d of %d completions got no reward (None); first reason: %s", self.__name__,
                           len(failed), n, failed[0])
        if "log_metric" in kwargs:
            kwargs["log_metric"](f"{self.__name__}/failed", len(failed) / n)
        if "log_extra" in kwargs:
            kwargs["log_extra"](f"{self.__name__}/reason", [r.reason or "" for r in results])
        return [r.reward if r.ok else None for r in results]

    def close(self) -> None:
        """Close the service (answering what it accepted)."""
        self.rewards.close()


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
