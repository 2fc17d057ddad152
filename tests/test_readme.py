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


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else None]


def test_readme_config_tables_are_current():
    from seal_gym.adapt import LoraSpec, TrainSpec
    from seal_gym.arc.ttt import TTT_PRESETS, TTTConfig
    from seal_gym.configs import markdown_table

    section = _section("Env arguments")
    assert markdown_table(LoraSpec) in section
    assert markdown_table(TrainSpec) in section
    assert markdown_table(TTTConfig, {'`"paper"`': TTT_PRESETS["paper"], '`"cpu"`': TTT_PRESETS["cpu"]}) in section


def test_readme_lists_every_env_argument_with_its_default():
    import inspect

    from seal_gym.arc.domain import ArcDomain
    from seal_gym.envs.arc_structured import SealARCStructuredEnv
    from seal_gym.envs.base import SealEnv
    from seal_gym.envs.vector import SealVectorEnv
    from seal_gym.squad.domain import SquadDomain

    listed: dict[str, set[str]] = {}
    header = ""
    for line in _section("Env arguments").splitlines():
        header = line if line.startswith("| argument |") or line.startswith("| field |") else header
        row = re.match(r"\| `(\w+)` \| `([^`]*)` \|", line)
        if row and header.startswith("| argument |"):  # env-argument tables, not the config tables
            listed.setdefault(row[1], set()).add(row[2])
    for where in (SquadDomain.__init__, ArcDomain.__init__, SealARCStructuredEnv.__init__, SealEnv.__init__,
                  SealVectorEnv.__init__):
        for name, parameter in inspect.signature(where).parameters.items():
            if name in ("self", "domain", "kwargs"):
                continue
            assert name in listed, f"env argument {name} ({where.__qualname__}) is not in the README"
            assert listed[name] == {repr(parameter.default).replace("'", '"')}, (name, listed[name])
