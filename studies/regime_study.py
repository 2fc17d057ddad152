"""Which inner-loop settings make self-edits matter at 135M: a coordinate search on the tune split.

For each regime (learning rate, epochs, LoRA rank and targets, one sequence per line or per self-edit,
passage included or not) it trains, on every tune passage of ``--dataset`` (SEAL's train.json) and with
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

To fit a 2-core machine, each candidate is screened first: ``passage`` and ``7b`` on the first ``--screen``
passages only. A candidate whose paired margin there falls below the best regime's margin on the same passages
stops; one that matches or beats it is run on every passage with every condition. The ``passage`` condition
depends only on the learning rate, epochs, rank, targets and batch size, so a variant that changes how
self-edits become sequences (or drops the passage from the self-edit's training) reuses its parent's
``passage`` adapters, trained under the same seeds.

Every adapter is one line of ``results.jsonl``: rerun the same command to resume after a kill.

    python studies/regime_study.py --dataset ../shared/data/squad/train.json --out studies/regime --passages 20
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


def passage_regime(regime: Regime) -> Regime:
    """The regime whose ``passage`` adapters ``regime`` shares (its passage-only training is the same)."""
    return replace(regime, split=SEAL.split, include_passage=SEAL.include_passage)


def margin(rows: list[dict], regime: Regime, among: set[int] | None = None) -> float:
    """Mean paired ``7b - passage`` log-probability over the passages both were scored on (within ``among``)."""
    a = per_passage(rows, regime.name, "7b", "logprob")
    b = per_passage(rows, passage_regime(regime).name, "passage", "logprob")
    common = [p for p in a if p in b and (among is None or p in among)]
    return sum(a[p] - b[p] for p in common) / len(common) if common else float("-inf")


def main(argv: list[str] | None = None, engine=None) -> None:
    """Run the search (or, with ``--report``, print its tables); ``engine`` replaces the batched engine of
    ``--model`` (the tests' scripted one)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="the study's folder (results.jsonl, chosen.json)")
    parser.add_argument("--dataset", required=True,
                        help="the passage file whose tune split is searched on (SEAL's SQuAD train.json)")
    parser.add_argument("--passages", type=int, default=20, help="tune passages (train.json has 20)")
    parser.add_argument("--screen", type=int, default=6,
                        help="passages a candidate regime is screened on before it runs on all of them")
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
    engine = engine or BatchedEngine(bundle.model, bundle.tokenizer)
    passages = study_passages(args.dataset, "tune", args.passages)
    own = own_self_edits(bundle, passages, args.out / "own_self_edits.json")

    def run(regime: Regime, on=passages, conditions=("passage", "7b", "own"), extra_styles: tuple[str, ...] = ()) -> None:
        began = time.perf_counter()
        print(f"{regime.name} on {len(on)} passages: {', '.join(conditions)}", flush=True)
        with_passage, alone = make_loops(bundle, engine, regime)
        texts = {"7b": lambda i, p: p.completions[0], "own": lambda i, p: own[i][0]}
        jobs = [(c, i, p, texts[c](i, p)) for i, p in on for c in conditions if c != "passage"]
        score_conditions(with_passage, alone, regime, jobs, results)
        fixed = [("passage", i, p, "") for i, p in on if "passage" in conditions]
        if regime == SEAL:
            fixed += [("base", i, p, "") for i, p in on]
        score_conditions(*make_loops(bundle, engine, passage_regime(regime)), passage_regime(regime), fixed, results)
        for style in extra_styles:
            styled_texts = own_self_edits(bundle, on, args.out / "own_self_edits.json", style)
            styled, _ = make_loops(bundle, engine, regime, style=style)
            score_conditions(styled, alone, regime, [(f"own-{style}", i, p, styled_texts[i][0]) for i, p in on],
                             results)
        print(f"  margin 7b - passage {margin(results.rows, regime):+.3f} nats ({time.perf_counter() - began:.0f} s)",
              flush=True)

    def screened_in(candidate: Regime, best: Regime) -> bool:
        """Run ``candidate`` on the screening passages; True (and the full run) if it keeps up with ``best``."""
        screen = passages[: args.screen]
        run(candidate, on=screen, conditions=("passage", "7b"))
        among = {i for i, _ in screen}
        kept = margin(results.rows, candidate, among) >= margin(results.rows, best, among)
        print(f"  screen: {margin(results.rows, candidate, among):+.3f} vs best {best.name} "
              f"{margin(results.rows, best, among):+.3f} on {len(among)} passages: {'kept' if kept else 'stopped'}",
              flush=True)
        if kept:
            run(candidate)
        return kept

    run(SEAL)
    best = SEAL
    for candidate in STAGE_ONE[1:]:
        if screened_in(candidate, best) and margin(results.rows, candidate) > margin(results.rows, best):
            best = candidate
    for variant in one_change_variants(best):
        if screened_in(variant, best) and margin(results.rows, variant) > margin(results.rows, best):
            best = variant
    run(best, extra_styles=("rewrite", "self-qa"))
    (args.out / "chosen.json").write_text(json.dumps({"regime": best.name, "settings": best.__dict__}, indent=1))
    print(report(results.rows))


def report(rows: list[dict]) -> str:
    """Per regime, the paired differences from the passage alone (a variant's are its parent's)."""
    names = {r["regime"]: Regime(**r["regime_settings"]) for r in rows}
    rows = rows + [{**r, "regime": name} for name, regime in names.items() if passage_regime(regime).name != name
                   for r in rows if r["regime"] == passage_regime(regime).name and r["condition"] == "passage"]
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
