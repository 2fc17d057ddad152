"""A user's own text env, registered by the test with ``gym.register``, trained by id with every agent that
writes text, from Python (``make_agent``) and from the command line (``seal-gym train --env-import``); envs
that cannot be used are refused in one line before a run folder exists; a run that fails leaves no half-made
folder."""

from __future__ import annotations

import json
import string
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.spaces import Text

from seal_gym.agents import AGENTS, make_agent, presets
from seal_gym.cli import main

# sft needs a teacher's demonstrations: tests/test_sft.py trains it on a user-style env (TargetChar) instead.
TEXT_AGENTS = [name for name, cls in AGENTS.items() if cls.needs_text_policy and name != "sft"]


class CountLetter(gym.Env[str, str]):
    """A user's text env that takes no model: the reward is the share of one letter in the action."""

    metadata = {"render_modes": []}

    def __init__(self, letter: str = "a") -> None:
        self.letter = letter
        self.observation_space = Text(200, min_length=0, charset=string.printable)
        self.action_space = Text(4000, min_length=0, charset=string.printable)
        self.steps: list[tuple[str, float]] = []

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[str, dict]:
        super().reset(seed=seed)
        return f"Write the letter {self.letter}, {int(self.np_random.integers(1, 4))} lines of it.", {}

    def step(self, action: str) -> tuple[str, float, bool, bool, dict]:
        reward = action.count(self.letter) / max(len(action), 1)
        self.steps.append((action, reward))
        return "", reward, True, False, {"letters": float(action.count(self.letter))}


class CountLetterWithModel(CountLetter):
    """The same env, declaring a model keyword of its own name: agents pass their policy's model there."""

    metadata = {"render_modes": [], "model_kwarg": "lm"}

    def __init__(self, lm=None) -> None:
        super().__init__()
        self.lm = lm


@pytest.fixture
def user_envs():
    ids = {"UserCountLetter-v0": CountLetter, "UserCountLetterWithModel-v0": CountLetterWithModel}
    for env_id, cls in ids.items():
        gym.register(env_id, entry_point=cls)
    yield
    for env_id in ids:
        gym.registry.pop(env_id, None)


@pytest.mark.parametrize("name", TEXT_AGENTS)
def test_every_text_agent_trains_a_user_env_by_id(user_envs, name):
    assert set(TEXT_AGENTS) == {"rest-em", "grpo", "ppo"}
    config = AGENTS[name].config_class(prompts_per_round=2, samples_per_prompt=2)
    agent = make_agent(name, policy=presets.testbed_policy(), env="UserCountLetter-v0", config=config)
    stats = agent.learn(1)[0]
    steps = agent.collector.env.unwrapped.steps
    assert len(steps) == stats.global_step == 4  # G x n self-edits, each one episode of the user's env
    assert stats.reward_mean == pytest.approx(np.mean([reward for _, reward in steps]))


def test_self_mode_follows_what_the_env_declares(user_envs):
    policy = presets.testbed_policy()
    shared = make_agent("rest-em", policy=policy, env="UserCountLetterWithModel-v0")
    assert shared.collector.env.unwrapped.lm is policy.bundle  # self mode: the policy's own model
    apart = make_agent("rest-em", policy=policy, env="UserCountLetterWithModel-v0", env_kwargs={"lm": "student"})
    assert apart.collector.env.unwrapped.lm == "student"  # teacher-student: the env's own
    assert make_agent("rest-em", policy=policy, env="UserCountLetterWithModel-v0",
                      self_mode=False).collector.env.unwrapped.lm is None
    with pytest.raises(ValueError, match="declares no model keyword"):
        make_agent("rest-em", policy=policy, env="UserCountLetter-v0", self_mode=True)


def test_an_env_without_text_spaces_is_refused_before_sampling():
    with pytest.raises(ValueError, match=r"CartPole-v1 has observations Box\(4,\) and actions Discrete\(2\).*Text"):
        make_agent("grpo", policy=presets.testbed_policy(), env="CartPole-v1")


MODULE = '''
"""A user's envs, registered when imported (as seal-gym train --env-import imports them)."""
import string

import gymnasium as gym
from gymnasium.spaces import Text


class CountLetter(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self, fail_after=None, nan=False, drifting=False):
        self.observation_space = Text(200, min_length=0, charset=string.printable)
        self.action_space = Text(4000, min_length=0, charset=string.printable)
        self.fail_after, self.steps, self.nan, self.drifting, self.resets = fail_after, 0, nan, drifting, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.resets += 1
        return "Write the letter a." + (" again" * self.resets if self.drifting else ""), {}

    def step(self, action):
        self.steps += 1
        if self.fail_after is not None and self.steps > self.fail_after:
            raise RuntimeError("the user's env broke")
        reward = float("nan") if self.nan and self.steps == 2 else action.count("a") / max(len(action), 1)
        return "", reward, True, False, {}


gym.register("UserCliCountLetter-v0", entry_point=CountLetter)


def register_failing():
    gym.register("UserCliFailing-v0", entry_point=CountLetter, kwargs={"fail_after": 0})
    gym.register("UserCliFailingLater-v0", entry_point=CountLetter, kwargs={"fail_after": 4})
    gym.register("UserCliNaN-v0", entry_point=CountLetter, kwargs={"nan": True})
    gym.register("UserCliDrifting-v0", entry_point=CountLetter, kwargs={"drifting": True})


def register_raising():
    raise KeyError("the user's registration broke")
'''


