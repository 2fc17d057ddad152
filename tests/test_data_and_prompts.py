"""Passage sources and self-edit prompt styles."""

from __future__ import annotations

import json
import sys
import types

import pytest

from seal_gym.squad.passages import Passage, QA, demo_passages, load_passages
from seal_gym.squad.prompts import PROMPT_STYLES, PromptStyle, get_prompt_style, register_prompt_style


def test_demo_set_is_offline_and_well_formed():
    passages = demo_passages()
    assert len(passages) == 20
    for p in passages:
        assert 3 <= len(p.questions) <= 5
        assert all(qa.answer in p.context for qa in p.questions)
        assert p.completions


def test_seal_format_json_from_shared_data(shared_data):
    train = load_passages(shared_data / "squad" / "train.json")
    assert len(train) == 100 and len(train[0].completions) >= 5


def test_bad_json_files_get_clear_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"title": "x", "context": "y"}]))
    with pytest.raises(ValueError, match="SEAL format"):
        load_passages(bad)
    with pytest.raises(FileNotFoundError):
        load_passages(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('[{"title": "x",\n  "context": }]')
    with pytest.raises(ValueError, match=r"broken\.json: not valid JSON \(Expecting value at line 2, column 14\)"):
        load_passages(broken)


def test_hub_unreachable_gives_clear_error(monkeypatch):
    fake = types.ModuleType("datasets")

    def load_dataset(*args, **kwargs):
        raise OSError("offline")

    fake.load_dataset = load_dataset
    monkeypatch.setitem(sys.modules, "datasets", fake)
    with pytest.raises(ConnectionError, match="dataset='demo'"):
        load_passages("hf:squad")


def test_passage_list_passes_through():
    passages = [Passage("T", "C", (QA("q", "a"),))]
    assert load_passages(passages) is passages


def test_styles_render_and_split():
    for name in ("implications", "implications-long", "rewrite", "self-qa"):
        text = PROMPT_STYLES[name].render("Port Varrow", "A town.")
        assert "Port Varrow" in text and "A town." in text
    assert PROMPT_STYLES["implications"].split_items("1. A\n\n* B\n- C\n  \n") == ["A", "B", "C"]
    assert PROMPT_STYLES["rewrite"].split_items("one\nstill one\n\ntwo") == ["one\nstill one", "two"]


def test_users_can_add_styles():
    style = PromptStyle("test-bullets", "Facts about {title}: {passage}")
    register_prompt_style(style)
    assert get_prompt_style("test-bullets") is style
    with pytest.raises(ValueError, match="exists"):
        register_prompt_style(style)
    with pytest.raises(ValueError, match="unknown prompt style"):
        get_prompt_style("nope")


def test_topics_split_of_val_json_holds_only_unseen_titles(shared_data):
    """The held-out topics of issue 31: val.json@topics-2 spreads over all 48 titles and shares none with any
    passage of train.json (which every training round and tuning study draws from)."""
    held_out = load_passages(str(shared_data / "squad" / "val.json@topics-2"))
    trained_on = {p.title for p in load_passages(str(shared_data / "squad" / "train.json"))}
    titles = [p.title for p in held_out]
    assert len(held_out) == 96 and len(set(titles)) == 48 and all(titles.count(t) == 2 for t in set(titles))
    assert not set(titles) & trained_on
    assert [p.context for p in load_passages(str(shared_data / "squad" / "val.json@topics-2"))] == \
        [p.context for p in held_out]  # decided by the file alone
