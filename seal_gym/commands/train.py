"""Train a self-edit policy with an agent (ReST-EM, ...) on a seal_gym env or yours; each run in a folder of its own.

Examples:
  seal-gym train --env SealSquad-v0 --agent rest-em --preset demo
  seal-gym train --preset smoke                      # seconds, on the tiny random model
  seal-gym train --agent grpo --no-scale-rewards     # Dr. GRPO; --leave-one-out: RLOO
  seal-gym train --env-import my_envs --env MyEnv-v0 --preset smoke   # an env my_envs.py registers
  seal-gym train --resume runs/SealSquad-v0__rest-em__0__20261125-120000
  seal-gym train --agent sft --demonstrations teacher.jsonl        # distil a teacher's self-edits, then:
  seal-gym train --agent grpo --init-policy runs/SealSquad-v0__sft__0__...   # RL from that warm start

Which agents run on which env:
  SealSquad-v0           rest-em, grpo, ppo; sft (on --demonstrations, e.g. train.json@train's 7B self-edits)
  SealARC-v0             rest-em, grpo, ppo, sft; sb3-ppo (on SealARCStructured-v0 over its tasks)
  SealARCStructured-v0   sb3-ppo (an action is a recipe's numbers, not text)
  your env               rest-em, grpo, ppo, sft, if its observations and actions are Text spaces
                         (register it with gym.register in a module, then --env-import MODULE)

A run writes config.json, TensorBoard events (tensorboard --logdir runs), episodes.jsonl (one record per
self-edit) and a checkpoint after every update into runs/{env}__{agent}__{seed}__{time}/. --resume continues
a run that was stopped (even by kill -9) with the settings it was started with. A run that fails before its
first checkpoint leaves no folder; a later failure leaves FAILED (the error) beside its checkpoints.

Agent options (below) override the preset; an option of another agent than --agent is an error. An env
shares the policy's model (SEAL's self mode) when its class declares metadata["model_kwarg"]; --teacher
gives it a model of its own (--model) instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from seal_gym.agents import AGENTS, LMPolicy, make_agent
from seal_gym.agents.env_traits import model_keyword
from seal_gym.agents.writers import warm_start
from seal_gym.agents.presets import agent_config, preset_for, preset_names
from seal_gym.agents.run_lock import RunLockedError
from seal_gym.commands.common import UsageError, run_checked, usage_error
from seal_gym.commands.resume import RunFinished, check_not_finished, record_rounds, resume_settings
from seal_gym.commands.options import add_runtime_arguments
from seal_gym.commands.parser import GIVEN, note_given_options
from seal_gym.commands.train_options import (add_domain_options, add_override_options, agent_fields, import_envs,
                                             option_name, prefixed)
from seal_gym.domain_spec import apply_options
from seal_gym.registration import domain_spec, domain_specs
from seal_gym.runs import new_run_dir

MAX_ROUNDS = 1_000_000
"""More rounds than anyone can run (a day of CPU is a few dozen); a larger number is a typo."""

FAILED = "FAILED"
"""The file a run that failed after its first checkpoint holds: the error, in one line."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.usage = "%(prog)s [--env ENV] [--agent AGENT] [--preset PRESET] [--resume RUN_DIR] [OPTION ...]"
    parser.add_argument("--env", default="SealSquad-v0",
                        help="a registered env id: seal_gym's or one --env-import registers (see the table above)")
    parser.add_argument("--env-import", action="append", default=None, metavar="MODULE[:CALLABLE]",
                        help="import MODULE (which registers envs with gym.register), or call CALLABLE of it, "
                             "before --env is looked up; repeatable; the working folder is searched first")
    parser.add_argument("--agent", default="rest-em", help=f"one of {', '.join(sorted(AGENTS))}")
    parser.add_argument("--preset", default="demo", help=f"one of {preset_names()}: "
                        "smoke: under a minute on the tiny random model; demo: about 15 minutes of a 2-core CPU; cpu: "
                        "SealSquad's laptop experiment, 1.5-2.2 hours a run; paper: the paper's budget (a GPU)")
    parser.add_argument("--model", default=None, help="model name/path (default: the preset's; demo/paper: embedded)")
    parser.add_argument("--teacher", default=None,
                        help="teacher-student mode: this model writes self-edits, --model is the student the env updates")
    specs = domain_specs()
    parser.add_argument("--dataset", default=None, help="the env's data (default: the preset's, else the env's "
                        "built-in data); " + "; ".join(f"{s.env_ids[0]}: {s.data_doc}" for s in specs if s.data_doc))
    parser.add_argument("--reward", default=None, help="the env's reward kind (default: the preset's); " + "; ".join(
        f"{s.env_ids[0]}: {', '.join(s.reward_kinds.names())}" for s in specs if s.reward_kinds))
    parser.add_argument("--init-policy", default=None, metavar="WRITER",
                        help="start from a trained writer (a run folder, a checkpoint or a published writer; its "
                             "model and policy LoRA must be this run's) instead of the untrained model")
    parser.add_argument("--rounds", type=int, default=None, help="rounds to train (default: the preset's)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the whole run")
    parser.add_argument("--runs-dir", default="runs", help="parent folder of the new run folder")
    parser.add_argument("--resume", default=None, metavar="RUN_DIR", help="continue this run with its own settings")
    add_runtime_arguments(parser)
    add_override_options(parser)
    note_given_options(parser)  # --resume refuses every option it would ignore


