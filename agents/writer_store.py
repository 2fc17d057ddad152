"""Where a published writer's large files are when they are not in the checkout.

A writer's tensors are megabytes (the ``cpu`` preset's is 38 MB in float16), too big to commit to a branch
every clone downloads. The checkout keeps ``writer.json`` (each file's sha256, size and git blob id) and the
small ``policy.json``; the tensors are kept in one of two places, and :func:`complete_writer` fetches them
from either on first use, checks each against its sha256 and puts the whole writer in the cache:

- **the git repository around the writer's folder**: any blob it holds, on any ref. :func:`keep_in_git` puts a
  file under ``refs/writers/<sha256>``, a ref namespace that ``git clone`` does not fetch: a clone stays
  small, and ``git fetch origin 'refs/writers/*:refs/writers/*'`` brings every writer's tensors. A file that
  was committed to a branch once is found in its history too.
- **store folders**: ``$SEAL_GYM_WRITER_STORE`` (several joined by ``os.pathsep``), each holding files named
  by their sha256 (``seal-gym writers W --copy-to DIR`` fills one): a shared drive, an unpacked archive.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from seal_gym.atomic_files import write_atomically

STORE_ENV = "SEAL_GYM_WRITER_STORE"
GIT_REFS = "refs/writers/"
FETCH_HINT = f"git fetch origin '{GIT_REFS}*:{GIT_REFS}*'"
WRITER_JSON = "writer.json"


def _hexdigests(path: Path, *digests: Any) -> list[str]:
    with open(path, "rb") as f:  # one pass feeds every digest: the files are tens of MB
        for block in iter(lambda: f.read(1 << 20), b""):
            for digest in digests:
                digest.update(block)
    return [digest.hexdigest() for digest in digests]


def _git_blob_digest(path: Path) -> Any:
    return hashlib.sha1(f"blob {path.stat().st_size}\0".encode())


def sha256(path: Path) -> str:
    return _hexdigests(path, hashlib.sha256())[0]


def git_blob_id(path: Path) -> str:
    """The id git gives ``path``'s content as a blob (what ``git hash-object`` prints), without git."""
    return _hexdigests(path, _git_blob_digest(path))[0]


def manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / WRITER_JSON).read_text())


def file_sources(folder: str | Path) -> dict[str, str]:
    """Where each file of the writer in ``folder`` is: ``"here"`` (in the folder, its sha256 right), ``"store
    DIR"``, ``"git"`` (a blob of the repository around the folder), ``"changed"`` (in the folder, another sha256)
    or ``"missing"``."""
    folder = Path(folder)
    record = manifest(folder)
    sources = {}
    for name, digest in record["files"].items():
        if (folder / name).is_file():
            sources[name] = "here" if sha256(folder / name) == digest else "changed"
        elif (stored := _in_store(digest)) is not None:
            sources[name] = f"store {stored.parent}"
        elif _git_has(folder, record.get("git_blobs", {}).get(name)):
            sources[name] = "git"
        else:
            sources[name] = "missing"
    return sources


