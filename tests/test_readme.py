"""The README's Python examples run as written (on the tiny model, so this stays a smoke test)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 3
    source = "\n".join(blocks)
    assert "load_model()" in source
    source = source.replace("load_model()", 'load_model("tiny-random")').replace("num_envs=16", "num_envs=2")
    namespace: dict = {}
    exec(compile(source, str(README), "exec"), namespace)
    assert 0.0 <= namespace["reward"] <= 1.0
