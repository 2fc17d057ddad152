"""Every notebook's code runs top to bottom (on the tiny model, so it stays a smoke test)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, capsys):
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    source = "\n".join("".join(c["source"]) for c in cells)
    assert "MODEL = None" in source, "notebooks start with a MODEL = None line so tests can swap the model"
    exec(compile(source.replace("MODEL = None", 'MODEL = "tiny-random"', 1), str(path), "exec"), {})
    assert "reward" in capsys.readouterr().out
