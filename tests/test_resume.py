"""Resume that is exact, run folders that are safe.

- TensorBoard holds exactly one point per round and tag after any number of kills and resumes (read back with
  TensorBoard's own EventAccumulator);
- ``train --resume`` takes ``--rounds`` (to extend a run) and refuses every other option in one line, writing
  nothing;
- one writer per run folder: a second one fails at once, a killed writer's lock is taken over;
- checkpoints are data: a run folder whose ``agent.pt`` (or sb3-ppo's zip) would run code when unpickled is
  refused (or loaded without it), not run.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import shutil
import signal
import string
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import torch
from stable_baselines3 import PPO

from seal_gym.agents import AGENTS, SB3PPOConfig, make_agent, presets
from seal_gym.agents.run_lock import RunLock, RunLockedError
from seal_gym.agents.runlog import RunLog, latest_checkpoint
from seal_gym.arc.generator import generate_task
from seal_gym.cli import main
from seal_gym.testing import ScriptedEngine, TargetCharEnv

SMOKE = ["train", "--preset", "smoke", "--seed", "3"]


class Killed(Exception):
    """Stands for kill -9 at a chosen point of the loop."""


def make(name: str = "rest-em", seed: int = 0):
    cls = AGENTS[name]
    config = cls.config_class(prompts_per_round=2, samples_per_prompt=2, seed=seed, **presets.TESTBED_AGENTS[name])
    return cls(presets.testbed_policy(seed), TargetCharEnv(string.ascii_letters), config)


def scalars(run: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar tag's ``(step, value)`` points, as TensorBoard reads the folder."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def killed(agent, rounds: int, run: Path, monkeypatch, at_round: int, after_checkpoint: bool) -> None:
    """``agent.learn`` killed in round ``at_round`` (1-based): after its events and records, before or after its
    checkpoint. The kernel drops a killed process's lock; here the test drops it."""
    checkpoint = RunLog.checkpoint

    def dying(log, agent):
        if agent.round == at_round and after_checkpoint:
            checkpoint(log, agent)
        if agent.round == at_round:
            raise Killed
        checkpoint(log, agent)

    monkeypatch.setattr(RunLog, "checkpoint", dying)
    with pytest.raises(Killed):
        agent.learn(rounds, run_dir=run) if agent.log is None else agent.learn(rounds)
    agent.log.lock.release()
    monkeypatch.setattr(RunLog, "checkpoint", checkpoint)


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --- TensorBoard: one point per round ------------------------------------------------------------------------
def test_tensorboard_has_one_point_per_round_after_kills_and_resumes(tmp_path, monkeypatch):
    run = tmp_path / "run"
    killed(make(), 5, run, monkeypatch, at_round=2, after_checkpoint=False)  # round 2's points are dropped
    resumed = make()
    resumed.resume(run)
    assert resumed.round == 1
    killed(resumed, 5, run, monkeypatch, at_round=3, after_checkpoint=True)  # round 3's points stay
    last = make()
    last.resume(run)
    assert last.round == 3
    history = last.learn(5)
    points = scalars(run)
    expected = [(s.global_step, s.reward_mean) for s in history]
    assert len(expected) == 5 and len({step for step, _ in expected}) == 5
    assert [(step, pytest.approx(value)) for step, value in points["charts/reward_mean"]] == expected
    for tag, series in points.items():  # every tag: one point per round, none repeated
        assert len({step for step, _ in series}) == len(series) == 5, tag


def test_a_resumed_event_file_sorts_after_the_runs_last_one(tmp_path):
    """TensorBoard reads event files in name order and a name starts with its second: a resume within the
    second of the last file would otherwise be read first (and its purge would hit nothing)."""
    agent = make()
    agent.learn(1, run_dir=tmp_path / "run")
    resumed = make()
    resumed.resume(tmp_path / "run")
    names = sorted(p.name for p in (tmp_path / "run").glob("events.out.tfevents.*"))
    assert len(names) == 2 and int(names[1].split(".")[3]) > int(names[0].split(".")[3])


