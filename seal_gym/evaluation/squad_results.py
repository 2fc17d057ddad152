"""The knowledge-incorporation table's results: each adapter's and condition's scores per passage, and their
summary (mean ± standard error over passages), as a text table, a chart and CSV rows.
:func:`~seal_gym.evaluation.squad.evaluate_squad` makes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

from seal_gym.evaluation.charts import bar_chart
from seal_gym.stats import format_table, mean_stderr

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from seal_gym.evaluation.squad import SquadEvalConfig


@dataclass
class AdapterScore:
    """One adapter's accuracy on one passage's questions."""

    sample: int
    """Which self-edit of the passage it was trained on (0 for the passage alone)."""
    seed: int
    strict: float
    lenient: float
    answers: list[str]
    self_edit: str
    final_loss: float | None
    num_sequences: int
    """Training sequences of the adapter (the whole group's in CPT)."""
    metrics: dict[str, float] = field(default_factory=dict)
    """Answer metrics beyond the graders (:data:`seal_gym.squad.metrics.METRICS`)."""


@dataclass
class ConditionScore:
    """A condition on one passage: the mean over its adapters, or the one set of untrained answers."""

    strict: float
    lenient: float
    answers: list[str] = field(default_factory=list)
    """Untrained conditions only (each adapter keeps its own)."""
    adapters: list[AdapterScore] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    """Answer metrics (:data:`seal_gym.squad.metrics.METRICS`): the mean over the adapters that have each."""


@dataclass
class PassageScores:
    index: int
    """Position of the passage in its dataset."""
    title: str
    group: int
    """Its CPT group (its own position among the evaluated passages when ``cpt=1``)."""
    conditions: dict[str, ConditionScore]


@dataclass
class Accuracy:
    """Accuracy % over ``n`` units (passages) under both graders: mean and standard error of the mean."""

    n: int
    strict: float
    strict_se: float
    lenient: float
    lenient_se: float

    @staticmethod
    def over(cells: Sequence[tuple[float, float]]) -> tuple[int, float, float, float, float]:
        """The fields for ``(strict, lenient)`` accuracies (0..1) of each unit, in that order."""
        strict = mean_stderr([100 * s for s, _ in cells])
        lenient = mean_stderr([100 * v for _, v in cells])
        return (len(cells), *strict, *lenient)


@dataclass
class SummaryLine(Accuracy):
    """One condition over all passages it was scored on."""

    condition: str
    label: str
    metrics: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Answer metric -> (mean, standard error) over the passages that have it."""


TABLE_METRICS = {"exact": ("exact % (short)", 100), "f1": ("F1 % (short)", 100), "logprob": ("gold logprob", 1),
                 "recital": ("recital %", 100)}
"""Answer metrics the table shows when any condition has them: column title and scale."""


@dataclass
class SquadEvaluation:
    """Every passage's scores in every condition, and their summary."""

    labels: dict[str, str]
    """condition -> label, in table order."""
    passages: list[PassageScores]
    config: SquadEvalConfig

    def summary(self) -> list[SummaryLine]:
        lines = []
        for condition, label in self.labels.items():
            cells = [(p.conditions[condition].strict, p.conditions[condition].lenient)
                     for p in self.passages if condition in p.conditions]
            if cells:
                metrics = [p.conditions[condition].metrics for p in self.passages if condition in p.conditions]
                names = dict.fromkeys(k for m in metrics for k in m)
                lines.append(SummaryLine(*Accuracy.over(cells), condition=condition, label=label,
                                         metrics={k: mean_stderr([m[k] for m in metrics if k in m]) for k in names}))
        return lines

    def table(self) -> str:
        """Mean ± standard error over passages of each condition: both graders' accuracy, then the answer
        metrics any condition has (short-answer exact match and F1, the gold answers' log-probability, the
        share of recited answers)."""
        lines = self.summary()
        shown = [k for k in TABLE_METRICS if any(k in s.metrics for s in lines)]
        rows = []
        for s in lines:
            row = [s.label, str(s.n), f"{s.strict:.1f} ± {s.strict_se:.1f}", f"{s.lenient:.1f} ± {s.lenient_se:.1f}"]
            for k in shown:
                scale = TABLE_METRICS[k][1]
                mean, se = s.metrics.get(k, (float("nan"), float("nan")))
                row.append("-" if mean != mean else f"{scale * mean:.{1 if scale == 100 else 2}f} ± {scale * se:.{1 if scale == 100 else 2}f}")
            rows.append(row)
        return format_table(["condition", "n", "accuracy % (strict)", "accuracy % (F1>=0.5)"]
                            + [TABLE_METRICS[k][0] for k in shown], rows)

    def chart(self, title: str) -> "Figure":
        """Bars of every condition, strict and lenient, with standard-error bars."""
        lines = self.summary()
        return bar_chart([s.label for s in lines],
                         {"strict": ([s.strict for s in lines], [s.strict_se for s in lines]),
                          "lenient (F1 ≥ 0.5)": ([s.lenient for s in lines], [s.lenient_se for s in lines])},
                         title=title, ylabel="accuracy % (mean ± s.e. over passages)")

    def csv_rows(self) -> list[dict]:
        """One row per passage and condition."""
        return [{"passage_index": p.index, "title": p.title, "group": p.group, "condition": name,
                 "adapters": len(c.adapters), "accuracy_strict": c.strict, "accuracy_lenient": c.lenient,
                 **{f"answer_{k}": c.metrics.get(k) for k in TABLE_METRICS}}
                for p in self.passages for name, c in p.conditions.items()]


def mean_metrics(cells: Sequence[dict[str, float]]) -> dict[str, float]:
    """Each metric's mean over the cells that have it.

    >>> mean_metrics([{"f1": 0.5, "logprob": -2.0}, {"f1": 1.0}])
    {'f1': 0.75, 'logprob': -2.0}
    """
    names = dict.fromkeys(k for cell in cells for k in cell)
    return {k: sum(c[k] for c in cells if k in c) / sum(k in c for c in cells) for k in names}
