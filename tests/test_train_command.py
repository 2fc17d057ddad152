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
    (["--resume", "."], "not a run folder"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    runs = tmp_path / "runs"
    assert main([*SMOKE, "--runs-dir", str(runs), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not runs.exists()


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
