"""Coverage of the membership AUC interval by simulation (seeded, vectorised), and the
separable / identical constructions the canary and negative controls rest on.

The defects pinned: DeLong's logit interval is undefined at AUC 1 (43% of 8 + 8 samples at
AUC 0.97) and under-covers at 50 a side and AUC 0.97 (0.90-0.94); a Wald interval covers
0.46-0.57 at 8 a side and AUC 0.97. Every cell here must cover within [0.93, 0.97], with
neither end missing more than 0.05 (benchmarks/README.md has the table for all three shapes).
"""
from __future__ import annotations

import itertools
import math
from statistics import NormalDist

import numpy as np
import pytest

from emergence.memorisation import auc, auc_bounds, covers_chance

DRAWS = 2000
SMALL_DRAWS = 8000  # at <= 20 a side: cheap, and the cells sit at 0.95-0.962 (100,000 draws)
SIZES = (8, 20, 50, 200)
AUCS = (0.5, 0.7, 0.9, 0.97)
LOW, HIGH = 0.93, 0.97
_N = NormalDist()


def scores(rng: np.random.Generator, shape: str, true_auc: float, m: int, n: int, draws: int
           ) -> tuple[np.ndarray, np.ndarray]:
    """(members draws x m, non-members draws x n) whose AUC is ``true_auc``.

    binormal: N(d, 1) vs N(0, 1); unequal: N(d, 2) vs N(0, 1) (members more dispersed, as
    memorised records' scores are); exponential: Exp(rate) vs Exp(1), P(X > Y) = 1/(1 + rate)
    (Lehmann alternatives, skewed scores)."""
    y = rng.standard_normal((draws, n))
    if shape == "binormal":
        return rng.normal(math.sqrt(2.0) * _N.inv_cdf(true_auc), 1.0, (draws, m)), y
    if shape == "unequal":
        return rng.normal(math.sqrt(5.0) * _N.inv_cdf(true_auc), 2.0, (draws, m)), y
    if shape == "exponential":
        rate = 1.0 / true_auc - 1.0
        return rng.exponential(1.0 / rate, (draws, m)), rng.exponential(1.0, (draws, n))
    raise ValueError(shape)


def coverage(lo: np.ndarray, hi: np.ndarray, truth: float) -> tuple[float, float, float]:
    """(coverage, share with low > truth, share with high < truth)."""
    return (float(np.mean((lo <= truth) & (truth <= hi))), float(np.mean(lo > truth)), float(np.mean(hi < truth)))


# 8 a side at AUC 0.5 is enumerated exactly below (0.9683: a simulation would sit on the edge)
@pytest.mark.parametrize("n,true_auc", [(n, a) for n in SIZES for a in AUCS if (n, a) != (8, 0.5)])
def test_auc_interval_covers_on_binormal_scores(n, true_auc):
    rng = np.random.default_rng(1000 * n + round(true_auc * 100))
    x, y = scores(rng, "binormal", true_auc, n, n, SMALL_DRAWS if n <= 20 else DRAWS)
    a, lo, hi, se = auc_bounds(x, y)
    assert not np.isnan(lo).any() and not np.isnan(hi).any()
    assert np.all((lo <= a) & (a <= hi)) and np.all((0 <= lo) & (hi <= 1))
    cover, miss_low, miss_high = coverage(lo, hi, true_auc)
    assert LOW <= cover <= HIGH, (cover, miss_low, miss_high)
    assert max(miss_low, miss_high) <= 0.05, (cover, miss_low, miss_high)


@pytest.mark.parametrize("shape", ["unequal", "exponential"])
@pytest.mark.parametrize("n,true_auc", [(8, 0.97), (20, 0.9), (50, 0.97), (200, 0.97)])
def test_auc_interval_covers_other_shapes_where_delong_fails(shape, n, true_auc):
    rng = np.random.default_rng(7 * n + round(true_auc * 100) + len(shape))
    x, y = scores(rng, shape, true_auc, n, n, SMALL_DRAWS if n <= 20 else DRAWS)
    _, lo, hi, _ = auc_bounds(x, y)
    cover, miss_low, miss_high = coverage(lo, hi, true_auc)
    assert LOW <= cover <= HIGH, (cover, miss_low, miss_high)
    assert max(miss_low, miss_high) <= 0.055, (cover, miss_low, miss_high)


@pytest.mark.parametrize("m,n", [(8, 200), (200, 8), (50, 2000)])
def test_auc_interval_covers_with_unequal_sizes(m, n):
    rng = np.random.default_rng(m + 3 * n)
    for true_auc in (0.5, 0.9):
        x, y = scores(rng, "binormal", true_auc, m, n, 1000 if n == 2000 else DRAWS)
        _, lo, hi, _ = auc_bounds(x, y)
        cover, *_ = coverage(lo, hi, true_auc)
        assert LOW - 0.01 <= cover <= HIGH + 0.01, (true_auc, cover)


def test_separable_scores_give_auc_one_with_interval_above_095_at_50():
    rng = np.random.default_rng(5)
    members = rng.uniform(1.0, 2.0, 50)
    nonmembers = rng.uniform(-1.0, 0.99, 50)
    e = auc(members, nonmembers)
    assert e.mean == 1.0 and e.ci_high == 1.0
    assert e.ci_low > 0.95, e
    assert not covers_chance(e)


def _all_rankings(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Every split of ranks 0 .. 2n-1 into n members and n non-members: under identical
    continuous distributions each is equally likely, and the interval reads only ranks."""
    splits = list(itertools.combinations(range(2 * n), n))
    x = np.array(splits, dtype=float)
    y = np.array([sorted(set(range(2 * n)) - set(c)) for c in splits], dtype=float)
    return x, y


def test_identical_distributions_cover_chance_exactly_at_8_a_side():
    # the negative control's case, enumerated: all C(16, 8) = 12,870 rankings
    _, lo, hi, _ = auc_bounds(*_all_rankings(8))
    rate = np.mean((lo <= 0.5) & (0.5 <= hi))
    assert rate == pytest.approx(0.9683, abs=1e-4)  # 12,462 of 12,870
    assert np.sum(lo > 0.5) == np.sum(hi < 0.5) == 204  # symmetric: each end misses 1.6%


def test_identical_distributions_cover_chance_at_the_stated_rate():
    rng = np.random.default_rng(6)
    for n in (20, 50, 200):
        x, y = rng.standard_normal((DRAWS, n)), rng.standard_normal((DRAWS, n))
        _, lo, hi, _ = auc_bounds(x, y)
        rate = np.mean((lo <= 0.5) & (0.5 <= hi))
        assert LOW <= rate <= HIGH, (n, rate)
    e = auc(x[0], y[0])
    assert covers_chance(e) == (e.ci_low <= 0.5 <= e.ci_high)
