"""What ``eval squad`` prints beside its accuracy table: paired differences from a reference, and diversity.

Paired differences: for each condition and each numeric metric of its per-passage scores (every ``float``
field of :class:`~seal_gym.evaluation.squad.ConditionScore`, and the entries of any ``dict`` of floats on it,
so new metrics are compared without a change here), the condition minus the reference over the passages
both were scored on, with :func:`seal_gym.stats.paired_difference`. Accuracy-like metrics (see
:func:`metric_unit`) are reported in percentage points, the rest in their own units.

Diversity: :func:`seal_gym.diversity.diversity` of each condition's self-edits, grouped by passage.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from seal_gym.diversity import NGRAMS, Diversity, diversity
from seal_gym.evaluation.charts import DifferencePanel, difference_chart
from seal_gym.stats import PairedDifference, format_table, paired_difference

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from seal_gym.evaluation.squad import SquadEvaluation

TESTS = "Wilcoxon signed-rank (p) and paired t-test (p_t), two-sided, scipy.stats"
"""The tests behind the p-values, as the table header and results.json name them."""
PERCENT_METRICS = {"strict", "lenient", "accuracy", "em", "f1", "exact", "exact_match"}
"""Metrics stored as fractions (0..1) and reported in percentage points (also any name ending in one of
these after an underscore, e.g. ``concise_em``)."""
BOOTSTRAP_RESAMPLES = 10000
"""Bootstrap resamples behind each interval."""


def metric_unit(name: str) -> tuple[float, str]:
    """The factor a metric's per-passage values are multiplied by for reporting, and its unit.

    >>> metric_unit("strict"), metric_unit("concise_f1"), metric_unit("exact"), metric_unit("logprob")
    ((100.0, 'points'), (100.0, 'points'), (100.0, 'points'), (1.0, ''))
    """
    if name in PERCENT_METRICS or name.rsplit("_", 1)[-1] in PERCENT_METRICS:
        return 100.0, "points"
    return 1.0, ""


def cell_metrics(cell: Any) -> dict[str, float]:
    """The numeric metrics of a per-passage score: its ``float``/``int`` fields (not bools) and the float
    entries of its ``dict`` fields, by name. ``cell`` is a dataclass or, read back from results.json, a dict.

    >>> from seal_gym.evaluation.squad import ConditionScore
    >>> cell_metrics(ConditionScore(0.4, 0.6))
    {'strict': 0.4, 'lenient': 0.6}
    >>> cell_metrics({"strict": 0.4, "answers": ["x"], "metrics": {"logprob": -2.5}})
    {'strict': 0.4, 'logprob': -2.5}
    """
    items = cell.items() if isinstance(cell, dict) else ((f.name, getattr(cell, f.name)) for f in dataclasses.fields(cell))
    out: dict[str, float] = {}
    for name, value in items:
        if isinstance(value, dict):
            out.update({k: float(v) for k, v in value.items() if _number(v)})
        elif _number(value):
            out[name] = float(value)
    return out


@dataclass(frozen=True)
class PairedLine:
    """One condition against the reference on one metric."""

    condition: str
    label: str
    metric: str
    unit: str
    """``"points"``: percentage points (the metric is a fraction, reported x100); ``""``: the metric's own."""
    reference: str
    difference: PairedDifference


def paired_lines(evaluation: "SquadEvaluation", reference: str = "passage", seed: int = 0,
                 n_boot: int = BOOTSTRAP_RESAMPLES, confidence: float = 0.95) -> list[PairedLine]:
    """Every other condition minus ``reference``, per metric both have, paired by passage.

    Raises:
        ValueError: ``reference`` is not a condition of the evaluation.
    """
    scores = {name: {p.index: cell_metrics(p.conditions[name]) for p in evaluation.passages if name in p.conditions}
              for name in evaluation.labels}
    return paired_score_lines(scores, evaluation.labels, reference, seed=seed, n_boot=n_boot, confidence=confidence)


def paired_score_lines(scores: dict[str, dict[int, dict[str, float]]], labels: dict[str, str], reference: str,
                       metrics: Sequence[str] | None = None, seed: int = 0, n_boot: int = BOOTSTRAP_RESAMPLES,
                       confidence: float = 0.95) -> list[PairedLine]:
    """:func:`paired_lines` from per-passage metrics, ``{condition: {passage index: {metric: value}}}`` (e.g.
    pooled from several results.json files); ``metrics`` keeps only those, in that order.

    Raises:
        ValueError: ``reference`` has no scores.
    """
    if reference not in labels or reference not in scores:
        raise ValueError(f"reference condition {reference!r} is not in this evaluation "
                         f"(it has {', '.join(labels)})")
    base = scores[reference]
    base_metrics = set(_metric_names(base))
    lines = []
    for name, label in labels.items():
        cells = scores.get(name, {})
        if name == reference or not cells:
            continue
        names = _metric_names(cells)
        names = names if metrics is None else [m for m in metrics if m in names]
        for metric in (m for m in names if m in base_metrics):
            scale, unit = metric_unit(metric)
            a = {i: scale * s[metric] for i, s in cells.items() if metric in s}
            b = {i: scale * s[metric] for i, s in base.items() if metric in s}
            lines.append(PairedLine(name, label, metric, unit, reference,
                                    paired_difference(a, b, seed=seed, n_boot=n_boot, confidence=confidence)))
    return lines


