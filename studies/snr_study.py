"""How much of a reward is signal: variance between self-edits of a passage against variance across inner seeds.

An optimizer learns from the differences between the self-edits of one prompt (GRPO's group, ReST-EM's
best-of-n). If the same self-edit, trained again with another inner seed, moves its reward as much as
another self-edit does, the reward is mostly noise. For ``--passages`` tune passages x ``--self-edits``
self-edits the embedded model writes itself x ``--seeds`` inner seeds, under a regime (``--regime``: the one
``regime_study.py`` chose; SEAL's settings without it), this trains every adapter once and scores every reward
kind from it:

- ``accuracy`` (the ``contains`` grader), ``exact`` and ``f1`` (short answers), ``logprob`` (gold answers);
- each minus the passage-only adapter's score under the same seed (``*_vs_passage``).

Per kind it reports the within-passage variance components (one-way ANOVA per passage, pooled): the
self-edit variance, the seed variance, their intraclass correlation ICC = s2_edit / (s2_edit + s2_seed),
the seeds a self-edit's mean reward needs for a reliability of 0.8, the passages a paired comparison of two
writers needs (one self-edit and one seed per passage each) to detect, with 80 % power at the 5 % level, a
shift of half a standard deviation of self-edit quality (n = 2 (1.96 + 0.84)^2 (s2_edit + s2_seed) /
(s2_edit / 4) = 63 / ICC), and the seconds per reward.

    python studies/snr_study.py --dataset ../shared/data/squad/train.json --regime studies/regime/chosen.json \
        --out studies/snr
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from science import Regime, Results, make_loops, own_self_edits, study_passages  # noqa: E402

from seal_gym.squad.inner_loop import KnowledgeItem  # noqa: E402
from seal_gym.stats import format_table  # noqa: E402

KINDS = ("accuracy", "exact", "f1", "logprob")


def components(table: np.ndarray) -> tuple[float, float]:
    """Pooled within-passage variance components of ``table[passage, self_edit, seed]``: (s2_edit, s2_seed).

    One-way ANOVA per passage (self-edits as groups, seeds as replicates): s2_seed is the pooled mean square
    within self-edits, s2_edit = (mean square between self-edits - s2_seed) / seeds, floored at 0.
    """
    _, edits, seeds = table.shape
    edit_means = table.mean(axis=2)
    ms_within = ((table - edit_means[..., None]) ** 2).sum(axis=(1, 2)) / (edits * (seeds - 1))
    ms_between = seeds * ((edit_means - edit_means.mean(axis=1, keepdims=True)) ** 2).sum(axis=1) / (edits - 1)
    s2_seed = float(ms_within.mean())
    return max(0.0, float((ms_between.mean() - s2_seed) / seeds)), s2_seed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="the study's folder (results.jsonl, own self-edits)")
    parser.add_argument("--dataset", required=True,
                        help="the passage file whose tune split is measured on (SEAL's SQuAD train.json)")
    parser.add_argument("--regime", type=Path, default=None,
                        help="chosen.json of the regime study (default: SEAL's settings)")
    parser.add_argument("--passages", type=int, default=8)
    parser.add_argument("--self-edits", type=int, default=6)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", default=None)
    parser.add_argument("--report", action="store_true")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    regime = Regime(**json.loads(args.regime.read_text())["settings"]) if args.regime else Regime()
    results = Results(args.out / "results.jsonl")
    passages = study_passages(args.dataset, "tune", args.passages)
    if not args.report:
        import time

        import torch

        from seal_gym.adapt import BatchedEngine
        from seal_gym.models import load_model

        torch.set_num_threads(args.threads)
        bundle = load_model(args.model, device="cpu")
        engine = BatchedEngine(bundle.model, bundle.tokenizer)
        own = own_self_edits(bundle, passages, args.out / "own_self_edits.json", n=args.self_edits, seed=1)
        with_passage, alone = make_loops(bundle, engine, regime)
        jobs = [(f"edit{k}", i, p, own[i][k], s) for i, p in passages for k in range(args.self_edits)
                for s in range(args.seeds)] + [("passage", i, p, p.context, s) for i, p in passages
                                               for s in range(args.seeds)]
        todo = [j for j in jobs if (regime.name, j[0], j[1], j[4]) not in results.done]
        for start in range(0, len(todo), 8):
            chunk = todo[start : start + 8]
            began = time.perf_counter()
            for loop, members in ((alone, [j for j in chunk if j[0] == "passage"]),
                                  (with_passage, [j for j in chunk if j[0] != "passage"])):
                if members:
                    items = [KnowledgeItem(text, p, 1000 + i + 7919 * s) for _, i, p, text, s in members]
                    for (condition, i, _, _, s), r in zip(members, loop.run(items)):
                        results.add({"regime": regime.name, "condition": condition, "passage": i, "seed": s,
                                     "accuracy": r.adapter_accuracy, "train_seconds": r.train_seconds,
                                     "answer_seconds": r.answer_seconds, **r.metrics})
            print(f"{min(start + 8, len(todo))}/{len(todo)} adapters, {(time.perf_counter() - began) / len(chunk):.1f} s "
                  "each", flush=True)
    print(report(results.rows, regime.name, [i for i, _ in passages], args.self_edits, args.seeds))


def report(rows: list[dict], regime: str, passages: list[int], edits: int, seeds: int) -> str:
    cell = {(r["condition"], r["passage"], r["seed"]): r for r in rows if r["regime"] == regime}
    lines = []
    for kind in KINDS:
        for relative in (False, True):
            try:
                table = np.array([[[cell[(f"edit{k}", i, s)][kind]
                                    - (cell[("passage", i, s)][kind] if relative else 0.0)
                                    for s in range(seeds)] for k in range(edits)] for i in passages], dtype=float)
            except KeyError:
                continue  # not all scored yet
            s2_edit, s2_seed = components(table)
            icc = s2_edit / (s2_edit + s2_seed) if s2_edit + s2_seed > 0 else float("nan")
            needed = math.ceil(4 * s2_seed / s2_edit) if s2_edit > 0 else float("inf")  # Spearman-Brown, 0.8
            passages_needed = math.ceil(2 * 2.8016 ** 2 * (s2_edit + s2_seed) / (s2_edit / 4)) if s2_edit > 0 else float("inf")
            lines.append([kind + ("_vs_passage" if relative else ""), f"{table.mean():+.3f}", f"{math.sqrt(s2_edit):.3f}",
                          f"{math.sqrt(s2_seed):.3f}", f"{icc:.2f}", str(needed), str(passages_needed)])
    scored = [r for r in rows if r["regime"] == regime and "train_seconds" in r and r["condition"] != "passage"]
    cost = ""
    if scored:  # medians: a chunk timed while the machine was shared (or paused) does not move them
        train = float(np.median([r["train_seconds"] for r in scored]))
        answer = float(np.median([r["answer_seconds"] for r in scored]))
        cost = (f"\nseconds per adapter (batched, 8 at a time; median): training {train:.1f}, answering + scoring {answer:.1f}; "
                "a *_vs_passage reward adds one passage adapter per passage and seed (cached across self-edits)")
    return format_table(["reward", "mean", "sd between self-edits", "sd across seeds", "ICC", "seeds for 0.8",
                         "passages for d=0.5"],
                        lines) + cost


if __name__ == "__main__":
    main()
