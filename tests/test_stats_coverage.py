"""Coverage of emergence.stats intervals by simulation (seeded) and, for counts, exact enumeration.

The defect pinned: percentile-bootstrap intervals covered 0.70-0.91 at n = 10-16 and were
zero-width on all-equal samples, so "refuted" came out without power. Every interval here
must cover within [0.93, 0.97] at n = 20, 50, 100 on data like the tool's (tests/simdata.py).
Simulations call the production array functions on thousands of samples at once.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import simdata as sd

from emergence.stats import (
    newcombe_bounds,
    studentized_bounds,
    studentized_diff_bounds,
    tango_bounds,
    wilson_bounds,
)

DRAWS = 2000
SIZES = (20, 50, 100)
LOW, HIGH = 0.93, 0.97


def _coverage(lo: np.ndarray, hi: np.ndarray, truth) -> tuple[float, float, float, float]:
    """(coverage among defined intervals, share undefined, share with low > truth, share with high < truth)."""
    truth = np.broadcast_to(np.asarray(truth, dtype=float), lo.shape)
    ok = ~(np.isnan(lo) | np.isnan(hi))
    lo, hi, truth = lo[ok], hi[ok], truth[ok]
    return (float(np.mean((lo <= truth + 1e-12) & (truth - 1e-12 <= hi))), float(1 - ok.mean()),
            float(np.mean(lo > truth + 1e-12)), float(np.mean(hi < truth - 1e-12)))


def _check(result: tuple[float, float, float, float], *, undefined: float = 0.0) -> None:
    cover, undef, miss_low, miss_high = result
    assert LOW <= cover <= HIGH, result
    assert undef <= undefined, result
    # neither end may carry most of the miss: a one-sided decision uses one end
    assert max(miss_low, miss_high) <= 0.05, result


# --------------------------------------------------------------------------- continuous (bootstrap-t)
@pytest.mark.parametrize("n", SIZES)
def test_one_sample_mean_of_skewed_age_errors(n):
    rng = np.random.default_rng(100 + n)
    x = sd.abs_errors(rng, sd.ABS_TUNED, (DRAWS, n))
    _check(_coverage(*studentized_bounds(x, 0.05, 2000, rng), sd.pmf_mean(sd.ABS_TUNED)))


@pytest.mark.parametrize("n", SIZES)
def test_one_sample_mean_of_expected_errors(n):
    rng = np.random.default_rng(200 + n)
    x = sd.expected_errors(rng, (DRAWS, n))
    _check(_coverage(*studentized_bounds(x, 0.05, 2000, rng), 10 * 1.2 / 5.2))


@pytest.mark.parametrize("n", SIZES)
def test_paired_difference_of_age_errors(n):
    rng = np.random.default_rng(300 + n)
    base, tuned, truth = sd.paired_abs_errors(rng, (DRAWS, n))
    # with 40% of answers repeated, a few samples at n = 20 have too few changed items to
    # bound the mean: undefined, never zero-width
    _check(_coverage(*studentized_bounds(tuned - base, 0.05, 2000, rng, symmetric=True), truth), undefined=0.01)


@pytest.mark.parametrize("n", SIZES)
def test_paired_difference_of_expected_errors(n):
    rng = np.random.default_rng(400 + n)
    base, tuned, truth = sd.paired_expected_errors(rng, (DRAWS, n))
    _check(_coverage(*studentized_bounds(tuned - base, 0.05, 2000, rng, symmetric=True), truth))


@pytest.mark.parametrize("n", SIZES)
def test_unpaired_difference_of_age_errors(n):
    rng = np.random.default_rng(500 + n)
    x, y = sd.abs_errors(rng, sd.ABS_BASE, (DRAWS, n)), sd.abs_errors(rng, sd.ABS_TUNED, (DRAWS, n))
    _check(_coverage(*studentized_diff_bounds(x, y, 0.05, 2000, rng), sd.pmf_mean(sd.ABS_TUNED) - sd.pmf_mean(sd.ABS_BASE)))


@pytest.mark.parametrize("n", SIZES)
def test_unpaired_difference_of_expected_errors(n):
    rng = np.random.default_rng(600 + n)
    x, y = sd.expected_errors(rng, (DRAWS, n)), sd.expected_errors(rng, (DRAWS, n), a=0.9)
    _check(_coverage(*studentized_diff_bounds(x, y, 0.05, 2000, rng), 10 * 0.9 / 4.9 - 10 * 1.2 / 5.2))


# --------------------------------------------------------------------------- binary (score intervals)
# A fixed rate makes a count interval's coverage oscillate with n and p (Brown, Cai &
# DasGupta 2001); the simulations draw the rates from the tool's range per sample, and
# the exact tests below bound the worst fixed rate.
@pytest.mark.parametrize("n", SIZES)
def test_wilson_simulated(n):
    rng = np.random.default_rng(700 + n)
    p = rng.uniform(0.1, 0.5, DRAWS)
    k = rng.binomial(n, p)
    _check(_coverage(*wilson_bounds(k, n), p))


@pytest.mark.parametrize("n", SIZES)
def test_tango_paired_simulated(n):
    rng = np.random.default_rng(800 + n)
    psi = rng.uniform(0.1, 0.4, DRAWS)
    effect = rng.uniform(-0.1, 0.1, DRAWS) * psi / 0.4  # |effect| <= discordance
    p10, p01 = (psi - effect) / 2, (psi + effect) / 2
    # the base rate only has to admit the table (p10 <= base, p01 <= 1 - base): Tango's
    # interval depends on the discordant counts and n alone
    base = rng.uniform(np.maximum(0.1, p10), 0.5)
    assert np.all((p10 <= base) & (p01 <= 1 - base))
    counts = rng.multinomial(n, np.stack([p10, p01, 1 - psi], axis=1))
    _check(_coverage(*tango_bounds(counts[:, 0], counts[:, 1], n), effect))


@pytest.mark.parametrize("n", SIZES)
def test_newcombe_unpaired_simulated(n):
    rng = np.random.default_rng(900 + n)
    pa, pb = rng.uniform(0.1, 0.5, DRAWS), rng.uniform(0.1, 0.5, DRAWS)
    _check(_coverage(*newcombe_bounds(rng.binomial(n, pa), n, rng.binomial(n, pb), n), pb - pa))


def _log_factorials(n: int) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n + 1)))])


def _binom_pmf(n: int, p: float) -> np.ndarray:
    lf, k = _log_factorials(n), np.arange(n + 1)
    return np.exp(lf[n] - lf[k] - lf[n - k] + k * math.log(p) + (n - k) * math.log1p(-p))


@pytest.mark.parametrize("n", SIZES)
def test_exact_coverage_never_below_0925_over_the_rate_range(n):
    """Exact coverage (enumerating every outcome) on a grid of fixed rates in the tool's range."""
    k = np.arange(n + 1)
    lo, hi = wilson_bounds(k, n)
    wilson = [float(_binom_pmf(n, p) @ ((lo <= p) & (p <= hi))) for p in np.linspace(0.1, 0.5, 41)]
    ka, kb = np.meshgrid(k, k, indexing="ij")
    lo, hi = newcombe_bounds(ka, n, kb, n)
    grid = np.linspace(0.1, 0.5, 9)
    newcombe = [float(np.sum(np.outer(_binom_pmf(n, pa), _binom_pmf(n, pb)) * ((lo <= pb - pa + 1e-12) & (pb - pa - 1e-12 <= hi))))
                for pa in grid for pb in grid]
    # Tango depends on the discordant counts only: one interval per (n10, n01), weights per setting
    k10, k01 = np.meshgrid(k, k, indexing="ij")
    n10, n01 = k10[k10 + k01 <= n], k01[k10 + k01 <= n]
    lo, hi = tango_bounds(n10, n01, n)
    lf = _log_factorials(n)
    tango = []
    for psi in np.linspace(0.1, 0.4, 7):
        for effect in np.linspace(-0.1, 0.1, 5) * psi / 0.4:
            p10, p01 = (psi - effect) / 2, (psi + effect) / 2
            w = np.exp(lf[n] - lf[n10] - lf[n01] - lf[n - n10 - n01] + n10 * math.log(p10) + n01 * math.log(p01)
                       + (n - n10 - n01) * math.log1p(-psi))
            tango.append(float(w @ ((lo <= effect + 1e-12) & (effect - 1e-12 <= hi))))
    for name, cov in (("wilson", wilson), ("newcombe", newcombe), ("tango", tango)):
        assert min(cov) >= 0.925, (name, n, min(cov))
        assert 0.945 <= float(np.mean(cov)) <= 0.97, (name, n, np.mean(cov))