def complete_writer(folder: str | Path) -> Path:
    """``folder`` when it holds every file its ``writer.json`` lists; otherwise a folder in the cache holding
    them all, the absent ones fetched from a store folder or the git repository and checked against their sha256.

    Raises:
        FileNotFoundError: a file is in neither (one line: which, how big, and how to fetch it).
    """
    folder = Path(folder)
    record = manifest(folder)
    absent = [name for name in record["files"] if not (folder / name).is_file()]
    if not absent:
        return folder
    from seal_gym.models.cache import cache_dir

    target = cache_dir() / "writers" / sha256(folder / WRITER_JSON)
    if target.is_dir():
        return target
    staging = target.with_name(f".tmp-{target.name}-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name, digest in record["files"].items():
        if name not in absent:
            shutil.copy2(folder / name, staging / name)
        elif (stored := _in_store(digest)) is not None:
            shutil.copyfile(stored, staging / name)
        elif not _git_blob_to(folder, record.get("git_blobs", {}).get(name), staging / name):
            shutil.rmtree(staging)
            size = record.get("bytes", {}).get(name)
            raise FileNotFoundError(
                f"{folder}: {name} ({f'{size / 1e6:.1f} MB, ' if size else ''}sha256 {digest[:12]}) is not in the "
                f"checkout: fetch the writers' files with `{FETCH_HINT}`, or set {STORE_ENV} to a folder holding it")
        if sha256(staging / name) != digest:
            shutil.rmtree(staging)
            raise FileNotFoundError(f"{folder}: the {name} found for it does not match its sha256 in {WRITER_JSON}")
    shutil.copy2(folder / WRITER_JSON, staging / WRITER_JSON)
    try:
        staging.rename(target)
    except OSError:  # another process completed it first
        shutil.rmtree(staging)
    return target


def file_ids(files: list[Path]) -> dict[str, dict[str, Any]]:
    """The ``writer.json`` entries that name ``files``: ``files`` (sha256), ``bytes`` and ``git_blobs``."""
    ids = {f.name: _hexdigests(f, hashlib.sha256(), _git_blob_digest(f)) for f in files}
    return {"files": {name: pair[0] for name, pair in ids.items()}, "bytes": {f.name: f.stat().st_size for f in files},
            "git_blobs": {name: pair[1] for name, pair in ids.items()}}


def fill_file_ids(folder: str | Path) -> list[str]:
    """Add the size and git blob id of each file that ``writer.json`` lists by sha256 alone (a writer published
    before they were recorded), rewriting it atomically; return the names filled.

    Raises:
        FileNotFoundError: such a file is not in the folder; ValueError: its sha256 differs from the listed one.
    """
    folder = Path(folder)
    record = manifest(folder)
    lacking = [name for name in record["files"]
               if name not in record.get("bytes", {}) or name not in record.get("git_blobs", {})]
    if not lacking:
        return []
    for name in lacking:
        if not (folder / name).is_file():
            raise FileNotFoundError(f"{folder / name} is not here to record its size and git blob id")
    ids = file_ids([folder / name for name in lacking])
    if changed := [name for name in lacking if ids["files"][name] != record["files"][name]]:
        raise ValueError(f"{folder}: {', '.join(changed)} differ from their sha256 in {WRITER_JSON}")
    for key in ("bytes", "git_blobs"):
        record[key] = {**record.get(key, {}), **ids[key]}
    write_atomically(folder / WRITER_JSON, json.dumps(record, indent=1))
    return lacking


def keep_in_git(folder: str | Path) -> list[str]:
    """Write each tensor file (``*.safetensors``) of the writer in ``folder`` into the git repository around it
    as a blob named by ``refs/writers/<sha256>`` (pushed with ``git push origin 'refs/writers/*'``), and
    return the refs made. The files stay in the folder; git-ignore them to keep them off the branch. A
    ``writer.json`` that lacks a file's size or git blob id (how a clone finds it) gets them first.

    Raises:
        FileNotFoundError: a listed file is not in the folder; ValueError: git refused (not a repository), or a
        file's sha256 differs from the listed one.
    """
    folder = Path(folder)
    fill_file_ids(folder)
    refs = []
    for name, digest in manifest(folder)["files"].items():
        path = folder / name
        if path.suffix != ".safetensors":
            continue
        if not path.is_file():
            raise FileNotFoundError(f"{path} is not here to keep")
        try:
            blob = _git(folder, "hash-object", "-w", "--", path.name, text=True).strip()
            _git(folder, "update-ref", GIT_REFS + digest, blob)
        except subprocess.CalledProcessError as err:
            raise ValueError(f"{folder}: git {err.cmd[3]} failed: {(err.stderr or '').strip()}") from None
        refs.append(GIT_REFS + digest)
    return refs


def restore_writer(folder: str | Path) -> list[str]:
    """Put back into ``folder`` every file of its writer that is not there (from git or a store, hash-checked),
    for a tool that reads the folder itself (an older seal-gym, a study stage run from an older commit); return
    the names put back."""
    folder = Path(folder)
    source = complete_writer(folder)
    absent = [name for name in manifest(folder)["files"] if not (folder / name).is_file()]
    for name in absent:
        shutil.copyfile(source / name, folder / f".tmp-{name}")
        (folder / f".tmp-{name}").rename(folder / name)
    return absent


def copy_to_store(folder: str | Path, store: str | Path) -> int:
    """Copy every file of the writer in ``folder`` (fetched first if need be) into the store folder ``store``,
    named by its sha256; return how many were not there yet."""
    source, store = complete_writer(folder), Path(store)
    store.mkdir(parents=True, exist_ok=True)
    added = 0
    for name, digest in manifest(Path(folder))["files"].items():
        if not (store / digest).is_file():
            shutil.copyfile(source / name, store / f".tmp-{digest}")
            (store / f".tmp-{digest}").rename(store / digest)
            added += 1
    return added


def _in_store(digest: str) -> Path | None:
    for root in filter(None, os.environ.get(STORE_ENV, "").split(os.pathsep)):
        if (Path(root) / digest).is_file():
            return Path(root) / digest
    return None


def _git(folder: Path, *args: str, **kwargs: Any) -> Any:
    return subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True, **kwargs).stdout


def _git_has(folder: Path, blob: str | None) -> bool:
    if not blob:
        return False
    try:
        return _git(folder, "cat-file", "-t", blob, text=True).strip() == "blob"
    except (OSError, subprocess.CalledProcessError):  # no git, not a repository, or no such object
        return False


def _git_blob_to(folder: Path, blob: str | None, to: Path) -> bool:
    if not _git_has(folder, blob):
        return False
    with open(to, "wb") as out:
        subprocess.run(["git", "-C", str(folder), "cat-file", "blob", blob], check=True, stdout=out)
    return True
