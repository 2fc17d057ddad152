"""Where does the recipe matter? Per generated ARC family: how a spread of TTT recipes does, and how noisy it is.

For each family of ``seal_gym.arc.generator`` (3x3 grids, 4 demonstrations), ``--tasks`` tune tasks (task seeds
``TUNE_SEED + k``: the tune split of the task suites, a range no train or held-out split uses) x ``--recipes``
recipes (the default recipe, then a seeded sample of the structured grid) x ``--seeds`` TTT seeds, each trained once with SealARC-v0's ``cpu`` TTT
settings; every reward kind is scored from the same adapter (success, cell accuracy, the correct output's
log-probability). Rows are appended to ``OUT/results.jsonl`` as they come (a stopped run resumes where it was).

The report, per family: the default recipe's success rate; the best and the worst recipe's (over tasks and
seeds); the dense reward's spread; and its within-task signal-to-noise (variance between recipes against
variance across TTT seeds, pooled over tasks: the ICC a comparison of recipe writers rests on). A family where
the best recipes solve clearly more than the default and the worst solve nothing is one where a writer has
something to learn.

    python studies/arc_recipe_spread.py --out studies/arc_spread --tasks 3 --recipes 8 --seeds 2
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from snr_study import components  # noqa: E402

from seal_gym.arc.suites import SPLIT_SEEDS  # noqa: E402

TUNE_SEED = SPLIT_SEEDS["tune"]
"""Task seeds of the tune split (``TUNE_SEED + k``): the tasks of a suite's tune split (``suite:easy:tune`` for its
families); the train and held-out splits take other ranges (``seal_gym.arc.suites``)."""


def recipes(count: int, seed: int = 0) -> list:
    """The default recipe, then ``count - 1`` distinct recipes of the grid drawn with ``seed``."""
    from seal_gym.arc.recipe import Recipe, recipe_grid

    grid = [r for r in recipe_grid() if r != Recipe()]
    chosen = np.random.default_rng(seed).choice(len(grid), size=count - 1, replace=False)
    return [Recipe(), *(grid[int(i)] for i in chosen)]


def tune_task(family: str, k: int):
    """Task ``k`` of ``family`` as the study draws it (3x3 grids, 4 demonstrations; a row's ``family`` and ``task``)."""
    from seal_gym.arc.generator import GeneratorConfig, generate_task

    return generate_task(TUNE_SEED + k, GeneratorConfig(families=(family,)))


def measure(out: Path, families: list[str], tasks: int, count: int, seeds: int, loop) -> list[dict]:
    """Every (family, task, recipe, seed) row, scoring the missing ones (one engine call per family and task)."""
    from seal_gym.arc.inner_loop import ArcItem

    path = out / "results.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    done = {(r["family"], r["task"], r["recipe"], r["seed"]) for r in rows}
    chosen = recipes(count)
    for family in families:
        for k in range(tasks):
            task = tune_task(family, k)
            todo = [(i, s) for i in range(len(chosen)) for s in range(seeds) if (family, k, i, s) not in done]
            if not todo:
                continue
            results = loop.run([ArcItem(task, chosen[i].to_json(), s) for i, s in todo], score_logprob=True)
            with open(path, "a") as f:
                for (i, s), r in zip(todo, results):
                    row = {"family": family, "task": k, "recipe": i, "seed": s, "success": r.reward,
                           "cell_accuracy": r.cell_accuracy, "logprob": r.logprob, "error": r.error,
                           "seconds": r.train_seconds + r.predict_seconds}
                    rows.append(row)
                    f.write(json.dumps(row) + "\n")
            print(f"{family} task {k}: {len(todo)} adapters", flush=True)
    return rows


def report(rows: list[dict], count: int, seeds: int) -> list[dict]:
    lines = []
    for family in sorted({r["family"] for r in rows}):
        mine = [r for r in rows if r["family"] == family]
        tasks = sorted({r["task"] for r in mine})
        success = np.array([[[next((r["success"] for r in mine if (r["task"], r["recipe"], r["seed"]) == (t, i, s)),
                                   np.nan) for s in range(seeds)] for i in range(count)] for t in tasks])
        dense = np.array([[[next((r["logprob"] for r in mine if (r["task"], r["recipe"], r["seed"]) == (t, i, s)
                                  and r["logprob"] is not None), np.nan) for s in range(seeds)]
                           for i in range(count)] for t in tasks])
        per_recipe = np.nanmean(success, axis=(0, 2))
        finite = dense[:, np.all(np.isfinite(dense), axis=(0, 2)), :]
        s2_recipe, s2_seed = components(finite) if finite.shape[1] > 1 and seeds > 1 else (np.nan, np.nan)
        lines.append({"family": family, "tasks": len(tasks), "default_success": float(per_recipe[0]),
                      "best_success": float(np.nanmax(per_recipe)), "worst_success": float(np.nanmin(per_recipe)),
                      "dense_mean": float(np.nanmean(dense)), "dense_sd_between_recipes": float(np.sqrt(s2_recipe)),
                      "dense_sd_across_seeds": float(np.sqrt(s2_seed)),
                      "icc": float(s2_recipe / (s2_recipe + s2_seed)) if s2_recipe + s2_seed > 0 else np.nan})
    return lines


def main(argv: list[str] | None = None) -> list[dict]:
    from seal_gym.arc.generator import FAMILY_NAMES

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True,
                        help="the study's folder (results.jsonl, ttt.json); a stopped run resumes there")
    parser.add_argument("--families", nargs="+", default=list(FAMILY_NAMES), choices=FAMILY_NAMES)
    parser.add_argument("--tasks", type=int, default=3)
    parser.add_argument("--recipes", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", default=None)
    parser.add_argument("--engine", default="auto",
                        help="auto (ARC batches on CUDA only: on a CPU, batching its adapters was slower with the same "
                             "outcomes, benchmarks/arc_batching.py), sequential or batched")
    parser.add_argument("--max-examples", type=int, default=None,
                        help="TTT examples per adapter (default: the cpu preset's); a run folder keeps one value")
    parser.add_argument("--report", action="store_true", help="only print the report of the rows so far")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.report:
        path = args.out / "results.jsonl"
        rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    else:
        import torch

        from seal_gym.arc.inner_loop import ArcInnerLoop

        torch.set_num_threads(args.threads)
        from seal_gym.arc.ttt import TTT_PRESETS

        ttt = TTT_PRESETS["cpu"]
        if args.max_examples is not None:
            ttt = dataclasses.replace(ttt, max_examples=args.max_examples)
        settings, recorded = args.out / "ttt.json", json.dumps(dataclasses.asdict(ttt), indent=1)
        if settings.exists() and json.loads(settings.read_text()) != json.loads(recorded):
            parser.error(f"{args.out} holds rows of other TTT settings ({settings}); use another --out")
        settings.write_text(recorded)  # rows of one folder share one TTT setting
        loop = ArcInnerLoop(args.model, args.engine, ttt)
        rows = measure(args.out, args.families, args.tasks, args.recipes, args.seeds, loop)
    lines = report(rows, args.recipes, args.seeds)
    print("| family | tasks | default | best | worst | dense mean | SD between recipes | SD across seeds | ICC |")
    print("|---|---|---|---|---|---|---|---|---|")
    for line in lines:
        print(f"| {line['family']} | {line['tasks']} | {line['default_success']:.2f} | {line['best_success']:.2f} | "
              f"{line['worst_success']:.2f} | {line['dense_mean']:.2f} | {line['dense_sd_between_recipes']:.2f} | "
              f"{line['dense_sd_across_seeds']:.2f} | {line['icc']:.2f} |")
    return lines


if __name__ == "__main__":
    main()
