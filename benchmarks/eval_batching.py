"""`seal-gym eval squad --groups-per-call`: one passage's adapters per engine call against several passages'.

The optimizer comparison's held-out evaluation (studies/optimizer_experiment.py) first sent the batched engine
one passage at a time (2-3 adapters a call), which leaves it most of its batch empty. This runs the same
evaluation twice, one run after the other in one invocation: ``--groups-per-call 1`` (the baseline) and
``--groups-per-call K``, on the same passages, self-edits and inner seeds, and prints each one's wall time,
seconds per adapter, their ratio, and the largest difference between the two runs' per-passage scores in each
metric (the adapters are trained alike, in other batches).

    python benchmarks/eval_batching.py --dataset ../shared/data/squad/train.json@tune --passages 4 --groups-per-call 4
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
METRICS = ("logprob", "f1", "strict")


def evaluate(groups_per_call: int, args: argparse.Namespace, runs_dir: Path) -> tuple[float, dict]:
    """Wall seconds of one ``seal-gym eval squad`` run and its results.json."""
    command = [sys.executable, "-m", "seal_gym.cli", "eval", "squad", "--dataset", args.dataset, "--passages",
               str(args.passages), "--inner-preset", "small", "--conditions", "file-self-edits",
               "--self-edits", str(args.self_edits), "--groups-per-call", str(groups_per_call), "--threads",
               str(args.threads), "--runs-dir", str(runs_dir), *(["--model", args.model] if args.model else []),
               *(["--self-edits-file", args.self_edits_file] if args.self_edits_file else [])]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"eval squad --groups-per-call {groups_per_call} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    (results,) = runs_dir.glob("*/results.json")
    return seconds, json.loads(results.read_text())


def passage_scores(results: dict) -> dict[str, dict[int, float]]:
    """``{metric: {passage: the file-self-edits condition's score}}`` for the gold log-probability, F1 and
    ``contains`` accuracy."""
    from seal_gym.evaluation.reports import cell_metrics

    scores: dict[str, dict[int, float]] = {metric: {} for metric in METRICS}
    for passage in results["passages"]:
        (cell,) = passage["conditions"].values()
        for metric, value in cell_metrics(cell).items():
            if metric in scores:
                scores[metric][passage["index"]] = value
    return scores


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True,
                        help="passages to evaluate, e.g. SEAL's train.json@tune (never a held-out split)")
    parser.add_argument("--self-edits-file", default=None,
                        help="self-edits to train on (default: the dataset's own, the 7B self-edits)")
    parser.add_argument("--passages", type=int, default=4)
    parser.add_argument("--self-edits", type=int, default=1, help="self-edits per passage (adapters per passage)")
    parser.add_argument("--groups-per-call", type=int, default=4, help="passages per engine call against 1")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", default=None, help="default: the embedded SmolLM2-135M-Instruct")
    args = parser.parse_args(argv)

    rows, scores = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for k in (1, args.groups_per_call):
            seconds, results = evaluate(k, args, Path(tmp) / f"k{k}")
            adapters = args.passages * args.self_edits
            rows.append((k, seconds, seconds / adapters))
            scores[k] = passage_scores(results)
    base, batched = rows
    gaps = {metric: max((abs(value - scores[batched[0]][metric][i]) for i, value in scores[base[0]][metric].items()),
                        default=float("nan")) for metric in METRICS}
    print(f"{args.passages} passages x {args.self_edits} self-edits, inner preset small, {args.threads} threads")
    print(f"{'groups per call':>15} {'wall s':>8} {'s / adapter':>12} {'speed-up':>9}")
    for k, seconds, per_adapter in rows:
        print(f"{k:>15} {seconds:>8.1f} {per_adapter:>12.1f} {base[1] / seconds:>8.2f}x")
    print("largest per-passage score difference: " + ", ".join(f"{m} {gap:.2g}" for m, gap in gaps.items()))


if __name__ == "__main__":
    main()
