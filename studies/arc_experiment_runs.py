"""What the SealARC experiment's stages share: its folder's files, `seal-gym` with the chosen suite registered, the
chosen TTT settings as options, and one training run started (from a clean commit) or resumed, then published.

The folder ``OUT`` holds ``choice.json`` and ``suite.json`` (the ``choose`` stage's), ``state.json`` (each training
run's folder, the training plan, each stage's seconds), ``writers/NAME`` (published writers, sha256 in
``writer.json``), ``warm/`` (the search and its demonstrations), ``eval/GROUP/`` (one ``eval arc`` run folder per
condition group), ``report.json``, and the logs. Run folders go to ``OUT/runs`` (git-ignored).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

# studies/ is on the path: arc_experiment.py puts it there
from study_runs import read_json, seal_gym, train_or_resume, write_json  # noqa: E402

LAUNCHER = Path(__file__).with_name("arc_suite_cli.py")
AGENTS = ("rest-em", "grpo", "sb3-ppo")
"""The trained agents of the plan, in its order (Holm's family)."""
WARM = "warm"
"""The warm-start writer's name (SFT on the search's demonstrations): ReST-EM starts from it."""


def load_choice(out: Path) -> dict:
    choice = read_json(out / "choice.json")
    if choice is None:
        raise SystemExit(f"{out / 'choice.json'} is missing: run --stage choose first")
    return choice


def source(choice: dict, split: str) -> str:
    """The task source of one split of the chosen suite, e.g. ``suite:spread:heldout``."""
    return f"suite:{choice['name']}:{split}"


def register(out: Path) -> str:
    """Register the chosen suite (``OUT/suite.json``) in this process, as the launcher does in every subprocess."""
    from arc_suite_cli import register as from_file

    return from_file(out / "suite.json")


def run_seal_gym(out: Path, args: list[str], log: str, on_line=None) -> int:
    """``seal-gym ARGS`` with the chosen suite registered, its output appended to ``OUT/LOG``; its seconds are
    added to ``state.json``'s ``seconds[LOG without .log]``."""
    began = time.perf_counter()
    code = seal_gym(args, out / log, on_line, launcher=[str(LAUNCHER), str(out / "suite.json")])
    add_seconds(out, log.removesuffix(".log"), time.perf_counter() - began)
    return code


def add_seconds(out: Path, key: str, seconds: float) -> None:
    state = read_json(out / "state.json", {})
    state.setdefault("seconds", {})[key] = state.get("seconds", {}).get(key, 0.0) + seconds
    write_json(out / "state.json", state)


def ttt_options(ttt: dict) -> list[str]:
    """Every field of the chosen TTT settings (``TTTConfig`` as a dict, its LoRA included) as ``--ttt-*`` options,
    so that a command's own defaults (a preset's, ``eval arc``'s) never stand in for them."""
    from seal_gym.adapt import LoraSpec
    from seal_gym.arc.ttt import TTTConfig

    def options(prefix: str, values: dict) -> list[str]:
        found = []
        for name, value in values.items():
            flag = f"--{prefix}{name}".replace("_", "-")
            if isinstance(value, bool):
                found.append(flag if value else f"--no-{flag[2:]}")
            elif isinstance(value, (list, tuple)):
                found += [flag, ",".join(map(str, value))]
            else:
                found += [flag, "none" if value is None else str(value)]
        return found

    lora = {"lora": LoraSpec(**ttt["lora"])} if ttt.get("lora") else {}
    values = dataclasses.asdict(TTTConfig(**{**{k: v for k, v in ttt.items() if k != "lora"}, **lora}))
    return options("ttt-", {k: v for k, v in values.items() if k != "lora"}) + options("ttt-lora-", values["lora"])


def train_and_publish(out: Path, key: str, start: list[str], threads: int, allow_dirty: bool) -> dict:
    """Start ``seal-gym START`` (a ``train`` command) as run ``key``, or resume the run ``state.json`` names; then
    publish its policy to ``OUT/writers/KEY`` (:func:`seal_gym.agents.publish_writer`). A published run whose rounds
    are done is not run again. Returns the writer's manifest."""
    from seal_gym.agents import publish_writer

    state = read_json(out / "state.json", {})
    run = state.get("runs", {}).get(key)
    if key in state.get("published", {}) and (out / "writers" / key).is_dir():
        print(f"{key}: published already ({out / 'writers' / key})", flush=True)
        return state["published"][key]

    def remember(folder: str) -> None:
        found = read_json(out / "state.json", {})
        found.setdefault("runs", {})[key] = folder
        write_json(out / "state.json", found)

    began = time.perf_counter()
    code = train_or_resume(key, run, [*start, "--runs-dir", str(out / "runs")], threads, out / f"train-{key}.log",
                           remember, allow_dirty, launcher=[str(LAUNCHER), str(out / "suite.json")])
    add_seconds(out, f"train-{key}", time.perf_counter() - began)
    run = read_json(out / "state.json", {}).get("runs", {}).get(key)
    if code != 0 or run is None:
        raise SystemExit(f"seal-gym train for {key} failed (exit {code}): see {out / f'train-{key}.log'}")
    manifest = publish_writer(run, out / "writers" / key)
    state = read_json(out / "state.json", {})
    state.setdefault("published", {})[key] = manifest
    write_json(out / "state.json", state)
    print(f"{key}: writer published to {out / 'writers' / key} ({manifest['round']})", flush=True)
    return manifest
