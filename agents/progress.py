"""Progress inside a long phase of a round: a line every so often, with the time left from a measured rate.

A round's inner loops run inside one env ``step`` (one batched engine call), which can take minutes on a CPU;
the loop cannot see into it, so a timer thread says how long the phase has run and, once a round has been
measured, how long it should still take.

>>> lines = []
>>> with heartbeat(lines.append, "inner loops", expected=10.0, every=0.01):
...     time.sleep(0.05)
>>> lines[0].startswith("  inner loops: ") and "left" in lines[0]
True
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

PROGRESS_SECONDS = 30.0
"""How often a long phase reports (seconds)."""


@contextmanager
def heartbeat(say: Callable[[str], None], what: str, expected: float | None = None,
              every: float = PROGRESS_SECONDS) -> Iterator[None]:
    """Report ``what`` every ``every`` seconds until the block ends.

    Args:
        say: receives each line (e.g. ``print``).
        what: the phase's name.
        expected: the phase's expected seconds (the previous round's, measured); ``None`` or 0: unknown.
        every: seconds between lines.
    """
    start = time.perf_counter()
    done = threading.Event()

    def report() -> None:
        while not done.wait(every):
            elapsed = time.perf_counter() - start
            line = f"  {what}: {_minutes(elapsed)} so far"
            if expected:
                left = expected - elapsed
                line += f", about {_minutes(left)} left" if left > 0 else f", {_minutes(-left)} over last round's time"
            say(line)

    thread = threading.Thread(target=report, name=f"heartbeat: {what}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
