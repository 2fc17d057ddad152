"""The agents' studies, run as a user runs them (their twins in tests/script_twins.py): the agents on SealARC-v0,
every text agent on the ARC testbed, and ReST-EM's stability over reward functions."""

from __future__ import annotations

import subprocess

import pytest

pytestmark = pytest.mark.heavy  # over 20 s in all: handed out first (tests/conftest.py)


@pytest.mark.twins("arc_agents")
def test_arc_agents_trains_every_agent_and_scores_every_source(scripts):
    scripts("arc_agents")
    runs, command = scripts.runs, scripts.command["arc_agents"]
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


@pytest.mark.twins("agents_testbed")
def test_agents_testbed_runs_every_agent_on_the_arc_testbed(scripts):
    rows = [line.split() for line in scripts("agents_testbed").splitlines()[2:]]
    assert [row[0] for row in rows] == ["rest-em", "grpo", "ppo"] and all(len(row) == 9 for row in rows)


@pytest.mark.twins("rest_em_stability")
def test_rest_em_stability_runs_every_setting_on_every_reward(scripts):
    """One row per setting, each with a count of the runs that rose and each reward's first -> last means."""
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in scripts("rest_em_stability").splitlines()
            if line.startswith("| ") and not line.startswith("| setting")]
    assert [row[0] for row in rows] == ["no-merge", "grpo"]
    for row in rows:
        rose, runs = map(int, row[1].split("/"))
        assert runs == 2 and 0 <= rose <= runs and 0 <= int(row[2]) <= runs  # 2 rewards x 1 seed x 1 agent seed
        first, last = (float(x) for x in row[5].split("→"))
        assert 0.0 <= first <= 1.0 and 0.0 <= last <= 1.0  # a share of characters
    assert rows[0][4] == "" and rows[1][4].endswith("(n 2)")  # grpo's final minus no-merge's, over 2 pairs
