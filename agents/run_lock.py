"""One writer per run folder: ``run_dir/lock``, locked through the operating system while a process writes.

The lock is the kernel's (:func:`seal_gym.filelock.try_flock`; POSIX only), not the file's existence: the
kernel drops it the moment its process ends, however it ends (``kill -9`` included), so a lock left by a killed
run is stale by construction and the next writer simply takes it, while a pid written in the file could
belong to another process by then. The file holds the writer's pid, host and start time for the message a
second writer gets, and stays in the folder (removing it would let two writers lock two different files).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import IO, Any

from seal_gym.filelock import try_flock

LOCK = "lock"


class RunLockedError(RuntimeError):
    """Another live process is writing the run folder."""


class RunLock:
    """The writer's lock on one run folder; :meth:`acquire` and :meth:`release` may be called repeatedly.

    Args:
        run_dir: the run folder (created if missing).
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.path = Path(run_dir) / LOCK
        self.previous: dict[str, Any] = {}
        """The holder the lock file named before this process took it (a killed run's, when one was)."""
        self._file: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._file is not None

    def acquire(self) -> None:
        """Take the lock, or fail at once.

        Raises:
            RunLockedError: a live process holds it (the message names it).
        """
        if self._file is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        file = open(self.path, "a+", encoding="utf-8")
        if not try_flock(file):
            holder = _read_holder(file)
            file.close()
            raise RunLockedError(locked_message(self.path.parent, holder))
        self.previous = _read_holder(file)
        file.seek(0)
        file.truncate()
        file.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                               "since": time.strftime("%Y-%m-%d %H:%M:%S"), "command": " ".join(sys.argv)}))
        file.flush()
        self._file = file

    def release(self) -> None:
        if self._file is not None:
            self._file.truncate(0)
            self._file.close()  # closing the file drops the kernel's lock
            self._file = None


def check_unlocked(run_dir: str | Path) -> None:
    """Fail at once if a live process writes ``run_dir``; writes nothing (the answer may change right after).

    Raises:
        RunLockedError: a live process holds the folder's lock.
    """
    path = Path(run_dir) / LOCK
    if not path.exists():
        return
    with open(path, encoding="utf-8") as file:
        if not try_flock(file, shared=True):
            raise RunLockedError(locked_message(Path(run_dir), _read_holder(file)))


def locked_message(run_dir: Path, holder: dict[str, Any]) -> str:
    who = f"process {holder.get('pid', '?')} on {holder.get('host', '?')} since {holder.get('since', '?')}"
    if holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
        who = "another agent in this process (call its .log.close() first)"
    return f"{run_dir} is being written by {who}; wait for that run to end or stop it, then --resume"


def _read_holder(file: IO[str]) -> dict[str, Any]:
    try:
        file.seek(0)
        return json.loads(file.read() or "{}")
    except (OSError, json.JSONDecodeError):
        return {}