@pytest.fixture
def env_module(tmp_path, monkeypatch):
    """``user_text_envs.py`` in the working folder (not on sys.path: --env-import looks there)."""
    (tmp_path / "user_text_envs.py").write_text(MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    yield tmp_path
    sys.modules.pop("user_text_envs", None)
    for env_id in ("UserCliCountLetter-v0", "UserCliFailing-v0", "UserCliFailingLater-v0", "UserCliNaN-v0",
                   "UserCliDrifting-v0"):
        gym.registry.pop(env_id, None)


SMOKE = ["train", "--preset", "smoke", "--rounds", "1", "--threads", "1"]


@pytest.mark.parametrize("name", TEXT_AGENTS)
def test_the_cli_trains_a_user_env_by_id(env_module, name, capsys):
    runs = env_module / "runs"
    assert main([*SMOKE, "--env-import", "user_text_envs", "--env", "UserCliCountLetter-v0", "--agent", name,
                 "--runs-dir", str(runs)]) == 0
    (run,) = runs.iterdir()
    assert run.name.startswith(f"UserCliCountLetter-v0__{name}__0__")
    records = [json.loads(line) for line in (run / "episodes.jsonl").read_text().splitlines()]
    assert len(records) == 2 * 2  # the smoke budget: 2 prompts x 2 samples
    for record in records:  # the rewards are the user's env's
        text = record["self_edit"]
        assert record["reward"] == pytest.approx(text.count("a") / max(len(text), 1))
    assert json.loads((run / "config.json").read_text())["command"]["env_import"] == ["user_text_envs"]


@pytest.mark.parametrize("args,message", [
    (["--env-import", "no_such_module_here"], "No module named 'no_such_module_here'"),
    (["--env-import", "user_text_envs:nothing"], "has no callable 'nothing'"),
    (["--env", "NotRegistered-v0"], "register yours with --env-import"),
    (["--env", "CartPole-v1"], "CartPole-v1 has observations Box(4,) and actions Discrete(2)"),
    (["--env-import", "user_text_envs:register_raising"], "register_raising() raised KeyError: \"the user's registration"),
    (["--env-import", "raising_module"], "importing it raised ZeroDivisionError: division by zero"),
])
def test_an_env_that_cannot_be_used_is_one_line_before_any_folder(env_module, capsys, args, message):
    (env_module / "raising_module.py").write_text("1 / 0\n")
    runs = env_module / "runs"
    assert main([*SMOKE, "--runs-dir", str(runs), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not runs.exists()


@pytest.mark.parametrize("env_id,message", [
    ("UserCliFailing-v0", "the run failed: RuntimeError: the user's env broke (--debug shows the traceback)"),
    ("UserCliNaN-v0", "UserCliNaN-v0 returned the reward nan for prompt 0, self-edit 1, inner seed 0 of this round"),
    ("UserCliDrifting-v0", "the env shows a different observation after a reset with the same seed"),
])
def test_a_run_that_fails_before_its_first_checkpoint_is_one_line_and_leaves_no_folder(env_module, capsys, env_id,
                                                                                        message):
    runs = env_module / "new" / "runs"
    assert main([*SMOKE, "--env-import", "user_text_envs:register_failing", "--env", env_id,
                 "--runs-dir", str(runs)]) == 1
    captured = capsys.readouterr()
    assert message in captured.err and len(captured.err.strip().splitlines()) == 1, captured.err
    assert "removed" in captured.out and not runs.exists()  # nor the runs folder this run made
    with pytest.raises(RuntimeError if env_id == "UserCliFailing-v0" else ValueError):
        main([*SMOKE, "--env-import", "user_text_envs:register_failing", "--env", env_id, "--runs-dir", str(runs),
              "--debug"])


def test_a_run_that_fails_later_is_marked_failed_beside_its_checkpoint(env_module, capsys):
    runs = env_module / "runs"
    assert main([*SMOKE, "--rounds", "2", "--env-import", "user_text_envs:register_failing",
                 "--env", "UserCliFailingLater-v0", "--runs-dir", str(runs)]) == 1
    (run,) = runs.iterdir()
    assert (run / "FAILED").read_text().strip() == "RuntimeError: the user's env broke"
    assert (run / "checkpoints" / "latest").read_text() == "round-0001"
    assert "the run failed: RuntimeError: the user's env broke" in capsys.readouterr().err


def test_runs_dir_that_is_a_file_is_one_line(env_module, capsys):
    (env_module / "afile").write_text("x")
    assert main([*SMOKE, "--runs-dir", str(env_module / "afile")]) == 2
    assert "--runs-dir " + str(env_module / "afile") + " is a file, not a folder" in capsys.readouterr().err


def test_the_python_example_in_docs_training_runs():
    text = (Path(__file__).resolve().parents[1] / "docs" / "training.md").read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    try:
        exec(compile(code, "docs/training.md", "exec"), {"__name__": "docs_training"})
    finally:
        gym.registry.pop("CountA-v0", None)


def test_the_seal_gym_script_imports_a_user_env_from_the_working_folder(env_module):
    """As a user runs it: the installed script (whose sys.path holds its own folder, not the working one)."""
    import os
    import subprocess

    script = Path(sys.executable).parent / "seal-gym"
    if not script.exists():
        pytest.skip(f"no seal-gym script beside {sys.executable}")
    done = subprocess.run([str(script), *SMOKE, "--env-import", "user_text_envs", "--env", "UserCliCountLetter-v0",
                           "--agent", "grpo", "--runs-dir", "runs"], cwd=env_module, capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    (run,) = (env_module / "runs").iterdir()
    assert len((run / "episodes.jsonl").read_text().splitlines()) == 4
