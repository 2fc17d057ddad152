"""Reproduce the shape of SEAL's knowledge-incorporation table on a few passages.

For each passage: accuracy of (a) the base model, (b) the model trained on the passage only, (c) trained
on the passage plus self-edits the model writes itself, (d) trained on the passage plus the dataset's
reference self-edits (when it has any: a stronger writer), and (e) the base model with the passage in
context. Questions are asked without the passage except in (e). Prints mean +- standard error under the
strict grader and the lenient one (best-span token F1 >= 0.5), and writes JSON and CSV into a new run folder.
"""

from __future__ import annotations

import argparse
import csv
import time
from dataclasses import asdict, replace

from seal_gym.adapt import TrainSpec
from seal_gym.agents.policy import LMPolicy, SamplingConfig
from seal_gym.squad.grading import lenient_accuracy
from seal_gym.squad.inner_loop import KnowledgeConfig, KnowledgeInnerLoop, KnowledgeItem
from seal_gym.models import load_model
from seal_gym.squad.passages import Passage, load_passages
from seal_gym.squad.prompts import PROMPT_STYLES, get_prompt_style
from seal_gym.configs import add_config_arguments, config_from_args
from seal_gym.runs import cli_args, new_run_dir, write_json
from seal_gym.stats import format_table, mean_stderr

