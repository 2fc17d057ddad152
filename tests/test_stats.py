"""seal_gym.stats.paired_difference: known numbers, and scipy's tests called directly for the p-values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from seal_gym.stats import PairedDifference, holm_adjusted, paired_difference, paired_scores


def test_a_constant_difference_has_a_zero_width_interval():
    a = [0.75, 0.25, 0.5, 0.0, 0.5]  # dyadic: every difference is exactly 0.25
    d = paired_difference([x + 0.25 for x in a], a)
    assert d.low == d.high == d.mean == 0.25
    assert (d.wins, d.ties, d.losses) == (5, 0, 0) and d.p_value_t == 0.0
    assert d.p_value == pytest.approx(stats.wilcoxon([0.25] * 5).pvalue)  # exact: 2 / 2**5
    assert d.p_value == pytest.approx(0.0625)


def test_p_values_and_means_match_scipy_and_numpy_on_a_known_case():
    a = [0.8, 0.4, 0.6, 1.0, 0.2, 0.6, 0.4, 0.8]
    b = [0.4, 0.4, 0.2, 0.6, 0.4, 0.0, 0.2, 0.6]
    d = paired_difference(a, b)
    diffs = np.subtract(a, b)
    assert d.n == 8 and d.mean == pytest.approx(diffs.mean())
    assert d.p_value == pytest.approx(stats.wilcoxon(a, b, zero_method="wilcox").pvalue)
    assert d.p_value_t == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert d.low < d.mean < d.high and (d.wins, d.ties, d.losses) == (6, 1, 1)
    assert (d.mean_a, d.mean_b) == pytest.approx((np.mean(a), np.mean(b)))
    # The interval is the percentile bootstrap of the mean over units, seeded.
    rng = np.random.default_rng(0)
    means = diffs[rng.integers(0, 8, size=(1000, 8))].mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    reference = paired_difference(a, b, n_boot=1000)
    assert (reference.low, reference.high) == pytest.approx((low, high))


def test_the_bootstrap_is_seeded_and_wider_at_higher_confidence():
    a, b = [0.91, 0.13, 0.57, 0.26, 0.74, 0.98, 0.33], [0.52, 0.21, 0.45, 0.07, 0.29, 0.48, 0.4]
    assert paired_difference(a, b, seed=3) == paired_difference(a, b, seed=3)
    assert paired_difference(a, b, seed=3, n_boot=200) != paired_difference(a, b, seed=4, n_boot=200)
    narrow, wide = paired_difference(a, b, confidence=0.5), paired_difference(a, b, confidence=0.99)
    assert wide.low < narrow.low and wide.high > narrow.high


def test_a_condition_missing_for_some_units_pairs_only_the_units_both_have():
    a = {"p1": 1.0, "p2": 0.5, "p3": None, "p5": 0.0}
    b = {"p2": 0.0, "p1": 0.5, "p3": 1.0, "p4": 1.0, "p5": float("nan")}
    d = paired_difference(a, b)
    assert d.n == 2 and d.mean == 0.5 and d.low == d.high == 0.5
    assert paired_difference([1.0, None, 0.5], [0.0, 1.0, 0.5]).n == 2
    assert paired_scores([0.0, math.nan], [1.0, 2.0])[0].tolist() == [0.0]


def test_no_difference_and_no_pairs_are_well_defined():
    same = paired_difference([0.2, 0.4], [0.2, 0.4])
    assert same.mean == 0.0 and same.p_value == 1.0 and same.p_value_t == 1.0 and same.ties == 2
    empty = paired_difference({"a": 1.0}, {"b": 1.0})
    assert empty.n == 0 and math.isnan(empty.mean) and math.isnan(empty.p_value)
    one = paired_difference([1.0], [0.0])
    assert one.n == 1 and one.low == one.high == 1.0 and math.isnan(one.p_value_t)
    assert isinstance(one, PairedDifference) and "n=1" in str(one)


@pytest.mark.parametrize("call, error", [
    (lambda: paired_difference([1.0], [1.0, 2.0]), "one score per unit"),
    (lambda: paired_difference({"a": 1.0}, [1.0]), "two mappings"),
    (lambda: paired_difference([1.0], [0.0], confidence=1.0), "confidence"),
    (lambda: paired_difference([1.0], [0.0], n_boot=0), "n_boot"),
])
def test_bad_input_says_what_is_wrong(call, error):
    with pytest.raises((ValueError, TypeError), match=error):
        call()


def test_holm_steps_down_keeps_order_and_skips_nan():
    # Sorted 0.01 < 0.02 < 0.04 in a family of 3: 3 x 0.01, 2 x 0.02, 1 x 0.04 (each at least the one before).
    assert holm_adjusted([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    # A large multiplier caps at 1; a later, smaller product is raised to the running maximum.
    assert holm_adjusted([0.5, 0.3]) == pytest.approx([0.6, 0.6])
    adjusted = holm_adjusted([float("nan"), 0.02, 0.9])  # NaN is no test: a family of 2
    assert math.isnan(adjusted[0]) and adjusted[1:] == pytest.approx([0.04, 0.9])
    assert holm_adjusted([]) == []
