"""Cheaper rewards, validated against the real one: do they rank one passage's self-edits as SEAL's inner loop does?

The reference is the SNR study's (its folder is ``--snr``): 8 tune passages x 6 self-edits the embedded model
wrote x 3 inner seeds, each trained with SEAL's inner loop (the regime study's choice), scored by the gold
answers' log-probability after the update; a self-edit's full reward is its mean over the 3 seeds. Candidates,
each scored once per self-edit on the same cells:

- ``in_context`` (c): the gold answers' log-probability with the self-edit in the prompt instead of in the
  weights: one forward pass, no training;
- ``short`` (a): the same inner loop shortened to 2 epochs at a 3x higher rate (3e-3), inner seed of the SNR
  study's seed 0;
- ``gradient`` (b), added after (a) and (c) were scored, under the same rule: the first-order estimate
  ``<grad training loss, grad gold answers' loss>`` on the regime's LoRA adapter at its start (SealSquad's
  ``reward="answer_gradient_alignment"``), over the SNR study's own training sequences (its ``make_loops``: the
  self-edit's lines + the passage; the passage alone for the passage condition); one backward pass per self-edit,
  the questions' once per passage and loop, no training.

Reported per candidate: the within-passage Spearman correlation with the full reward (what GRPO's group-relative
advantage uses), averaged over passages with a 95 % bootstrap interval over passages; the seconds per reward and
their ratio to the full reward's; and, as a check of copying, how often the candidate scores the passage itself
above a self-edit against how often the full reward does.

**Selection rule, fixed before the first candidate was scored (committed with this file):** the cheapest
candidate whose mean within-passage Spearman correlation is >= 0.6 with the lower end of its 95 % interval above
0.3 qualifies, and becomes the `cpu` preset's reward only then; if none does, none is chosen.

    python studies/cheap_rewards.py --snr studies/snr --regime studies/regime/chosen.json \
        --dataset ../shared/data/squad/train.json --out studies/cheap_rewards --threads 2
    python studies/cheap_rewards.py --snr studies/snr --regime studies/regime/chosen.json \
        --dataset ../shared/data/squad/train.json --out studies/cheap_rewards --candidates gradient --threads 1

``--candidates`` scores only the named ones and keeps the others' entries of an existing report.json; every
candidate's interval is then recomputed from its stored per-passage values with one generator in the fixed
order of :data:`CANDIDATES` (so a candidate's interval does not depend on which were scored in the same run).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from science import Regime, make_loops, study_passages  # noqa: E402

CANDIDATES = ("in_context", "short", "gradient")


def spearman(a: list[float], b: list[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def main(argv: list[str] | None = None, engine=None) -> dict:
    """Score the candidates, write ``OUT/report.json`` and return it; ``engine`` replaces the batched engine of
    ``--model`` (the tests' scripted one)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="the study's folder (report.json)")
    parser.add_argument("--snr", type=Path, required=True,
                        help="the SNR study's folder: its results.jsonl (the full rewards) and own_self_edits.json")
    parser.add_argument("--dataset", required=True, help="the SNR study's passage file (SEAL's SQuAD train.json)")
    parser.add_argument("--regime", type=Path, default=None,
                        help="chosen.json of the regime study, the SNR study's regime (default: SEAL's settings)")
    parser.add_argument("--passages", type=int, default=8, help="the first N of the SNR study's tune passages")
    parser.add_argument("--model", default=None, help="default: the embedded SmolLM2-135M-Instruct")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--candidates", nargs="+", choices=CANDIDATES, default=list(CANDIDATES),
                        help="score only these; the others' entries of an existing report.json are kept")
    args = parser.parse_args(argv)
    import torch

    from seal_gym.adapt import BatchedEngine
    from seal_gym.models import load_model
    from seal_gym.squad.domain import answer_gradient_alignments, in_context_logprobs
    from seal_gym.squad.inner_loop import KnowledgeInnerLoop, KnowledgeItem

    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = [json.loads(line) for line in (args.snr / "results.jsonl").read_text().splitlines()]
    regime = Regime(**json.loads(args.regime.read_text())["settings"]) if args.regime else Regime()
    own = {int(i): t for i, t in json.loads((args.snr / "own_self_edits.json").read_text())["implications"].items()}
    passages = study_passages(args.dataset, "tune", args.passages)
    full = {(r["passage"], r["condition"]): [] for r in rows if r["regime"] == regime.name}
    for r in rows:
        if r["regime"] == regime.name:
            full[(r["passage"], r["condition"])].append(r["logprob"])
    full_seconds = float(np.median([r["train_seconds"] + r["answer_seconds"] for r in rows
                                    if r["regime"] == regime.name and r["condition"] != "passage"]))
    bundle = load_model(args.model, device="cpu")
    engine = engine or BatchedEngine(bundle.model, bundle.tokenizer)
    short = KnowledgeInnerLoop(bundle, engine, grader="contains",
                               config=replace(regime, epochs=2, lr=3 * regime.lr).config())
    with_passage, alone = make_loops(bundle, engine, regime)  # the SNR study's own training sequences
    wanted = list(dict.fromkeys(args.candidates))
    scores: dict[str, dict[int, list[float]]] = {name: {} for name in wanted}
    passage_scores: dict[str, dict[int, float]] = {name: {} for name in wanted if name != "short"}
    seconds = dict.fromkeys(wanted, 0.0)
    for i, passage in passages:
        texts = own[i][:6]
        if "in_context" in wanted:
            began = time.perf_counter()
            values = in_context_logprobs(short, [(t, passage) for t in texts + [passage.context]])
            seconds["in_context"] += time.perf_counter() - began
            scores["in_context"][i], passage_scores["in_context"][i] = values[:-1], values[-1]
        if "short" in wanted:
            began = time.perf_counter()
            results = short.run([KnowledgeItem(t, passage, 1000 + i) for t in texts])
            seconds["short"] += time.perf_counter() - began
            scores["short"][i] = [r.metrics["logprob"] for r in results]
        if "gradient" in wanted:
            began = time.perf_counter()
            scores["gradient"][i] = answer_gradient_alignments(with_passage, [(t, passage) for t in texts])
            [passage_scores["gradient"][i]] = answer_gradient_alignments(alone, [(passage.context, passage)])
            seconds["gradient"] += time.perf_counter() - began
        print(f"passage {i}: done", flush=True)
    old = json.loads((args.out / "report.json").read_text()) if (args.out / "report.json").exists() else {}
    report = {"regime": regime.name, "passages": [i for i, _ in passages], "full_seconds_per_reward": full_seconds,
              "candidates": {n: c for n, c in old.get("candidates", {}).items() if n not in wanted}}
    for name, by_passage in scores.items():
        per_passage = [spearman(by_passage[i], [float(np.mean(full[(i, f"edit{k}")])) for k in range(6)])
                       for i, _ in passages]
        cost = seconds[name] / (6 * len(passages))
        entry = {"spearman_per_passage": per_passage, "seconds_per_reward": cost, "cost_ratio": cost / full_seconds,
                 "scores": {str(i): by_passage[i] for i, _ in passages}}
        if name in passage_scores:
            entry["passage_above_self_edit"] = float(np.mean([passage_scores[name][i] > x for i, _ in passages
                                                             for x in by_passage[i]]))
            entry["passage_scores"] = {str(i): passage_scores[name][i] for i, _ in passages}
        report["candidates"][name] = entry
    # Intervals from the stored per-passage values, one generator in CANDIDATES' order: the same numbers
    # whichever candidates this run scored.
    rng = np.random.default_rng(0)
    report["candidates"] = {n: report["candidates"][n] for n in CANDIDATES if n in report["candidates"]}
    for entry in report["candidates"].values():
        per_passage = entry["spearman_per_passage"]
        boot = [float(np.mean(rng.choice(per_passage, len(per_passage)))) for _ in range(args.resamples)]
        entry["spearman_mean"] = float(np.mean(per_passage))
        entry["interval"] = [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))]
    full_passage = [float(np.mean(full[(i, "passage")])) > float(np.mean(full[(i, f"edit{k}")]))
                    for i, _ in passages for k in range(6)]
    report["full_passage_above_self_edit"] = float(np.mean(full_passage))
    qualifying = sorted((c["seconds_per_reward"], n) for n, c in report["candidates"].items()
                        if c["spearman_mean"] >= 0.6 and c["interval"][0] > 0.3)
    report["chosen"] = qualifying[0][1] if qualifying else None
    (args.out / "report.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({n: {k: v for k, v in c.items()
                      if k not in ("spearman_per_passage", "scores", "passage_scores")}
                      for n, c in report["candidates"].items()}, indent=1))
    print(f"full reward: {full_seconds:.1f} s; passage above a self-edit under the full reward: "
          f"{report['full_passage_above_self_edit']:.2f}; chosen by the rule: {report['chosen']}")
    return report


if __name__ == "__main__":
    main()
