"""AUC, ROC and TPR at a low FPR: exact values on constructed inputs, library cross-checks.

Defects pinned: ties counted as wins or losses instead of halves; ranks that differ from
a brute-force pair count; an ROC whose area is not the AUC; a TPR at "1% FPR" computed
where no threshold reaches 1% (too few non-members) and reported as if it did; a
zero-width TPR interval when every member falls on one side; an interval for 3 + 3 scores.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from emergence.memorisation import (MIN_PER_SIDE, auc, auc_bounds, binormal_auc_variance, mann_whitney_auc,
                                    placements, roc_curve, threshold_rank, tpr_at_fpr)
from emergence.memorisation.auc import _midranks, _owens_t


def _pairs(x, y) -> float:
    return sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in x for b in y) / (len(x) * len(y))


@pytest.mark.parametrize("m,n", [(1, 1), (3, 7), (8, 8), (25, 13)])
def test_auc_equals_a_brute_force_pair_count_with_ties(m, n):
    rng = np.random.default_rng(m * 100 + n)
    for _ in range(20):
        x, y = rng.integers(0, 4, m).astype(float), rng.integers(0, 4, n).astype(float)  # many ties
        assert mann_whitney_auc(x, y) == pytest.approx(_pairs(x, y), abs=1e-12)
    rows_x, rows_y = rng.integers(0, 5, (6, m)).astype(float), rng.integers(0, 5, (6, n)).astype(float)
    expected = [_pairs(a, b) for a, b in zip(rows_x, rows_y)]
    assert mann_whitney_auc(rows_x, rows_y) == pytest.approx(expected, abs=1e-12)


def test_ties_count_half_and_placements_average_to_the_auc():
    assert mann_whitney_auc([1.0, 1.0], [1.0, 1.0, 1.0]) == 0.5
    assert mann_whitney_auc([2.0, 1.0], [1.0]) == 0.75
    v10, v01 = placements(np.array([2.0, 1.0, 3.0]), np.array([1.0, 2.5]))
    assert v10.tolist() == [0.5, 0.25, 1.0] and v01 == pytest.approx([5 / 6, 1 / 3])
    assert v10.mean() == pytest.approx(v01.mean())


def test_midranks_and_auc_match_scipy_and_sklearn():
    stats = pytest.importorskip("scipy.stats")
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    v = rng.integers(0, 6, (4, 30)).astype(float)
    assert _midranks(v) == pytest.approx(stats.rankdata(v, axis=1))
    x, y = rng.normal(0.5, 1, 40).round(1), rng.normal(0, 1, 60).round(1)
    truth = metrics.roc_auc_score(np.r_[np.ones(40), np.zeros(60)], np.r_[x, y])
    assert auc(x, y).mean == pytest.approx(truth, abs=1e-12)


def test_owens_t_and_binormal_variance_match_scipy():
    special = pytest.importorskip("scipy.special")
    stats = pytest.importorskip("scipy.stats")
    h = np.linspace(-9, 9, 73)
    assert _owens_t(h) == pytest.approx(special.owens_t(h, 1 / math.sqrt(3)), rel=1e-10, abs=1e-300)
    m, n = 12, 30
    star = (m + n) / 2 - 1
    for theta in (0.5, 0.7, 0.9, 0.99, 0.999):
        q = stats.multivariate_normal(mean=[0, 0], cov=[[1, 0.5], [0.5, 1]]).cdf([stats.norm.ppf(theta)] * 2)
        expected = (theta * (1 - theta) + 2 * (star - 1) * (q - theta**2)) / (m * n)
        assert binormal_auc_variance(np.array([theta]), m, n)[0] == pytest.approx(expected, rel=1e-4)
    assert binormal_auc_variance(np.array([0.0, 1.0]), m, n).tolist() == [0.0, 0.0]


def test_the_binormal_model_variance_is_the_sampling_variance():
    # the model behind the interval: with the true sizes in place of Newcombe's N*, the
    # formula is the Mann-Whitney AUC's variance across binormal samples (unequal sizes too)
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(11)
    for m, n, theta in ((30, 30, 0.6), (20, 45, 0.9)):
        h = stats.norm.ppf(theta)
        q = stats.multivariate_normal(mean=[0, 0], cov=[[1, 0.5], [0.5, 1]]).cdf([h, h])
        exact = (theta * (1 - theta) + (m + n - 2) * (q - theta**2)) / (m * n)
        x, y = rng.normal(math.sqrt(2) * h, 1, (20000, m)), rng.normal(0, 1, (20000, n))
        assert mann_whitney_auc(x, y).var() == pytest.approx(exact, rel=0.05)
        # N* = (m + n)/2 - 1 shrinks the covariance term by one count, a few percent here
        assert binormal_auc_variance(np.array([theta]), m, n)[0] < exact


def test_auc_estimate_drops_nans_and_refuses_an_interval_below_four_a_side():
    e = auc([3.0, np.nan, 4.0, 5.0, 6.0], [1.0, 2.0, np.nan, 0.0, 3.5])
    assert e.n == 8 and e.method == "auc_score" and e.ci_low <= e.mean <= e.ci_high
    small = auc([2.0] * (MIN_PER_SIDE - 1), [1.0] * 10)
    assert small.mean == 1.0 and math.isnan(small.ci_low) and math.isnan(small.ci_high)
    empty = auc([], [1.0, 2.0])
    assert math.isnan(empty.mean) and empty.n == 2
    rng = np.random.default_rng(0)
    x, y = rng.normal(1, 1, (3, 20)), rng.normal(0, 1, (3, 20))
    a, lo, hi, _ = auc_bounds(x, y)
    for i in range(3):
        single = auc(x[i], y[i])
        assert (single.mean, single.ci_low, single.ci_high) == pytest.approx((a[i], lo[i], hi[i]))


def test_roc_curve_area_is_the_auc_and_matches_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(4)
    x, y = rng.integers(0, 8, 30).astype(float), rng.integers(0, 6, 45).astype(float)
    fpr, tpr = roc_curve(x, y)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2) == pytest.approx(_pairs(x, y), abs=1e-12)
    s_fpr, s_tpr, _ = metrics.roc_curve(np.r_[np.ones(30), np.zeros(45)], np.r_[x, y], drop_intermediate=False)
    assert fpr == pytest.approx(s_fpr) and tpr == pytest.approx(s_tpr)


def test_tpr_at_fpr_is_exact_on_a_constructed_input():
    nonmembers = np.arange(199.0)               # 0 .. 198; j = floor(0.01 * 200) = 2: threshold 197
    members = np.r_[np.arange(120.0), 197.0, np.arange(300.0, 329.0)]  # 29 above 197, one tied
    r = tpr_at_fpr(members, nonmembers, 0.01, n_boot=300)
    assert r.resolvable and r.threshold == 197.0
    assert r.tpr.mean == pytest.approx(29 / 150)
    assert r.fpr == pytest.approx(1 / 199) and r.expected_fpr == pytest.approx(2 / 200)
    assert r.tpr.ci_low <= r.tpr.mean <= r.tpr.ci_high and r.tpr.n == 349
    assert "TPR at 1% FPR: 19% [" in r.text()


def test_tpr_at_fpr_equals_the_best_roc_point_at_its_empirical_fpr():
    rng = np.random.default_rng(8)
    for n0 in (99, 150, 400, 1000):
        x, y = rng.normal(1.5, 1, 300).round(1), rng.normal(0, 1, n0).round(1)  # ties across sides
        r = tpr_at_fpr(x, y, 0.01, n_boot=50)
        fpr, tpr = roc_curve(x, y)
        j = threshold_rank(n0, 0.01)
        assert j >= 1 and r.expected_fpr == pytest.approx(j / (n0 + 1)) and r.expected_fpr <= 0.01 + 1e-12
        assert r.fpr <= (j - 1) / n0 + 1e-12
        assert r.tpr.mean == pytest.approx(tpr[fpr <= r.fpr + 1e-12].max())


@pytest.mark.parametrize("n0", [20, 50, 98])
def test_tpr_at_one_percent_is_not_resolvable_with_too_few_nonmembers(n0):
    rng = np.random.default_rng(n0)
    x, y = rng.normal(2, 1, 60), rng.normal(0, 1, n0)
    r = tpr_at_fpr(x, y, 0.01, n_boot=200)
    assert not r.resolvable
    assert r.threshold == y.max() and r.fpr == 0.0
    assert r.expected_fpr == pytest.approx(1 / (n0 + 1)) and r.expected_fpr > 0.01
    assert r.tpr.mean == pytest.approx(np.mean(x > y.max()))
    text = r.text()
    assert "not resolvable" in text and f"{1 / (n0 + 1):.1%}" in text
    assert tpr_at_fpr(x, np.r_[y, rng.normal(0, 1, 99 - n0)], 0.01, n_boot=10).resolvable  # 99: j = 1


def test_tpr_interval_is_never_zero_width_and_is_seeded():
    r = tpr_at_fpr([5.0] * 30, np.linspace(0, 1, 300), 0.01, n_boot=200)
    assert r.tpr.mean == 1.0 and r.tpr.ci_high == 1.0 and r.tpr.ci_low < 0.95  # Wilson's 30/30
    zero = tpr_at_fpr([-5.0] * 30, np.linspace(0, 1, 300), 0.01, n_boot=200)
    assert zero.tpr.mean == 0.0 and zero.tpr.ci_high > 0.05
    rng = np.random.default_rng(1)
    x, y = rng.normal(1, 1, 200), rng.normal(0, 1, 200)
    assert tpr_at_fpr(x, y, seed=3).tpr == tpr_at_fpr(x, y, seed=3).tpr
    empty = tpr_at_fpr([], y)
    assert math.isnan(empty.tpr.mean) and "n/a" in empty.text()
    with pytest.raises(ValueError):
        tpr_at_fpr(x, y, 0.0)
