"""The one file lock seal_gym uses (run folders, knowledge bases): the kernel's ``flock``, taken without waiting.

The kernel drops the lock the moment its process ends, however it ends (``kill -9`` included), so a lock left
by a killed process is stale by construction. POSIX only: where ``fcntl`` is missing (Windows) nothing is
guarded and every attempt succeeds.
"""

from __future__ import annotations

from typing import IO


def try_flock(file: IO[str], shared: bool = False) -> bool:
    """Lock ``file`` without waiting; False if another process holds it.

    Args:
        shared: take a shared lock, which only probes for an exclusive holder (dropped when ``file`` closes).
    """
    try:
        import fcntl
    except ModuleNotFoundError:  # not POSIX (Windows): the file is not guarded there
        return True
    try:
        fcntl.flock(file.fileno(), (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
