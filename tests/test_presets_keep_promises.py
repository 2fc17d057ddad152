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
    for name in ("smoke (every seal_gym env)", "demo (every seal_gym env)", "paper (every seal_gym env)",
                 "cpu (SealSquad-v0)"):
        assert name in text


@pytest.fixture(scope="module")
def sb3_run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    assert main(["train", "--preset", "smoke", "--env", "SealARCStructured-v0", "--agent", "sb3-ppo", "--rounds", "1",
                 "--runs-dir", str(runs), "--threads", "1"]) == 0
    return next(runs.iterdir())


def test_an_sb3_run_as_policy_is_refused_for_its_env(sb3_run, tmp_path, capsys):
    assert main(["eval", "squad", "--model", "tiny-random", "--passages", "1", "--policy", str(sb3_run),
                 "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "its policy was trained on SealARCStructured-v0, and eval squad evaluates SealSquad-v0" in err
    assert "policy.json" not in err


def test_sb3_ppos_refusal_names_both_envs_it_takes():
    from seal_gym.agents import make_agent

    with pytest.raises(ValueError, match="env must be 'SealARC-v0' or 'SealARCStructured-v0', got 'SealSquad-v0'"):
        make_agent("sb3-ppo", env="SealSquad-v0")
