"""Small statistics for result tables, and paired differences between two conditions.

Every comparison of seal_gym is paired: two conditions scored on the same units (passages), under the same
inner-loop seeds. :func:`paired_difference` takes the two conditions' per-unit scores and returns their mean
difference, a seeded bootstrap interval over units and two paired tests' p-values (from ``scipy.stats``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Hashable, Mapping, Sequence

import numpy as np

Scores = Mapping[Hashable, "float | None"] | Sequence["float | None"]
"""Per-unit scores of one condition: a mapping unit -> score, or a list aligned with the other condition's.
``None`` or NaN: the unit was not scored in this condition."""


def mean_stderr(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (sample standard deviation / sqrt(n); 0 for n < 2).

    >>> mean_stderr([0.0, 1.0])
    (0.5, 0.5)
    """
    n = len(values)
    if n == 0:
        return float("nan"), float("nan")
    mean = sum(values) / n
    if n < 2:
        return mean, 0.0
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(variance / n)


def wilson_interval(successes: float, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval of a success rate: ``successes`` of ``trials`` (NaN, NaN without trials). Unlike
    the normal approximation it stays within [0, 1] and has width at 0 and 1 successes out of n.

    >>> tuple(round(x, 4) for x in wilson_interval(5, 10))
    (0.2366, 0.7634)
    >>> tuple(round(x, 4) for x in wilson_interval(0, 24))
    (0.0, 0.138)
    """
    from scipy.stats import norm

    if trials <= 0:
        return float("nan"), float("nan")
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    rate = successes / trials
    scale = 1 + z * z / trials
    centre = (rate + z * z / (2 * trials)) / scale
    half = z * math.sqrt(rate * (1 - rate) / trials + z * z / (4 * trials * trials)) / scale
    return max(0.0, centre - half), min(1.0, centre + half)


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table with aligned columns (first column left-aligned, the rest right-aligned)."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, rows)])


@dataclass(frozen=True)
class PairedDifference:
    """Condition ``a`` minus condition ``b`` over the units both were scored on."""

    n: int
    """Pairs: units with a finite score in both conditions."""
    mean: float
    """Mean of the per-unit differences ``a - b``."""
    low: float
    """Lower end of the bootstrap interval of the mean difference."""
    high: float
    """Upper end of the bootstrap interval of the mean difference."""
    confidence: float
    """The interval's confidence level (0.95: the 2.5th to the 97.5th percentile of the bootstrap means)."""
    p_value: float
    """Two-sided Wilcoxon signed-rank test (``scipy.stats.wilcoxon``, zero differences dropped); 1.0 when
    every difference is 0, NaN without pairs."""
    p_value_t: float
    """Two-sided paired t-test (``scipy.stats.ttest_rel``); 1.0 / 0.0 when every difference is the same zero /
    non-zero number, NaN with fewer than 2 pairs."""
    wins: int
    """Units where ``a`` scored higher."""
    ties: int
    losses: int
    """Units where ``a`` scored lower."""
    mean_a: float
    """Mean of ``a`` over the pairs."""
    mean_b: float
    """Mean of ``b`` over the pairs."""

    def __str__(self) -> str:
        """E.g. ``+5.8 [-0.3, +11.9] p=0.21 (n=10, 4/4/2)``: mean, interval, Wilcoxon p, wins/ties/losses."""
        return (f"{self.mean:+.3g} [{self.low:+.3g}, {self.high:+.3g}] p={self.p_value:.2g} "
                f"(n={self.n}, {self.wins}/{self.ties}/{self.losses})")


def paired_scores(a: Scores, b: Scores) -> tuple[np.ndarray, np.ndarray]:
    """The scores of the units both ``a`` and ``b`` have (finite in both), as two aligned arrays.

    Mappings pair by key (in ``a``'s order); lists pair by position and must have the same length.

    >>> paired_scores({"p1": 1.0, "p2": 0.5, "p3": None}, {"p2": 0.0, "p3": 1.0, "p1": 0.5})
    (array([1. , 0.5]), array([0.5, 0. ]))
    """
    if isinstance(a, Mapping) != isinstance(b, Mapping):
        raise TypeError("paired_difference takes two mappings (unit -> score) or two aligned lists, not one of each")
    if isinstance(a, Mapping):
        pairs = [(a[k], b[k]) for k in a if k in b]
    else:
        if len(a) != len(b):
            raise ValueError(f"aligned score lists must have one score per unit each, got {len(a)} and {len(b)} "
                             "(pass mappings unit -> score to pair by unit)")
        pairs = list(zip(a, b))
    kept = [(float(x), float(y)) for x, y in pairs
            if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)]
    return np.array([x for x, _ in kept]), np.array([y for _, y in kept])


