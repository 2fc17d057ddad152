"""Published writers: a trained policy as a small, hashed folder that outlives its run folder.

A run folder holds every round's checkpoint (tens of MB each) and is not kept in a repository. A study
publishes each trained writer with :func:`publish_writer`: the newest checkpoint's ``policy/`` files
(``policy.json``, ``adapter.safetensors`` and, for agents that merge every round, ``merged_NNN.safetensors``),
their tensors stored at ``dtype``, and ``writer.json`` saying where it came from (env, run, round, the code's
commit) with each file's sha256, size and git blob id. ``seal-gym synthesize / eval squad / memory update
--policy`` take a run folder, a published writer folder, or any file in one (:func:`policy_folder`); a writer
whose tensors are kept out of the checkout is completed from git or a store (:mod:`.writer_store`).

Why float16 by default: the policy adapter of the ``cpu`` preset (rank 64 on every projection of a 135M
model) is 78 MB in float32; float16 halves it, and rounding a LoRA factor to float16 moves it by at most
2**-11 of its size (the study's RESULTS section measures what that does to the written self-edits).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from seal_gym.agents.runlog import latest_checkpoint, run_settings
from seal_gym.agents.sb3_saved import POLICY_FILE as SB3_FILE, sb3_policy_file
from seal_gym.agents.writer_store import WRITER_JSON, complete_writer, file_ids, file_sources, manifest
POLICY_JSON = "policy.json"


def policy_folder(path: str | Path) -> Path:
    """The folder holding a policy's ``policy.json``: a published writer (or a file in one; completed by
    :func:`~.writer_store.complete_writer` when its tensors are kept elsewhere), a checkpoint's ``policy/``
    folder, or a run folder's newest checkpoint.

    Raises:
        FileNotFoundError: none of these, a run with no checkpoint yet, or a writer whose files are nowhere.
    """
    path = Path(path)
    if path.is_file():
        path = path.parent
    if (path / WRITER_JSON).is_file() and POLICY_JSON in manifest(path)["files"]:  # a published text writer
        return complete_writer(path)
    if (path / POLICY_JSON).is_file():
        return path
    run_settings(path)  # a run folder, or a FileNotFoundError that says so
    checkpoint = latest_checkpoint(path)
    if checkpoint is None:
        raise FileNotFoundError(f"{path} has no checkpoint yet (the run stopped before its first update)")
    if not (checkpoint / "policy" / POLICY_JSON).is_file():
        raise FileNotFoundError(f"{checkpoint} holds no readable policy/policy.json (not a text policy's checkpoint)")
    return checkpoint / "policy"


def trained_env(path: str | Path) -> str | None:
    """The env a run, a checkpoint's policy folder or a published writer was trained on (``None`` when it
    does not say), read without needing a text policy (an sb3-ppo run has none)."""
    path = Path(path)
    folder = path.parent if path.is_file() else path
    if (folder / WRITER_JSON).is_file():
        return json.loads((folder / WRITER_JSON).read_text()).get("env")
    if (folder / "config.json").is_file():
        return run_settings(folder).get("env")
    if folder.name == "policy" and len(folder.parents) > 2 and (folder.parents[2] / "config.json").is_file():
        return run_settings(folder.parents[2]).get("env")
    return None


def publish_writer(run_dir: str | Path, to: str | Path, dtype: str = "float16") -> dict[str, Any]:
    """Copy a run's trained policy to the folder ``to`` (replaced whole, atomically) and return its
    ``writer.json``: ``env``, ``source`` (the run folder's name), ``round``, ``git_commit``, ``dtype``, ``files``
    (name -> sha256), ``bytes`` (name -> size) and ``git_blobs`` (name -> git's blob id, how
    :func:`~.writer_store.complete_writer` finds a file in git). An sb3-ppo run's policy is its ``sb3_ppo.zip``,
    copied as it is (``eval arc --policy`` takes the folder).

    Args:
        run_dir: a ``seal-gym train`` run folder with at least one checkpoint.
        to: the writer's folder.
        dtype: the stored tensors' type, ``"float16"``, ``"bfloat16"`` or ``"float32"`` (as trained).
    """
    import torch
    from safetensors.torch import load_file, save_file

    if dtype not in ("float16", "bfloat16", "float32"):
        raise ValueError(f"dtype must be float16, bfloat16 or float32, not {dtype!r}")
    run_dir, to = Path(run_dir), Path(to)
    sb3 = sb3_policy_file(run_dir) if (run_dir / "config.json").is_file() else None
    source = sb3.parent if sb3 is not None else policy_folder(run_dir)  # an sb3-ppo run has no text policy
    settings = run_settings(run_dir)
    staging = to.with_name(f".tmp-{to.name}-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for file in sorted(source.iterdir()):
        if file.suffix == ".safetensors":
            tensors = {k: v.to(getattr(torch, dtype)).contiguous() for k, v in load_file(str(file)).items()}
            save_file(tensors, str(staging / file.name))
        elif file.name in (POLICY_JSON, SB3_FILE):
            shutil.copy2(file, staging / file.name)
    files = sorted(staging.iterdir())
    manifest = {"env": settings.get("env"), "agent": settings.get("agent"), "source": run_dir.name,
                "round": source.parent.name, "git_commit": settings.get("metadata", {}).get("git_commit"),
                "dtype": dtype, **file_ids(files)}
    (staging / WRITER_JSON).write_text(json.dumps(manifest, indent=1))
    if to.exists():
        shutil.rmtree(to)
    staging.rename(to)
    return manifest


def verify_writer(folder: str | Path) -> list[str]:
    """The files of a published writer that are nowhere (not here, in a store or in git) or whose sha256 differs
    from its ``writer.json`` (``[]``: intact)."""
    return [name for name, where in file_sources(folder).items() if where in ("missing", "changed")]


def warm_start(policy: Any, writer: str) -> None:
    """Load a trained writer into ``policy`` (its weights only: sampling starts afresh from the run's seed).

    Raises:
        ValueError: a folder that holds no policy, or one of another model or LoRA shape.
    """
    folder = policy_folder(writer)
    meta = json.loads((folder / "policy.json").read_text())
    if meta.get("model") != policy.bundle.name:
        raise ValueError(f"--init-policy {writer}: its writer was trained on {meta.get('model')}, this run's model is "
                         f"{policy.bundle.name}")
    policy.load(folder)
    policy.calls = 0
