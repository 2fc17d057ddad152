"""Which inner-loop settings make self-edits matter at 135M: a coordinate search on the tune split.

For each regime (learning rate, epochs, LoRA rank and targets, one sequence per line or per self-edit,
passage included or not) it trains, on every tune passage of ``../shared/data/squad/train.json`` and with
the passage's own inner seed:

- ``passage``: an adapter on the passage alone;
- ``7b``: one of the dataset's 7B-model self-edits (completion 0) under the regime;
- ``own``: one self-edit the embedded model wrote itself (sampled once, cached in the study folder);
- ``base``: no training (once; it does not depend on the regime);

and scores each adapter by its gold answers' log-probability (dense, grader-free) and by short answers'
exact match and whole-answer F1 (recital-proof). The search starts at SEAL's settings, sweeps the learning
rate and epochs, then tries one change at a time from the best so far; "best" is the widest paired margin
of ``7b`` over ``passage`` in log-probability (the room a trained writer can climb into). Then it scores
the model's own self-edits in the other prompt styles under the chosen regime.

Every adapter is one line of ``results.jsonl``: rerun the same command to resume after a kill.

    python benchmarks/regime_study.py --out benchmarks/studies/regime --passages 20
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from science import (SEAL, Regime, Results, make_loops, own_self_edits, paired_table, per_passage,  # noqa: E402
                     score_conditions, study_passages)

STAGE_ONE = [SEAL, replace(SEAL, lr=3e-4), replace(SEAL, lr=1e-4), replace(SEAL, epochs=3),
             replace(SEAL, lr=3e-4, epochs=3)]
"""Learning rate and epochs, the settings most likely to matter."""


def one_change_variants(best: Regime) -> list[Regime]:
    """Single changes from ``best``: rank, LoRA targets, one sequence per self-edit, no passage."""
    return [replace(best, rank=8), replace(best, targets="attention"), replace(best, split="whole"),
            replace(best, include_passage=False)]


def margin(rows: list[dict], regime: Regime) -> float:
    """Mean paired ``7b - passage`` log-probability over the passages both were scored on."""
    a, b = per_passage(rows, regime.name, "7b", "logprob"), per_passage(rows, regime.name, "passage", "logprob")
    common = [p for p in a if p in b]
    return sum(a[p] - b[p] for p in common) / len(common) if common else float("-inf")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/studies/regime"))
    parser.add_argument("--passages", type=int, default=20, help="tune passages (at most 20)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", default=None, help="default: the embedded SmolLM2-135M-Instruct")
    parser.add_argument("--report", action="store_true", help="print the tables of what is done and stop")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results = Results(args.out / "results.jsonl")
    if args.report:
        print(report(results.rows))
        return

    import torch

    from seal_gym.adapt import BatchedEngine
    from seal_gym.models import load_model

    torch.set_num_threads(args.threads)
    bundle = load_model(args.model, device="cpu")
    engine = BatchedEngine(bundle.model, bundle.tokenizer)
    passages = study_passages("tune", args.passages)
    own = own_self_edits(bundle, passages, args.out / "own_self_edits.json")

    def run(regime: Regime, extra_styles: tuple[str, ...] = ()) -> None:
        began = time.perf_counter()
        print(f"{regime.name}", flush=True)
        with_passage, alone = make_loops(bundle, engine, regime)
        jobs = [(c, i, p, t) for i, p in passages
                for c, t in (("passage", ""), ("7b", p.completions[0]), ("own", own[i][0]))]
        if regime == SEAL:
            jobs += [("base", i, p, "") for i, p in passages]
        score_conditions(with_passage, alone, regime, jobs, results)
        for style in extra_styles:
            texts = own_self_edits(bundle, passages, args.out / "own_self_edits.json", style)
            styled, _ = make_loops(bundle, engine, regime, style=style)
            score_conditions(styled, alone, regime, [(f"own-{style}", i, p, texts[i][0]) for i, p in passages], results)
        print(f"  margin 7b - passage {margin(results.rows, regime):+.3f} nats ({time.perf_counter() - began:.0f} s)",
              flush=True)

    for regime in STAGE_ONE:
        run(regime)
    best = max(STAGE_ONE, key=lambda r: margin(results.rows, r))
    for variant in one_change_variants(best):
        run(variant)
        if margin(results.rows, variant) > margin(results.rows, best):
            best = variant
    run(best, extra_styles=("rewrite", "self-qa"))
    (args.out / "chosen.json").write_text(json.dumps({"regime": best.name, "settings": best.__dict__}, indent=1))
    print(report(results.rows))


def report(rows: list[dict]) -> str:
    """Per regime, the paired differences from the passage alone, widest 7b margin first."""
    regimes = sorted({r["regime"] for r in rows})
    comparisons = []
    for regime in regimes:
        conditions = sorted({r["condition"] for r in rows if r["regime"] == regime} - {"passage", "base"})
        comparisons += [(regime, c, "passage") for c in conditions]
    absolute = []
    for regime in regimes:
        for condition in sorted({r["condition"] for r in rows if r["regime"] == regime}):
            cells = [per_passage(rows, regime, condition, m) for m in ("logprob", "f1", "exact", "accuracy", "recital")]
            n = len(cells[0])
            means = [sum(c.values()) / len(c) if c else float("nan") for c in cells]
            absolute.append(f"{regime:<40} {condition:<16} n={n:<3} logprob {means[0]:+.3f}  f1 {100 * means[1]:5.1f}"
                            f"  exact {100 * means[2]:5.1f}  contains {100 * means[3]:5.1f}  recital {100 * means[4]:5.1f}")
    return "Paired differences from the passage alone (mean [95% bootstrap] Wilcoxon p):\n" + \
        paired_table(rows, comparisons) + "\n\nMeans per condition:\n" + "\n".join(absolute)


if __name__ == "__main__":
    main()
