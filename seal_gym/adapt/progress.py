"""Progress of an engine's ``adapt`` call, for whoever shows it (the training loop prints a line per batch).

An engine is given a :data:`ProgressCallback` when it is made (``progress=``) and calls it with the requests
done so far: 0 when a call starts, then after each batch of adapters it trains together. It runs in the
engine's thread, so it must be quick. A caller that shows progress only during some phases gives the engine a
:class:`ProgressRelay` once and listens to it for a phase at a time.

>>> relay, seen = ProgressRelay(), []
>>> with relay.listening(lambda done, total: seen.append((done, total))):
...     relay(0, 2); relay(2, 2)
>>> relay(1, 2)  # nobody listens: nothing happens
>>> seen
[(0, 2), (2, 2)]
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

ProgressCallback = Callable[[int, int], None]
"""Called with ``(requests done, requests in the call)``."""


def report(progress: ProgressCallback | None, done: int, total: int) -> None:
    """Call ``progress`` (an engine's, which may be ``None``) with ``done`` of ``total``."""
    if progress is not None:
        progress(done, total)


class ProgressRelay:
    """A progress callback that forwards each report to the listeners of the moment (none: dropped)."""

    def __init__(self) -> None:
        self._listeners: list[ProgressCallback] = []

    def __call__(self, done: int, total: int) -> None:
        for listener in tuple(self._listeners):
            listener(done, total)

    @contextmanager
    def listening(self, listener: ProgressCallback) -> Iterator[None]:
        """Receive every report made while the block runs."""
        self._listeners.append(listener)
        try:
            yield
        finally:
            self._listeners.remove(listener)