# --- the command line: --resume takes --rounds only -------------------------------------------------------------
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A finished smoke run of 2 rounds (tests copy it before changing it)."""
    runs = tmp_path_factory.mktemp("runs")
    assert main([*SMOKE, "--rounds", "2", "--runs-dir", str(runs)]) == 0
    return next(p for p in runs.iterdir() if p.is_dir())


def test_rounds_extends_a_finished_run(finished_run, tmp_path, capsys):
    run = Path(shutil.copytree(finished_run, tmp_path / "run"))
    assert main(["train", "--resume", str(run), "--rounds", "4"]) == 0
    assert "resuming" in capsys.readouterr().out
    assert (run / "checkpoints" / "latest").read_text() == "round-0004"
    assert json.loads((run / "config.json").read_text())["command"]["rounds"] == 4  # a later --resume goes as far
    assert [json.loads(line)["round"] for line in (run / "episodes.jsonl").read_text().splitlines()] == \
        [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]
    steps = [step for step, _ in scalars(run)["charts/reward_mean"]]
    assert steps == [4, 8, 12, 16]  # round 2's point (the checkpoint's) survives the resume
    before = snapshot(run)
    assert main(["train", "--resume", str(run)]) == 0  # finished: says so and writes nothing
    assert "nothing to do" in capsys.readouterr().out
    assert snapshot(run) == before


def test_a_sealarc_run_resumes_on_the_batched_engine(tmp_path, capsys):
    """config.json keeps tuples as JSON lists: the resumed run's LoRA spec must still group adapters (it is hashed)."""
    runs = tmp_path / "runs"
    argv = ["train", "--env", "SealARC-v0", "--preset", "smoke", "--agent", "grpo", "--threads", "1",
            "--ttt-max-examples", "2", "--ttt-lora-target-modules", "q_proj,v_proj", "--ttt-leave-out", "1"]
    assert main([*argv, "--rounds", "1", "--runs-dir", str(runs)]) == 0
    (run,) = runs.iterdir()
    assert json.loads((run / "config.json").read_text())["command"]["ttt_lora_target_modules"] == ["q_proj", "v_proj"]
    assert main(["train", "--resume", str(run), "--rounds", "2"]) == 0, capsys.readouterr().err
    assert (run / "checkpoints" / "latest").read_text() == "round-0002"


