"""A synthetic training corpus from documents: `seal-gym synthesize DOCS --out corpus.json`.

The writer (the model itself, or the trained policy of --policy RUN_DIR) writes --n self-edits per document
(a .jsonl or .json file, or a folder of .txt/.md files) into a JSON list in SEAL's format: {title, context,
questions, completions} plus each document's diversity statistics. The output is saved after every --chunk
documents; run the same command again after a crash or a kill and the documents already written are skipped.
It feeds `seal-gym eval squad --self-edits-file corpus.json` (with --cpt N too). A progress bar shows the time
left.
"""

from __future__ import annotations

import argparse
import contextlib

from seal_gym.commands.common import UsageError, load_bundle, trained_policy, usage_error
from seal_gym.commands.options import (add_prompt_style_argument, add_runtime_arguments, add_sampling_arguments,
                                       apply_runtime, sampling_from_args)



def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("docs", metavar="DOCS", help="a .jsonl or .json file of documents, or a folder of .txt/.md files")
    parser.add_argument("--out", required=True, help="the output JSON file (resumed if it exists)")
    parser.add_argument("--n", type=int, default=3, help="self-edits per document")
    parser.add_argument("--model", default=None, help="model name/path; default: embedded SmolLM2-135M-Instruct")
    parser.add_argument("--policy", default=None, metavar="RUN_DIR",
                        help="a `seal-gym train` run folder whose policy writes (default: the model itself)")
    add_prompt_style_argument(parser)
    add_sampling_arguments(parser)
    parser.add_argument("--chunk", type=int, default=4, help="documents written between two saves of the output")
    parser.add_argument("--seed", type=int, default=0, help="seeds sampling")
    add_runtime_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from seal_gym.commands.memory import writer_for
    from seal_gym.memory import read_documents, synthesize
    from seal_gym.memory.synthesize import read_corpus

    apply_runtime(args)
    try:
        if args.n < 1 or args.chunk < 1:
            raise UsageError("--n and --chunk must be >= 1")
        sampling_from_args(args)  # an out-of-range value is refused before any model loads
        if Path(args.out).is_dir():
            raise UsageError(f"--out {args.out} is a folder: name the JSON file to write")
        documents = read_documents(args.docs)
        read_corpus(Path(args.out))  # a file that is not ours is refused before any model loads
        bundle = load_bundle(args.model)
        with contextlib.ExitStack() as loan:  # nothing trains here: a trained policy stays loaded throughout
            writer = loan.enter_context(trained_policy(args.policy, bundle)).act if args.policy else writer_for(args, bundle)
            report = synthesize(documents, writer, args.out, args.n, args.prompt_style, args.chunk)
    except (UsageError, ValueError, FileNotFoundError) as err:
        return usage_error("synthesize", err)
    print(f"{report.table()}\n\n{report.summary()}")
    return 0
