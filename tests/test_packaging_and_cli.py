"""Packaging (editable and wheel), the command line, and run folders."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import platform
import re
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from seal_gym.cli import SUBCOMMANDS, build_parser, main
from seal_gym.commands.options import add_runtime_arguments, apply_runtime
from seal_gym.commands.help import HelpFormatter
from seal_gym.runs import git_commit, new_run_dir, run_metadata, write_json

ROOT = Path(__file__).resolve().parents[1]


def test_subpackages_import_as_seal_gym_envs_and_agents():
    import seal_gym.agents
    import seal_gym.envs

    assert Path(seal_gym.envs.__file__).parent.name == "envs"
    assert Path(seal_gym.agents.__file__).parent.name == "agents"


def test_wheel_has_no_generic_top_level_packages(tmp_path):
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v", "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, text=True,
    )
    assert "is absent from the `packages` configuration" not in build.stdout + build.stderr  # setuptools warning
    wheel = next(tmp_path.glob("seal_gym-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert top_level == {"seal_gym"}
    for required in ("seal_gym/envs/squad.py", "seal_gym/agents/policy.py", "seal_gym/data/demo_squad.json",
                     "seal_gym/adapt/sequential.py"):
        assert required in names
    # The installed wheel imports and registers its envs, away from the source tree.
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    code = "import seal_gym, gymnasium as gym, seal_gym.envs.squad; print(gym.spec('SealSquad-v0').id)"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(target), "PATH": ""},
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "SealSquad-v0"


def test_libraries_the_package_is_built_around_are_dependencies():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = {re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower() for requirement in project["dependencies"]}
    assert {"datasets", "stable-baselines3", "torch", "transformers", "peft", "gymnasium"} <= names


@pytest.mark.parametrize("command", [[], *([name] for name in SUBCOMMANDS)])
def test_help_on_every_subcommand(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: seal-gym" in capsys.readouterr().out


def test_run_folders_never_overwrite(tmp_path):
    first, second = new_run_dir(tmp_path, "x y"), new_run_dir(tmp_path, "x y")
    assert first != second and first.name.startswith("x-y__")
    write_json(first / "r.json", {"a": 1})
    with pytest.raises(FileExistsError):
        write_json(first / "r.json", {"a": 2})
    assert json.loads((first / "r.json").read_text()) == {"a": 1}


def test_squad_table_smoke_run(tmp_path, capsys):
    args = ["squad-table", "--model", "tiny-random", "--passages", "1", "--inner-epochs", "1",
            "--max-self-edit-tokens", "8", "--runs-dir", str(tmp_path)]
    assert main(args) == 0
    assert main(args) == 0
    runs = sorted(tmp_path.iterdir())
    assert len(runs) == 2  # the second run did not overwrite the first
    results = json.loads((runs[0] / "results.json").read_text())
    assert set(results["passages"][0]["conditions"]) == {"base", "passage", "base_self_edits", "file_self_edits",
                                                          "in_context"}
    assert (runs[0] / "results.csv").read_text().count("\n") == 6
    assert "trained on the passage" in capsys.readouterr().out
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(runs[0]))
    events.Reload()
    assert "accuracy/base_self_edits" in events.Tags()["scalars"]


def test_parser_lists_every_subcommand():
    assert set(build_parser()._subparsers._group_actions[0].choices) == set(SUBCOMMANDS)


def _all_parsers(parser, name="seal-gym"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child_name, child in action.choices.items():
                yield from _all_parsers(child, f"{name} {child_name}")


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"seal-gym {importlib.metadata.version('seal-gym')}"


def test_help_is_plain_text_and_shows_each_default_once():
    parsers = list(_all_parsers(build_parser()))
    assert len(parsers) > len(SUBCOMMANDS)
    for name, parser in parsers:
        text = parser.format_help()
        assert not re.search(r"``|:(class|func|mod|meth|attr|data):`", text), f"markup in `{name} --help`"
        for action in parser._actions:
            if not action.option_strings or argparse.SUPPRESS in (action.default, action.help):
                continue  # an option left out of the help (a hidden alias, a crash-test hook) shows no default
            formatter = HelpFormatter(prog=name)
            formatter.add_argument(action)
            shown = formatter.format_help()
            assert len(re.findall(r"default\s*[:=]|defaults? to", shown, re.I)) == 1, f"{name}: {shown}"


def test_threads_option_sets_torch_threads_and_is_recorded():
    import torch

    parser = argparse.ArgumentParser()
    add_runtime_arguments(parser)
    before = torch.get_num_threads()
    try:
        assert apply_runtime(parser.parse_args(["--threads", "1"])) == 1 == torch.get_num_threads()
        assert run_metadata()["torch_threads"] == 1
        assert apply_runtime(parser.parse_args([])) == 1  # no option: left as it is
    finally:
        torch.set_num_threads(before)
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["--threads", "0"])
    assert exit_info.value.code == 2


# Issue 18.10: `--threads 0` printed the whole usage (a page for train) before its error.
@pytest.mark.parametrize("argv,message", [
    (["train", "--threads", "0"], "seal-gym train: error: argument --threads: must be at least 1, got 0"),
    (["eval", "squad", "--threads", "0"], "seal-gym eval squad: error: argument --threads: must be at least 1, got 0"),
    (["train", "--rounds", "x"], "seal-gym train: error: argument --rounds: invalid int value: 'x'"),
    (["train", "--no-such-option"], "seal-gym train: error: unrecognized arguments: --no-such-option"),
])
def test_bad_arguments_are_one_line_without_the_usage(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith(message) and "usage" not in err, err
    assert "--help)" in err


def test_run_metadata_records_versions_device_and_commit(tmp_path):
    import torch

    meta = run_metadata()
    assert meta["versions"]["seal-gym"] == importlib.metadata.version("seal-gym")
    assert {"torch", "transformers", "peft", "gymnasium", "seal-gym"} <= set(meta["versions"])
    assert meta["device"] == ("cpu" if not torch.cuda.is_available() else torch.cuda.get_device_name(0))
    assert meta["python"] == platform.python_version() and meta["torch_threads"] == torch.get_num_threads()
    text = json.dumps(meta)
    assert socket.gethostname() not in text and str(Path.home()) not in text
    if (ROOT / ".git").exists():
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
        assert meta["git_commit"].removesuffix("+dirty") == head
    assert git_commit(tmp_path) is None  # not a checkout: no commit


def test_top_level_help_imports_no_command_and_no_torch():
    # `seal-gym --help` and `seal-gym eval --help` list the commands from the table: no command module that
    # imports torch (~2 s) loads until its command runs.
    code = ("import sys\nfrom seal_gym.commands import main\nfor argv in (['--help'], ['eval', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('seal_gym.commands.eval_')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "[]"
    assert "synthesize" in out and "squad " in out
