"""Continual self-edits (SEAL's continual-learning experiment): a stream of passages, one update after another.

Each step writes a self-edit for the next passage with the model as it is now (the model's own, or the
trained policy's with --policy RUN_DIR, which is then the model being updated, as in SEAL), trains a LoRA
on it plus the passage with the inner loop's settings, and merges it into the weights before the next step.
After each update the model answers the questions of every passage so far, without the passage: the
forgetting matrix. --compare-passage-only runs the same stream a second time with passage-only updates;
--passage-only runs only that. Writes forgetting.csv (one matrix per stream), results.csv (long form),
table.txt (retention: accuracy on a passage after k later updates), results.json and forgetting.png (the
heatmap) into a new run folder. The model's weights are restored at the end; nothing is written to disk.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from dataclasses import asdict

from seal_gym.adapt import TrainSpec
from seal_gym.commands.common import (UsageError, check_policy_run, dataset_label, load_bundle, load_passage_range,
                                      run_checked, trained_policy, write_csv, write_run_files)
from seal_gym.commands.options import (add_config_arguments, add_model_arguments, add_passage_arguments, config_from_args,
                                       sampling_from_args)



def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    add_passage_arguments(parser, 6, "length of the stream (passages from --start on)")
    parser.add_argument("--passage-only", action="store_true", help="updates train on the passages alone")
    parser.add_argument("--compare-passage-only", action="store_true",
                        help="also run the stream with passage-only updates, for comparison")
    add_config_arguments(parser, TrainSpec, prefix="inner_", skip=("seed",), alias_prefix="")  # as train's --inner-*


def run(args: argparse.Namespace) -> int:
    return run_checked("eval continual", args, _prepare, _run_streams)


def _prepare(args: argparse.Namespace):
    """Everything that can be wrong with the input, checked before a run folder exists. A trained policy is
    loaded into the model here and stays there for the streams (it is the model they update)."""
    if args.passage_only and (args.policy or args.compare_passage_only):
        raise UsageError("--passage-only writes no self-edits: it goes with neither --policy nor --compare-passage-only")
    sampling_from_args(args)  # an out-of-range value is refused before any model loads
    passages = load_passage_range(args)
    if args.policy:
        check_policy_run(args.policy, "SealSquad-v0", "eval continual", args.model)
    bundle = load_bundle(args.model)
    loan = contextlib.ExitStack()
    policy = loan.enter_context(trained_policy(args.policy, bundle)) if args.policy else None
    return passages, bundle, policy, loan


def _run_streams(args: argparse.Namespace, passages, bundle, policy, loan: contextlib.ExitStack) -> int:
    with loan:  # gives the policy's model back (the weights as loaded) however the streams end
        return _stream(args, passages, bundle, policy)


def _stream(args: argparse.Namespace, passages, bundle, policy) -> int:
    from tqdm.auto import tqdm

    from seal_gym.agents.policy import LMPolicy
    from seal_gym.evaluation import continual_stream, forgetting_chart, retention_table
    from seal_gym.runs import new_run_dir, run_metadata
    from seal_gym.squad.inner_loop import KnowledgeConfig, KnowledgeInnerLoop
    from seal_gym.squad.prompts import get_prompt_style

    started, metadata = time.perf_counter(), run_metadata()
    knowledge = KnowledgeConfig(train=config_from_args(args, TrainSpec, prefix="inner_"), prompt_style=get_prompt_style(args.prompt_style),
                                answer_style=args.answer_style, score_logprob=args.score_logprob)
    loop = KnowledgeInnerLoop(bundle, engine="sequential", grader=args.grader, config=knowledge)
    if policy is None and not args.passage_only:
        policy = LMPolicy(bundle, sampling_from_args(args), seed=args.seed)
    streams = [] if args.passage_only else [("the policy's self-edits + passage" if args.policy
                                             else "own self-edits + passage", policy.act)]
    if args.passage_only or args.compare_passage_only:
        streams.append(("passage only", None))
    run_dir = new_run_dir(args.runs_dir, f"eval-continual__{bundle.name}__{args.seed}")
    print(f"run folder: {run_dir}")
    results = []
    for label, writer in streams:
        with tqdm(total=len(passages), desc=label, unit="update") as bar:
            def report(result) -> None:
                step = result.steps[-1]
                row = " ".join(f"{100 * v:3.0f}" for v in result.strict[-1])
                tqdm.write(f"[{label}] after {step.title}: loss {step.final_loss or 0:.3f}; accuracy % so far: {row}")
                bar.update(1)

            results.append(continual_stream(loop, passages, writer, seed=args.seed, label=label,
                                            first_index=args.start, on_step=report))
    table = retention_table(results)
    matrices = "\n\n".join(_matrix_text(r) for r in results)
    minutes = (time.perf_counter() - started) / 60
    print(f"\naccuracy % on a passage after k later updates (mean ± s.e. over passages):\n{table}\n\n{matrices}\n\n"
          f"{len(passages)} passages, {minutes:.1f} min, model {bundle.name}, run folder {run_dir}")
    title = (f"Continual self-edits: {dataset_label(args.dataset)} [{args.start}:{args.start + len(passages)}], "
             f"model {bundle.name}: accuracy % (strict) on each passage after each merged update")
    write_csv(run_dir / "forgetting.csv", _forgetting_rows(results))
    write_run_files(run_dir, args, f"{table}\n\n{matrices}",
                    {"model": bundle.name, "minutes": minutes, "inner_loop": asdict(knowledge.train),
                     "streams": results, "retention": {r.label: r.retention() for r in results}},
                    [row for r in results for row in r.csv_rows()], {"forgetting.png": forgetting_chart(results, title)},
                    metadata)
    return 0


def _forgetting_rows(results) -> list[dict]:
    """Each stream's matrix, accuracy % (strict): a row per point of the stream, a column per passage."""
    return [{"stream": r.label, "after": label, **{f"p{i + 1} {t}": v for i, (t, v) in enumerate(zip(r.titles, row))}}
            for r in results for label, row in zip(_row_labels(r), r.matrix())]


def _row_labels(result) -> list[str]:
    return ["before"] + [f"after {j + 1}" for j in range(len(result.strict))]


def _matrix_text(result) -> str:
    from seal_gym.stats import format_table

    rows = [[label, *["" if v is None else f"{v:.0f}" for v in row]]
            for label, row in zip(_row_labels(result), result.matrix())]
    return f"{result.label}: accuracy % (strict)\n" + format_table(["", *[f"p{i + 1}" for i in range(len(result.titles))]], rows)
