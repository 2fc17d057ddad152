"""Files written so that a crash at any moment leaves the old content or the new one, never a part of it:
each write is flushed to disk (``fsync``) before it counts, and a replacement goes through a complete
scratch file and one :func:`os.replace`. The knowledge base's state commits rely on it
(:mod:`seal_gym.memory.store`).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def write_synced(path: Path, text: str) -> None:
    """Write ``path`` and wait until its content is on disk."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` by a complete new file in one step (a reader sees the old or the new content)."""
    scratch = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    write_synced(scratch, text)
    os.replace(scratch, path)
    sync_dir(path.parent)


def sync_dir(path: Path) -> None:
    """Wait until the folder's entries (a rename into it, a new file) are on disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
