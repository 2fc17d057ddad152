"""What the laptop-scale studies share: the passages, the conditions, a resumable results file, paired tables.

A study scores *conditions* (what an adapter is trained on) on passages of one fixed split of a passage file
(SEAL's train.json, given as each study's ``--dataset``; :mod:`seal_gym.squad.splits`), under an inner-loop
*regime*. Every condition of a passage trains with the same inner seed, so differences between conditions are
paired. Each scored adapter is one JSON line in the study's ``results.jsonl``; a rerun skips the lines already
there, so a study killed at any point resumes.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Iterable, Sequence

from seal_gym.adapt import LoraSpec, TrainSpec
from seal_gym.adapt.types import ALL_PROJECTIONS
from seal_gym.squad.inner_loop import KnowledgeConfig, KnowledgeInnerLoop, KnowledgeItem
from seal_gym.squad.passages import Passage, load_passages
from seal_gym.squad.prompts import get_prompt_style
from seal_gym.stats import format_table, paired_difference

TARGETS = {"all": ALL_PROJECTIONS, "attention": ("q_proj", "k_proj", "v_proj", "o_proj"),
           "mlp": ("gate_proj", "up_proj", "down_proj")}
METRICS = ("logprob", "f1", "exact", "accuracy", "recital", "words")
"""Per-adapter measures kept in each line (``accuracy`` is the ``contains`` grader's, kept for comparison)."""


@dataclass(frozen=True)
class Regime:
    """The inner-loop settings a study varies (everything else is SEAL's)."""

    lr: float = 1e-3
    epochs: int = 10
    rank: int = 32
    targets: str = "all"
    """A key of :data:`TARGETS`."""
    split: str = "lines"
    """How a self-edit becomes sequences: ``lines`` (one per line, as SEAL) or ``whole`` (one sequence)."""
    include_passage: bool = True
    """Train on the passage too, after the self-edit's items (as SEAL does)."""
    batch_size: int = 1

    @property
    def name(self) -> str:
        return (f"lr{self.lr:.0e}_ep{self.epochs}_r{self.rank}_{self.targets}_{self.split}"
                f"{'_P' if self.include_passage else '_noP'}_b{self.batch_size}")

    def config(self, include_passage: bool | None = None, style: str = "implications",
               split: str | None = None) -> KnowledgeConfig:
        """The inner loop's config: short answers, gold log-probabilities scored, answers up to 24 tokens
        (``include_passage`` and ``split`` override the regime's)."""
        split = split or self.split
        prompt_style = replace(get_prompt_style(style), split=split) if split == "whole" else style
        return KnowledgeConfig(
            lora=LoraSpec(rank=self.rank, alpha=2.0 * self.rank, target_modules=TARGETS[self.targets]),
            train=TrainSpec(epochs=self.epochs, learning_rate=self.lr, batch_size=self.batch_size),
            max_answer_tokens=24, answer_style="short", score_logprob=True,
            include_passage=self.include_passage if include_passage is None else include_passage,
            prompt_style=prompt_style)


SEAL = Regime()
"""SEAL's inner loop: rank 32 on every projection, lr 1e-3, 10 epochs, batch 1, one sequence per line."""


def study_passages(dataset: str | Path, split: str, count: int | None = None) -> list[tuple[int, Passage]]:
    """(position in ``dataset``, passage) of the first ``count`` passages of one split of ``dataset`` (a passage
    file, or any source :func:`~seal_gym.squad.passages.load_passages` reads)."""
    from seal_gym.squad.splits import split_indices

    passages = load_passages(dataset)
    chosen = split_indices(len(passages))[split][:count]
    return [(i, passages[i]) for i in chosen]


def inner_seed(position: int) -> int:
    """Every condition of a passage trains with this seed: the comparison is paired."""
    return 1000 + position


class Results:
    """A study's ``results.jsonl``: one line per scored adapter, appended as it comes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: list[dict] = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] \
            if path.exists() else []
        self.done = {self.key(r) for r in self.rows}

    @staticmethod
    def key(row: dict) -> tuple:
        return row["regime"], row["condition"], row["passage"], row["seed"]

    def add(self, row: dict) -> None:
        self.rows.append(row)
        self.done.add(self.key(row))
        with open(self.path, "a") as f:
            f.write(json.dumps(row) + "\n")


def score_conditions(loop_with_passage: KnowledgeInnerLoop, loop_alone: KnowledgeInnerLoop, regime: Regime,
                     jobs: Sequence[tuple[str, int, Passage, str]], results: Results, log=print) -> None:
    """Train and score every (condition, position, passage, self-edit) job not yet in ``results``.

    ``passage`` and ``base`` are fixed conditions (the passage alone; no training); any other condition trains
    on its self-edit under the regime (with the passage too if the regime says so). Jobs go to the engine in
    calls of up to 8 adapters.
    """
    todo = [j for j in jobs if (regime.name, j[0], j[1], inner_seed(j[1])) not in results.done]
    for start in range(0, len(todo), 8):
        chunk = todo[start : start + 8]
        began = time.perf_counter()
        for loop, members in ((loop_alone, [j for j in chunk if j[0] in ("passage", "base")]),
                              (loop_with_passage, [j for j in chunk if j[0] not in ("passage", "base")])):
            if not members:
                continue
            items = [KnowledgeItem(p.context if c == "passage" else ("" if c == "base" else text), p, inner_seed(i))
                     for c, i, p, text in members]
            for (condition, position, _, _), result in zip(members, loop.run(items)):
                results.add({"regime": regime.name, "condition": condition, "passage": position,
                             "seed": inner_seed(position), "accuracy": result.adapter_accuracy,
                             "final_loss": result.final_loss, "sequences": result.num_sequences,
                             **result.metrics, "answers": [q.answer for q in result.questions],
                             "regime_settings": asdict(regime)})
        log(f"  {regime.name}: {min(start + 8, len(todo))}/{len(todo)} adapters "
            f"({(time.perf_counter() - began) / len(chunk):.1f} s each)")


def make_loops(bundle, engine, regime: Regime, style: str = "implications") -> tuple[KnowledgeInnerLoop, KnowledgeInnerLoop]:
    """The regime's inner loop with its own include_passage, and one that trains on the self-edit text alone
    (for the ``passage`` condition, whose self-edit is the passage, and ``base``, which trains nothing)."""
    with_passage = KnowledgeInnerLoop(bundle, engine, grader="contains", config=regime.config(style=style))
    # The passage is one sequence, whatever the regime does with self-edits.
    alone = KnowledgeInnerLoop(bundle, engine, grader="contains", config=regime.config(include_passage=False, split="whole"))
    return with_passage, alone


def own_self_edits(bundle, passages: Sequence[tuple[int, Passage]], cache: Path, style: str = "implications",
                   n: int = 1, seed: int = 0) -> dict[int, list[str]]:
    """``n`` self-edits per passage that the model writes itself in ``style`` (sampled for the passages the
    ``cache`` file lacks, then read back from it: ``{style: {position: [texts]}}``)."""
    cached = json.loads(cache.read_text()) if cache.exists() else {}
    texts = {int(i): [t] if isinstance(t, str) else t for i, t in cached.get(style, {}).items()}
    missing = [(i, p) for i, p in passages if len(texts.get(i, [])) < n]
    if missing:
        from seal_gym.agents import LMPolicy

        prompt = get_prompt_style(style)
        completions = LMPolicy(bundle, seed=seed).sample([prompt.render(p.title, p.context) for _, p in missing], n,
                                                         logprobs=False)
        for k, (i, _) in enumerate(missing):
            texts[i] = [c.text for c in completions[k * n : (k + 1) * n]]
        cache.write_text(json.dumps({**cached, style: {str(i): t for i, t in sorted(texts.items())}}, indent=1))
    return {i: t[:n] for i, t in texts.items()}


def per_passage(rows: Iterable[dict], regime: str, condition: str, metric: str) -> dict[int, float]:
    """passage position -> the metric, averaged over the seeds it was scored with."""
    cells: dict[int, list[float]] = {}
    for r in rows:
        if r["regime"] == regime and r["condition"] == condition and r.get(metric) is not None:
            cells.setdefault(r["passage"], []).append(float(r[metric]))
    return {p: sum(v) / len(v) for p, v in cells.items()}


def paired_table(rows: Sequence[dict], comparisons: Sequence[tuple[str, str, str]],
                 metrics: Sequence[str] = ("logprob", "f1", "exact")) -> str:
    """Rows ``(regime, condition, reference)``: mean ``condition - reference`` per metric, with the 95 %
    bootstrap interval and the Wilcoxon signed-rank p-value over passages."""
    table = []
    for regime, condition, reference in comparisons:
        cells = [regime, f"{condition} - {reference}"]
        n = 0
        for metric in metrics:
            d = paired_difference(per_passage(rows, regime, condition, metric),
                                  per_passage(rows, regime, reference, metric))
            n = max(n, d.n)
            scale = 1 if metric == "logprob" else 100
            cells.append(f"{scale * d.mean:+.2f} [{scale * d.low:+.2f}, {scale * d.high:+.2f}] p={d.p_value:.2g}"
                         if d.n else "-")
        table.append(cells[:2] + [str(n)] + cells[2:])
    header = ["regime", "difference", "n"] + [f"{m} ({'nats' if m == 'logprob' else 'points'})" for m in metrics]
    return format_table(header, table)
