"""A knowledge base that learns on a schedule: `seal-gym memory add | update | ask | status --kb DIR`.

add DOCS puts documents (a .jsonl or .json file, or a folder of .txt/.md files) into the knowledge base in
--kb DIR, creating it for --model when the folder is missing or empty; they are searchable at once. update
(cron-friendly: it does nothing when no durable document waits) writes self-edits for the waiting durable
documents, trains one LoRA on top of the current weights, and keeps it only if the forgetting guard finds that
retention of earlier updates fell by at most --margin; either way the attempt is logged. ask answers a question
with the updated weights and the top retrieved documents (--mode). status shows documents, updates, the last
retention score and disk use. Bad input, a foreign or damaged folder: one line on stderr, exit code 2, nothing
changed. Another process changing the knowledge base: one line, exit code 75 (try again later), or --wait.
See docs/deployment.md.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any, Callable

from seal_gym.commands.common import UsageError, check_policy_run, load_bundle, usage_error
from seal_gym.commands.options import (add_config_arguments, add_runtime_arguments, add_sampling_arguments,
                                       apply_runtime, config_from_args, sampling_from_args)

BUSY_EXIT = 75  # EX_TEMPFAIL: a scheduler may simply try again later


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from seal_gym.adapt import LoraSpec, TrainSpec
    from seal_gym.memory.answering import MODES
    from seal_gym.memory.store import PAUSE_POINTS
    from seal_gym.memory.updater import UpdateConfig

    actions = parser.add_subparsers(dest="memory_action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add documents (searchable at once; durable ones wait for the next update)",
                             description="Add documents to the knowledge base, creating it if --kb is missing or empty.")
    add.add_argument("docs", metavar="DOCS", help="a .jsonl or .json file of documents, or a folder of .txt/.md files")
    add.add_argument("--model", default=None,
                     help="the model of a new knowledge base; default: embedded SmolLM2-135M-Instruct")
    add.add_argument("--tag", default=None, choices=["durable", "volatile"],
                     help="tag of every added document (default: each document's own, else the knowledge base's)")
    add.add_argument("--default-tag", default="durable", choices=["durable", "volatile"],
                     help="a new knowledge base's tag for documents that name none")
    add.set_defaults(memory_run=_add)

    up = actions.add_parser("update", help="the scheduled update: self-edits, one adapter, the forgetting guard",
                            description="Write the waiting durable documents into the weights, guarded against forgetting.")
    up.add_argument("--policy", default=None, metavar="RUN_DIR",
                    help="a `seal-gym train` run folder whose policy writes the self-edits (default: the model itself)")
    add_sampling_arguments(up)
    up.add_argument("--grader", default="contains", choices=["contains", "f1"], help="grades the guard's answers")
    add_config_arguments(up, UpdateConfig)
    add_config_arguments(up, TrainSpec, prefix="inner_", skip=("seed",), alias_prefix="")  # as train's --inner-*
    add_config_arguments(up, LoraSpec, prefix="inner_lora_", alias_prefix="lora_")
    up.add_argument("--pause-at", default=None, choices=PAUSE_POINTS, help=argparse.SUPPRESS)  # crash tests only
    up.set_defaults(memory_run=_update)

    ask = actions.add_parser("ask", help="answer a question from the knowledge base",
                             description="Answer with the updated weights and/or the top retrieved documents.")
    ask.add_argument("question", metavar="QUESTION")
    ask.add_argument("--mode", default="hybrid", choices=MODES,
                     help="hybrid: weights + retrieved documents; weights; retrieval; none: the base model alone")
    ask.add_argument("--top-k", type=int, default=1, help="documents retrieved into the prompt")
    ask.add_argument("--max-answer-tokens", type=int, default=64, help="answer length limit")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON (with the retrieved titles)")
    ask.set_defaults(memory_run=_ask)

    stat = actions.add_parser("status", help="documents, updates, last retention, disk use",
                              description="Show what the knowledge base holds.")
    stat.add_argument("--json", action="store_true", help="print the status as JSON")
    stat.set_defaults(memory_run=_status)

    for sub in (add, up, ask, stat):
        sub.add_argument("--kb", required=True, metavar="DIR", help="the knowledge base's folder")
        if sub is not stat:
            sub.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                             help="wait this long for another process's change to finish (0: refuse at once)")
        add_runtime_arguments(sub)


def run(args: argparse.Namespace) -> int:
    from seal_gym.memory import KnowledgeBaseBusy, KnowledgeBaseError

    command = f"memory {args.memory_action}"
    apply_runtime(args)
    try:
        return args.memory_run(args)
    except KnowledgeBaseBusy as err:
        usage_error(command, err)
        return BUSY_EXIT
    except (UsageError, KnowledgeBaseError, ValueError, FileNotFoundError) as err:
        return usage_error(command, err)


def _add(args: argparse.Namespace) -> int:
    from seal_gym.memory import add_documents

    counts = []
    state = add_documents(args.kb, args.docs, args.model, args.default_tag, args.tag, args.wait,
                          on_added=lambda added, present: counts.extend([added, present]))
    note = f" ({counts[1]} already present, not added again)" if counts[1] else ""
    print(f"{args.kb}: {counts[0]} added{note}; {len(state.documents)} documents, {len(state.pending())} waiting for "
          "the next update")
    return 0


def _update(args: argparse.Namespace) -> int:
    from seal_gym.adapt import LoraSpec, TrainSpec
    from seal_gym.memory import KnowledgeBase, LoraEditor, update
    from seal_gym.memory.updater import UpdateConfig

    kb = KnowledgeBase.open(args.kb, pause_at=args.pause_at)
    config = config_from_args(args, UpdateConfig)
    train, lora = config_from_args(args, TrainSpec, prefix="inner_"), config_from_args(args, LoraSpec, prefix="inner_lora_")
    sampling_from_args(args)  # an out-of-range value is refused before any model loads
    if not kb.current().pending():  # cron runs this often: no model is loaded when there is nothing to do
        removed = kb.collect_orphans(args.wait)  # what an update killed before its commit left behind
        print("nothing to do: no durable documents wait for an update" +
              (f" (removed {removed} adapter file(s) a killed update left)" if removed else ""))
        return 0
    with kb.lock(args.wait, "update"):  # a running update makes this one refuse before a model is loaded
        pass
    if args.policy:
        check_policy_run(args.policy, "SealSquad-v0", "memory update", kb.settings.model)
    bundle = load_bundle(kb.settings.model)
    report = update(kb, LoraEditor(bundle), writer_for(args, bundle), config, train, lora, args.grader, args.wait,
                    progress=lambda line: print(line, flush=True))
    print(report.line())
    return 0


def _ask(args: argparse.Namespace) -> int:
    from seal_gym.memory import KnowledgeBase, LoraEditor, ask

    if args.top_k < 1:
        raise UsageError("--top-k must be >= 1")
    if not args.question.strip():
        raise UsageError("QUESTION is empty: ask something")
    if args.max_answer_tokens < 1:
        raise UsageError(f"--max-answer-tokens must be >= 1, got {args.max_answer_tokens}")
    kb = KnowledgeBase.open(args.kb)
    editor = LoraEditor(load_bundle(kb.settings.model))
    answer = ask(kb, editor, [args.question], args.mode, args.top_k, args.max_answer_tokens)[0]
    if args.json:
        print(json.dumps(asdict(answer), ensure_ascii=False))
    else:
        print(answer.answer.strip())
        if answer.retrieved:
            print(f"[mode {answer.mode}; retrieved: {', '.join(answer.retrieved)}]")
    return 0


def _status(args: argparse.Namespace) -> int:
    from seal_gym.memory import KnowledgeBase, status

    report = status(KnowledgeBase.open(args.kb))
    print(json.dumps(asdict(report), ensure_ascii=False, indent=2) if args.json else report.text())
    return 0


def writer_for(args: argparse.Namespace, bundle) -> Callable[[Any], list[str]]:
    """The self-edit writer of ``args``: the trained policy of ``--policy RUN_DIR`` or the model itself.

    A trained policy is loaded into the model only while it writes and taken out before anything trains, so
    the adapters of a knowledge base always sit on the model it was created with.
    """
    from seal_gym.agents.policy import LMPolicy
    from seal_gym.commands.common import trained_policy

    if args.policy is None:
        return LMPolicy(bundle, sampling_from_args(args), seed=args.seed).act

    def policy_writes(prompts) -> list[str]:
        with trained_policy(args.policy, bundle) as policy:
            return policy.act(prompts)

    return policy_writes

