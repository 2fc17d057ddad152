"""Progress of an engine's ``adapt`` call, for whoever shows it (the training loop prints a line per batch).

An engine calls :func:`report` with the requests done so far: 0 when a call starts, then after each batch of
adapters it trains together. Nothing happens unless a caller listens (:func:`listening`); listeners run in
the engine's thread, so they must be quick.

>>> seen = []
>>> with listening(lambda done, total: seen.append((done, total))):
...     report(0, 2); report(2, 2)
>>> seen
[(0, 2), (2, 2)]
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

Listener = Callable[[int, int], None]
"""Called with ``(requests done, requests in the call)``."""

_LISTENERS: list[Listener] = []


def report(done: int, total: int) -> None:
    """Tell every listener that ``done`` of the call's ``total`` requests are done."""
    for listener in tuple(_LISTENERS):
        listener(done, total)


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Receive every :func:`report` made while the block runs."""
    _LISTENERS.append(listener)
    try:
        yield
    finally:
        _LISTENERS.remove(listener)
