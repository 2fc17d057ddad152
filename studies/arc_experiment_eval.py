"""The SealARC experiment's ``eval`` stage (PLAN.md, "Conditions"): one ``seal-gym eval arc`` run per condition group.

Every group runs on the same held-out tasks (the first N of the suite's held-out split, N from choice.json: whole
rounds of the families), with TTT seeds 0 and 1, the chosen TTT settings, the dense reward scored, and every adapter
alone in its engine call (``--adapters-per-call 1``: which adapters share a batch changes the scores, so runs of
different groups pair exactly only this way). Groups: ``in-context``, ``default``, ``oracle`` (eval arc's grid, the
best per task and seed), ``random-recipes`` and ``untrained`` (2 recipes per task; the untrained model constrained
to ``arc-recipes`` at temperature 0.7, seed 0), and one per published writer (text writers: 2 recipes per task at
their training temperature, 0.7, sampling seed 0; sb3-ppo: its deterministic recipe per task). A group's run
folder is ``OUT/eval/GROUP/``; a group that has a finished run is not run again.
"""

from __future__ import annotations

from pathlib import Path

from arc_experiment_runs import WARM, read_json, run_seal_gym, source, ttt_options  # noqa: E402
from study_runs import finished_in  # noqa: E402

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
                                   RECIPES, "--policy-sampling-seed", "0"]
    return groups


def groups(out: Path) -> dict[str, list[str]]:
    return {**FIXED, **writer_groups(out)}


def evaluate(out: Path, choice: dict, threads: int, only: set[str] | None = None, model: str | None = None) -> dict:
    """``{group: its results.json}`` of every group that has one, running the missing ones (``only``: just these
    now). Raises SystemExit when a run fails."""
    every = groups(out)
    if only is not None and only - set(every):
        raise SystemExit(f"--groups: no group named {sorted(only - set(every))}; the groups are {list(every)}")
    tasks = str(choice["heldout"]["tasks"])
    found = {}
    for group, conditions in every.items():
        folder = out / "eval" / group
        done = finished_in(folder)
        if not done and (only is None or group in only):
            args = ["eval", "arc", "--source", source(choice, "heldout"), "--tasks", tasks, "--inner-seeds", TTT_SEEDS,
                    "--seed", "0", "--engine", "auto", "--score-logprob", "--adapters-per-call", "1",
                    "--threads", str(threads), "--runs-dir", str(folder), *conditions,
                    *ttt_options(choice["ttt"]["ttt"]), *(["--model", model] if model else [])]
            print(f"eval {group}: {tasks} held-out tasks x {TTT_SEEDS} TTT seeds", flush=True)
            code = run_seal_gym(out, args, f"eval-{group}.log")
            done = finished_in(folder)
            if code != 0 or done is None:
                raise SystemExit(f"seal-gym eval arc for {group} failed (exit {code}): see {out / f'eval-{group}.log'}")
        if done:
            found[group] = done
    return found