def paired_table(lines: list[PairedLine], reference_label: str) -> str:
    """The paired differences as a plain-text table with a header that names the tests."""
    if not lines:
        return f"paired differences from {reference_label!r}: no other condition to compare"
    level = f"{100 * lines[0].difference.confidence:g}%"
    rows = [[line.label, line.metric + (" (points)" if line.unit == "points" else ""), str(d.n), f"{d.mean:+.2f}",
             f"[{d.low:+.2f}, {d.high:+.2f}]", f"{d.wins}/{d.ties}/{d.losses}", _p(d.p_value), _p(d.p_value_t)]
            for line in lines for d in [line.difference]]
    header = (f"paired differences from {reference_label!r} (condition - reference, by passage; "
              f"{level} bootstrap interval over passages; {TESTS})")
    return header + "\n" + format_table(["condition", "metric", "n", "mean", f"{level} interval", "win/tie/loss",
                                         "p", "p_t"], rows)


def paired_json(lines: list[PairedLine], reference: str, seed: int, n_boot: int) -> dict[str, Any]:
    """The ``paired`` section of results.json (NaN written as null)."""
    return {"reference": reference, "tests": TESTS, "bootstrap": {"resamples": n_boot, "seed": seed, "unit": "passage"},
            "lines": [_clean({**dataclasses.asdict(line.difference), "condition": line.condition, "label": line.label,
                              "metric": line.metric, "unit": line.unit}) for line in lines]}


def paired_csv_rows(lines: list[PairedLine]) -> list[dict[str, Any]]:
    """One row per condition and metric."""
    return [_clean({"condition": line.condition, "reference": line.reference, "metric": line.metric, "unit": line.unit,
                    **dataclasses.asdict(line.difference)}) for line in lines]


def paired_chart(lines: list[PairedLine], title: str, reference_label: str) -> "Figure":
    """One panel per metric, one bar per condition: the mean difference, its interval and p-value."""
    labels = list(dict.fromkeys(line.label for line in lines))
    panels: dict[str, DifferencePanel] = {}
    for metric in dict.fromkeys(line.metric for line in lines):
        by_label = {line.label: line for line in lines if line.metric == metric}
        ds = [by_label[label].difference if label in by_label else None for label in labels]
        nan = math.nan
        panels[metric] = DifferencePanel([d.mean if d else nan for d in ds], [d.low if d else nan for d in ds],
                                         [d.high if d else nan for d in ds], [d.p_value if d else nan for d in ds],
                                         next(iter(by_label.values())).unit)
    return difference_chart(labels, panels, title=title, reference=reference_label)


def condition_self_edits(evaluation: "SquadEvaluation") -> dict[str, list[list[str]]]:
    """Each trained condition's self-edits grouped by passage (one per sample, whatever the seeds); conditions
    whose self-edits are all empty (the passage alone) are left out."""
    out: dict[str, list[list[str]]] = {}
    for name in evaluation.labels:
        groups = []
        for p in evaluation.passages:
            cell = p.conditions.get(name)
            if cell is not None and cell.adapters:
                groups.append(list({a.sample: a.self_edit for a in cell.adapters}.values()))
        if any(text.strip() for texts in groups for text in texts):
            out[name] = groups
    return out


def condition_diversity(evaluation: "SquadEvaluation") -> dict[str, Diversity]:
    """:func:`seal_gym.diversity.diversity` of each condition's self-edits, grouped by passage."""
    return {name: diversity(groups) for name, groups in condition_self_edits(evaluation).items()}


def diversity_table(found: dict[str, Diversity], labels: dict[str, str]) -> str:
    """Length, distinct-n (within a passage's self-edits, and pooled) and compression ratio per condition."""
    if not found:
        return "self-edit diversity: no condition with self-edits"
    rows = [[labels.get(name, name), str(d.self_edits), f"{d.self_edit_words:.1f}",
             *(f"{getattr(d, f'distinct_{n}_prompt'):.2f}" for n in NGRAMS), f"{d.distinct_2:.2f}",
             f"{d.compression_ratio_prompt:.2f}", f"{d.compression_ratio:.2f}"] for name, d in found.items()]
    header = ["condition", "self-edits", "words", *(f"distinct-{n}" for n in NGRAMS), "distinct-2 (all)",
              "compression", "compression (all)"]
    return ("self-edit diversity (distinct-n and zlib compression ratio within each passage's self-edits, averaged; "
            "(all): every self-edit of the condition pooled)\n" + format_table(header, rows))


def _metric_names(scores: dict[int, dict[str, float]]) -> list[str]:
    return list(dict.fromkeys(m for s in scores.values() for m in s))


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _p(value: float) -> str:
    return f"{value:.3g}" if math.isfinite(value) else "n/a"


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in row.items()}
