"""Knowledge-incorporation table (SEAL's first and, with --cpt, second table) on a few passages.

Conditions (--conditions): base (the model, no passage), passage (trained on the passage alone),
base-self-edits (trained on the passage + self-edits the model writes itself), policy-self-edits (+ self-edits
of the trained policy in --policy RUN_DIR; repeat --policy NAME=RUN_DIR to compare several writers, each the
condition policy-self-edits-NAME), file-self-edits (+ self-edits from --self-edits-file, by default
the dataset's own "completions", e.g. a bigger model's; repeat --self-edits-file NAME=FILE to compare several
saved writers, each the condition file-self-edits-NAME), in-context (the passage in the prompt, no training),
and baselines: prompt-ensemble (+ one self-edit of the model per prompt style of --ensemble-styles, each split
its own way, pooled into one adapter), passage-self-edit (+ the passage itself as the self-edit), best-of-n
(the best of the base-self-edits by --best-of-metric: picked from their adapters, no extra training).
Every trained condition trains the same model; a policy only writes. Questions are asked without the
passage except in context. --self-edits n and --inner-seeds r give n x r adapters per passage and condition;
tables show mean ± standard error over passages under the strict grader and the lenient one (best-span
token F1 >= 0.5). --cpt N pools the self-edits of N consecutive passages into each adapter and asks all
their questions. Beside the table: each condition's paired difference from --reference per metric (mean,
bootstrap interval over passages, Wilcoxon and paired t-test p-values) and the diversity of its self-edits.
Writes table.txt, results.json, results.csv, paired.csv, chart.png, paired.png and TensorBoard events into a
new run folder.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass, fields, replace

from seal_gym.adapt import ENGINES, TrainSpec
from seal_gym.commands.common import (UsageError, check_policy_run, dataset_label, load_bundle, load_passage_range,
                                      parse_conditions, run_checked, tensorboard_writer, trained_policy, write_csv,
                                      write_run_files)
from seal_gym.commands.options import (add_config_arguments, add_model_arguments, add_passage_arguments,
                                       add_renamed_argument, sampling_from_args)
from seal_gym.commands.parser import GIVEN, note_given_options
from seal_gym.commands.squad_conditions import check_conditions, ensemble_styles, named_conditions, references
from seal_gym.domain_spec import override
from seal_gym.self_edits import ENSEMBLE_STYLES
from seal_gym.squad.presets import INNER_PRESETS

CONDITIONS = ("base", "passage", "base-self-edits", "policy-self-edits", "file-self-edits", "in-context",
              "prompt-ensemble", "passage-self-edit", "best-of-n")
DEFAULT_CONDITIONS = "base,passage,base-self-edits,file-self-edits,in-context"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser, policy="many")
    parser.add_argument("--engine", default="auto", choices=ENGINES, help="inner-loop engine")
    add_passage_arguments(parser, 8, "number of passages (from --start on)")
    parser.add_argument("--conditions", default=DEFAULT_CONDITIONS,
                        help=f"comma-separated, from {', '.join(CONDITIONS)} (--policy adds policy-self-edits)")
    parser.add_argument("--self-edits", type=int, default=1, help="self-edits per passage and writer (n)")
    add_renamed_argument(parser, "--inner-seeds", "--seeds", type=int, default=1, dest="seeds",
                         help="inner-loop seeds per self-edit (r)")
    parser.add_argument("--cpt", type=int, default=1, help="passages pooled into one adapter (CPT setting)")
    parser.add_argument("--groups-per-call", type=int, default=4,
                        help="passages (CPT: groups) whose adapters are trained in one engine call; the batch changes the "
                             "float reductions, which training can amplify into other scores: compare runs with one "
                             "value; memory and the wait for the first result grow with it")
    parser.add_argument("--adapters-per-call", type=int, default=None,
                        help="at most this many adapters in one engine call (default: all of --groups-per-call's); 1 "
                             "trains each alone, so conditions pair exactly across runs (a confirmatory study's setting)")
    parser.add_argument("--self-edits-file", action="append", default=None, metavar="[NAME=]FILE",
                        help="JSON list of {context, completions} for file-self-edits (default: the dataset's own); "
                             "given, it adds file-self-edits; repeat as NAME=FILE for one condition file-self-edits-NAME per file")
    parser.add_argument("--reference", default=None,
                        help="condition(s) the paired differences are taken from, comma-separated (default: passage, "
                             "when it runs); results.json's paired section is the first one's")
    parser.add_argument("--ensemble-styles", default=",".join(ENSEMBLE_STYLES),
                        help="comma-separated prompt styles of the prompt-ensemble condition")
    parser.add_argument("--best-of-metric", default="strict",
                        help="the per-adapter metric best-of-n maximises (strict, lenient, ...)")
    parser.add_argument("--inner-preset", default="seal", choices=sorted(INNER_PRESETS),
                        help="inner-loop settings: seal (the paper's) or small (chosen for a 135M model on a CPU); "
                             "--inner-* options, --answer-style and --grader given explicitly win")
    # The inner loop's training, named as train names it (--inner-epochs; --epochs still works); --seed seeds it.
    add_config_arguments(parser, TrainSpec, prefix="inner_", skip=("seed",), alias_prefix="")
    note_given_options(parser)  # which --inner-* options were given: they override --inner-preset's


def inner_config(args: argparse.Namespace):
    """The inner loop's config: ``--inner-preset``'s settings, then the options given on the command line."""
    from seal_gym.squad.prompts import get_prompt_style

    preset, given = INNER_PRESETS[args.inner_preset], getattr(args, GIVEN, {})
    train = override(preset.train, **{f.name: getattr(args, f"inner_{f.name}") for f in fields(TrainSpec)
                                      if f"inner_{f.name}" in given})
    return preset.knowledge_config(train=train, prompt_style=get_prompt_style(args.prompt_style),
                                   answer_style=args.answer_style if "answer_style" in given else None,
                                   score_logprob=args.score_logprob)


def run(args: argparse.Namespace, command: str = "eval squad") -> int:
    return run_checked(command, args, _prepare, _evaluate)


def _prepare(args: argparse.Namespace):
    """Everything that can be wrong with the input, checked before a run folder exists."""
    from seal_gym.evaluation import SelfEdits, completions_from_file

    conditions = parse_conditions(args, CONDITIONS, "policy-self-edits")
    sampling_from_args(args)  # an out-of-range value is refused before any model loads
    if min(args.self_edits, args.seeds, args.cpt, args.groups_per_call, args.adapters_per_call or 1) < 1:
        raise UsageError("--self-edits, --inner-seeds, --cpt, --groups-per-call and --adapters-per-call must be >= 1")
    files = named_conditions("file_self_edits", args.self_edits_file or [], keep_suffix=False)
    policies = named_conditions("policy_self_edits", args.policy or [])
    check_conditions(args, conditions, [*policies, *files])
    passages = load_passage_range(args)
    file_edits = {}
    for key, (name, path) in files.items():
        try:
            per_passage = completions_from_file(path, passages, args.self_edits)
        except (ValueError, FileNotFoundError) as err:
            raise UsageError(str(err)) from None
        label = f"{name}'s self-edits" if name else f"self-edits from {dataset_label(path)}"
        file_edits[key] = SelfEdits(f"passage + {label}", per_passage)
    if "file-self-edits" in conditions and not files:
        if any(p.completions for p in passages):
            file_edits["file_self_edits"] = SelfEdits("passage + the dataset's self-edits",
                                                      [list(p.completions[: args.self_edits]) for p in passages])
        else:
            print("note: the dataset has no self-edits (completions) for these passages: file-self-edits skipped")
    for _, run_dir in policies.values():
        check_policy_run(run_dir, "SealSquad-v0", "eval squad", args.model)
    bundle = load_bundle(args.model)
    policy_edits = {}
    for key, (name, run_dir) in policies.items():  # written now, while the policy is in the model; every adapter
        with trained_policy(run_dir, bundle) as policy:  # then trains the base model
            label = f"{name}'s" if name else "the policy's"
            policy_edits[key] = SelfEdits(f"passage + {label} self-edits", _write(policy.act, passages, args, key))
    return conditions, passages, bundle, file_edits, policy_edits


def _write(act, passages, args, who: str) -> list[list[str]]:
    from tqdm.auto import tqdm

    from seal_gym.evaluation import write_self_edits
    from seal_gym.squad.prompts import get_prompt_style

    style = get_prompt_style(args.prompt_style)
    with tqdm(total=len(passages), desc=f"{who} writes self-edits", unit="passage") as bar:
        return write_self_edits(act, [style.render(p.title, p.context) for p in passages], args.self_edits,
                                progress=lambda done: bar.update(done - bar.n))


def _evaluate(args, conditions, passages, bundle, file_edits, policy_edits) -> int:
    from tqdm.auto import tqdm

    from seal_gym.agents.policy import LMPolicy
    from seal_gym.evaluation import SelfEdits, SquadEvalConfig, evaluate_squad
    from seal_gym.runs import new_run_dir, run_metadata
    from seal_gym.squad.inner_loop import KnowledgeInnerLoop

    started, metadata = time.perf_counter(), run_metadata()
    self_edits: dict[str, SelfEdits] = {}
    if {"base-self-edits", "prompt-ensemble"} & set(conditions):
        # The base model writes with the weights it is trained on, as in SEAL's self mode: one shared bundle.
        writer = LMPolicy(bundle, sampling_from_args(args), seed=args.seed)
    if "base-self-edits" in conditions:
        self_edits["base_self_edits"] = SelfEdits("passage + the model's own self-edits",
                                                  _write(writer.act, passages, args, "base model"))
    self_edits.update(policy_edits)
    self_edits.update(file_edits)
    self_edits.update(_baseline_self_edits(args, conditions, passages, writer.act if "prompt-ensemble" in conditions else None))
    config = SquadEvalConfig(base="base" in conditions, passage_only="passage" in conditions,
                             in_context="in-context" in conditions, seeds=args.seeds, seed=args.seed, cpt=args.cpt,
                             groups_per_call=args.groups_per_call, adapters_per_call=args.adapters_per_call)
    knowledge = inner_config(args)
    loop = KnowledgeInnerLoop(bundle, engine=args.engine, grader=args.grader, config=knowledge)
    run_dir = new_run_dir(args.runs_dir, f"eval-squad__{bundle.name}__{args.seed}")
    print(f"run folder: {run_dir}")
    writer = tensorboard_writer(run_dir, args)
    groups = tqdm(total=len(passages), desc="passages", unit="passage")

    def logged(scores) -> None:
        for score in scores:
            tqdm.write(f"{score.title}: " + ", ".join(f"{k} {c.strict:.2f}" for k, c in score.conditions.items()))
            for name, cell in score.conditions.items():
                writer.add_scalar(f"accuracy/{name}", cell.strict, score.index)
                writer.add_scalar(f"accuracy_lenient/{name}", cell.lenient, score.index)
        groups.update(len(scores))

    evaluation = evaluate_squad(loop, passages, self_edits, config, first_index=args.start, on_group=logged)
    groups.close()
    writer.close()
    if "best-of-n" in conditions:
        evaluation = _with_best_of_n(evaluation, args)
    table = evaluation.table()
    minutes = (time.perf_counter() - started) / 60
    setting = "single passage" if args.cpt == 1 else f"CPT, {args.cpt} passages per adapter"
    title = (f"Knowledge incorporation ({setting}): {dataset_label(args.dataset)} "
             f"[{args.start}:{args.start + len(passages)}], model {bundle.name}")
    reports = _reports(args, evaluation, title)
    print(f"\n{table}\n\n{reports.text}\n\n{len(passages)} passages, {minutes:.1f} min, model {bundle.name}, "
          f"run folder {run_dir}")
    write_run_files(run_dir, args, f"{table}\n\n{reports.text}",
                    {"model": bundle.name, "minutes": minutes, "config": asdict(config),
                     "inner_loop": asdict(replace(knowledge, prompt_style=args.prompt_style)),
                     "summary": evaluation.summary(), "labels": evaluation.labels, **reports.results,
                     "passages": evaluation.passages},
                    evaluation.csv_rows(), {"chart.png": evaluation.chart(title), **reports.figures}, metadata)
    write_csv(run_dir / "paired.csv", reports.paired_rows)
    return 0


def _baseline_self_edits(args: argparse.Namespace, conditions: list[str], passages, act) -> dict:
    """The prompt ensemble's self-edits (written by ``act``) and the passage as its own self-edit."""
    from tqdm.auto import tqdm

    from seal_gym.evaluation import SelfEdits
    from seal_gym.self_edits import passage_self_edits, write_ensemble

    out = {}
    if "prompt-ensemble" in conditions:
        styles = ensemble_styles(args)
        with tqdm(total=len(styles), desc="base model writes the prompt ensemble", unit="style") as bar:
            edits = write_ensemble(act, passages, args.self_edits, args.prompt_style, styles,
                                   progress=lambda done: bar.update(done - bar.n))
        out["prompt_ensemble"] = SelfEdits(f"passage + the model's prompt ensemble ({len(styles)} styles)", edits)
    if "passage-self-edit" in conditions:
        out["passage_self_edit"] = SelfEdits("passage + the passage as its self-edit",
                                             passage_self_edits(passages, args.prompt_style))
    return out


