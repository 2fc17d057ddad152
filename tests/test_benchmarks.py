"""The comparison scripts, run as a user runs them, on the tiny model with the smallest budget."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_arc_agents_trains_every_agent_and_scores_every_source(tmp_path):
    runs = tmp_path / "cmp"
    command = [sys.executable, str(ROOT / "benchmarks" / "arc_agents.py"), "--preset", "smoke", "--rounds", "1",
               "--heldout", "1", "--recipes", "2", "--threads", "1", "--runs-dir", str(runs)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (heldout,) = runs.glob("heldout__*")
    assert {"table.txt", "results.json", "results.csv", "chart.png"} <= {p.name for p in heldout.iterdir()}
    table = (heldout / "table.txt").read_text()
    for row in ("TTT, default recipe", "random grid recipes", "untrained writer", "rest-em (trained)",
                "grpo (trained)", "sb3-ppo (trained)"):
        assert row in table
    # Every source writes grid recipes: the text policies through constrained decoding, restored with the run.
    sources = [line for line in table.splitlines() if "invalid:" in line]
    assert len(sources) == 5 and all(line.endswith("invalid: 0") for line in sources), sources
    assert sorted(p.name for p in runs.iterdir()) == sorted(["rest-em", "grpo", "sb3-ppo", heldout.name])

    again = subprocess.run(command[:-2] + ["--trained", str(runs), "--agents", "sb3-ppo"], capture_output=True,
                           text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(list(runs.glob("heldout__*"))) == 2  # a second evaluation never overwrites the first


def test_agents_testbed_runs_every_agent_on_the_arc_testbed():
    command = [sys.executable, str(ROOT / "benchmarks" / "agents_testbed.py"), "--env", "arc", "--rounds", "1",
               "--seeds", "0", "--prompts", "2", "--samples", "2"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line.split() for line in done.stdout.splitlines()[2:]]
    assert [row[0] for row in rows] == ["rest-em", "grpo", "ppo"] and all(len(row) == 9 for row in rows)
