"""Memory modes compared on a stream (`seal-gym eval memory`): none, retrieval, weights, hybrid.

A new knowledge base (inside the run folder) receives --windows windows of --per-window passages from
--dataset (from --start on). After each window one scheduled update runs (self-edits, one adapter, the
forgetting guard, as `seal-gym memory update`); then every question of every passage so far is asked with no
memory, with retrieval only (the top --top-k passages in the prompt, base weights), with the updated weights
only, and with both. Passages go in without their questions unless --give-questions: the guard then decides on
questions the model writes, and the evaluation's stay held out. Writes table.txt (accuracy on everything seen
so far and on the first window, per mode, with each update's outcome and seconds), results.json,
results.csv and accuracy.png (one line per mode) into a new run folder.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict

from seal_gym.commands.common import (UsageError, check_policy_run, dataset_label, load_bundle, run_checked,
                                      write_run_files)
from seal_gym.commands.options import (add_config_arguments, add_model_arguments, add_sampling_arguments,
                                       config_from_args, sampling_from_args)



def add_arguments(parser: argparse.ArgumentParser) -> None:
    from seal_gym.adapt import LoraSpec, TrainSpec
    from seal_gym.memory import MemoryEvalConfig
    from seal_gym.memory.updater import UpdateConfig

    add_model_arguments(parser)
    parser.add_argument("--dataset", default="demo",
                        help="'demo', a SEAL-format JSON path (e.g. ../shared/data/squad/train.json)")
    parser.add_argument("--start", type=int, default=0, help="index of the first passage")
    add_sampling_arguments(parser)
    parser.add_argument("--grader", default="contains", choices=["contains", "f1"], help="strict grader")
    add_config_arguments(parser, MemoryEvalConfig)
    add_config_arguments(parser, UpdateConfig, skip=("max_answer_tokens",))  # one option for both configs
    add_config_arguments(parser, TrainSpec, prefix="inner_", skip=("seed",), alias_prefix="")  # as train's --inner-*
    add_config_arguments(parser, LoraSpec, prefix="inner_lora_", alias_prefix="lora_")


def run(args: argparse.Namespace) -> int:
    return run_checked("eval memory", args, _prepare, _evaluate)


def _prepare(args: argparse.Namespace):
    """Everything that can be wrong with the input, checked before a run folder exists."""
    from seal_gym.adapt import LoraSpec, TrainSpec
    from seal_gym.memory import MemoryEvalConfig
    from seal_gym.memory.updater import UpdateConfig
    from seal_gym.squad.passages import load_passages

    try:
        config = config_from_args(args, MemoryEvalConfig)
        configs = (config, config_from_args(args, UpdateConfig), config_from_args(args, TrainSpec, prefix="inner_"),
                   config_from_args(args, LoraSpec, prefix="inner_lora_"))
        sampling_from_args(args)
        passages = load_passages(args.dataset)[max(0, args.start):]
    except (ValueError, FileNotFoundError, ImportError, ConnectionError) as err:
        raise UsageError(str(err)) from None
    needed = config.windows * config.per_window
    if args.start < 0 or len(passages) < needed:
        raise UsageError(f"{config.windows} windows x {config.per_window} passages need {needed} passages from index "
                         f"{args.start}; {dataset_label(args.dataset)} has {len(passages)} there")
    if args.policy:
        check_policy_run(args.policy, "SealSquad-v0", "eval memory", args.model)
    return passages[:needed], configs, load_bundle(args.model)


def _evaluate(args: argparse.Namespace, passages, configs, bundle) -> int:
    from tqdm.auto import tqdm

    from seal_gym.commands.memory import writer_for
    from seal_gym.memory import LoraEditor, evaluate_memory
    from seal_gym.runs import new_run_dir, run_metadata

    config, update_config, train, lora = configs
    started, metadata = time.perf_counter(), run_metadata()
    run_dir = new_run_dir(args.runs_dir, f"eval-memory__{bundle.name}__{args.seed}")
    print(f"run folder: {run_dir}")
    editor = LoraEditor(bundle)
    with tqdm(total=config.windows, desc="windows", unit="window") as bar:
        def report(result) -> None:
            w = result.windows[-1]
            tqdm.write(f"window {w.window}: {w.update.line()}\n  accuracy % so far: "
                       + ", ".join(f"{m} {w.accuracy[m]:.1f}" for m in result.modes))
            bar.update(1)

        try:
            evaluation = evaluate_memory(passages, editor, writer_for(args, bundle), run_dir / "kb", config,
                                         update_config, train, lora, args.grader, bundle.name, on_window=report)
        finally:
            editor.restore()
    table = evaluation.table()
    minutes = (time.perf_counter() - started) / 60
    title = (f"Memory modes: {dataset_label(args.dataset)}, {config.windows} windows x {config.per_window} passages, "
             f"model {bundle.name}")
    print(f"\naccuracy % (strict) after each window's update:\n{table}\n\n{minutes:.1f} min, run folder {run_dir}")
    write_run_files(run_dir, args, table,
                    {"model": bundle.name, "minutes": minutes, "config": asdict(config), "update": asdict(update_config),
                     "inner_loop": asdict(train), "lora": asdict(lora), "windows": evaluation.windows},
                    evaluation.csv_rows(), {"accuracy.png": evaluation.chart(title)}, metadata)
    return 0
