"""A domain is a plug-in (issue 33): a third domain in one file (tests/toy_domain.py) trains from the API and the
CLI, and the generic floors find SealSquad's and SealARC's settings through their specs alone."""

from __future__ import annotations

import json

import pytest

from seal_gym.cli import main

SMOKE = ["train", "--env-import", "tests.toy_domain", "--env", "ToyWords-v0", "--preset", "smoke", "--rounds", "1",
         "--threads", "1", "--agent", "grpo"]


def test_the_toy_domain_trains_from_the_api():
    import tests.toy_domain  # noqa: F401  (registers the domain)
    from seal_gym.agents import make_agent
    from seal_gym.agents.presets import agent_config, preset_for, testbed_policy
    from seal_gym.agents.grpo import GRPOConfig

    preset = preset_for("ToyWords-v0", "smoke")
    agent = make_agent("grpo", policy=testbed_policy(), env="ToyWords-v0", config=agent_config(GRPOConfig, preset),
                       env_kwargs={"words": "delta", "reward": "hits_vs_empty"})
    (stats,) = agent.learn(1)
    assert stats.reward_mean >= 0.0  # hits_vs_empty: the empty action's share is 0


def test_the_toy_domain_trains_from_the_cli_with_its_own_options(tmp_path):
    runs = tmp_path / "runs"
    assert main([*SMOKE, "--runs-dir", str(runs), "--dataset", "delta,epsilon", "--reward", "hits_vs_empty",
                 "--toy-bonus", "2.5", "--toy-max-words", "3"]) == 0
    (run,) = runs.iterdir()
    records = [json.loads(line) for line in (run / "episodes.jsonl").read_text().splitlines()]
    assert records
    for record in records:
        words = record["self_edit"].split()[:3]
        target = "delta" if "delta" in record["prompt"] else "epsilon"
        assert "delta" in record["prompt"] or "epsilon" in record["prompt"]
        assert record["reward"] == pytest.approx(sum(w == target for w in words) / max(1, len(words)) + 2.5)


@pytest.mark.parametrize("extra,message", [
    (["--toy-bonus", "1"], "--toy-bonus: a setting of ToyWords-v0, not of SealSquad-v0"),
    (["--reward", "hits"], "unknown --reward 'hits' for SealSquad-v0"),
])
def test_a_domain_option_on_another_env_is_refused_in_one_line(tmp_path, capsys, extra, message):
    argv = ["train", "--env-import", "tests.toy_domain", "--preset", "smoke", "--runs-dir", str(tmp_path / "r"), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


def test_bad_toy_data_is_refused_by_the_domains_own_check(tmp_path, capsys):
    assert main([*SMOKE, "--runs-dir", str(tmp_path / "r"), "--dataset", "a,,b"]) == 2
    assert "a comma-separated list of non-empty words" in capsys.readouterr().err


def test_a_preset_made_for_data_outside_the_package_asks_for_it(tmp_path, capsys):
    """No library default names ../shared: the cpu preset says which data it was designed for."""
    assert main(["train", "--preset", "cpu", "--model", "tiny-random", "--runs-dir", str(tmp_path / "r")]) == 2
    assert "--dataset ../shared/data/squad/train.json@train" in capsys.readouterr().err


def test_generic_floors_import_no_task_family():
    """agents/ (but its SealSquad integrations with TRL and verifiers) and train's command find presets, choice
    sets, structured twins and options through the domain specs: none imports a domain's package."""
    from pathlib import Path

    from tests.test_domains import imported_modules

    root = Path(__file__).resolve().parents[1]
    files = [p for p in (root / "agents").glob("*.py") if not p.name.startswith(("trl_", "verifiers"))]
    files += [root / "seal_gym/commands/train.py", root / "seal_gym/commands/train_options.py"]
    found = sorted(f"{path.name} imports {name}" for path in files for name in imported_modules(path)
                   if name.startswith(("seal_gym.squad", "seal_gym.arc")))
    assert not found, found
    assert not [p.name for p in files if "../shared" in p.read_text()]


def test_choice_sets_come_from_the_domains():
    import tests.toy_domain  # noqa: F401
    from seal_gym.registration import choice_set, choice_set_names

    assert {"arc-recipes", "toy-words"} <= set(choice_set_names())
    assert choice_set("toy-words")[-1] == "alpha alpha"
    with pytest.raises(ValueError, match="unknown choice set 'nope'"):
        choice_set("nope")
