"""Progress inside a long phase of a round: a line per inner-loop batch and a line every so often, each with
the time left computed from a measured rate.

A round's inner loops run inside one env ``step`` (one engine call), which can take minutes on a CPU. The
engine reports each batch of inner loops it finishes to its progress callback (:mod:`seal_gym.adapt.progress`;
an agent that shares its model makes the env's engine with its relay, see
:func:`~seal_gym.agents.env_traits.engine_reporting_to`): the phase then says how many are done and, at the rate measured so far in the call, how long the rest should take. Between
batches a timer thread says how long the phase has run and, once a round has been measured, how long it
took last time.

>>> lines = []
>>> with heartbeat(lines.append, "inner loops", expected=10.0, every=0.01):
...     time.sleep(0.05)
>>> lines[0].startswith("  inner loops: ") and "left" in lines[0]
True
"""

from __future__ import annotations

import contextlib
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from seal_gym.adapt.progress import ProgressRelay

PROGRESS_SECONDS = 30.0
"""How often a long phase reports between batches (seconds)."""


@contextmanager
def heartbeat(say: Callable[[str], None], what: str, expected: float | None = None,
              every: float = PROGRESS_SECONDS, engine: ProgressRelay | None = None) -> Iterator[None]:
    """Report ``what`` after each engine batch and every ``every`` seconds until the block ends.

    Args:
        say: receives each line (e.g. ``print``).
        what: the phase's name.
        expected: the phase's expected seconds (the previous round's, measured); ``None`` or 0: unknown.
        every: seconds between timer lines.
        engine: the relay the inner-loop engine reports to (``None``: timer lines only).
    """
    start = time.perf_counter()
    done = threading.Event()
    call_start = [start]  # when the engine call in progress began: its rate is measured from there

    def on_batch(finished: int, total: int) -> None:
        now = time.perf_counter()
        if finished == 0:
            call_start[0] = now
        elif total > 1:
            left = (now - call_start[0]) / finished * (total - finished)
            say(f"  {what}: {finished}/{total} inner loops done, {_minutes(now - start)} so far, "
                f"about {_minutes(left)} left at the measured rate")

    def timer() -> None:
        while not done.wait(every):
            elapsed = time.perf_counter() - start
            line = f"  {what}: {_minutes(elapsed)} so far"
            if expected:
                left = expected - elapsed
                line += (f", about {_minutes(left)} left as last round" if left > 0
                         else f", {_minutes(-left)} over last round's time")
            say(line)

    thread = threading.Thread(target=timer, name=f"heartbeat: {what}", daemon=True)
    thread.start()
    try:
        with engine.listening(on_batch) if engine is not None else contextlib.nullcontext():
            yield
    finally:
        done.set()
        thread.join()


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
