"""Issue 31.2: a supervised warm start (--agent sft on a teacher's self-edits), and RL from it (--init-policy)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seal_gym.cli import main
from seal_gym.testing import TargetCharEnv

TOY = ["--env", "seal_gym/TargetChar-v0", "--preset", "smoke", "--threads", "1"]
TEACHER = "aaaa bbbb cccc"  # all letters: TargetChar's reward is 1 for it; the tiny random model writes ~0.05


@pytest.fixture
def teacher_file(tmp_path):
    path = tmp_path / "teacher.jsonl"
    path.write_text("".join(json.dumps({"prompt": p, "completion": TEACHER}) + "\n" for p in TargetCharEnv.PROMPTS))
    return path


def rewards(run) -> list[float]:
    return [json.loads(line)["reward"] for line in (run / "episodes.jsonl").read_text().splitlines()]


def test_sft_learns_the_teachers_self_edits_and_grpo_starts_from_them(tmp_path, teacher_file):
    runs = tmp_path / "runs"
    assert main(["train", *TOY, "--agent", "sft", "--demonstrations", str(teacher_file), "--epochs", "4",
                 "--batch-size", "3", "--learning-rate", "3e-2", "--rounds", "3", "--runs-dir", str(runs / "sft")]) == 0
    (sft_run,) = (runs / "sft").iterdir()
    per_round = np.array(rewards(sft_run)).reshape(3, -1).mean(axis=1)
    assert per_round[-1] > per_round[0] + 0.3, per_round  # the writer took up the teacher's letters
    for name, extra in (("cold", []), ("warm", ["--init-policy", str(sft_run)])):
        assert main(["train", *TOY, "--agent", "grpo", "--rounds", "1", "--runs-dir", str(runs / name), *extra]) == 0
    (cold,), (warm,) = (runs / "cold").iterdir(), (runs / "warm").iterdir()
    assert np.mean(rewards(warm)) > np.mean(rewards(cold)) + 0.3  # round 1 of GRPO already writes like the teacher
    settings = json.loads((warm / "config.json").read_text())["command"]
    assert settings["init_policy"] == str(sft_run)  # the warm start is on record


def test_squad_demonstrations_are_the_files_completions_under_the_envs_prompts(tmp_path):
    import gymnasium as gym

    from seal_gym.agents.sft import load_demonstrations

    records = [{"title": f"T{i}", "context": f"Fact {i} is true.", "questions": [{"question": "Q?", "answer": "A"}],
                "completions": [f"implication {i}.{k}" for k in range(3)]} for i in range(2)]
    source = tmp_path / "seal.json"
    source.write_text(json.dumps(records))
    pairs = load_demonstrations(str(source), "SealSquad-v0", {"prompt_style": "rewrite"}, per_prompt=2)
    assert [c for _, c in pairs] == ["implication 0.0", "implication 0.1", "implication 1.0", "implication 1.1"]
    env = gym.make("SealSquad-v0", model="tiny-random", dataset=str(source), prompt_style="rewrite")
    observation, _ = env.reset(seed=0, options={"passage_index": 1})
    assert pairs[2][0] == observation


@pytest.mark.parametrize("extra,message", [
    (["--agent", "sft"], "sft needs demonstrations"),
    (["--agent", "sft", "--demonstrations", "train.json"], "reads none from such a source"),
    (["--agent", "grpo", "--init-policy", "no/such/run"], "no/such/run"),
])
def test_bad_warm_starts_are_one_line(tmp_path, capsys, extra, message):
    assert main(["train", *TOY, "--rounds", "1", "--runs-dir", str(tmp_path / "r"), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "r").exists()


def test_a_writer_of_another_policy_shape_is_refused(tmp_path, teacher_file, capsys):
    runs = tmp_path / "runs"
    assert main(["train", *TOY, "--agent", "sft", "--demonstrations", str(teacher_file), "--rounds", "1",
                 "--runs-dir", str(runs)]) == 0
    (run,) = runs.iterdir()
    assert main(["train", *TOY, "--agent", "grpo", "--rounds", "1", "--init-policy", str(run), "--policy-lora-rank", "4",
                 "--runs-dir", str(tmp_path / "r")]) == 2
    assert "differs from this policy's" in capsys.readouterr().err
