"""The commands of issue 20 on the tiny model: memory add | update | ask | status, synthesize (resumable, feeding
eval squad), eval memory; and evaluate_memory / synthesize as Python calls with known answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seal_gym.cli import main
from seal_gym.memory import KnowledgeBase, MemoryEvalConfig, evaluate_memory, read_documents, synthesize
from tests.test_eval_commands import policy_run  # noqa: F401  (a fixture: a real `seal-gym train` run folder)
from tests.test_memory import PASSAGES, scripted_editor

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--inner-epochs", "1", "--inner-lora-rank", "2", "--sample-max-new-tokens", "4", "--questions-per-document", "0",
         "--max-answer-tokens", "3"]


@pytest.fixture
def docs_file(tmp_path) -> Path:
    records = json.loads((ROOT / "seal_gym" / "data" / "demo_squad.json").read_text())[:2]
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_memory_commands_on_the_tiny_model(tmp_path, docs_file, capsys):
    kb = str(tmp_path / "kb")
    assert main(["memory", "add", str(docs_file), "--kb", kb, "--model", "tiny-random"]) == 0
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "Opening hours.txt").write_text("The Brenn Academy library opens at nine on weekdays.")
    assert main(["memory", "add", str(notes), "--kb", kb, "--tag", "volatile"]) == 0
    assert "3 documents, 2 waiting" in capsys.readouterr().out

    assert main(["memory", "update", "--kb", kb, *SMALL]) == 0
    out = capsys.readouterr().out
    assert "update u0001 accepted: 2 documents" in out
    # issue 35.7: progress by phase, and adapters with the mode of every other file of the knowledge base
    for phase in ("update u0001: 2 documents (0 more wait)", "writing self-edits (", "answering 10 questions before",
                  "training on "):
        assert phase in out, out
    import os
    import stat

    umask = os.umask(0)
    os.umask(umask)
    modes = {stat.S_IMODE(p.stat().st_mode) for p in Path(kb).rglob("*") if p.is_file() and p.name != "lock"
             and p.name != "update.lock"}
    assert modes == {0o666 & ~umask}, {oct(m) for m in modes}
    assert main(["memory", "update", "--kb", kb, *SMALL]) == 0
    assert capsys.readouterr().out.startswith("nothing to do")

    assert main(["memory", "status", "--kb", kb, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["documents"], report["volatile"], report["waiting"], report["accepted_updates"]) == (3, 1, 0, 1)
    assert report["model"] == "tiny-random" and report["last_update"]["status"] == "accepted"
    assert main(["memory", "status", "--kb", kb]) == 0
    assert "updates: 1 accepted, 0 rolled back" in capsys.readouterr().out

    for mode in ("hybrid", "weights", "retrieval", "none"):
        assert main(["memory", "ask", "When does the library open?", "--kb", kb, "--mode", mode, "--json",
                     "--max-answer-tokens", "3"]) == 0
        answer = json.loads(capsys.readouterr().out)
        assert answer["mode"] == mode
        assert answer["retrieved"] == (["Opening hours"] if mode in ("hybrid", "retrieval") else [])


def test_memory_commands_refuse_bad_input_with_one_line(tmp_path, docs_file, capsys):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "x.txt").write_text("mine")
    for argv in (["memory", "status", "--kb", str(foreign)], ["memory", "ask", "q", "--kb", str(foreign)],
                 ["memory", "update", "--kb", str(foreign)], ["memory", "add", str(docs_file), "--kb", str(foreign)],
                 ["memory", "add", str(tmp_path / "missing.jsonl"), "--kb", str(tmp_path / "new")]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"seal-gym memory {argv[1]}: error: "), err
    assert (foreign / "x.txt").read_text() == "mine" and sorted(p.name for p in foreign.iterdir()) == ["x.txt"]
    assert not (tmp_path / "new").exists()

    kb = str(tmp_path / "kb")
    assert main(["memory", "add", str(docs_file), "--kb", kb, "--model", "tiny-random"]) == 0
    assert main(["memory", "update", "--kb", kb, "--prompt-style", "haiku"]) == 2
    assert "unknown prompt style 'haiku'" in capsys.readouterr().err
    with KnowledgeBase.open(kb).lock(kind="update"):
        assert main(["memory", "update", "--kb", kb, *SMALL]) == 75
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is busy" in err and "try again later" in err
    assert main(["memory", "update", "--kb", kb, "--policy", str(tmp_path / "nope"), *SMALL]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a run folder" in err, err
    assert len(KnowledgeBase.open(kb).current().pending()) == 2


def test_synthesize_resumes_after_an_interruption_and_reports_diversity(tmp_path):
    documents = read_documents(ROOT / "seal_gym" / "data" / "demo_squad.json")[:5]
    calls = []

    def flaky(prompts):
        calls.append(len(prompts))
        if len(calls) == 2:
            raise KeyboardInterrupt  # as a kill between two saves
        return [f"fact {i} of call {len(calls)}" for i in range(len(prompts))]

    out = tmp_path / "corpus.json"
    with pytest.raises(KeyboardInterrupt):
        synthesize(documents, flaky, out, n=2, chunk=2, progress=False)
    saved = json.loads(out.read_text())
    assert [r["title"] for r in saved] == [d.title for d in documents[:2]]  # a complete file: the first chunk

    def counting(prompts):
        calls.append(len(prompts))
        return ["same words here"] * len(prompts)

    report = synthesize(documents, counting, out, n=2, chunk=2, progress=False)
    assert (report.written, report.skipped, report.total) == (3, 2, 5)
    assert calls[2:] == [4, 2]  # only the three documents left were written, 2 self-edits each
    records = json.loads(out.read_text())
    assert [r["title"] for r in records] == [d.title for d in documents]
    assert records[0]["completions"] == ["fact 0 of call 1", "fact 1 of call 1"] and len(records[0]["questions"]) == 5
    assert records[4]["diversity"]["mean_jaccard"] == 1.0 and records[4]["diversity"]["distinct_1"] == 0.5
    assert synthesize(documents, counting, out, n=2, progress=False).written == 0


def test_synthesize_command_output_feeds_eval_squad(tmp_path, capsys):
    data = tmp_path / "passages.json"
    data.write_text(json.dumps(json.loads((ROOT / "seal_gym" / "data" / "demo_squad.json").read_text())[:2]))
    out = tmp_path / "corpus.json"
    argv = ["synthesize", str(data), "--out", str(out), "--n", "2", "--model", "tiny-random",
            "--max-self-edit-tokens", "4"]
    assert main(argv) == 0
    out_text = capsys.readouterr().out
    assert "2 documents written, 0 already there" in out_text and "pairwise Jaccard" in out_text
    assert out_text.count("Port Varrow") == 1  # one diversity row per document
    assert main(argv) == 0
    assert "0 documents written, 2 already there" in capsys.readouterr().out
    assert [len(r["completions"]) for r in json.loads(out.read_text())] == [2, 2]
    runs = tmp_path / "runs"
    assert main(["eval", "squad", "--model", "tiny-random", "--dataset", str(data), "--passages", "2", "--cpt", "2",
                 "--conditions", "file-self-edits", "--self-edits-file", str(out), "--self-edits", "2", "--inner-epochs", "1",
                 "--runs-dir", str(runs)]) == 0
    results = json.loads(next(runs.iterdir()).joinpath("results.json").read_text())
    assert "self-edits from corpus.json" in json.dumps(results["labels"])

    foreign = tmp_path / "notes.json"
    foreign.write_text('{"mine": true}')
    assert main(["synthesize", str(data), "--out", str(foreign), "--model", "tiny-random"]) == 2
    assert "not a synthesize output" in capsys.readouterr().err and foreign.read_text() == '{"mine": true}'


def test_evaluate_memory_on_a_scripted_model(tmp_path):
    writes = iter(["a fact", "FORGET it all"])
    editor = scripted_editor()
    base_prompts, base_answer = [], editor.engine.answer
    editor.engine.answer = lambda queries: base_prompts.extend(q.prompt for q in queries) or base_answer(queries)
    result = evaluate_memory(PASSAGES[:2], editor, lambda prompts: [next(writes)] * len(prompts),
                             tmp_path / "kb", MemoryEvalConfig(windows=2, per_window=1, give_questions=True))
    # the base model answers a prompt once for the evaluation (and once for the first update's guard), not per window
    assert max(base_prompts.count(p) for p in base_prompts) == 2
    first, second = result.windows
    assert first.accuracy == {"none": 0.0, "retrieval": 100.0, "weights": 100.0, "hybrid": 100.0}
    assert (first.update.status, second.update.status) == ("accepted", "rolled back")
    # the second window's update was rolled back: its passage is known only through retrieval
    assert second.accuracy == {"none": 0.0, "retrieval": 100.0, "weights": 50.0, "hybrid": 100.0}
    assert second.first_window == {"none": 0.0, "retrieval": 100.0, "weights": 100.0, "hybrid": 100.0}
    assert (first.questions, second.questions) == (5, 10)
    assert second.lenient == second.accuracy  # the scripted answers are the gold answers themselves
    assert "rolled back" in result.table() and len(result.csv_rows()) == 8
    result.chart("test")
    with pytest.raises(ValueError, match="need 6 passages"):
        evaluate_memory(PASSAGES[:2], scripted_editor(), lambda p: p, tmp_path / "kb2", MemoryEvalConfig(2, 3))


def test_eval_memory_command_on_the_tiny_model(tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main(["eval", "memory", "--windows", "30", "--model", "tiny-random", "--runs-dir", str(runs)]) == 2
    assert "need 180 passages" in capsys.readouterr().err and not runs.exists()
    assert main(["eval", "memory", "--model", "tiny-random", "--windows", "2", "--per-window", "1", *SMALL,
                 "--runs-dir", str(runs)]) == 0
    run_dir = next(runs.iterdir())
    assert {"table.txt", "results.json", "results.csv", "accuracy.png", "kb"} <= {p.name for p in run_dir.iterdir()}
    results = json.loads((run_dir / "results.json").read_text())
    assert [w["window"] for w in results["windows"]] == [1, 2]
    assert set(results["windows"][1]["accuracy"]) == {"none", "retrieval", "weights", "hybrid"}
    assert "window 1: hybrid %" in (run_dir / "table.txt").read_text()
    assert len(KnowledgeBase.open(run_dir / "kb").current().documents) == 2


def test_deployment_docs_python_example_runs(tmp_path, docs_file, monkeypatch, capsys):
    import re

    text = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    source = re.findall(r"```python\n(.*?)```", text, re.S)[0]
    source = source.replace("model=None", 'model="tiny-random"').replace("max_new_tokens=256", "max_new_tokens=4")
    monkeypatch.chdir(tmp_path)
    docs_file.rename(tmp_path / "handbook.jsonl")
    exec(compile(source, "docs/deployment.md", "exec"), {})
    assert "update u0001 accepted" in capsys.readouterr().out


def test_a_trained_policy_writes_and_leaves_before_anything_trains(tmp_path, docs_file, policy_run, capsys):
    import argparse

    from seal_gym.commands.memory import writer_for
    from seal_gym.models import load_model
    from tests.conftest import weights_checksum

    bundle = load_model("tiny-random")
    base = weights_checksum(bundle.model)
    args = argparse.Namespace(policy=str(policy_run), temperature=0.7, max_self_edit_tokens=4, seed=0)
    assert len(writer_for(args, bundle)(["Write.", "Write more."])) == 2
    assert weights_checksum(bundle.model) == base  # the adapters of a knowledge base sit on its own model

    kb = str(tmp_path / "kb")
    assert main(["memory", "add", str(docs_file), "--kb", kb, "--model", "tiny-random"]) == 0
    assert main(["memory", "update", "--kb", kb, "--policy", str(policy_run), *SMALL]) == 0
    assert "update u0001 accepted" in capsys.readouterr().out
    out = tmp_path / "corpus.json"
    assert main(["synthesize", str(docs_file), "--out", str(out), "--n", "1", "--model", "tiny-random",
                 "--policy", str(policy_run)]) == 0
    assert len(json.loads(out.read_text())) == 2
    assert main(["memory", "update", "--kb", kb, "--policy", str(tmp_path)]) == 0  # nothing waits: no policy loaded
