"""A reward service on an event loop of its own, for callers that are threads, not coroutines (a synchronous
training loop, TRL's reward functions, a verifiers rubric run in a worker thread)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any

from seal_gym.serve.service import RewardResult, RewardService


class ServiceThread:
    """Runs ``service`` on a daemon thread's event loop; :meth:`score` blocks the calling thread only.

    >>> from seal_gym.serve import ServiceThread                                  # doctest: +SKIP
    >>> with ServiceThread(RewardService.from_env("SealSquad-v0")) as rewards:   # doctest: +SKIP
    ...     rewards.score({"passage_index": 0}, "Facts.", seed=1).reward
    """

    def __init__(self, service: RewardService) -> None:
        self.service = service
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="seal-reward-loop", daemon=True)
        self._thread.start()
        self.call(service.start())

    def call(self, coroutine: Any, timeout: float | None = None) -> Any:
        """Run a coroutine on the service's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def score(self, task: dict[str, Any], self_edit: Any, seed: int = 0, weights_version: str | None = None,
              timeout: float | None = -1.0) -> RewardResult:
        """:meth:`RewardService.score`, from any thread."""
        return self.submit(task, self_edit, seed, weights_version, timeout).result()

    def submit(self, task: dict[str, Any], self_edit: Any, seed: int = 0, weights_version: str | None = None,
               timeout: float | None = -1.0) -> concurrent.futures.Future:
        """Send the request at once and return without waiting: its :class:`RewardResult` is the future's result
        (``asyncio.wrap_future`` awaits it from another event loop)."""
        return asyncio.run_coroutine_threadsafe(self.service.score(task, self_edit, seed, weights_version, timeout),
                                                self.loop)

    def close(self, drain: bool = True) -> None:
        """Close the service (answering every accepted request) and stop the loop."""
        if self.loop.is_running():
            self.call(self.service.close(drain))
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join()
        self.loop.close()

    def __enter__(self) -> "ServiceThread":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
