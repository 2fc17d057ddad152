"""Issue 35.9: presets say what they cost on every env and keep it; refusals name the real mismatch."""

from __future__ import annotations

import pytest

from seal_gym.cli import main


def test_the_structured_env_gets_sealarcs_presets_not_squads():
    """SealARCStructured-v0 fell back to SealSquad's presets with no env arguments, so its smoke run trained
    the default TTT budget (24 examples, 8-way vote): 415 s against SealARC-v0's 50 s."""
    from seal_gym.agents.presets import preset_for

    for name in ("smoke", "demo", "paper"):
        assert preset_for("SealARCStructured-v0", name) == preset_for("SealARC-v0", name)
    assert preset_for("SealARCStructured-v0", "smoke").env_kwargs["ttt"]["max_examples"] == 4


def test_train_help_lists_every_preset(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name in ("smoke (every seal_gym env)", "demo (SealSquad-v0, SealARC-v0, SealARCStructured-v0)",
                 "paper (SealSquad-v0, SealARC-v0, SealARCStructured-v0)", "cpu (SealSquad-v0)"):
        assert name in text


def test_an_sb3_run_as_policy_is_refused_for_its_env(sb3_run, tmp_path, capsys):
    assert main(["eval", "squad", "--model", "tiny-random", "--passages", "1", "--policy", str(sb3_run),
                 "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "its policy was trained on SealARCStructured-v0, and eval squad evaluates SealSquad-v0" in err
    assert "policy.json" not in err


def test_sb3_ppos_refusal_names_both_envs_it_takes():
    from seal_gym.agents import make_agent

    with pytest.raises(ValueError, match="env must be one of 'SealARC-v0', 'SealARCStructured-v0', got 'SealSquad-v0'"):
        make_agent("sb3-ppo", env="SealSquad-v0")


@pytest.mark.parametrize("agent", ["grpo", "ppo"])
def test_a_smoke_run_on_the_toy_env_shows_learning(tmp_path, agent):
    """Issue 35.10: on the tiny model every SealSquad reward is 0, so no smoke run showed anything learn; the
    toy's known reward rises in its smoke preset (seconds), in its TensorBoard curve."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    assert main(["train", "--env", "seal_gym/TargetChar-v0", "--preset", "smoke", "--agent", agent,
                 "--runs-dir", str(tmp_path), "--threads", "1"]) == 0
    (run,) = tmp_path.iterdir()
    events = EventAccumulator(str(run))
    events.Reload()
    rewards = [e.value for e in events.Scalars("charts/reward_mean")]
    assert len(rewards) == 5 and rewards[-1] > rewards[0] + 0.3, rewards
