"""seal_gym.memory: documents, the knowledge base on disk (atomic changes, lock), the forgetting guard and the
answering modes on a scripted engine whose answers are known, and the real LoRA weights on the tiny model. Crash
safety: test_memory_crash_safety.py."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from seal_gym.adapt import AdaptRequest, Query
from seal_gym.memory import (EngineEditor, KnowledgeBase, KnowledgeBaseBusy, KnowledgeBaseError, LoraEditor,
                             NewDocument, Question, add_documents, ask, read_documents, status, update)
from seal_gym.memory.updater import UpdateConfig
from seal_gym.squad.passages import demo_passages
from seal_gym.testing import ScriptedEngine
from tests.conftest import weights_checksum

ROOT = Path(__file__).resolve().parents[1]
PASSAGES = demo_passages()[:4]
GOLD = {qa.question: qa.answer for p in PASSAGES for qa in p.questions}
WRITTEN_ANSWER = "its long history of quillfish"
"""The gold answer of the one question the scripted model writes about any passage."""


def documents(passages=PASSAGES, tag=None) -> list[NewDocument]:
    return [NewDocument(p.title, p.context, tuple(Question(q.question, q.answer, p.title) for q in p.questions), tag)
            for p in passages]


def scripted_editor() -> EngineEditor:
    """Known answers. Base model: right exactly when the passage is in the prompt (retrieval). After training: also
    right when the passage's title is among the trained texts, and nothing is right once a trained text says
    FORGET."""
    def topic_and_question(query: Query) -> tuple[str, str]:
        *_, topic, question = query.prompt.split("\n")
        return topic.removeprefix("Topic: "), question

    def after(request: AdaptRequest, query: Query) -> str:
        trained = "\n".join(s.prompt for s in request.sequences)
        topic, question = topic_and_question(query)
        if "FORGET" in trained:
            return "no idea"
        context = next((p.context for p in PASSAGES if p.title == topic), None)
        if context and topic in trained:  # as if the passage were in the prompt
            return before(Query(f"{context}\nTopic: {topic}\n{question}"))
        return before(query)

    def before(query: Query) -> str:
        if "short questions about facts" in query.prompt:  # asked to write questions about a passage
            title = query.prompt.split('titled "', 1)[1].split('"', 1)[0]
            return f"1. What is {title} known for? {WRITTEN_ANSWER}.\n2. Nothing else"
        topic, question = topic_and_question(query)
        if question.startswith("What is ") and question.endswith(" known for?"):
            # right only under the lenient grader: "its" is missing, so the gold is not contained
            return "known for a long history of quillfish" if context_given(topic, query) else "no idea"
        return GOLD.get(question, "no idea") if context_given(topic, query) else "no idea"

    def context_given(topic: str, query: Query) -> bool:
        context = next((p.context for p in PASSAGES if p.title == topic), None)
        return bool(context) and context in query.prompt

    return EngineEditor(ScriptedEngine(after, before))


def writes(text: str):
    return lambda prompts: [text] * len(prompts)


def test_read_documents_from_jsonl_json_and_a_folder(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"title": "T", "text": "Alpha.", "tag": "volatile"}\n\n{"context": "Beta."}\n')
    jsonl = read_documents(tmp_path / "a.jsonl")
    assert [(d.title, d.text, d.tag) for d in jsonl] == [("T", "Alpha.", "volatile"), ("Beta.", "Beta.", None)]
    seal = read_documents(ROOT / "seal_gym" / "data" / "demo_squad.json")
    assert len(seal) == 20 and len(seal[0].questions) == 5 and seal[0].completions
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "b.md").write_text("Second note.")
    (folder / "a.txt").write_text("First note.")
    (folder / "skip.csv").write_text("x")
    assert [(d.title, d.text) for d in read_documents(folder)] == [("a", "First note."), ("b", "Second note.")]
    (tmp_path / "bad.jsonl").write_text('{"title": "x"}\n')
    with pytest.raises(ValueError, match="line 1: no \"context\""):
        read_documents(tmp_path / "bad.jsonl")
    (tmp_path / "tag.json").write_text('[{"text": "x", "tag": "forever"}]')
    with pytest.raises(ValueError, match="tag must be durable or volatile"):
        read_documents(tmp_path / "tag.json")


def test_guard_keeps_an_update_that_keeps_retention_and_rolls_back_one_that_destroys_it(tmp_path):
    editor = scripted_editor()
    kb_dir = tmp_path / "kb"
    add_documents(kb_dir, documents(PASSAGES[:1]), model="tiny-random")
    kb = KnowledgeBase.open(kb_dir)
    first = update(kb, editor, writes("a fact"))
    assert (first.status, first.retention_before, first.new_before, first.new_after) == ("accepted", None, 0.0, 1.0)
    assert list(first.phase_seconds) == ["self_edits", "questions", "answers_before", "train_and_answers_after"]
    assert first.num_sequences == 2 and "2 training sequences" in first.line()  # "a fact" + the passage

    add_documents(kb_dir, documents(PASSAGES[1:2]))
    destroyed = update(kb, editor, writes("FORGET everything"))
    assert destroyed.status == "rolled back"
    assert (destroyed.retention_before, destroyed.retention_after) == (1.0, 0.0)
    assert "more than the margin" in destroyed.reason

    add_documents(kb_dir, documents(PASSAGES[2:3]))
    kept = update(kb, editor, writes("another fact"))
    assert kept.status == "accepted" and (kept.retention_before, kept.retention_after, kept.new_after) == (1.0, 1.0, 1.0)
    assert kept.num_retention_questions == 5  # the rolled-back update taught nothing to protect

    state = kb.current()
    assert [u.id for u in state.updates] == ["u0001", "u0003"]
    assert [e["status"] for e in state.log] == ["accepted", "rolled back", "accepted"]
    assert [d.update for d in state.documents] == ["u0001", "u0002", "u0003"]
    assert sorted(p.name.split("-")[0] for p in (kb_dir / "adapters").iterdir()) == ["u0001", "u0003"]
    # a fresh editor loading the knowledge base sees the kept updates only: passage 2 unknown, 1 and 3 known
    fresh = scripted_editor()
    answers = ask(kb, fresh, [f"Topic: {p.title}\n{p.questions[0].question}" for p in PASSAGES[:3]], "weights")
    assert [a.answer for a in answers] == [PASSAGES[0].questions[0].answer, "no idea", PASSAGES[2].questions[0].answer]


def test_guard_uses_questions_the_model_writes_when_documents_have_none(tmp_path):
    editor = scripted_editor()
    bare = [NewDocument(p.title, p.context) for p in PASSAGES[:2]]
    add_documents(tmp_path / "kb", bare[:1])
    kb = KnowledgeBase.open(tmp_path / "kb")
    first = update(kb, editor, writes("fact"))
    assert first.status == "accepted" and (first.new_before, first.new_after, first.num_new_questions) == (0.0, 1.0, 1)
    written = kb.current().updates[0].questions
    assert [(q.question, q.answer, q.written) for q in written] == [
        (f"What is {PASSAGES[0].title} known for?", WRITTEN_ANSWER, True)]
    add_documents(tmp_path / "kb", bare[1:])
    destroyed = update(kb, editor, writes("FORGET"))
    # the retained answer is right only under the lenient grader the guard uses for written questions
    assert (destroyed.status, destroyed.retention_before, destroyed.retention_after) == ("rolled back", 1.0, 0.0)


def test_margin_decides(tmp_path):
    editor = scripted_editor()
    add_documents(tmp_path / "kb", documents(PASSAGES[:1]))
    kb = KnowledgeBase.open(tmp_path / "kb")
    update(kb, editor, writes("fact"))
    add_documents(tmp_path / "kb", documents(PASSAGES[1:2]))
    report = update(kb, editor, writes("FORGET"), UpdateConfig(margin=1.0))
    assert report.status == "accepted" and report.retention_after == 0.0


def test_update_is_idempotent_and_volatile_documents_are_only_searched(tmp_path):
    editor = scripted_editor()
    add_documents(tmp_path / "kb", documents(PASSAGES[:1], tag="volatile"))
    kb = KnowledgeBase.open(tmp_path / "kb")
    pointer = (tmp_path / "kb" / "CURRENT").read_text()
    assert update(kb, editor, writes("fact")).status == "nothing to do"
    assert (tmp_path / "kb" / "CURRENT").read_text() == pointer  # nothing written
    question = f"Topic: {PASSAGES[0].title}\n{PASSAGES[0].questions[1].question}"
    right = PASSAGES[0].questions[1].answer
    results = {mode: ask(kb, editor, [question], mode)[0] for mode in ("none", "retrieval", "weights", "hybrid")}
    assert {m: a.answer for m, a in results.items()} == {"none": "no idea", "retrieval": right, "weights": "no idea",
                                                         "hybrid": right}
    assert results["retrieval"].retrieved == [PASSAGES[0].title] and results["none"].retrieved == []
    summary = status(kb)
    assert (summary.documents, summary.volatile, summary.waiting, summary.accepted_updates) == (1, 1, 0, 0)


def test_ask_rejects_an_unknown_mode(tmp_path):
    add_documents(tmp_path / "kb", documents(PASSAGES[:1]))
    with pytest.raises(ValueError, match="unknown mode"):
        ask(KnowledgeBase.open(tmp_path / "kb"), scripted_editor(), ["q"], "psychic")


def test_a_second_update_refuses_with_one_line_or_waits_and_adding_goes_on(tmp_path):
    add_documents(tmp_path / "kb", documents(PASSAGES[:1]))
    kb = KnowledgeBase.open(tmp_path / "kb")
    with kb.lock(kind="update"):  # as a running update holds it
        with pytest.raises(KnowledgeBaseBusy, match=r"is busy: an update is running \(pid \d+, since .*\); try again "
                                                    r"later \(or pass --wait SECONDS\)$") as err:
            update(kb, scripted_editor(), writes("fact"))
        assert "\n" not in str(err.value)
        add_documents(tmp_path / "kb", documents(PASSAGES[1:2]))  # documents can be added during an update
    with kb.lock():  # a commit in progress
        with pytest.raises(KnowledgeBaseBusy, match="is busy: it is being changed"):
            add_documents(tmp_path / "kb", documents(PASSAGES[2:3]))
    assert [d.title for d in kb.current().pending()] == [p.title for p in PASSAGES[:2]]  # the refusals changed nothing

    holder = kb.lock(kind="update")
    holder.__enter__()
    threading.Timer(0.5, holder.__exit__, (None, None, None)).start()
    started = time.monotonic()
    assert update(kb, scripted_editor(), writes("fact"), wait_seconds=30).status == "accepted"
    assert time.monotonic() - started >= 0.4


def test_documents_added_while_an_update_runs_wait_for_the_next(tmp_path):
    add_documents(tmp_path / "kb", documents(PASSAGES[:1]))
    kb = KnowledgeBase.open(tmp_path / "kb")

    def adds_meanwhile(prompts):
        add_documents(tmp_path / "kb", documents(PASSAGES[1:2]))
        return ["fact"] * len(prompts)

    report = update(kb, scripted_editor(), adds_meanwhile)
    state = kb.current()
    assert report.documents == [state.documents[0].id] and len(state.documents) == 2
    assert [d.title for d in state.pending()] == [PASSAGES[1].title] and len(state.updates) == 1


def test_model_of_an_existing_knowledge_base_cannot_change(tmp_path):
    add_documents(tmp_path / "kb", documents(PASSAGES[:1]), model="tiny-random")
    with pytest.raises(KnowledgeBaseError, match="created with --model tiny-random"):
        add_documents(tmp_path / "kb", documents(PASSAGES[1:2]), model="other")


def test_lora_weights_load_in_order_bit_for_bit_and_restore(tmp_path, tiny_bundle, monkeypatch):
    from seal_gym.adapt import LoraSpec, TrainSpec
    from seal_gym.memory import weights

    base = weights_checksum(tiny_bundle.model)
    add_documents(tmp_path / "kb", documents(PASSAGES[:2]))
    kb = KnowledgeBase.open(tmp_path / "kb")
    editor, fresh = LoraEditor(tiny_bundle), LoraEditor(tiny_bundle)
    train, lora = TrainSpec(epochs=1), LoraSpec(rank=2)
    config = UpdateConfig(max_documents=1, questions_per_document=0, max_answer_tokens=2, margin=1.0)
    try:
        for _ in range(2):
            assert update(kb, editor, writes("A fact."), config, train, lora).status == "accepted"
        updated = weights_checksum(tiny_bundle.model)
        assert updated != base
        answered_on = []  # the weights each answer is generated with
        monkeypatch.setattr(weights, "greedy_answers",
                            lambda model, *_: answered_on.append(weights_checksum(model)) or ["x"])
        question = Query("Topic: x\nwho?", 3)
        editor.answer([question], weights=False)
        editor.answer([question])
        monkeypatch.undo()
        assert answered_on == [base, updated]
        assert weights_checksum(tiny_bundle.model) == updated  # answering with the base weights put them back
        editor.restore()
        assert weights_checksum(tiny_bundle.model) == base
        fresh.load(kb.adapters(kb.current()))  # a new process's view: the adapters from disk, in order
        assert fresh.loaded == ["u0001", "u0002"]
        assert weights_checksum(tiny_bundle.model) == updated
    finally:
        editor.restore()
        fresh.restore()
    assert weights_checksum(tiny_bundle.model) == base


def test_the_guard_grades_each_question_once_by_its_own_grader():
    # A document's own question by the strict grader, a model-written one (a sentence as gold) by best-span F1.
    from seal_gym.memory.documents import Question
    from seal_gym.memory.updater import _grades
    from seal_gym.squad.grading import make_grader

    questions = [Question("Capital?", "Paris"), Question("Which way?", "The river flows north through the city", written=True),
                 Question("Colour?", "red")]
    answers = ["It is Paris.", "it flows north through the city", "the river flows north through the city"]
    assert _grades(make_grader("contains"), questions, answers) == [True, True, False]
    assert _grades(make_grader("contains"), questions[1:2], ["blue"]) == [False]
