"""A knowledge base on disk: its folder, its states, the lock, and the one atomic step that changes it.

Layout of a knowledge-base folder::

    kb.json                 what it is (format, version), its model, the default tag
    CURRENT                 the name of the current state folder: the only file ever replaced
    states/<name>/          one complete state: state.json (documents, accepted updates), log.jsonl
                            (the update log), index/ (the retrieval index)
    adapters/<id>.safetensors   one LoRA per accepted update, never changed once written
    lock, update.lock       file locks (flock): held by whoever commits a state, and by a running update

A change builds the next state in a temporary folder, renames it into ``states/`` and then replaces
``CURRENT`` with :func:`os.replace`, so a process killed at any moment (``kill -9``) leaves the knowledge base
as it was before or as it is after, never half-changed; leftovers of a killed change (a temporary folder, a
state or adapter nothing points at) are ignored and removed by a later change. An update holds its own lock
from start to end (a second update refuses or waits) and takes the state lock only to commit, so documents
can be added while it runs. The update log lives inside
the state, so it changes in the same step as what it describes.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Iterator, Literal

from seal_gym.atomic_files import sync_dir, write_atomically, write_synced
from seal_gym.filelock import try_flock
from seal_gym.memory.documents import TAGS, Document, NewDocument, Tag
# The state's value types live in state.py; they are imported here too, where callers have always found them.
from seal_gym.memory.state import SavedAdapter, Settings, State, UpdateRecord, now  # noqa: F401

FORMAT, VERSION = "seal-gym-knowledge-base", 1
LockKind = Literal["state", "update"]
LOCK_FILES = {"state": "lock", "update": "update.lock"}
PAUSE_POINTS = ("adapter-written", "state-written", "before-pointer", "after-pointer")
"""The points of a change where a knowledge base opened with ``pause_at`` sleeps (see :meth:`KnowledgeBase.pause`)."""


class KnowledgeBaseError(Exception):
    """A folder that is not a knowledge base, or a damaged one: one line, and nothing was written."""


class KnowledgeBaseBusy(KnowledgeBaseError):
    """Another process holds the knowledge base's lock."""