def _with_best_of_n(evaluation, args: argparse.Namespace):
    from seal_gym.evaluation.best_of_n import with_best_of_n

    try:
        return with_best_of_n(evaluation, "base_self_edits", by=args.best_of_metric,
                              label=f"passage + best of the model's {args.self_edits} self-edits (by {args.best_of_metric})")
    except ValueError as err:  # e.g. no passage got a self-edit: the table goes on without the condition
        print(f"note: best-of-n skipped: {err}")
        return evaluation


@dataclass
class _Reports:
    text: str
    results: dict
    """results.json sections: ``paired`` and ``diversity``."""
    figures: dict
    paired_rows: list[dict]


def _reports(args: argparse.Namespace, evaluation, title: str) -> _Reports:
    """Paired differences from the reference condition and the self-edits' diversity, beside the table."""
    from seal_gym.evaluation.reports import (BOOTSTRAP_RESAMPLES, condition_diversity, diversity_table, paired_chart,
                                             paired_csv_rows, paired_json, paired_lines, paired_table)

    found = condition_diversity(evaluation)
    texts = []
    results: dict = {"diversity": {name: d.as_dict() for name, d in found.items()}}
    figures, rows = {}, []
    for number, reference in enumerate(r.replace("-", "_") for r in references(args)):
        if reference not in evaluation.labels:
            texts.append(f"no paired differences: the reference condition {reference} did not run")
            continue
        lines = paired_lines(evaluation, reference, seed=args.seed, n_boot=BOOTSTRAP_RESAMPLES)
        label = evaluation.labels[reference]
        texts.append(paired_table(lines, label))
        section = paired_json(lines, reference, args.seed, BOOTSTRAP_RESAMPLES)
        results.setdefault("paired", section)
        results.setdefault("paired_by_reference", {})[reference] = section
        rows += paired_csv_rows(lines)
        if lines:
            chart = "paired.png" if number == 0 else f"paired_vs_{reference}.png"
            figures[chart] = paired_chart(lines, f"Paired differences from {label!r}: {title}", label)
    texts.append(diversity_table(found, evaluation.labels))
    return _Reports("\n\n".join(texts), results, figures, rows)
