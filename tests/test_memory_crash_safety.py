"""The knowledge base's crash safety: foreign and damaged folders refused untouched, kill -9 at every step of an
update leaves the state before or after it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from seal_gym.memory import KnowledgeBase, KnowledgeBaseError, Settings, add_documents, update
from tests.test_memory import PASSAGES, ROOT, documents, scripted_editor, writes


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_foreign_and_damaged_folders_give_one_clear_error_and_stay_untouched(tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    for call in (lambda: KnowledgeBase.open(foreign), lambda: add_documents(foreign, documents(PASSAGES[:1]))):
        with pytest.raises(KnowledgeBaseError, match=r"not a seal-gym knowledge base \(it has no kb.json\)"):
            call()
    assert _snapshot(foreign) == {"notes.txt": b"mine"}
    with pytest.raises(KnowledgeBaseError, match="not an empty folder"):
        KnowledgeBase.create(foreign, Settings(None))

    kb_dir = tmp_path / "kb"
    add_documents(kb_dir, documents(PASSAGES[:1]))
    update(KnowledgeBase.open(kb_dir), scripted_editor(), writes("fact"))
    good = _snapshot(kb_dir)
    damages = {
        "kb.json": lambda: (kb_dir / "kb.json").write_text("{not json"),
        "state": lambda: (kb_dir / "states" / (kb_dir / "CURRENT").read_text()).joinpath("state.json").write_text(
            '{"documents": 3}'),
        "pointer": lambda: (kb_dir / "CURRENT").write_text("s-gone"),
        "adapter": lambda: next((kb_dir / "adapters").iterdir()).unlink(),
    }
    for name, damage in damages.items():
        damage()
        broken = _snapshot(kb_dir)
        with pytest.raises(KnowledgeBaseError) as err:
            add_documents(kb_dir, documents(PASSAGES[1:2]))
        assert "\n" not in str(err.value) and str(kb_dir) in str(err.value), name
        assert _snapshot(kb_dir) == broken, f"{name}: the damaged knowledge base was written to"
        for path, content in good.items():  # mend it for the next case
            (kb_dir / path).write_bytes(content)
        (kb_dir / "lock").write_bytes(good["lock"])


def _update_process(kb_dir: Path, pause_at: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "seal_gym.cli", "memory", "update", "--kb", str(kb_dir), "--inner-epochs", "1",
               "--inner-lora-rank", "2", "--sample-max-new-tokens", "4", "--questions-per-document", "0",
               "--max-answer-tokens", "2", "--threads", "1", "--pause-at", pause_at]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)


@pytest.mark.parametrize("pause_at, after", [("adapter-written", False), ("before-pointer", False),
                                             ("after-pointer", True)])
def test_kill_9_during_update_leaves_the_state_before_or_after(tmp_path, pause_at, after):
    kb_dir = tmp_path / "kb"
    add_documents(kb_dir, documents(PASSAGES[:1]), model="tiny-random")
    before = KnowledgeBase.open(kb_dir).current()
    process = _update_process(kb_dir, pause_at)
    try:
        line, seen = process.stdout.readline(), []
        while line and line.startswith("  ") or line.startswith("update "):  # the update's progress lines
            seen.append(line)
            line = process.stdout.readline()
        assert line.strip() == f"paused at {pause_at}", process.stderr.read() if not line else seen + [line]
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    state = KnowledgeBase.open(kb_dir).current()
    if after:
        assert [u.id for u in state.updates] == ["u0001"] and not state.pending() and len(state.log) == 1
    else:
        assert state.documents == before.documents and state.updates == () and state.log == ()
    # the killed process's locks died with it: the next changes go through, and an update clears the leftovers
    add_documents(kb_dir, documents(PASSAGES[1:2]))
    kb = KnowledgeBase.open(kb_dir)
    assert update(kb, scripted_editor(), writes("fact")).status == "accepted"
    state = kb.current()
    assert not [f for f in (kb_dir / "states").iterdir() if f.name.startswith(".tmp")]
    assert len(list((kb_dir / "states").iterdir())) == 2  # the current state and the one before it
    assert sorted(p.name for p in (kb_dir / "adapters").iterdir()) == sorted(u.adapter for u in state.updates)
    assert len(state.documents) == 2 and not state.pending()