HELP = "knowledge-incorporation table: base / passage / passage + own self-edits / in context"
CONDITIONS = {
    "base": "base model, no passage",
    "passage": "trained on the passage",
    "own_self_edit": "passage + its own self-edit",
    "reference_self_edit": "passage + reference self-edit",
    "in_context": "passage in context (no training)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None, help="model name/path; default: embedded SmolLM2-135M-Instruct")
    parser.add_argument("--dataset", default="demo", help="'demo', a SEAL-format JSON path, or 'hf:squad'")
    parser.add_argument("--passages", type=int, default=8, help="number of passages (the first N)")
    parser.add_argument("--start", type=int, default=0, help="index of the first passage")
    parser.add_argument("--prompt-style", default="implications", choices=sorted(PROMPT_STYLES))
    parser.add_argument("--grader", default="contains", choices=["contains", "f1"], help="strict grader")
    parser.add_argument("--temperature", type=float, default=0.7, help="self-edit sampling temperature")
    parser.add_argument("--max-self-edit-tokens", type=int, default=256, help="self-edit length limit")
    parser.add_argument("--no-reference", action="store_true", help="skip the reference self-edit condition")
    parser.add_argument("--seed", type=int, default=0, help="seeds sampling and the inner loop")
    parser.add_argument("--runs-dir", default="runs", help="parent folder of the new run folder")
    add_config_arguments(parser, TrainSpec, skip=("seed",))  # the inner loop's training; --seed seeds it


def _in_context_scores(loop: KnowledgeInnerLoop, passage: Passage) -> dict:
    answers = loop.in_context_answers(passage)
    strict, _ = loop.grade_answers(passage, answers)
    lenient = lenient_accuracy(answers, [qa.answer for qa in passage.questions])
    return {"strict": strict, "lenient": lenient, "answers": answers}


def evaluate_passage(loop: KnowledgeInnerLoop, policy: LMPolicy, passage: Passage, seed: int,
                     with_reference: bool, report=lambda stage: None) -> dict:
    """All conditions for one passage: {condition: {"strict", "lenient", "answers", ...}}.

    ``report(stage)`` is called as each stage starts (for progress display).
    """
    style = loop.style
    report("writing own self-edit")
    own = policy.act([style.render(passage.title, passage.context)])[0]
    items = {"passage": "", "own_self_edit": own}
    if with_reference and passage.completions:
        items["reference_self_edit"] = passage.completions[0]
    report(f"training {len(items)} adapters")
    results = dict(zip(items, loop.run([KnowledgeItem(edit, passage, seed) for edit in items.values()])))
    # The results are graded already (baseline included): read the scores, do not grade again.
    any_result = results["passage"]
    row = {"base": {"strict": any_result.baseline_accuracy, "lenient": any_result.lenient_baseline_accuracy(),
                    "answers": [q.baseline_answer for q in any_result.questions]}}
    for condition, result in results.items():
        row[condition] = {"strict": result.adapter_accuracy, "lenient": result.lenient_accuracy(),
                          "answers": [q.answer for q in result.questions], "self_edit": items[condition],
                          "final_loss": result.final_loss, "num_sequences": result.num_sequences,
                          "train_seconds": result.train_seconds}
    report("answering with the passage in context")
    row["in_context"] = _in_context_scores(loop, passage)
    return row


def tensorboard_writer(run_dir, args: argparse.Namespace):
    """One TensorBoard writer per run, in the run folder, with the arguments logged once as a table."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(run_dir))
    rows = "\n".join(f"|{key}|{value}|" for key, value in cli_args(args).items())
    writer.add_text("hyperparameters", f"|param|value|\n|-|-|\n{rows}")
    return writer


def summary_table(rows: list[dict]) -> str:
    body = []
    for condition, label in CONDITIONS.items():
        cells = [row[condition] for row in rows if condition in row]
        if not cells:
            continue
        strict, lenient = (mean_stderr([100 * c[k] for c in cells]) for k in ("strict", "lenient"))
        body.append([label, str(len(cells)), f"{strict[0]:.1f} ± {strict[1]:.1f}", f"{lenient[0]:.1f} ± {lenient[1]:.1f}"])
    return format_table(["condition", "n", "accuracy % (strict)", "accuracy % (F1>=0.5)"], body)


def run(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    passages = load_passages(args.dataset)[args.start : args.start + args.passages]
    if not passages:
        raise SystemExit(f"no passages in {args.dataset!r} from index {args.start}")
    run_dir = new_run_dir(args.runs_dir, f"squad-table__{args.model or 'smollm2-135m'}__{args.seed}")
    print(f"run folder: {run_dir}")
    started = time.perf_counter()
    bundle = load_model(args.model)
    config = KnowledgeConfig(train=config_from_args(args, TrainSpec),
                             prompt_style=get_prompt_style(args.prompt_style))
    loop = KnowledgeInnerLoop(bundle, grader=args.grader, config=config)
    # The writer of self-edits is the updated model itself, as in SEAL: one shared bundle.
    policy = LMPolicy(bundle, SamplingConfig(temperature=args.temperature, max_new_tokens=args.max_self_edit_tokens),
                      seed=args.seed)
    writer = tensorboard_writer(run_dir, args)
    rows = []
    progress = tqdm(passages, desc="passages", unit="passage")
    for index, passage in enumerate(progress, start=args.start):
        row = evaluate_passage(loop, policy, passage, args.seed, not args.no_reference,
                               report=lambda stage: progress.set_postfix_str(f"{passage.title}: {stage}"))
        rows.append({"passage_index": index, "title": passage.title, **row})
        tqdm.write(f"{passage.title}: " + ", ".join(f"{k} {row[k]['strict']:.2f}" for k in CONDITIONS if k in row))
        for condition in CONDITIONS:
            if condition in row:
                writer.add_scalar(f"accuracy/{condition}", row[condition]["strict"], len(rows))
                writer.add_scalar(f"accuracy_lenient/{condition}", row[condition]["lenient"], len(rows))
    writer.close()
    table = summary_table(rows)
    minutes = (time.perf_counter() - started) / 60
    print(f"\n{table}\n\n{len(passages)} passages, {minutes:.1f} min, model {bundle.name}, run folder {run_dir}")
    write_json(run_dir / "results.json", {"args": cli_args(args), "config": asdict(replace(config, prompt_style=args.prompt_style)),
                                          "model": bundle.name, "minutes": minutes, "passages": rows})
    with open(run_dir / "results.csv", "x", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["passage_index", "title", "condition", "accuracy_strict", "accuracy_lenient"])
        for row in rows:
            for condition in CONDITIONS:
                if condition in row:
                    writer.writerow([row["passage_index"], row["title"], condition,
                                     row[condition]["strict"], row[condition]["lenient"]])
    (run_dir / "table.txt").write_text(table + "\n", encoding="utf-8")
    return 0
