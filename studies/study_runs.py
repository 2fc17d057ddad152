"""What the multi-stage studies share: running `seal-gym` as a subprocess with a log, finding finished runs,
pooling their results by passage, and checking that pooled runs ran under one set of package versions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def read_json(path: Path, default=None):
    return json.loads(path.read_text()) if path.exists() else default


def write_json(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(value, indent=1, default=str))
    temporary.replace(path)  # a stop mid-write never leaves half a state file


def seal_gym(args: list[str], log: Path, on_line=None, launcher: list[str] | None = None) -> int:
    """Run ``seal-gym ARGS`` with its output appended to ``log`` (and each line given to ``on_line``);
    ``launcher``: what Python runs instead of ``-m seal_gym.cli`` (a script that registers something first)."""
    command = [sys.executable, *(launcher or ["-m", "seal_gym.cli"]), *args]
    with open(log, "a") as out:
        out.write(f"$ seal-gym {' '.join(args)}\n")
        out.flush()
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in process.stdout:
            out.write(line)
            out.flush()
            if on_line:
                on_line(line)
        return process.wait()


def check_clean(key: str, allow_dirty: bool) -> None:
    """Refuse to start a run from a checkout with uncommitted changes (its code would not be on record)."""
    from seal_gym.runs import git_commit

    commit = git_commit(ROOT)
    if not allow_dirty and (commit is None or commit.endswith("+dirty")):
        raise SystemExit(f"{key}: the checkout is {commit or 'not a git checkout'}: commit first so that the run's "
                         "code is on record, or pass --allow-dirty (the run then keeps its diff)")


def train_or_resume(key: str, run: str | None, start: list[str], threads: int, log: Path, remember,
                    allow_dirty: bool = False, launcher: list[str] | None = None) -> int:
    """Resume the run folder ``run`` of study run ``key``, or (when there is none, or it is gone) start ``seal-gym
    START`` (a ``train`` command; refused from a dirty checkout unless ``allow_dirty``); ``remember(folder)`` is
    called with the run folder as soon as seal-gym names it, so that a stop at any time can resume. Returns the
    exit code."""
    if run and Path(run).is_dir():
        args = ["train", "--resume", run, "--threads", str(threads)]
    else:
        if run:
            print(f"{key}: run folder {run} is gone (another machine?): training afresh", flush=True)
        check_clean(key, allow_dirty)
        args = [*start, "--threads", str(threads)]

    def on_line(line: str) -> None:
        if line.startswith("run folder: "):
            remember(line.removeprefix("run folder: ").strip())

    return seal_gym(args, log, on_line, launcher)


def finished_in(folder: Path) -> Path | None:
    """The newest results.json of one group's folder (``None`` before its run finished)."""
    done = sorted(folder.glob("*/results.json"))
    return done[-1] if done else None


def pooled(results_files: list[Path]) -> tuple[dict[str, dict[int, dict[str, float]]], dict[str, str]]:
    """``{condition: {passage: {metric: value}}}`` over every chunk, and the conditions' labels."""
    from seal_gym.evaluation.reports import cell_metrics

    cells: dict[str, dict[int, dict[str, float]]] = {}
    labels: dict[str, str] = {}
    for path in results_files:
        results = json.loads(path.read_text())
        labels.update(results["labels"])
        for passage in results["passages"]:
            for name, cell in passage["conditions"].items():
                cells.setdefault(name, {})[passage["index"]] = cell_metrics(cell)
    return cells, labels


def mixed_versions(results_files: list[Path]) -> dict[str, list[str]]:
    """Each package whose version differs between the runs (their ``metadata.versions``) -> its versions. Pooled
    runs should not differ: another version may reduce floats in another order, which 10 epochs can amplify into
    other scores, as batching passages did (RESULTS.md; transformers 5.24.0 -> 5.25.0 happened not to)."""
    seen: dict[str, set[str]] = {}
    for path in results_files:
        for package, version in json.loads(path.read_text()).get("metadata", {}).get("versions", {}).items():
            seen.setdefault(package, set()).add(version)
    return {package: sorted(versions) for package, versions in seen.items() if len(versions) > 1}


def names(text: str) -> list[str]:
    """The names of a comma-separated option (``"rest-em, grpo"`` -> ``["rest-em", "grpo"]``)."""
    return [name.strip() for name in text.split(",") if name.strip()]