class KnowledgeBase:
    """A knowledge-base folder. Open one with :meth:`open` or :meth:`create` (or :meth:`open_or_create`).

    Reading (:meth:`current`) needs no lock; every change goes through :meth:`lock` and :meth:`commit`.
    """

    def __init__(self, path: Path, settings: Settings, pause_at: str | None = None) -> None:
        if pause_at is not None and pause_at not in PAUSE_POINTS:
            raise ValueError(f"pause_at must be one of {', '.join(PAUSE_POINTS)}, got {pause_at!r}")
        self.path, self.settings, self.pause_at = path, settings, pause_at

    def pause(self, point: str) -> None:
        """Sleep at ``point`` of a change when this knowledge base was opened with ``pause_at=point`` (what a
        crash test does to ``kill -9`` a process at a known moment); announces it on stdout first."""
        if self.pause_at == point:
            print(f"paused at {point}", flush=True)
            time.sleep(600)

    # --- opening -------------------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, pause_at: str | None = None) -> "KnowledgeBase":
        """An existing knowledge base (``pause_at``: see :meth:`pause`).

        Raises:
            KnowledgeBaseError: no folder, a foreign folder (no ``kb.json``), or a damaged one.
        """
        path = Path(path)
        if not path.is_dir():
            raise KnowledgeBaseError(f"{path} is not a knowledge base (no such folder); create one with "
                                     "`seal-gym memory add DOCS --kb DIR --model NAME`")
        marker = path / "kb.json"
        if not marker.is_file():
            raise KnowledgeBaseError(f"{path} is not a seal-gym knowledge base (it has no kb.json); nothing was changed")
        try:
            meta = json.loads(marker.read_text(encoding="utf-8"))
            if meta.get("format") != FORMAT:
                raise ValueError("foreign format")
            if meta.get("version") != VERSION:
                raise KnowledgeBaseError(f"{path} is a knowledge base of format version {meta.get('version')}; this "
                                         f"seal-gym reads version {VERSION}")
            settings = Settings(meta["model"], meta["default_tag"], meta.get("created", ""))
        except (ValueError, KeyError, AttributeError, TypeError):
            raise KnowledgeBaseError(f"{marker} is not a seal-gym knowledge base file (damaged or foreign); "
                                     "nothing was changed") from None
        kb = cls(path, settings, pause_at)
        kb.current()  # fails now, with one line, if the state is damaged
        return kb

    @classmethod
    def create(cls, path: str | Path, settings: Settings) -> "KnowledgeBase":
        """A new, empty knowledge base in ``path`` (a missing or empty folder).

        Raises:
            KnowledgeBaseError: ``path`` exists and is not an empty folder.
        """
        path = Path(path)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise KnowledgeBaseError(f"{path} exists and is not an empty folder: not creating a knowledge base there")
        if settings.default_tag not in TAGS:
            raise ValueError(f"default_tag must be durable or volatile, got {settings.default_tag!r}")
        path.mkdir(parents=True, exist_ok=True)
        kb = cls(path, settings)
        with kb.lock():
            (path / "states").mkdir()
            (path / "adapters").mkdir()
            kb.commit(State(), collect_adapters=True)
            meta = {"format": FORMAT, "version": VERSION, "model": settings.model, "default_tag": settings.default_tag,
                    "created": settings.created}
            write_atomically(path / "kb.json", json.dumps(meta, indent=2))  # written last: a marker means complete
        return kb

    @classmethod
    def open_or_create(cls, path: str | Path, model: str | None = None, default_tag: Tag | None = None,
                       model_given: bool = False) -> "KnowledgeBase":
        """:meth:`open` it, or :meth:`create` it when ``path`` is missing or empty. ``model_given``: the caller
        named a model, which must then be the knowledge base's own."""
        path = Path(path)
        if not path.exists() or (path.is_dir() and not any(path.iterdir())):
            return cls.create(path, Settings(model, default_tag or "durable"))
        kb = cls.open(path)
        if model_given and model != kb.settings.model:
            raise KnowledgeBaseError(f"{path} was created with --model {kb.settings.model or 'the embedded model'}, "
                                     f"not {model}")
        return kb

    # --- reading -------------------------------------------------------------------------------------------
    def current(self) -> State:
        """The current state (read from disk each time).

        Raises:
            KnowledgeBaseError: the pointer or the state it names is missing or damaged.
        """
        for attempt in range(3):
            try:
                name = (self.path / "CURRENT").read_text(encoding="utf-8").strip()
                folder = self.path / "states" / name
                data = json.loads((folder / "state.json").read_text(encoding="utf-8"))
                log_text = (folder / "log.jsonl").read_text(encoding="utf-8")
                state = State(tuple(Document.from_record(d) for d in data["documents"]),
                              tuple(UpdateRecord.from_record(u) for u in data["updates"]),
                              tuple(json.loads(line) for line in log_text.splitlines() if line.strip()), folder)
                break
            except FileNotFoundError:
                if attempt < 2 and (self.path / "CURRENT").is_file() and \
                        (self.path / "CURRENT").read_text(encoding="utf-8").strip() != name:
                    continue  # a change committed while we read: its old state is gone, read the new one
                raise KnowledgeBaseError(f"{self.path} is a damaged knowledge base (its current state is missing); "
                                         "nothing was changed") from None
            except (OSError, ValueError, KeyError, TypeError) as err:
                raise KnowledgeBaseError(f"{self.path} is a damaged knowledge base ({type(err).__name__}: "
                                     f"{str(err).splitlines()[0] if str(err) else ''}); nothing was changed") from None
        missing = [u.adapter for u in state.updates if not (self.path / "adapters" / u.adapter).is_file()]
        if missing:
            raise KnowledgeBaseError(f"{self.path} is a damaged knowledge base: adapter {missing[0]} is missing")
        return state

    def adapter_path(self, update: UpdateRecord) -> Path:
        return self.path / "adapters" / update.adapter

    def adapters(self, state: State) -> list[SavedAdapter]:
        """The accepted updates of ``state`` in the order they apply (what a weight editor loads)."""
        return [SavedAdapter(u.id, self.adapter_path(u), u.sequences) for u in state.updates]

    def disk_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())

    # --- changing ------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, wait_seconds: float = 0.0, kind: LockKind = "state") -> Iterator[None]:
        """Hold one of the knowledge base's locks for the block (released by the OS if the process dies).

        ``"state"``: held briefly by whoever commits a new state (:meth:`add`, the end of an update).
        ``"update"``: held by an update from start to end, so two updates never run at once while documents
        can still be added during one.

        Raises:
            KnowledgeBaseBusy: another process holds it (after waiting up to ``wait_seconds``).
        """
        handle = open(self.path / LOCK_FILES[kind], "a+", encoding="utf-8")
        try:
            deadline = time.monotonic() + wait_seconds
            while True:
                if try_flock(handle):
                    break
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "another process"
                    doing = "an update is running" if kind == "update" else "it is being changed"
                    raise KnowledgeBaseBusy(f"{self.path} is busy: {doing} ({holder}); try again later "
                                            "(or pass --wait SECONDS)")
                time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}, since {now()}")
            handle.flush()
            yield
        finally:
            handle.close()  # closing releases the flock

    def new_adapter_name(self, update_id: str) -> str:
        return f"{update_id}-{uuid.uuid4().hex[:8]}.safetensors"

    def commit(self, state: State, collect_adapters: bool = False) -> State:
        """Write ``state`` as the new current state, atomically (call it holding the ``"state"`` :meth:`lock`).

        ``collect_adapters``: also delete adapter files no state points at (only an update may: another's
        adapter may be on its way to a commit)."""
        states = self.path / "states"
        scratch = states / f".tmp-{uuid.uuid4().hex}"
        scratch.mkdir()
        try:
            data = {"documents": [d.record() for d in state.documents], "updates": [u.record() for u in state.updates]}
            write_synced(scratch / "state.json", json.dumps(data, ensure_ascii=False))
            write_synced(scratch / "log.jsonl", "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in state.log))
            if state.documents:
                from seal_gym.memory.index import build_index

                build_index(state.documents, scratch / "index")
        except BaseException:  # nothing of a failed change stays behind (a kill -9 leaves it to the next change)
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        self.pause("state-written")
        name = f"s{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        os.rename(scratch, states / name)
        sync_dir(states)
        self.pause("before-pointer")
        pointer = self.path / "CURRENT"
        previous = pointer.read_text(encoding="utf-8").strip() if pointer.is_file() else None
        write_atomically(pointer, name)
        self.pause("after-pointer")
        self._collect_garbage({name, previous}, state if collect_adapters else None)
        return replace(state, folder=states / name)

    def _collect_garbage(self, keep: set[str | None], state: State | None) -> None:
        """Remove what no state points at any more: old states (the previous one stays for readers that
        opened it a moment ago), temporary folders of killed changes, and, given ``state``, orphaned adapters."""
        for folder in (self.path / "states").iterdir():
            if folder.name not in keep:
                shutil.rmtree(folder, ignore_errors=True)
        if state is not None:
            kept = {u.adapter for u in state.updates}
            for adapter in (self.path / "adapters").iterdir():
                if adapter.name not in kept:
                    adapter.unlink(missing_ok=True)

    def collect_orphans(self, wait_seconds: float = 0.0) -> int:
        """Delete adapter files no state points at (left by an update killed after writing its adapter and
        before its commit); how many. Takes the update lock, so no running update's adapter is touched."""
        with self.lock(wait_seconds, "update"):
            kept = {u.adapter for u in self.current().updates}
            orphans = [p for p in (self.path / "adapters").iterdir() if p.name not in kept]
            for path in orphans:
                path.unlink(missing_ok=True)
        return len(orphans)

    def add(self, docs: list[NewDocument]) -> State:
        """Add ``docs`` (searchable at once); returns the new state. A document already present (the same title
        and text, up to white space), or twice in ``docs``, is added once. Call it holding the ``"state"``
        :meth:`lock`."""
        state = self.current()
        seen = {NewDocument(d.title, d.text).content_key() for d in state.documents}
        fresh = []
        for doc in docs:
            if doc.content_key() not in seen:
                seen.add(doc.content_key())
                fresh.append(doc)
        if not fresh:
            return state
        start = len(state.documents)
        added = now()
        new = tuple(Document(f"d{start + i + 1:06d}", d.title, d.text, d.questions, d.tag or self.settings.default_tag,
                             added, d.source) for i, d in enumerate(fresh))
        return self.commit(replace(state, documents=state.documents + new))