@pytest.mark.parametrize("args,message", [
    (["--agent", "grpo"], "--agent cannot be given with --resume"),
    (["--env", "SealSquad-v0"], "--env cannot be given"),  # even the run's own value: it would be ignored
    (["--epochs", "3"], "--epochs cannot be given"),
    (["--seed", "3"], "--seed cannot be given"),
    (["--rounds", "1"], "has done 2 rounds"),
])
def test_resume_refuses_other_options_in_one_line_writing_nothing(finished_run, capsys, args, message):
    before = snapshot(finished_run)
    assert main(["train", "--resume", str(finished_run), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert snapshot(finished_run) == before


def test_threads_is_taken_with_resume(finished_run, capsys):
    assert main(["train", "--resume", str(finished_run), "--threads", "1"]) == 0
    assert "nothing to do" in capsys.readouterr().out


# --- one writer per run ----------------------------------------------------------------------------------------
def hold_lock(run: Path) -> subprocess.Popen:
    """Another process that holds the run's lock until it is killed."""
    code = ("import sys, time; from seal_gym.agents.run_lock import RunLock; lock = RunLock(sys.argv[1]); lock.acquire(); "
            "print('locked', flush=True); time.sleep(600)")
    process = subprocess.Popen([sys.executable, "-c", code, str(run)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "locked"
    return process


def test_a_second_writer_fails_at_once_and_a_killed_writers_lock_is_taken_over(finished_run, tmp_path, capsys):
    run = Path(shutil.copytree(finished_run, tmp_path / "run"))
    holder = hold_lock(run)
    try:
        before, start = snapshot(run), time.perf_counter()
        assert main(["train", "--resume", str(run), "--rounds", "3"]) == 2
        err = capsys.readouterr().err.strip()
        assert f"being written by process {holder.pid}" in err and len(err.splitlines()) == 1, err
        assert time.perf_counter() - start < 10  # before any model is loaded
        assert snapshot(run) == before
        with pytest.raises(RunLockedError, match=str(holder.pid)):  # the API too
            make("rest-em").resume(run)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert main(["train", "--resume", str(run), "--rounds", "3"]) == 0  # the dead holder's lock is taken over
    assert (run / "checkpoints" / "latest").read_text() == "round-0003"


@pytest.mark.parametrize("holder", ["dead", "alive"])
def test_a_stale_lock_file_is_taken_over(tmp_path, holder):
    """A lock file left by a process that no longer holds the lock: dead, or its pid now another live process's
    (pid 1 here): the file's pid is only for messages, the kernel's lock decides."""
    if holder == "dead":
        process = subprocess.Popen([sys.executable, "-c", "pass"])
        process.wait()
        pid = process.pid
    else:
        pid = 1
    (tmp_path / "lock").write_text(json.dumps({"pid": pid, "host": "here", "since": "earlier"}))
    lock = RunLock(tmp_path)
    lock.acquire()
    assert lock.held and lock.previous["pid"] == pid
    assert json.loads((tmp_path / "lock").read_text())["pid"] == os.getpid()
    lock.release()


def test_a_new_run_in_a_locked_folder_writes_nothing(tmp_path):
    holder = RunLock(tmp_path / "run")
    holder.acquire()
    with pytest.raises(RunLockedError, match="another agent in this process"):
        make().learn(1, run_dir=tmp_path / "run")
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["lock"]
    holder.release()
    assert make().learn(1, run_dir=tmp_path / "run")[-1].round == 0  # free again


# --- checkpoints are data -------------------------------------------------------------------------------------
class RunsCode:
    """Unpickling this runs code: it writes the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').write('ran')",)


def test_checkpoints_hold_no_pickle(tmp_path):
    agent = make("ppo")  # an optimizer and a value head in its state
    agent.learn(2, run_dir=tmp_path / "run")
    checkpoint = latest_checkpoint(tmp_path / "run")
    assert sorted(p.name for p in checkpoint.iterdir()) == ["agent.json", "agent.safetensors", "policy"]
    resumed = make("ppo")
    resumed.resume(tmp_path / "run")
    assert resumed.round == 2 and resumed.history[-1] == agent.history[-1]
    assert resumed.rng.bit_generator.state == agent.rng.bit_generator.state
    assert resumed.update_rng.bit_generator.state == agent.update_rng.bit_generator.state
    assert torch.equal(resumed.value_head.weight, agent.value_head.weight)


def test_a_checkpoint_that_would_run_code_is_refused_not_run(tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main([*SMOKE, "--rounds", "1", "--runs-dir", str(runs)]) == 0
    run = next(runs.iterdir())
    checkpoint = latest_checkpoint(run)
    for name in ("agent.json", "agent.safetensors"):
        (checkpoint / name).unlink()
    marker = tmp_path / "marker"
    torch.save({"round": 1, "global_step": 4, "payload": RunsCode(marker)}, checkpoint / "agent.pt")
    torch.load(checkpoint / "agent.pt", weights_only=False)  # the file is truly malicious...
    assert marker.read_text() == "ran"
    marker.unlink()
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--rounds", "2"]) == 2  # ...and resuming does not run it
    err = capsys.readouterr().err.strip()
    assert "refusing to load" in err and len(err.splitlines()) == 1, err
    assert not marker.exists()


def test_an_older_run_folders_plain_agent_pt_still_resumes(tmp_path):
    agent = make()
    agent.learn(1, run_dir=tmp_path / "run")
    checkpoint = latest_checkpoint(tmp_path / "run")
    for name in ("agent.json", "agent.safetensors"):
        (checkpoint / name).unlink()
    torch.save(agent.state_dict(), checkpoint / "agent.pt")  # what older versions wrote
    resumed = make()
    resumed.resume(tmp_path / "run")
    assert resumed.round == 1 and resumed.history == agent.history


def test_an_sb3_checkpoint_that_would_run_code_is_not_run(tmp_path):
    """SB3's zip holds some settings cloudpickled; sb3-ppo takes them from its own model instead of unpickling."""
    kwargs = {"model": "tiny-random", "engine": ScriptedEngine(lambda request, query: "0"), "tasks": [generate_task(3)],
              "ttt": {"max_examples": 4}}
    agent = make_agent("sb3-ppo", env="SealARC-v0", config=SB3PPOConfig(prompts_per_round=4), env_kwargs=kwargs)
    agent.policy.save(tmp_path)
    path, marker = tmp_path / "sb3_ppo.zip", tmp_path / "marker"
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    data = json.loads(files["data"])
    data["lr_schedule"][":serialized:"] = base64.b64encode(pickle.dumps(RunsCode(marker))).decode()
    files["data"] = json.dumps(data).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    PPO.load(str(path))  # the file is truly malicious: SB3's own load runs it...
    assert marker.read_text() == "ran"
    marker.unlink()
    agent.policy.load(tmp_path)  # ...sb3-ppo's does not
    assert not marker.exists()
    assert agent.policy.model.learning_rate == 3e-4 and callable(agent.policy.model.lr_schedule)
