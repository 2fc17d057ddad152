"""What a new user broke in the knowledge base (issue 35.1-3, 35.4's `memory add --wait -1` and `memory ask ""`):
each reproduced, failing before the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seal_gym.cli import main
from seal_gym.memory import KnowledgeBase, status
from seal_gym.memory.documents import MAX_PASSAGE_CHARS, NewDocument
from seal_gym.memory.store import Settings

HUGE = {"title": "ü" * 10, "context": "日本語のテキスト 🚀 " * 20000}  # 240,000 characters, as reported


def add(tmp_path: Path, records, *more: str) -> int:
    path = tmp_path / "in.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return main(["memory", "add", str(path), "--kb", str(tmp_path / "kb"), "--model", "tiny-random", *more])


def test_a_huge_document_is_split_into_passages_an_update_can_learn(tmp_path, capsys):
    assert add(tmp_path, [HUGE]) == 0
    state = KnowledgeBase.open(tmp_path / "kb").current()
    assert len(state.documents) > 1 and all(len(d.text) <= MAX_PASSAGE_CHARS for d in state.documents)
    assert state.documents[0].title == f"{'ü' * 10} (part 1/{len(state.documents)})"
    assert "".join(d.text for d in state.documents).replace(" ", "") == HUGE["context"].strip().replace(" ", "")
    assert len(state.pending()) == len(state.documents)


def test_a_document_over_the_total_limit_is_refused_in_one_line_writing_nothing(tmp_path, capsys):
    assert add(tmp_path, [{"title": "t", "context": "x" * 2_000_001}]) == 2
    err = capsys.readouterr().err.strip()
    assert "more than the limit of 2,000,000" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "kb").exists()


def test_an_old_oversized_document_is_marked_not_retried(tmp_path):
    """A knowledge base filled before the passage limit holds a document no update can learn: it is left out of
    every update and named in the status, instead of failing the nightly update forever."""
    kb = KnowledgeBase.create(tmp_path / "kb", Settings("tiny-random"))
    with kb.lock():
        kb.add([NewDocument("old", "word " * 3000), NewDocument("small", "A small note.")])
    state = kb.current()
    assert [d.title for d in state.pending()] == ["small"]
    report = status(kb)
    assert report.waiting == 1 and "not learnable: d000001 (old): 15,000 characters" in report.text()


@pytest.mark.parametrize("records,message", [
    ([{"title": 5, "context": 7}], '"context" / "text" must be a string, got int'),
    ([{"title": 5, "context": "seven"}], '"title" must be a string, got int'),
    ([{"context": "ok", "questions": [{"question": 1, "answer": "a"}]}], "questions must be a list"),
    ([{"context": "a\x00b"}], "not text"),
])
def test_bad_records_change_nothing_and_leave_no_files(tmp_path, capsys, records, message):
    assert add(tmp_path, records) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "kb").exists()


def test_a_binary_file_in_a_folder_is_one_line(tmp_path, capsys):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "x.txt").write_bytes(b"\xff\xfe\x00binary")
    assert main(["memory", "add", str(tmp_path / "notes"), "--kb", str(tmp_path / "kb"), "--model", "tiny-random"]) == 2
    assert "not UTF-8 text" in capsys.readouterr().err


def test_a_failed_commit_leaves_no_temporary_folder(tmp_path, monkeypatch):
    import seal_gym.memory.index as index

    assert add(tmp_path, [{"context": "A first note."}]) == 0

    def broken(documents, folder):
        raise RuntimeError("disk full")

    monkeypatch.setattr(index, "build_index", broken)
    with pytest.raises(RuntimeError):
        kb = KnowledgeBase.open(tmp_path / "kb")
        with kb.lock():
            kb.add([NewDocument("n", "A second note.")])
    assert not [p for p in (tmp_path / "kb" / "states").iterdir() if p.name.startswith(".tmp")]
    assert len(KnowledgeBase.open(tmp_path / "kb").current().documents) == 1


def test_stop_words_only_still_make_a_knowledge_base(tmp_path):
    assert add(tmp_path, [{"title": "of", "context": "the 5 7"}]) == 0
    assert len(KnowledgeBase.open(tmp_path / "kb").current().documents) == 1


def test_adding_the_same_documents_again_adds_nothing(tmp_path, capsys):
    records = [{"title": "A", "context": "Alpha is first."}, {"title": "B", "context": "Beta  is\nsecond."}]
    assert add(tmp_path, records) == 0
    assert "2 added; 2 documents" in capsys.readouterr().out
    again = records + [{"title": "B", "context": "Beta is second."}, {"title": "C", "context": "Gamma."}]
    assert add(tmp_path, again) == 0  # B again, with other white space: the same document
    assert "1 added (3 already present, not added again); 3 documents" in capsys.readouterr().out
    assert [d.id for d in KnowledgeBase.open(tmp_path / "kb").current().documents] == ["d000001", "d000002", "d000003"]


@pytest.mark.parametrize("argv,message", [
    (["add", "DOCS", "--wait", "-1"], "--wait must be a number of seconds >= 0"),
    (["ask", ""], "QUESTION is empty"),
    (["ask", "   "], "QUESTION is empty"),
])
def test_meaningless_values_are_refused(tmp_path, capsys, argv, message):
    assert add(tmp_path, [{"context": "A note."}]) == 0
    capsys.readouterr()
    argv = [str(tmp_path / "in.json") if a == "DOCS" else a for a in argv]
    assert main(["memory", *argv, "--kb", str(tmp_path / "kb")]) == 2
    assert message in capsys.readouterr().err
