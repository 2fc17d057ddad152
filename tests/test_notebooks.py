"""Every notebook's code runs top to bottom (on the tiny model, so it stays a smoke test).

As papermill does, the test runs the parameter cell (the one tagged ``parameters``, else the first code cell
holding ``MODEL = None``) and then its own assignments: ``MODEL = "tiny-random"`` for every notebook, plus a
small budget per notebook (:data:`SMALL`). Users run the same notebooks big by changing that one cell.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
SMALL = {"continual_forgetting.ipynb": {"PASSAGES": 2, "EPOCHS": 1, "SELF_EDIT_TOKENS": 8}}
"""Per-notebook parameter overrides on top of ``MODEL = "tiny-random"``."""
EXPECTED = {"continual_forgetting.ipynb": "later updates"}
"""Text the notebook's output must hold (default: "reward")."""


def notebook_source(path: Path, overrides: dict) -> str:
    """The notebook's code with ``overrides`` assigned right after its parameter cell."""
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    sources = ["".join(c["source"]) for c in cells]
    tagged = [i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    index = tagged[0] if tagged else next((i for i, s in enumerate(sources) if "MODEL = None" in s), None)
    assert index is not None and "MODEL = None" in sources[index], \
        "notebooks start with a parameter cell holding MODEL = None, so tests can swap the model"
    injected = "\n".join(f"{name} = {value!r}" for name, value in overrides.items())
    return "\n".join([*sources[: index + 1], injected, *sources[index + 1 :]])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, capsys):
    source = notebook_source(path, {"MODEL": "tiny-random", **SMALL.get(path.name, {})})
    exec(compile(source, str(path), "exec"), {})
    assert EXPECTED.get(path.name, "reward") in capsys.readouterr().out


def test_notebooks_are_stored_without_outputs():
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text())["cells"]:
            assert not cell.get("outputs") and not cell.get("execution_count"), f"{path.name}: strip its outputs"


def test_overrides_follow_the_parameter_cell(tmp_path):
    cell = {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": ["MODEL = None\n", "N = 5"]}
    later = {"cell_type": "code", "metadata": {}, "source": ["print(MODEL, N)"]}
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps({"cells": [later | {"source": ["x = 1"]}, cell, later]}))
    namespace: dict = {}
    exec(notebook_source(path, {"MODEL": "tiny-random", "N": 2}).replace("print", "result = "), namespace)
    assert namespace["result"] == ("tiny-random", 2)
