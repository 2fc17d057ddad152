"""`seal-gym train`: a smoke run writes a whole run folder, bad input exits 2 writing nothing, and a run
killed with SIGKILL mid-round resumes to exactly the records of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seal_gym.cli import main

SMOKE = ["train", "--preset", "smoke", "--seed", "3"]


def run_cli(*args: str, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    return subprocess.Popen([sys.executable, "-m", "seal_gym.cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "episodes.jsonl").read_text().splitlines()]


def only_run(runs: Path) -> Path:
    folders = [p for p in runs.iterdir() if p.is_dir()]
    assert len(folders) == 1, folders
    return folders[0]


def test_smoke_run_writes_a_run_folder(tmp_path, capsys):
    assert main([*SMOKE, "--runs-dir", str(tmp_path)]) == 0
    run = only_run(tmp_path)
    assert run.name.startswith("SealSquad-v0__rest-em__3__")
    config = json.loads((run / "config.json").read_text())
    assert config["command"]["preset"] == "smoke" and config["policy"]["model"] == "tiny-random"
    assert config["config"]["prompts_per_round"] == 2 and "metadata" in config
    assert len(records(run)) == 2 * 2 * 2  # rounds x prompts x samples
    assert (run / "checkpoints" / "latest").read_text() == "round-0002"
    assert list(run.glob("events.out.tfevents.*"))
    out = capsys.readouterr().out
    assert "round 2/2" in out and "ETA" in out


def test_tensorboard_events_hold_the_charts(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    assert main([*SMOKE, "--runs-dir", str(tmp_path), "--rounds", "1"]) == 0
    events = EventAccumulator(str(only_run(tmp_path)))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    for tag in ("charts/reward_mean", "charts/reward_std", "charts/reward_max", "charts/baseline_accuracy",
                "charts/adapter_accuracy", "charts/gain", "charts/kept_fraction", "charts/self_edit_tokens",
                "time/sampling_seconds", "time/inner_loop_seconds", "time/update_seconds"):
        assert tag in tags, tag
    assert "hyperparameters/text_summary" in events.Tags()["tensors"]


@pytest.mark.parametrize("args,message", [
    (["--agent", "dqn"], "unknown agent 'dqn'"),
    (["--env", "CartPole-v9"], "unknown env"),
    (["--preset", "huge"], "unknown preset 'huge'"),
    (["--dataset", "no/such/file.json"], "not found"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    runs = tmp_path / "runs"
    assert main([*SMOKE, "--runs-dir", str(runs), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not runs.exists()


@pytest.mark.heavy
def test_resume_after_kill_matches_an_uninterrupted_run(tmp_path):
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    args = [*SMOKE, "--rounds", "4"]
    assert run_cli(*args, "--runs-dir", str(whole), cwd=tmp_path).wait(timeout=300) == 0
    process = run_cli(*args, "--runs-dir", str(broken), cwd=tmp_path)
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        latest = list(broken.glob("*/checkpoints/latest"))
        if latest and latest[0].read_text() == "round-0002":
            break
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be killed; give it more rounds"
    process.send_signal(signal.SIGKILL)  # mid-round 3: its records, if any, are dropped and redone
    process.wait()
    run = only_run(broken)
    resumed = run_cli("train", "--resume", str(run), cwd=tmp_path)
    output = resumed.communicate(timeout=300)[0]
    assert resumed.returncode == 0, output
    assert "resuming" in output
    assert records(run) == records(only_run(whole))
    assert (run / "checkpoints" / "latest").read_text() == "round-0004"


def test_every_layer_of_settings_can_be_overridden():
    from seal_gym.cli import build_parser
    from seal_gym.commands.train import _settings, build

    args = build_parser().parse_args([*SMOKE, "--epochs", "3", "--sample-max-new-tokens", "7", "--inner-epochs", "2",
                                      "--inner-learning-rate", "0.01", "--prompts-per-round", "1"])
    agent, rounds = build(_settings(args))
    assert rounds == 2 and agent.config.epochs == 3 and agent.config.prompts_per_round == 1
    assert agent.policy.sampling.max_new_tokens == 7
    train = agent.collector.env.domain.inner_loop.config.train  # the env the agent built, as a test may look
    assert train.epochs == 2 and train.learning_rate == 0.01
    args = build_parser().parse_args(["train", "--preset", "smoke", "--env", "SealARC-v0", "--ttt-max-examples", "3"])
    assert build(_settings(args))[0].collector.env.domain.inner_loop.config.max_examples == 3


def test_resume_of_a_folder_that_is_no_run_is_one_line(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a run folder" in err and len(err.splitlines()) == 1


# Issue 18.3: text agents on SealARCStructured-v0 crashed after sampling and the inner loops (numpy truth value).
@pytest.mark.parametrize("agent", ["rest-em", "grpo", "ppo"])
def test_text_agents_are_refused_on_the_structured_env_before_sampling(tmp_path, capsys, agent):
    runs = tmp_path / "runs"
    assert main([*SMOKE, "--env", "SealARCStructured-v0", "--agent", agent, "--runs-dir", str(runs)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "SealARCStructured-v0 has observations Box(0.0, 1.0, (12,), float32)" in err
    assert "Text observations and actions" in err
    assert not runs.exists()


def _config_options(cls, prefix: str = "") -> list[tuple[str, bool]]:
    """``(option, is_bool)`` for every field of the dataclass ``cls``, nested dataclasses by their own prefix."""
    import dataclasses
    import typing

    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            out += _config_options(hints[f.name], f"{prefix}{f.name}_")
        elif f.init:
            out.append(("--" + (prefix + f.name).replace("_", "-"), hints[f.name] is bool))
    return out


def _subparser(*names: str):
    from seal_gym.cli import build_parser

    parser = build_parser()
    for name in names:
        parser = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices[name]
    return parser


# Issue 18.2: the options builder skipped every bool field (--no-scale-rewards, --no-merge, ... unrecognized).
def test_every_field_of_every_config_has_a_train_option():
    from seal_gym.adapt import LoraSpec, TrainSpec
    from seal_gym.agents import AGENTS
    from seal_gym.agents.policy import SamplingConfig
    from seal_gym.arc.ttt import TTTConfig

    configs = [(agent.config_class, "") for agent in AGENTS.values()]
    configs += [(SamplingConfig, "sample_"), (LoraSpec, "policy_lora_"), (TrainSpec, "inner_"), (TTTConfig, "ttt_")]
    options = _subparser("train")._option_string_actions
    missing = []
    for cls, prefix in configs:
        for option, is_bool in _config_options(cls, prefix):
            if option == "--seed" or option.endswith("-seed") and prefix:
                option = "--seed"  # the command's --seed seeds everything
            wanted = [option, "--no-" + option[2:]] if is_bool else [option]
            missing += [f"{cls.__name__}: {o}" for o in wanted if o not in options]
    assert not missing, missing


def test_boolean_settings_reach_the_agent_config():
    from seal_gym.cli import build_parser
    from seal_gym.commands.train import _settings, build

    def config(*args):
        return build(_settings(build_parser().parse_args([*SMOKE, *args])))[0].config

    grpo = config("--agent", "grpo", "--no-scale-rewards", "--leave-one-out", "--no-skip-equal-groups")
    assert (grpo.scale_rewards, grpo.leave_one_out, grpo.skip_equal_groups) == (False, True, False)
    assert config("--agent", "rest-em", "--no-merge").merge is False
    ppo = config("--agent", "ppo", "--no-normalize-advantages", "--no-skip-equal-rewards")
    assert (ppo.normalize_advantages, ppo.skip_equal_rewards) == (False, False)
    arc = build(_settings(build_parser().parse_args(["train", "--preset", "smoke", "--env", "SealARC-v0",
                                                     "--no-ttt-permute-demos", "--ttt-lora-rank", "2"])))[0]
    ttt = arc.collector.env.domain.inner_loop.config
    assert ttt.permute_demos is False and ttt.lora.rank == 2


def test_a_boolean_of_another_agent_is_refused_in_one_line(tmp_path, capsys):
    assert main([*SMOKE, "--agent", "grpo", "--no-merge", "--runs-dir", str(tmp_path / "runs")]) == 2
    assert capsys.readouterr().err.strip() == "seal-gym train: error: --[no-]merge is not a setting of grpo (it is rest-em, sft's)"


# Issue 18.10: eval said --epochs where train says --inner-epochs (and --temperature, --max-examples, ...).
def test_eval_names_settings_as_train_does_and_keeps_the_old_names_hidden():
    train = _subparser("train")._option_string_actions
    for command, options, old in [
        (("eval", "squad"), ["--inner-epochs", "--inner-learning-rate", "--sample-temperature", "--sample-max-new-tokens",
                             "--inner-seeds"],
         {"--temperature": "temperature", "--max-self-edit-tokens": "max_self_edit_tokens", "--seeds": "seeds"}),
        (("eval", "arc"), ["--ttt-max-examples", "--ttt-lora-rank", "--sample-temperature", "--sample-choices",
                           "--inner-seeds"],
         {"--max-examples": "ttt_max_examples", "--choices": "choices", "--temperature": "temperature",
          "--seeds": "seeds"}),
        (("eval", "continual"), ["--inner-epochs", "--sample-temperature"], {}),
    ]:
        parser = _subparser(*command)
        assert all(o in parser._option_string_actions and o in train for o in options), command
        shown = parser.format_help()
        for option, dest in old.items():
            assert f"{option} " not in shown, f"{option} shows in {command} --help"
            value = "none" if option == "--choices" else "3"
            assert getattr(parser.parse_args([option, value]), dest) in (3, 3.0, None), option


@pytest.mark.parametrize("command", [("eval", "squad"), ("eval", "continual"), ("eval", "memory"),
                                     ("memory", "update")])
@pytest.mark.parametrize("option", ["--learning-rate", "--epochs", "--batch-size"])
def test_an_agent_option_name_means_nothing_else_in_other_commands(command, option, capsys):
    """Issue 33: --learning-rate was the policy's rate in train and a hidden alias of the inner loop's in eval."""
    parser = _subparser(*command)
    assert option not in parser._option_string_actions
    assert "--inner-" + option.removeprefix("--") in parser._option_string_actions


# Issue 18.10: the examples in train --help ran together into one paragraph; nothing said which agent runs where.
def test_train_help_shows_examples_line_by_line_and_which_agents_run_on_which_env():
    text = _subparser("train").format_help()
    lines = text.splitlines()
    assert "  seal-gym train --preset smoke                      # seconds, on the tiny random model" in lines
    assert sum(line.startswith("  seal-gym train ") for line in lines) >= 4
    table = text[text.index("Which agents run on which env:"):]
    assert "SealARCStructured-v0   sb3-ppo" in table and "your env               rest-em, grpo, ppo" in table


@pytest.fixture(scope="module")
def squad_run(tmp_path_factory):
    """A real smoke run of SealSquad-v0 on the tiny random model."""
    runs = tmp_path_factory.mktemp("runs")
    assert main([*SMOKE, "--rounds", "1", "--runs-dir", str(runs)]) == 0
    return only_run(runs)


# Issue 18.9: eval squad/arc --policy ran with a run of another env, and another model failed with tensor names.
@pytest.mark.parametrize("argv,message", [
    (["eval", "arc", "--model", "tiny-random", "--tasks", "1"],
     "its policy was trained on SealSquad-v0, and eval arc evaluates SealARC-v0"),
    (["eval", "squad", "--passages", "1"],
     "its policy was trained on model tiny-random, and this evaluation loads smollm2-135m-instruct "
     "(pass --model tiny-random)"),
])
def test_eval_policy_of_another_env_or_model_is_refused_in_one_line(squad_run, tmp_path, capsys, argv, message):
    runs = tmp_path / "runs"
    assert main([*argv, "--policy", str(squad_run), "--runs-dir", str(runs)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"seal-gym {' '.join(argv[:2])}: error: --policy {squad_run}: {message}"
    assert not runs.exists()


def test_load_policy_into_another_model_says_which_model_it_was_trained_on(squad_run, tiny_bundle):
    import dataclasses

    from seal_gym.agents import load_policy

    with pytest.raises(ValueError, match="trained on model 'tiny-random'; it cannot be loaded into 'other-model'"):
        load_policy(squad_run, model=dataclasses.replace(tiny_bundle, name="other-model"))