def before_parse(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """Import the ``--env-import`` modules first, so the options of a domain one registers can be parsed."""
    targets = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--env-import"]
    targets += [a.split("=", 1)[1] for a in argv if a.startswith("--env-import=")]
    if targets:
        try:
            import_envs(targets)
        except UsageError:
            return  # the command's own check imports them again and says what failed, in one line
        add_domain_options(parser)  # noted given too: note_given_options covers options added later


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """The command's settings as plain data (what config.json records and --resume replays)."""
    return {k: v for k, v in vars(args).items() if not callable(v) and k not in ("resume", "command", "threads", GIVEN)}


def _check(settings: dict[str, Any]) -> None:
    import gymnasium as gym

    import seal_gym  # noqa: F401  (registers the envs)

    if settings["agent"] not in AGENTS:
        raise UsageError(f"unknown agent {settings['agent']!r}; choose one of {', '.join(sorted(AGENTS))}")
    import_envs(settings.get("env_import"))
    if settings["env"] not in gym.registry:
        known = ", ".join(sorted(e for e in gym.registry if e.startswith("Seal")))
        raise UsageError(f"unknown env {settings['env']!r}; seal_gym registers {known}; register yours with "
                         "--env-import MODULE")
    try:
        preset_for(settings["env"], settings["preset"])
    except ValueError as err:
        raise UsageError(str(err)) from None
    names = {f.name for f in dataclasses.fields(AGENTS[settings["agent"]].config_class)}
    owners = agent_fields()
    foreign = sorted(k for k in settings if k in owners and k not in names)
    if foreign:
        owner = AGENTS[owners[foreign[0]][0]].config_class
        raise UsageError(f"{option_name(foreign[0], owner)} is not a setting of {settings['agent']} "
                         f"(it is {', '.join(owners[foreign[0]])}'s)")
    if settings.get("teacher") and not AGENTS[settings["agent"]].needs_text_policy:
        raise UsageError(f"--teacher: {settings['agent']} writes no text, so there is no teacher to give it")
    _check_domain_settings(settings)
    runs_dir = Path(settings.get("runs_dir") or "runs")
    if runs_dir.exists() and not runs_dir.is_dir():
        raise UsageError(f"--runs-dir {runs_dir} is a file, not a folder")
    if settings.get("rounds") is not None and not 1 <= settings["rounds"] <= MAX_ROUNDS:
        raise UsageError(f"--rounds must be in [1, {MAX_ROUNDS:,}], got {settings['rounds']}")


def _check_domain_settings(settings: dict[str, Any]) -> None:
    """The env's own settings (data, reward, named settings, inner-loop options) against its domain plug-in."""
    env, spec = settings["env"], domain_spec(settings["env"])
    data_keyword = spec.data_keyword if spec else None
    dataset = settings.get("dataset")
    if dataset and data_keyword is None:
        raise UsageError(f"--dataset: {env} takes no data argument")
    if dataset and spec.check_data is not None:
        try:
            spec.check_data(dataset)
        except ValueError as err:
            raise UsageError(str(err)) from None
    preset = preset_for(env, settings["preset"])
    if preset.data and not dataset:
        raise UsageError(f"--preset {settings['preset']} trains on {preset.data}")
    kinds = spec.reward_kinds if spec else None
    if settings.get("reward") and kinds is None:
        raise UsageError(f"--reward: {env} has no seal_gym reward kinds (its reward is its own)")
    if settings.get("reward") and settings["reward"] not in kinds:
        raise UsageError(f"unknown --reward {settings['reward']!r} for {env}; choose one of {', '.join(kinds.names())}")
    own = _setting_keys(spec) if spec else set()
    for owner in domain_specs():
        stray = sorted(k for k in _setting_keys(owner) - own if settings.get(k) is not None)
        if stray:
            raise UsageError(f"--{stray[0].replace('_', '-')}: a setting of {owner.env_ids[0]}, not of {env}")
    try:
        dataclasses.replace(preset.sampling, **prefixed(settings, "sample_")).check_choices()
    except ValueError as err:
        raise UsageError(f"--sample-choices: {err}") from None


def _setting_keys(spec) -> set[str]:
    """The settings keys a domain's options fill: its named settings and every field of its option groups."""
    return {*spec.named_settings, *(g.prefix + f.name for g in spec.options for f in dataclasses.fields(g.config))}


def _env_kwargs(spec, preset, settings: dict[str, Any]) -> dict[str, Any]:
    """The env's arguments: the preset's, then those given (an explicit one drops what it supersedes)."""
    env_kwargs = dict(preset.env_kwargs)
    if spec is None:
        return env_kwargs
    if settings.get("dataset"):
        env_kwargs[spec.data_keyword] = settings["dataset"]
    if settings.get("reward"):
        env_kwargs["reward"] = settings["reward"]
    for key in spec.named_settings:
        if settings.get(key):
            for superseded in spec.supersedes.get(key, ()):
                env_kwargs.pop(superseded, None)
            env_kwargs[key] = settings[key]
    for group in spec.options:
        env_kwargs = apply_options(env_kwargs, group, prefixed(settings, group.prefix))
    return env_kwargs


def build(settings: dict[str, Any]):
    """The agent a settings dict describes, and the number of rounds."""
    env_id, preset = settings["env"], preset_for(settings["env"], settings["preset"])
    agent_class = AGENTS[settings["agent"]]
    owners = agent_fields()
    overrides = {k: v for k, v in settings.items() if k in owners}
    config = agent_config(agent_class.config_class, preset, seed=settings["seed"], **overrides)
    sampling = dataclasses.replace(preset.sampling, **prefixed(settings, "sample_"))
    model = settings["model"] or preset.model
    env_kwargs = _env_kwargs(domain_spec(env_id), preset, settings)
    keyword = model_keyword(env_id)
    if settings["teacher"] and keyword is None:
        raise UsageError(f"--teacher: {env_id} takes no model (its class declares no metadata['model_kwarg']), so "
                         "there is no student for --model: drop --teacher")
    policy = None
    if agent_class.needs_text_policy:
        policy = LMPolicy(settings["teacher"] or model, sampling,
                          dataclasses.replace(preset.policy_lora, **prefixed(settings, "policy_lora_")), seed=settings["seed"])
        if settings.get("init_policy"):
            warm_start(policy, settings["init_policy"])
    if keyword is not None and (settings["teacher"] or policy is None):
        env_kwargs[keyword] = model  # the env's own model; otherwise make_agent shares the policy's (self mode)
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


def _failed(run_dir: Path, err: Exception, fresh: bool, made_parent: bool = False) -> None:
    """A run that failed: a new one without a checkpoint is removed (nothing to resume), with the runs folder
    when this run made it and nothing else is in it; else the run is marked FAILED."""
    import shutil

    from seal_gym.agents.runlog import latest_checkpoint

    try:
        checkpoint = latest_checkpoint(run_dir)
    except FileNotFoundError:
        checkpoint = None
    if fresh and checkpoint is None:
        shutil.rmtree(run_dir, ignore_errors=True)
        if made_parent and not any(run_dir.parent.iterdir()):
            run_dir.parent.rmdir()
        print(f"the run failed before its first checkpoint; {run_dir} removed", flush=True)
        return
    (run_dir / FAILED).write_text(f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}\n")
    print(f"the run failed; {run_dir / FAILED} says why, and --resume {run_dir} continues from its last checkpoint",
          flush=True)


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
    made_parent = False
    if not args.resume:
        made_parent = not Path(settings["runs_dir"]).exists()
        run_dir = new_run_dir(settings["runs_dir"], f"{settings['env']}__{settings['agent']}__{settings['seed']}")
        print(f"run folder: {run_dir}")
    try:
        history = agent.learn(rounds, run_dir=run_dir, progress=lambda line: print(line, flush=True))
    except Exception as err:
        _failed(run_dir, err, fresh=not args.resume, made_parent=made_parent)
        if args.debug:
            raise
        message = str(err).splitlines()[0] if str(err) else ""
        print(f"seal-gym train: error: the run failed: {type(err).__name__}: {message} (--debug shows the traceback)",
              file=sys.stderr)
        return 1
    (run_dir / FAILED).unlink(missing_ok=True)  # a failure that a resume has mended
    rewards = ", ".join(f"{s.reward_mean:.3f}" for s in history)
    print(f"done: mean reward per round [{rewards}]; TensorBoard: tensorboard --logdir {run_dir}")
    return 0
