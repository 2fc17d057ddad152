"""A soak of the knowledge base: a year of cron in minutes, with every kind of bad document and kill -9.

Generated documents (good ones, huge ones, empty, binary, text from every Unicode plane, wrong types, exact and
near duplicates) are added in batches while ``seal-gym memory update`` runs in a subprocess that is killed with
SIGKILL at each phase of a change (the adapter written, the state written, before and after the pointer moves)
or after a random delay; documents are added while an update runs. Afterwards it checks what a user relies on:
no traceback anywhere, every good document present exactly once (none lost, none duplicated, none of the bad
ones), every update either applied (its adapter on disk) or rolled back, ``memory status`` agreeing with the
files, no leftover temporary file, and disk use bounded.

    python benchmarks/kb_soak.py --out /tmp/soak --docs 300 --cycles 12          # ~10 min on 2 cores
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("adapter-written", "state-written", "before-pointer", "after-pointer")
"""The points of a change where an update is paused and killed (seal_gym.memory.store.PAUSE_POINTS)."""
UPDATE = ["memory", "update", "--inner-epochs", "1", "--inner-lora-rank", "2", "--sample-max-new-tokens", "4",
          "--questions-per-document", "0", "--max-answer-tokens", "2", "--max-documents", "6", "--threads", "1"]
PLANES = (0x41, 0x3B1, 0x4E2D, 0x1F680, 0x20000, 0x30000, 0xE0041, 0xF0000, 0x100000)
"""A code point from each Unicode plane that holds text (0, 1, 2, 3, 14, 15, 16), Latin, Greek and CJK included."""


def generated(rng: np.random.Generator, index: int, earlier: list[dict]) -> tuple[object, str]:
    """One record and what it is (its kind; ``good``/``huge``/``unicode``/``duplicate``/``near`` are kept)."""
    kind = str(rng.choice(["good"] * 8 + ["huge", "empty", "binary", "unicode", "wrong-type", "duplicate", "near"]))
    text = f"Fact {index}: the soak city number {index} has {rng.integers(1, 10**6)} lanterns."
    if kind == "huge":
        return {"title": f"Huge {index}", "context": (text + " ") * int(rng.integers(300, 3000))}, kind
    if kind == "empty":
        return {"title": f"Empty {index}", "context": "   "}, kind
    if kind == "binary":
        return {"title": f"Binary {index}", "context": text + "\x00\x01\x02"}, kind
    if kind == "unicode":
        return {"title": f"Planes {index}", "context": text + " " + "".join(chr(c) for c in PLANES)}, kind
    if kind == "wrong-type":
        return [{"title": index, "context": text}, {"context": [text]}, [text], text][int(rng.integers(4))], kind
    if kind in ("duplicate", "near") and earlier:
        record = dict(earlier[int(rng.integers(len(earlier)))])
        if kind == "near":  # other white space: the same document
            record["context"] = "  " + record["context"].replace(" ", "   ") + "\n"
        return record, kind
    return {"title": f"City {index}", "context": text}, "good"


class Update:
    """One ``memory update`` subprocess, to be paused at a phase of its change and killed, or let run."""

    def __init__(self, kb: Path, pause_at: str | None) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        pause = ["--pause-at", pause_at] if pause_at else []
        self.process = subprocess.Popen([sys.executable, "-m", "seal_gym.cli", *UPDATE, "--kb", str(kb), *pause], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)

    def wait_for_pause(self) -> bool:
        """Whether it reached its pause (an update with nothing to do, or one rolled back, may not)."""
        return any(line.startswith("paused at") for line in self.process.stdout)

    def end(self, kill_after: float | None = 0.0) -> tuple[str, str]:
        """Kill it after ``kill_after`` seconds (``None``: let it finish); how it ended and its stderr."""
        try:
            if kill_after is not None:
                try:
                    self.process.wait(kill_after)
                except subprocess.TimeoutExpired:
                    self.process.send_signal(signal.SIGKILL)
            _, err = self.process.communicate(timeout=600)
        finally:
            if self.process.poll() is None:
                self.process.kill()
        return ("killed" if self.process.returncode == -signal.SIGKILL else f"exit {self.process.returncode}"), err


def soak(out: Path, docs: int = 300, cycles: int = 12, seed: int = 0) -> dict:
    """Run the soak in ``out`` (a new folder) and return its figures; raises AssertionError on a violation."""
    from seal_gym.memory import KnowledgeBase, add_documents, read_documents, status
    from seal_gym.memory.documents import bounded

    rng = np.random.default_rng(seed)
    kb = out / "kb"
    out.mkdir(parents=True, exist_ok=True)
    expected: set[tuple[str, str]] = set()
    kept: list[dict] = []
    counts: dict[str, int] = {}
    logs: list[str] = []
    endings: dict[str, int] = {}
    refused = 0
    started = time.perf_counter()
    per_cycle = max(2, docs // cycles)

    def add(part: list[tuple[object, str]]) -> None:
        nonlocal refused
        for record, kind in part:  # one file a record, as an inbox folder of documents
            counts[kind] = counts.get(kind, 0) + 1
            path = out / "inbox.json"
            path.write_text(json.dumps([record], ensure_ascii=False), encoding="utf-8")
            try:
                state = add_documents(kb, path, model="tiny-random", wait_seconds=60)
            except ValueError:
                refused += 1
                assert kind in ("empty", "binary", "wrong-type"), (kind, record)
                continue
            assert kind in ("good", "huge", "unicode", "duplicate", "near"), (kind, record)
            if kind in ("good", "unicode"):
                kept.append(record)
            expected.update(d.content_key() for d in bounded(read_documents(path)))
            assert len(state.documents) >= len(expected)

    for cycle in range(cycles):
        batch = [generated(rng, cycle * per_cycle + i, kept) for i in range(per_cycle)]
        add(batch[: len(batch) // 2])
        mode = cycle % (len(PHASES) + 2)  # each phase in turn, then a random delay, then a finished update
        update = Update(kb, PHASES[mode] if mode < len(PHASES) else None)
        if mode < len(PHASES):
            paused = update.wait_for_pause()
            if PHASES[mode] == "adapter-written" and paused:  # the update lock held, the state lock free: add now
                add(batch[len(batch) // 2:])
                ending, err = update.end()
            else:  # paused inside a commit, holding the state lock: kill, then add
                ending, err = update.end()
                add(batch[len(batch) // 2:])
        else:  # adds while the update runs (waiting for its commit's moment of state lock)
            add(batch[len(batch) // 2:])
            ending, err = update.end(float(rng.uniform(0.5, 6.0)) if mode == len(PHASES) else None)
        logs.append(err)
        endings[ending] = endings.get(ending, 0) + 1
    ending, err = Update(kb, None).end(None)  # a last, unhindered update commits (and cleans) once more
    logs.append(err)
    endings[ending] = endings.get(ending, 0) + 1
    return _check(KnowledgeBase.open(kb), status, expected, logs, counts, refused, endings,
                  time.perf_counter() - started)


def _check(kb, status, expected, logs, counts, refused, endings, seconds) -> dict:
    state = kb.current()
    keys = [(d.title, " ".join(d.text.split())) for d in state.documents]
    tracebacks = sum("Traceback" in log for log in logs)
    assert tracebacks == 0, next(log for log in logs if "Traceback" in log)
    assert len(keys) == len(set(keys)), "a document is stored twice"
    assert set(keys) == expected, f"lost {len(expected - set(keys))}, unexpected {len(set(keys) - expected)}"
    for entry in state.log:
        assert entry["status"] in ("accepted", "rolled back"), entry
    adapters = {p.name for p in (kb.path / "adapters").iterdir()}
    assert adapters == {u.adapter for u in state.updates}, "an adapter file without its update, or the reverse"
    taken = {d.update for d in state.documents if d.update}
    assert taken <= {e["update_id"] for e in state.log}, "a document taken up by an update the log does not hold"
    report = status(kb)
    assert report.documents == len(state.documents) and report.accepted_updates == len(state.updates)
    leftovers = [p for p in kb.path.rglob("*") if p.name.startswith(".") and p.name.endswith(".tmp")
                 or p.name.startswith(".tmp-")]
    assert not leftovers, leftovers
    text_bytes = sum(len(d.text.encode()) + len(d.title.encode()) for d in state.documents)
    adapter_bytes = sum((kb.path / "adapters" / a).stat().st_size for a in adapters)
    disk = kb.disk_bytes()
    # two states (current and previous) of documents and their index, the adapters, and some slack
    assert disk < 8 * text_bytes + adapter_bytes + 4 * 2**20, (disk, text_bytes, adapter_bytes)
    return {"records": sum(counts.values()), "kinds": counts, "refused": refused, "documents": len(state.documents),
            "updates accepted": len(state.updates), "updates logged": len(state.log), "update endings": endings,
            "disk MiB": round(disk / 2**20, 2), "adapters MiB": round(adapter_bytes / 2**20, 2),
            "text MiB": round(text_bytes / 2**20, 2), "tracebacks": tracebacks, "seconds": round(seconds, 1)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="a new folder for the knowledge base")
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--cycles", type=int, default=12, help="add / update cycles (an update each, most killed)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    figures = soak(args.out, args.docs, args.cycles, args.seed)
    width = max(map(len, figures))
    print("\n".join(f"{name:<{width}}  {value}" for name, value in figures.items()))


if __name__ == "__main__":
    main()
