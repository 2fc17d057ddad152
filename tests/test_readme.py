"""The README and the user docs it leads to: their Python examples run as written (on the tiny model, so these
stay smoke tests), their links resolve, the README stays a front door, and docs/envs.md's tables are current."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.heavy  # over 20 s in all: handed out first (tests/conftest.py)

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
ENVS = ROOT / "docs" / "envs.md"
# The pages this test owns; the other docs' examples run in their own tests (test_user_env, test_memory_commands).
PAGES = ["README.md", "docs/envs.md", "docs/agents.md", "docs/eval-commands.md", "docs/trl.md", "docs/ray.md",
         "docs/costs.md", "docs/architecture.md", "docs/development.md"]
NEEDS = {"docs/trl.md": "trl", "docs/ray.md": "ray"}


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


def run_examples(path: Path) -> dict:
    """Every Python block of ``path``, in order, in one namespace, on the tiny random model."""
    source = "\n".join(python_blocks(path))
    source = source.replace("load_model()", 'load_model("tiny-random")').replace("num_envs=16", "num_envs=2")
    namespace: dict = {}
    exec(compile(source, str(path), "exec"), namespace)
    return namespace


@pytest.mark.parametrize("page", [p for p in PAGES if python_blocks(ROOT / p)])
def test_python_examples_run(page):
    if page in NEEDS:
        pytest.importorskip(NEEDS[page])
    if page == "docs/ray.md":  # its example starts from "no Ray running yet"
        from tests.conftest import stop_ray_clusters

        stop_ray_clusters()
    namespace = run_examples(ROOT / page)
    if page == "README.md":
        assert 0.0 <= namespace["reward"] <= 1.0 and len(namespace["history"]) == 1
    if page == "docs/envs.md":
        assert namespace["reward"] in (0.0, 1.0)  # the SealARC example's: solved or not


def test_readme_examples_use_the_embedded_model():
    # The README shows load_model() (the embedded model); the test above swaps in the tiny one.
    assert "load_model()" in "\n".join(python_blocks(README))


def anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of a markdown file (lower case, punctuation dropped, spaces to -)."""
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in re.findall(r"^#+ (.*)$", text, re.M)}


def broken_links(path: Path) -> list[str]:
    """The relative links of a markdown file (outside code blocks) whose file or heading does not exist."""
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no such heading")
    return broken


@pytest.mark.parametrize("page", PAGES)
def test_links_resolve(page):
    assert not broken_links(ROOT / page)


def test_link_check_can_fail(tmp_path):
    (tmp_path / "other.md").write_text("# Set-up: the `model` cache\n")
    page = tmp_path / "page.md"
    page.write_text("# Title\n[a](#title) [b](other.md#set-up-the-model-cache) [c](missing.md) [d](#nope)\n"
                    "```\n[e](in-code.md)\n```\n")
    assert broken_links(page) == ["missing.md: no such file", "#nope: no such heading"]


def test_readme_is_a_front_door():
    text = README.read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) <= 15_000
    # The two commands, exactly as CI runs the second one on a fresh clone.
    assert "bash scripts/bootstrap.sh && .venv/bin/seal-gym squad-table\n" in text
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_command = "bash scripts/bootstrap.sh && .venv/bin/python -m pytest\n"
    assert test_command in text and test_command in ci
    for heading in ("## Architecture", "## Two commands", "## Environments", "## Training", "## Evaluation",
                    "## Deploying SEAL"):
        assert f"\n{heading}\n" in text, heading
    assert "**Headline result.**" in text.split("## Architecture")[0]
    assert "0 3 * * * seal-gym memory update --kb /srv/kb" in text


def _section(title: str) -> str:
    text = ENVS.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else None]


def test_env_config_tables_are_current():
    from seal_gym.adapt import LoraSpec, TrainSpec
    from seal_gym.arc.ttt import TTT_PRESETS, TTTConfig
    from seal_gym.commands.options import markdown_table

    section = _section("Env arguments")
    assert markdown_table(LoraSpec) in section
    assert markdown_table(TrainSpec) in section
    assert markdown_table(TTTConfig, {'`"paper"`': TTT_PRESETS["paper"], '`"cpu"`': TTT_PRESETS["cpu"]}) in section


def test_reward_kind_tables_are_the_registrys():
    from seal_gym.registration import reward_kinds

    section = _section("Env arguments")
    for env_id in ("SealSquad-v0", "SealARC-v0"):
        assert reward_kinds(env_id).table() in section, env_id


def test_every_env_argument_is_listed_with_its_default():
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
            assert name in listed, f"env argument {name} ({where.__qualname__}) is not in docs/envs.md"
            # an argument two envs share with different defaults (reward) is listed once per env's table
            assert repr(parameter.default).replace("'", '"') in listed[name], (name, listed[name])
