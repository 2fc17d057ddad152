"""Every notebook's code runs top to bottom (on the tiny model, so it stays a smoke test).

As papermill does, the test runs the parameter cell (the one tagged ``parameters``; without one, the code up
to the ``MODEL = None`` line) and then its own assignments: ``MODEL = "tiny-random"`` for every notebook, plus a
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
    """The notebook's code with ``overrides`` assigned right after its parameter cell (tagged ``parameters``),
    or, in a notebook without one, right after its ``MODEL = None`` line (that cell may go on to use MODEL)."""
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    sources = ["".join(c["source"]) for c in cells]
    injected = "\n".join(f"{name} = {value!r}" for name, value in overrides.items())
    tagged = [i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    if tagged:
        assert "MODEL = None" in sources[tagged[0]], f"{path.name}: its parameter cell sets MODEL = None"
        return "\n".join([*sources[: tagged[0] + 1], injected, *sources[tagged[0] + 1 :]])
    source = "\n".join(sources)
    assert "MODEL = None" in source, "notebooks start with a MODEL = None line so tests can swap the model"
    assert set(overrides) == {"MODEL"}, f"{path.name}: tag its parameter cell 'parameters' to override more"
    lines = source.split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith("MODEL = None"))
    return "\n".join([*lines[: at + 1], injected, *lines[at + 1 :]])


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
    later = {"cell_type": "code", "metadata": {}, "source": ["result = (MODEL, N)"]}
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps({"cells": [later | {"source": ["x = 1"]}, cell, later]}))
    namespace: dict = {}
    exec(notebook_source(path, {"MODEL": "tiny-random", "N": 2}), namespace)
    assert namespace["result"] == ("tiny-random", 2)
    # Without a tagged cell the model is swapped before the rest of its cell uses it.
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "source": ["MODEL = None\n", "used = MODEL"]}]}))
    exec(notebook_source(path, {"MODEL": "tiny-random"}), namespace)
    assert namespace["used"] == "tiny-random"