def paired_difference(a: Scores, b: Scores, seed: int = 0, n_boot: int = 10000,
                      confidence: float = 0.95) -> PairedDifference:
    """Mean of ``a - b`` over the units both have, its bootstrap interval (units resampled with replacement,
    ``n_boot`` times, seeded) and paired tests' p-values.

    Args:
        a: the condition's per-unit scores (see :data:`Scores`).
        b: the reference's per-unit scores; a unit missing from either side is left out of every number.
        seed: seeds the bootstrap (the same inputs and seed give the same interval).
        n_boot: bootstrap resamples.
        confidence: the interval's level, in (0, 1).

    >>> d = paired_difference([1.0, 0.5, 0.75], [0.5, 0.0, 0.25])
    >>> d.n, d.mean, (d.low, d.high), (d.wins, d.ties, d.losses)
    (3, 0.5, (0.5, 0.5), (3, 0, 0))
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    xs, ys = paired_scores(a, b)
    n = len(xs)
    if n == 0:
        nan = float("nan")
        return PairedDifference(0, nan, nan, nan, confidence, nan, nan, 0, 0, 0, nan, nan)
    diffs = xs - ys
    # Deviations from the first difference: a constant difference resamples to exactly itself (zero width).
    centre, deviations = diffs[0], diffs - diffs[0]
    rng = np.random.default_rng(seed)
    means = np.concatenate([deviations[rng.integers(0, n, size=(min(1000, n_boot - start), n))].mean(axis=1)
                            for start in range(0, n_boot, 1000)])
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return PairedDifference(n, float(centre + deviations.mean()), float(centre + low), float(centre + high), confidence,
                            _wilcoxon_p(diffs), _ttest_p(xs, ys), int((diffs > 0).sum()), int((diffs == 0).sum()),
                            int((diffs < 0).sum()), float(xs.mean()), float(ys.mean()))


def holm_adjusted(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of a family of p-values (family-wise error rate), in the input's order.

    Compare each adjusted p-value with the level (e.g. 0.05) as if it were the only test; NaN stays NaN and
    does not count towards the family.

    >>> holm_adjusted([0.01, 0.04, 0.03])
    [0.03, 0.06, 0.06]
    """
    finite = sorted((p, i) for i, p in enumerate(p_values) if math.isfinite(p))
    adjusted = [float("nan")] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(finite):
        running = max(running, min(1.0, (len(finite) - rank) * p))  # step-down: never below an earlier one
        adjusted[i] = running
    return adjusted


def _wilcoxon_p(diffs: np.ndarray) -> float:
    from scipy.stats import wilcoxon

    if not diffs.any():
        return 1.0  # no unit differs: no evidence of a difference (scipy divides by zero here)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (RuntimeWarning, UserWarning))
        return float(wilcoxon(diffs, zero_method="wilcox").pvalue)


def _ttest_p(xs: np.ndarray, ys: np.ndarray) -> float:
    from scipy.stats import ttest_rel

    diffs = xs - ys
    if len(diffs) < 2:
        return float("nan")
    if np.all(diffs == diffs[0]):
        return 1.0 if diffs[0] == 0 else 0.0  # zero variance: the limit of the test (scipy gives NaN)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(ttest_rel(xs, ys).pvalue)
