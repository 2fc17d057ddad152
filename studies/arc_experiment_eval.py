"""The SealARC experiment's ``eval`` stage (PLAN.md, "Conditions"): one ``seal-gym eval arc`` run per condition group.

Every group runs on the same held-out tasks (the first N of the suite's held-out split, N from choice.json: whole
rounds of the families), with TTT seeds 0 and 1, the chosen TTT settings, the dense reward scored, and every adapter
alone in its engine call (``--adapters-per-call 1``: which adapters share a batch changes the scores, so runs of
different groups pair exactly only this way). Groups: ``in-context``, ``default``, ``oracle`` (eval arc's grid, the
best per task and seed), ``random-recipes`` and ``untrained`` (2 recipes per task; the untrained model constrained
to ``arc-recipes`` at temperature 0.7), and one per published writer (text writers: 2 recipes per task at their
training temperature, 0.7; sb3-ppo: its deterministic recipe per task).

Each group runs in chunks of ``CHUNK`` tasks (PLAN.md, addition 2), one ``eval arc --start`` run each in
``OUT/eval/GROUP/chunk-SSS/`` (SSS: the chunk's first task); a finished chunk is not run again, so a stop loses at
most the chunk under way. Chunk ``k`` (0, 1, ...) seeds its random draws and its writers' sampling with ``k``.
"""

from __future__ import annotations

from pathlib import Path

from arc_experiment_runs import WARM, read_json, run_seal_gym, source, ttt_options  # noqa: E402
from study_runs import finished_in  # noqa: E402

CHUNK = 10
"""Held-out tasks a run evaluates (at 2 recipes x 2 TTT seeds about 26 min of 2 cores: a stop costs at most that)."""
RECIPES = "2"
"""Recipes per task from each text writer and from the random draw (PLAN.md)."""
TTT_SEEDS = "2"
"""TTT seeds 0 and 1 for every recipe."""
FIXED = {
    "in-context": ["--conditions", "in-context"],
    "default": ["--conditions", "default"],
    "oracle": ["--conditions", "oracle"],
    "random-recipes": ["--conditions", "random-recipes", "--recipes-per-task", RECIPES],
    "untrained": ["--conditions", "base-recipes", "--recipes-per-task", RECIPES, "--sample-temperature", "0.7",
                  "--sample-choices", "arc-recipes"],
}
"""The groups that need no trained writer, and their conditions."""


def writer_groups(out: Path) -> dict[str, list[str]]:
    """One group per published writer (the warm start is no condition of the plan)."""
    groups = {}
    for folder in sorted(p for p in (out / "writers").glob("*") if p.is_dir() and p.name != WARM):
        manifest = read_json(folder / "writer.json", {})
        if manifest.get("agent") == "sb3-ppo" or (folder / "sb3_ppo.zip").is_file():
            groups[folder.name] = ["--conditions", "sb3-recipes", "--policy", str(folder)]
        else:
            groups[folder.name] = ["--conditions", "policy-recipes", "--policy", str(folder), "--recipes-per-task",
                                   RECIPES]
    return groups


def groups(out: Path) -> dict[str, list[str]]:
    return {**FIXED, **writer_groups(out)}


def evaluate(out: Path, choice: dict, threads: int, only: set[str] | None = None,
             model: str | None = None) -> dict[str, list[Path]]:
    """``{group: its chunks' results.json}`` of every group whose chunks have all finished, running the missing ones
    (``only``: just these groups now). Raises SystemExit when a run fails."""
    every = groups(out)
    if only is not None and only - set(every):
        raise SystemExit(f"--groups: no group named {sorted(only - set(every))}; the groups are {list(every)}")
    tasks = int(choice["heldout"]["tasks"])
    found = {}
    for group, conditions in every.items():
        done = []
        for k, start in enumerate(range(0, tasks, CHUNK)):
            folder = out / "eval" / group / f"chunk-{start:03d}"
            result = finished_in(folder)
            if result is None and (only is None or group in only):
                count = min(CHUNK, tasks - start)
                args = ["eval", "arc", "--source", source(choice, "heldout"), "--start", str(start), "--tasks",
                        str(count), "--inner-seeds", TTT_SEEDS, "--seed", str(k),
                        *(["--policy-sampling-seed", str(k)] if "--policy" in conditions else []), "--engine", "auto", "--score-logprob", "--adapters-per-call", "1", "--threads", str(threads),
                        "--runs-dir", str(folder), *conditions, *ttt_options(choice["ttt"]["ttt"]),
                        *(["--model", model] if model else [])]
                print(f"eval {group}: held-out tasks {start}-{start + count - 1} of {tasks} x {TTT_SEEDS} TTT seeds",
                      flush=True)
                code = run_seal_gym(out, args, f"eval-{group}.log")
                result = finished_in(folder)
                if code != 0 or result is None:
                    raise SystemExit(f"seal-gym eval arc for {group} failed (exit {code}): see "
                                     f"{out / f'eval-{group}.log'}")
            done.append(result)
        if all(done):
            found[group] = done
    return found
