"""The benchmark and study scripts' small twins, run as a user runs them: each a subprocess on one thread, on the
tiny model or a scripted engine, with the smallest budget.

A test names the twins it reads with ``@pytest.mark.twins("name", ...)`` and reads one's standard output with
``scripts(name)``. The twins named by a file's selected tests start together when the file's first test asks
(each takes one thread, so they run side by side instead of one after another leaving a core idle; pytest-xdist
runs other files beside them); a twin that no selected test names never starts.

``benchmarks/inner_loop_ray.py`` has no twin here: it starts a local Ray of its own, which loses its actors while
another Ray runs on the machine (the Ray tests' worker, tests/conftest.py).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SQUAD = ROOT.parent / "shared" / "data" / "squad" / "train.json"
"""SEAL's SQuAD file with its 7B self-edits (tests may read ``../shared/data``; the scripts take it as an argument)."""


def script(path: str, *options: str) -> list[str]:
    return [sys.executable, str(ROOT / path), *options]


def commands(runs: Path) -> dict[str, list[str]]:
    """Every twin's command; ``runs``: the folder arc_agents makes for its run folders."""
    tiny = ("--model", "tiny-random", "--device", "cpu", "--threads", "1", "--quick")
    return {
        "arc_agents": script("studies/arc_agents.py", "--preset", "smoke", "--rounds", "1", "--heldout", "1",
                             "--recipes", "2", "--threads", "1", "--runs-dir", str(runs)),
        "agents_testbed": script("studies/agents_testbed.py", "--env", "arc", "--rounds", "1", "--seeds", "0",
                                 "--prompts", "2", "--samples", "2"),
        "rest_em_stability": script("studies/rest_em_stability.py", "--settings", "no-merge", "grpo", "--rewards",
                                    "alnum", "vowels", "--seeds", "0", "--agent-seeds", "0", "--rounds", "2"),
        "inner_loop": script("benchmarks/inner_loop.py", *tiny, "--engines", "reference,sequential,batched"),
        "loss_memory": script("benchmarks/loss_memory.py", *tiny, "--ks", "4", "--loss-chunks", "16"),
        "inner_loop_profile": script("benchmarks/inner_loop_profile.py", *tiny),
        "eval_batching": script("benchmarks/eval_batching.py", "--dataset", f"{SQUAD}@tune", "--model", "tiny-random",
                                "--passages", "2", "--groups-per-call", "2", "--threads", "1"),
        "arc_batching": script("benchmarks/arc_batching.py", "--model", "tiny-random", "--adapters", "2",
                               "--max-examples", "4", "--threads", "1"),
        "batching_divergence": script("benchmarks/batching_divergence.py", "--dataset", f"{SQUAD}@tune",
                                      "--self-edits-file", str(SQUAD), "--model", "tiny-random", "--passages", "2",
                                      "--threads", "1"),
    }


@pytest.fixture(scope="module")
def scripts(request, tmp_path_factory):
    """``scripts(name)``: the standard output of twin ``name`` (waiting for it to finish; it must exit 0);
    ``scripts.runs`` and ``scripts.command`` are arc_agents' runs folder and every twin's command."""
    runs = tmp_path_factory.mktemp("scripts") / "cmp"  # arc_agents makes it: never into an earlier comparison
    every = commands(runs)
    mine = [item for item in request.session.items if getattr(item, "module", None) is request.module]
    wanted = {name for item in mine for marker in item.iter_markers("twins") for name in marker.args}
    if unknown := wanted - set(every):
        raise KeyError(f"no twin named {sorted(unknown)}; the twins are {sorted(every)}")
    started = {name: subprocess.Popen(every[name], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for name in sorted(wanted)}
    outputs: dict[str, str] = {}

    def output(name: str) -> str:
        if name not in started:
            raise KeyError(f"twin {name!r} was not started: name it in the test's twins marker")
        if name not in outputs:
            out, err = started[name].communicate(timeout=900)
            assert started[name].returncode == 0, err[-3000:]
            outputs[name] = out
        return outputs[name]

    output.runs = runs
    output.command = every
    yield output
    for process in started.values():
        if process.poll() is None:
            process.kill()
