"""Does the warm start make the first successes likely? The recipes each writer writes on the suite's tune tasks.

The SealARC experiment's warm start (``OUT/writers/warm``, PLAN.md) is one SFT round on the recipes that solved a
train task in the random search. Before ReST-EM trains from it, this measures what it changed, on tasks it never
saw (the chosen suite's ``tune`` split) and without a test-time-training run (sampling only: minutes): per writer,
``--samples`` recipes per task at the plan's temperature through the recipe grid's constrained decoding, and

- the learning rates and epochs they ask for (the untrained writer's prior was the obstacle: lr 1e-5, which solved
  nothing, in 21 of 24 samples on the earlier ARC comparison);
- the share that train **at least as hard as the default recipe** (learning rate and epochs both at least its),
  the only recipes that solved anything in the recipe-spread screen;
- the share that repeat a demonstration exactly (what SFT on a handful of recipes may collapse to).

    python studies/arc_warm_check.py --out studies/arc_experiment --tasks 12 --samples 8

Writes ``OUT/warm/check.json`` and prints a Markdown table. Success itself is measured by the experiment's
training (ReST-EM's first rounds) and evaluation, not here.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from arc_experiment_runs import WARM, load_choice, register, source  # noqa: E402
from arc_experiment_training import TEMPERATURE  # noqa: E402
from study_runs import write_json  # noqa: E402


def recipe_figures(texts: list[str], demonstrations: set, default) -> dict:
    """What a writer's recipes ask for: counts of each learning rate and epoch count, and the shares above."""
    from seal_gym.arc.recipe import Recipe, parse_recipe

    parsed = [parse_recipe(text) for text in texts]
    valid = [r for r in parsed if isinstance(r, Recipe)]
    n = len(valid)
    return {
        "recipes": len(texts), "invalid": len(texts) - n,
        "learning_rates": {f"{lr:g}": c for lr, c in sorted(Counter(r.learning_rate for r in valid).items())},
        "epochs": {str(e): c for e, c in sorted(Counter(r.num_train_epochs for r in valid).items())},
        "at_least_default": sum(r.learning_rate >= default.learning_rate and
                                r.num_train_epochs >= default.num_train_epochs for r in valid) / n if n else 0.0,
        "a_demonstration": sum(r in demonstrations for r in valid) / n if n else 0.0,
    }


def writers(out: Path, writer: Path | None) -> dict[str, Path | None]:
    """``{name: published folder}``: the untrained writer (``None``) and the warm one."""
    warm = writer if writer is not None else out / "writers" / WARM
    if not (warm / "writer.json").is_file():
        raise SystemExit(f"no published warm writer at {warm}: run the experiment's warm stage first")
    return {"untrained": None, "warm": warm}


def sample(bundle, folder: Path | None, prompts: list[str], k: int, seed: int) -> list[str]:
    """``k`` recipes per prompt: the untrained model as the plan's ``untrained`` group samples, or a writer with its
    own sampling settings at the plan's temperature."""
    from dataclasses import replace

    from seal_gym.agents import LMPolicy, SamplingConfig
    from seal_gym.arc.spec import RECIPES
    from seal_gym.commands.common import trained_policy
    from seal_gym.self_edits import write_self_edits

    temperature = float(TEMPERATURE)
    if folder is None:
        sampling = SamplingConfig(temperature=temperature, max_new_tokens=512, choices=RECIPES)
        policy = LMPolicy(bundle, sampling, seed=seed)
        return [t for texts in write_self_edits(policy.act, prompts, k) for t in texts]
    with trained_policy(str(folder), bundle) as policy:
        policy.sampling = replace(policy.sampling, temperature=temperature)
        policy.seed, policy.calls = seed, 0
        return [t for texts in write_self_edits(policy.act, prompts, k) for t in texts]


def check(out: Path, tasks: int, samples: int, seed: int = 0, model: str | None = None,
          writer: Path | None = None) -> dict:
    from seal_gym.arc.domain import observation_prompt
    from seal_gym.arc.recipe import Recipe, parse_recipe
    from seal_gym.arc.suites import suite_tasks
    from seal_gym.models import load_model

    chosen = writers(out, writer)
    choice = load_choice(out)
    register(out)
    tune = suite_tasks(source(choice, "tune"))[:tasks]
    path = out / "warm" / "demonstrations.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    demonstrations = {parse_recipe(line["completion"]) for line in lines}
    bundle = load_model(model)
    prompts = [observation_prompt(task) for task in tune]
    from study_runs import ROOT

    from seal_gym.runs import git_commit

    report = {"tasks": [t.task_id for t in tune], "samples_per_task": samples, "seed": seed, "temperature": TEMPERATURE,
              "demonstrations": len(lines), "code": git_commit(ROOT), "writers": {}}
    for name, folder in chosen.items():
        texts = sample(bundle, folder, prompts, samples, seed)
        report["writers"][name] = recipe_figures(texts, demonstrations, Recipe())
    write_json(out / "warm" / "check.json", report)
    return report


def markdown(report: dict) -> str:
    rows = ["| writer | recipes (invalid) | learning rates | epochs | at least the default's training "
            "| a demonstration |",
            "|---|---|---|---|---|---|"]
    for name, f in report["writers"].items():
        counts = lambda d: ", ".join(f"{k}: {v}" for k, v in d.items())  # noqa: E731
        rows.append(f"| {name} | {f['recipes']} ({f['invalid']}) | {counts(f['learning_rates'])} "
                    f"| {counts(f['epochs'])}"
                    f" | {f['at_least_default']:.0%} | {f['a_demonstration']:.0%} |")
    return (f"{len(report['tasks'])} tune tasks x {report['samples_per_task']} recipes, temperature "
            f"{report['temperature']}, {report['demonstrations']} demonstrations\n\n" + "\n".join(rows))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="the experiment's folder (studies/arc_experiment)")
    parser.add_argument("--tasks", type=int, default=12, help="tune-split tasks (the suite's first ones)")
    parser.add_argument("--samples", type=int, default=8, help="recipes per task and writer")
    parser.add_argument("--seed", type=int, default=0, help="the sampling seed")
    parser.add_argument("--writer", type=Path, default=None, help="the warm writer (default: OUT/writers/warm)")
    parser.add_argument("--model", default=None, help="the model (default: the embedded one)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    print(markdown(check(args.out, args.tasks, args.samples, args.seed, args.model, args.writer)))


if __name__ == "__main__":
    main()
