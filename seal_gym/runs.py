"""Run folders: every run writes into a new folder of its own and never overwrites an earlier one."""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, is_dataclass
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


def run_metadata() -> dict[str, Any]:
    """What a run folder records about where it ran: package versions, python, device, torch threads, git commit.

    The commit is read only when the package runs from a git checkout (``None`` otherwise, or when git is absent);
    no host names or user names are recorded.
    """
    import platform
    import subprocess
    from importlib import metadata

    import torch

    versions = {}
    for package in ("seal-gym", "torch", "transformers", "peft", "gymnasium", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    commit = None
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / ".git").exists():
        try:
            commit = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True,
                                    timeout=5).stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            commit = None
    cuda = torch.cuda.is_available()
    return {
        "versions": versions,
        "python": platform.python_version(),
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "torch_threads": torch.get_num_threads(),
        "git_commit": commit,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
