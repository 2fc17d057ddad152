"""Issue 35.4 and 35.6: every numeric setting is checked where it is defined (one line, exit 2, before any model
loads), and a setting has one option name in every command, an unknown option being refused by its subcommand
with the closest name."""

from __future__ import annotations

import json

import pytest

from seal_gym.cli import main


@pytest.fixture
def docs(tmp_path):
    path = tmp_path / "docs.json"
    path.write_text(json.dumps([{"title": "T", "context": "A note about nothing."}]))
    return path


@pytest.mark.parametrize("argv,message", [
    (["train", "--preset", "smoke", "--sample-temperature", "-1"], "temperature must be >= 0"),
    (["train", "--preset", "smoke", "--sample-top-p", "2"], "top_p must be in (0, 1]"),
    (["train", "--preset", "smoke", "--sample-max-new-tokens", "0"], "max_new_tokens must be >= 1"),
    (["train", "--preset", "smoke", "--rounds", "99999999999999999999"], "--rounds must be in [1, 1,000,000]"),
    (["train", "--preset", "smoke", "--eval-every", "-1"], "eval_every must be >= 0"),
    (["synthesize", "DOCS", "--out", "OUT", "--sample-temperature", "-2"], "--sample-temperature: temperature must be >= 0"),
    (["synthesize", "DOCS", "--out", "OUT", "--temperature", "-2"], "--sample-temperature: temperature must be >= 0"),
    (["synthesize", "DOCS", "--out", "OUT", "--sample-max-new-tokens", "0"], "--sample-max-new-tokens: max_new_tokens"),
    (["synthesize", "DOCS", "--out", "TMP"], "is a folder: name the JSON file to write"),
    (["eval", "squad", "--sample-temperature", "nan"], "temperature must be >= 0"),
])
def test_out_of_range_values_are_one_line_and_exit_2(tmp_path, docs, capsys, argv, message):
    argv = [{"DOCS": str(docs), "OUT": str(tmp_path / "out.json"), "TMP": str(tmp_path)}.get(a, a) for a in argv]
    assert main([*argv, "--runs-dir", str(tmp_path / "runs")] if argv[0] != "synthesize" else argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "runs").exists() and not (tmp_path / "out.json").exists()


def test_memory_update_refuses_a_bad_temperature_before_loading_a_model(tmp_path, docs, capsys):
    assert main(["memory", "add", str(docs), "--kb", str(tmp_path / "kb"), "--model", "tiny-random"]) == 0
    assert main(["memory", "update", "--kb", str(tmp_path / "kb"), "--sample-temperature", "-1"]) == 2
    assert "--sample-temperature: temperature must be >= 0" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["synthesize", "DOCS", "--out", "x.json"], ["eval", "memory"], ["eval", "squad"],
                                     ["memory", "update", "--kb", "kb"], ["train"]])
def test_one_setting_has_one_name_in_every_command(command, capsys):
    """The sampling options are train's everywhere; the inner loop's under --inner-*."""
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    text = capsys.readouterr().out
    assert "--sample-temperature" in text and "--sample-max-new-tokens" in text
    assert "--temperature " not in text and "--max-self-edit-tokens" not in text  # old names: hidden aliases
    if command[0] in ("memory", "eval") and command[1] != "squad":
        assert "--inner-epochs" in text and "--inner-lora-rank" in text and "--lora-rank" not in text


def test_old_names_still_work(tmp_path, docs, capsys):
    assert main(["memory", "add", str(docs), "--kb", str(tmp_path / "kb"), "--model", "tiny-random"]) == 0
    assert main(["memory", "update", "--kb", str(tmp_path / "kb"), "--inner-epochs", "1", "--lora-rank", "2",
                 "--max-self-edit-tokens", "4", "--temperature", "0.5", "--questions-per-document", "0",
                 "--max-answer-tokens", "3"]) == 0


@pytest.mark.parametrize("argv,message", [
    (["synthesize", "d", "--out", "o", "--temprature", "1"],
     "seal-gym synthesize: error: unrecognized arguments: --temprature 1 (did you mean --sample-temperature?)"),
    (["memory", "update", "--kb", "k", "--inner-epocs", "1"],
     "seal-gym memory update: error: unrecognized arguments: --inner-epocs 1 (did you mean --inner-epochs?)"),
])
def test_an_unknown_option_names_its_subcommand_and_the_closest_option(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and capsys.readouterr().err.startswith(message)
