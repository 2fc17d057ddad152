"""studies/queue.sh (the studies' long runs in order, each skipped once its committed files say it is done) and
scripts/study_checkout.sh (the clean, pinned checkout each runs from): what they decide, without running a stage."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STAGES = ["ARC warm", "ARC warm check", "ReST-EM lr 3e-3, cpu writer", "ARC train", "ReST-EM merge ablation, cpu writer",
          "GRPO reference, cpu writer", "ARC eval",
          "replication GRPO seed 0", "replication GRPO seed 1", "replication GRPO seed 2",
          "replication GRPO from the distilled writer", "replication write, eval and report"]


def dry_run(main: Path) -> list[tuple[str, str]]:
    done = subprocess.run(["bash", str(main / "studies" / "queue.sh"), "--dry-run"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    rows = []
    for line in done.stdout.splitlines():
        state, _, rest = line.partition(": ")
        assert state in ("done", "to do"), line
        rows.append((state, rest.split(" (from ")[0]))
    return rows


def test_the_queue_lists_every_stage_in_order_in_this_checkout():
    assert [name for _, name in dry_run(ROOT)] == STAGES


def test_a_stage_is_done_exactly_when_its_committed_files_say_so(tmp_path):
    main = tmp_path / "main"
    (main / "studies").mkdir(parents=True)
    shutil.copy(ROOT / "studies" / "queue.sh", main / "studies")
    assert {state for state, _ in dry_run(main)} == {"to do"}
    done = {"studies/arc_experiment/writers/warm/writer.json": "{}",
            "studies/arc_experiment/report.json": json.dumps({"primary": {"complete": True}}),
            "studies/replication/writers/grpo-seed1/writer.json": "{}",
            "studies/rest_em_stability/cpu.jsonl": "{}\n" * 17}
    for path, text in done.items():
        (main / path).parent.mkdir(parents=True, exist_ok=True)
        (main / path).write_text(text)
    (main / "studies/arc_experiment/writers/sb3-ppo-seed0").mkdir(parents=True)  # published half-way: not done
    assert [name for state, name in dry_run(main) if state == "done"] == ["ARC warm", "ARC eval",
                                                                          "replication GRPO seed 1"]
    (main / "studies/arc_experiment/report.json").write_text(json.dumps({"primary": {"complete": False}}))
    assert "ARC eval" not in [name for state, name in dry_run(main) if state == "done"]  # a report of some groups
    (main / "studies/rest_em_stability/cpu.jsonl").write_text("{}\n" * 18)  # 17 of its 18 runs were not done
    done_now = [name for state, name in dry_run(main) if state == "done"]
    assert "ReST-EM merge ablation, cpu writer" in done_now and "GRPO reference, cpu writer" not in done_now
    (main / "studies/rest_em_stability/cpu.jsonl").write_text("{}\n" * 24)  # GRPO's 6 runs follow the ablation's
    done_now = [name for state, name in dry_run(main) if state == "done"]
    assert "GRPO reference, cpu writer" in done_now and "ReST-EM lr 3e-3, cpu writer" not in done_now
    (main / "studies/rest_em_stability/cpu.jsonl").write_text("{}\n" * 30)  # then the 6 at 10x the rate
    assert "ReST-EM lr 3e-3, cpu writer" in [name for state, name in dry_run(main) if state == "done"]


def checkout(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(ROOT / "scripts" / "study_checkout.sh"), *args], capture_output=True, text=True,
                          timeout=60)


def test_the_checkout_refuses_what_it_cannot_do_in_one_line(tmp_path):
    usage = checkout()
    assert usage.returncode == 2 and "usage:" in usage.stderr
    unknown = checkout("0" * 40, str(tmp_path / "wt"))
    assert unknown.returncode == 2 and "is not a commit" in unknown.stderr and not (tmp_path / "wt").exists()
    other = tmp_path / "other"
    subprocess.run(["git", "init", "-q", str(other)], check=True)
    subprocess.run(["git", "-C", str(other), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q",
                    "--allow-empty", "-m", "x"], check=True)
    elsewhere = checkout("HEAD", str(other))
    assert elsewhere.returncode == 2 and "not HEAD: pass another DIR" in elsewhere.stderr


def test_a_pause_file_holds_the_queue_before_its_next_stage(tmp_path):
    """`touch ../queue.pause` holds the queue before it checks out the next stage; without it the stage starts (here
    it fails at once: this main has no scripts/study_checkout.sh)."""
    main, work = tmp_path / "main", tmp_path / "work"
    (main / "studies").mkdir(parents=True)
    work.mkdir()
    shutil.copy(ROOT / "studies" / "queue.sh", main / "studies")
    env = {**os.environ, "STUDY_CHECKOUTS": str(work)}
    (work / "queue.pause").touch()
    held = subprocess.Popen(["bash", str(main / "studies" / "queue.sh")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            held.wait(timeout=3)
    finally:
        os.killpg(held.pid, signal.SIGKILL)
    out, err = held.communicate()
    assert "start:" not in out and not list(work.glob("study-*")) and not err
    (work / "queue.pause").unlink()
    going = subprocess.run(["bash", str(main / "studies" / "queue.sh")], capture_output=True, text=True, env=env,
                           timeout=60)
    assert going.returncode != 0 and "study_checkout.sh" in going.stderr


def test_a_writers_tensors_kept_off_the_branch_are_put_back_before_a_stage(tmp_path):
    """Stages run from older commits read a writer's folder themselves: the queue restores its tensors first (here
    from a store folder) and keeps them under refs/writers/ (the stage then fails at once, this main having no
    scripts/study_checkout.sh)."""
    import hashlib
    import sys

    main, work, store = tmp_path / "main", tmp_path / "work", tmp_path / "store"
    writer = main / "studies" / "arc_experiment" / "writers" / "warm"
    for folder in (main / "studies", work, store, writer):
        folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "studies" / "queue.sh", main / "studies")
    subprocess.run(["git", "init", "-q", str(main)], check=True)
    (main / ".venv").symlink_to(sys.prefix)  # the queue runs main's seal-gym
    files = {"policy.json": b"{}", "adapter.safetensors": b"tensors"}
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    (writer / "policy.json").write_bytes(files["policy.json"])
    (store / digests["adapter.safetensors"]).write_bytes(files["adapter.safetensors"])
    (writer / "writer.json").write_text(json.dumps({"files": digests}))
    env = {**os.environ, "STUDY_CHECKOUTS": str(work), "SEAL_GYM_WRITER_STORE": str(store),
           "SEAL_GYM_CACHE": str(tmp_path / "cache")}
    going = subprocess.run(["bash", str(main / "studies" / "queue.sh")], capture_output=True, text=True, env=env,
                           timeout=120)
    assert going.returncode != 0 and "study_checkout.sh" in going.stderr
    assert (writer / "adapter.safetensors").read_bytes() == b"tensors"
    ref = f"refs/writers/{digests['adapter.safetensors']}"
    kept = subprocess.run(["git", "-C", str(main), "cat-file", "blob", ref], capture_output=True, check=True)
    assert kept.stdout == b"tensors"


def test_a_failed_stage_skips_its_studys_later_stages_and_the_queue_goes_on(tmp_path):
    """ARC's training fails: ARC's evaluation waits for the next run of the queue, the replication's stages still
    run, and the queue exits 1 naming the study (stages are logged by a stand-in python; nothing is trained)."""
    main, work = tmp_path / "main", tmp_path / "work"
    (main / "studies").mkdir(parents=True)
    (main / "scripts").mkdir()
    work.mkdir()
    shutil.copy(ROOT / "studies" / "queue.sh", main / "studies")
    log, python = tmp_path / "stages.log", tmp_path / "python"
    python.write_text(f'#!/bin/sh\necho "$*" >> {log}\n'
                      'case "$*" in *arc_experiment.py*"--stage train"*) exit 3;; esac\n')
    python.chmod(0o755)
    (main / "scripts" / "study_checkout.sh").write_text(
        f'mkdir -p "$2/.venv/bin" && cp {python} "$2/.venv/bin/python"\n')
    ran = subprocess.run(["bash", str(main / "studies" / "queue.sh")], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "STUDY_CHECKOUTS": str(work), "SHARED": str(tmp_path / "shared")})
    assert ran.returncode == 1, ran.stderr
    assert "FAILED: ARC train (the later ARC stages are skipped until the queue runs again)" in ran.stdout
    stages = log.read_text().splitlines()
    assert any("--stage train" in line and "arc_experiment.py" in line for line in stages)
    assert not any("--stage eval" in line and "arc_experiment.py" in line for line in stages)
    assert "skipped: ARC eval (an earlier ARC stage failed)" in ran.stdout
    assert sum("optimizer_experiment.py" in line for line in stages) == 4  # 3 GRPO seeds, then the distilled one
    assert any("replication_study.py" in line and "--stage report" in line for line in stages)
    assert ran.stdout.rstrip().endswith("stages failed in: ARC (see above); run the queue again once mended")
