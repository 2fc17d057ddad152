"""Run folders: every run writes into a new folder of its own and never overwrites an earlier one.

A command's run folder also records what produced it: ``write_json(run_dir / "metadata.json",
run_metadata())`` (package versions, device, torch threads, git commit).
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import time
from dataclasses import asdict, is_dataclass
from importlib import metadata
from pathlib import Path
from typing import Any


def new_run_dir(root: str | Path, name: str) -> Path:
    """Create and return ``root/{name}__{YYYYmmdd-HHMMSS}`` (with a ``-N`` suffix if that exists already).

    Creation uses ``mkdir(exist_ok=False)``, so two runs started in the same second still get two folders.
    """
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "run"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for attempt in range(1000):
        path = root / (f"{safe}__{stamp}" + (f"-{attempt}" if attempt else ""))
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a new run folder under {root}")


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_json(path: Path, payload: Any) -> None:
    """Write ``payload`` (dataclasses allowed) as indented JSON; refuse to overwrite an existing file."""
    text = json.dumps(payload, indent=2, default=_jsonable, ensure_ascii=False)  # fail before touching the file
    with open(path, "x", encoding="utf-8") as f:
        f.write(text)


def cli_args(args: Any) -> dict[str, Any]:
    """The parsed command-line arguments worth recording (argparse internals removed)."""
    return {k: v for k, v in vars(args).items() if not callable(v)}


RECORDED_PACKAGES = ("seal-gym", "torch", "transformers", "peft", "gymnasium", "numpy")


def git_commit(root: str | Path | None = None) -> str | None:
    """The commit the package runs from (``+dirty`` if its files differ from it), or ``None`` when it is
    not run from a git checkout (e.g. an installed wheel) or git is missing."""
    root = Path(root) if root is not None else Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        return None
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def code_diff(root: str | Path | None = None) -> str:
    """What the checkout's tracked files change against its commit (``git diff HEAD``; ``""`` when clean, not a
    checkout, or git is missing): a run from a dirty tree keeps it beside ``git_commit`` so its code is on record."""
    root = Path(root) if root is not None else Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        return ""
    try:
        return subprocess.run(["git", "-C", str(root), "diff", "HEAD", "--binary"], capture_output=True, text=True,
                              timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def run_metadata() -> dict[str, Any]:
    """What produced a run, for its folder (JSON-ready; no host name, user name or path).

    Keys: ``versions`` (installed versions of :data:`RECORDED_PACKAGES`, ``None`` for one that is missing),
    ``python``, ``platform`` (OS and machine), ``device`` (``"cpu"`` or the CUDA device's name),
    ``cpu_count``, ``torch_threads`` (``torch.get_num_threads()`` now: call it after
    :func:`seal_gym.commands.options.apply_runtime`), ``git_commit`` (see :func:`git_commit`), ``started`` (local
    time).

    >>> sorted(run_metadata())
    ['cpu_count', 'device', 'git_commit', 'platform', 'python', 'started', 'torch_threads', 'versions']
    """
    import torch

    versions = {}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "versions": versions,
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "git_commit": git_commit(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def hyperparameters_text(settings: dict[str, Any]) -> str:
    """Settings as the Markdown table TensorBoard's text tab shows (CleanRL's "hyperparameters").

    >>> print(hyperparameters_text({"lr": 0.001, "epochs": 2}))
    |param|value|
    |-|-|
    |lr|0.001|
    |epochs|2|
    """
    rows = "\n".join(f"|{key}|{value}|" for key, value in settings.items())
    return f"|param|value|\n|-|-|\n{rows}"
