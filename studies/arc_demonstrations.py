"""Demonstrations for a warm start of an ARC writer: recipes that solved tasks, as (prompt, self-edit).

SEAL's ARC ReST-EM starts from sampled recipes and keeps those that solve. A small writer's prior rarely finds one
(benchmarks/RESULTS.md), so this script finds them first, by search, and writes the ``.jsonl`` that
``seal-gym train --agent sft --demonstrations FILE`` fine-tunes the writer on. Sources:

- ``--search suite:NAME:train`` (default ``suite:easy:train``): a fresh random-recipe search, ``--recipes-per-task``
  recipes drawn uniformly from the recipe grid for each of the first ``--tasks`` tasks, each trained with
  ``--seeds`` TTT seeds (SealARC-v0's ``--ttt`` settings, ``cpu`` by default), one engine call per task;
- ``--spread RESULTS.jsonl``: the rows of ``studies/arc_recipe_spread.py`` (its recipes re-drawn as it drew
  them, ``--spread-recipes`` = its ``--recipes``). Those are the suites' *tune* tasks: a writer warmed on them has
  seen the tune split.

A (task, recipe) is kept when its success over seeds is at least ``--min-success`` (1.0: solved on every seed).
Each record is ``{"prompt", "completion", "task_id", "success"}``: the prompt exactly as SealARC-v0 shows the task,
the completion the recipe's JSON exactly as the constrained writer writes it (a member of the ``arc-recipes``
choice set). Then, e.g.:

    python studies/arc_demonstrations.py --tasks 20 --recipes-per-task 8 --out runs/warm.jsonl
    seal-gym train --env SealARC-v0 --preset demo --agent sft --demonstrations runs/warm.jsonl \\
        --dataset suite:easy:train --rounds 1
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def search(tasks: list, recipes_per_task: int, seeds: int, loop, seed: int = 0, done: dict | None = None,
           on_task=None) -> list[tuple]:
    """``(task, recipe JSON, success per seed)`` of ``recipes_per_task`` uniform grid recipes on every task.

    ``done``: task id -> its ``[(recipe JSON, success per seed)]`` from an earlier search that stopped; those tasks
    are not run again (their recipes are still drawn, so every later task gets the recipes a whole search gives it).
    ``on_task(task, rows, seconds)``: called with each newly searched task's rows and the seconds its call took.
    """
    from seal_gym.arc.inner_loop import ArcItem
    from seal_gym.arc.recipe import random_grid_recipes

    rng = np.random.default_rng(seed)
    tried = []
    for task in tasks:
        texts = list(dict.fromkeys(random_grid_recipes(rng, recipes_per_task)))  # a recipe drawn twice: trained once
        if done and task.task_id in done:
            tried += [(task, text, found) for text, found in done[task.task_id]]
            continue
        began = time.perf_counter()
        results = loop.run([ArcItem(task, text, s) for text in texts for s in range(seeds)])
        mine = [(task, text, [r.reward for r in results[i * seeds:(i + 1) * seeds]]) for i, text in enumerate(texts)]
        solved = sum(max(found) > 0 for _, _, found in mine)
        print(f"{task.task_id}: {solved} of {len(texts)} recipes solved on some seed", flush=True)
        if on_task is not None:
            on_task(task, mine, time.perf_counter() - began)
        tried += mine
    return tried


def from_spread(path: Path, count: int) -> list[tuple]:
    """``(task, recipe JSON, success per seed)`` of the recipe-spread study's rows."""
    from arc_recipe_spread import recipes, tune_task

    chosen = recipes(count)
    successes = defaultdict(list)
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["recipe"] >= count:
            raise ValueError(f"{path}: recipe {row['recipe']} of {count}; pass the study's --recipes as "
                             "--spread-recipes")
        successes[(row["family"], row["task"], row["recipe"])].append(float(row["success"]))
    return [(tune_task(family, k), chosen[i].to_json(), found) for (family, k, i), found in successes.items()]


def demonstrations(tried: list[tuple], min_success: float = 1.0) -> list[dict]:
    """The records of the recipes that solved often enough, prompts and recipes as the env and the writer show them.

    Raises:
        ValueError: a recipe outside the ``arc-recipes`` grid (the constrained writer could never write it).
    """
    from seal_gym.arc.domain import observation_prompt
    from seal_gym.arc.recipe import parse_recipe, recipe_grid

    members = {recipe.to_json() for recipe in recipe_grid()}  # the arc-recipes choice set
    records = []
    for task, text, found in tried:
        completion = parse_recipe(text).to_json()
        if completion not in members:
            raise ValueError(f"recipe {completion} is not in the arc-recipes choice set")
        if found and np.mean(found) >= min_success:
            records.append({"prompt": observation_prompt(task), "completion": completion, "task_id": task.task_id,
                            "success": float(np.mean(found))})
    return records


def main(argv: list[str] | None = None, loop=None) -> list[dict]:
    """Write the demonstrations and return them; ``loop`` replaces the inner loop ``--model`` would make (tests)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="the .jsonl to write")
    parser.add_argument("--search", default="suite:easy:train", help="tasks of a random-recipe search")
    parser.add_argument("--spread", type=Path, default=None, help="use arc_recipe_spread.py's results.jsonl instead")
    parser.add_argument("--spread-recipes", type=int, default=8, help="the --recipes of that study")
    parser.add_argument("--tasks", type=int, default=10, help="search: the first N tasks of --search")
    parser.add_argument("--recipes-per-task", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=1, help="search: TTT seeds per recipe")
    parser.add_argument("--min-success", type=float, default=1.0, help="keep a recipe whose success is at least this")
    parser.add_argument("--seed", type=int, default=0, help="seeds the recipe draws")
    parser.add_argument("--model", default=None)
    parser.add_argument("--ttt", default="cpu", help="a TTT preset: cpu or paper")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if args.out.suffix != ".jsonl":
        parser.error(f"--out must end in .jsonl (what --agent sft reads), got {args.out}")
    try:
        if args.spread is not None:
            tried = from_spread(args.spread, args.spread_recipes)
        else:
            from seal_gym.arc.data import resolve_tasks

            tasks = (resolve_tasks(args.search) or [])[: args.tasks]
            if not tasks:
                raise ValueError(f"--search {args.search!r}: a search needs a fixed task list, e.g. suite:easy:train")
            if loop is None:
                import torch

                from seal_gym.arc.inner_loop import ArcInnerLoop

                torch.set_num_threads(args.threads)
                loop = ArcInnerLoop(args.model, "auto", args.ttt)
            tried = search(tasks, args.recipes_per_task, args.seeds, loop, args.seed)
        records = demonstrations(tried, args.min_success)
    except (ValueError, OSError, KeyError, ImportError) as err:
        parser.error(str(err).splitlines()[0])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    print(f"{len(records)} demonstrations of {len(tried)} recipes tried -> {args.out}")
    return records


if __name__ == "__main__":
    main()
