"""Simultaneous coverage of the curve's max-t band, and the false-onset rate it buys, by simulation (seeded).

Defects pinned: a band that covers every step's true change less (or much more) often
than 95% at 4-8 steps and n = 50-200; pointwise intervals passed off as a band (they miss
some step in 10-18% of curves); a band no narrower than Bonferroni's on correlated steps;
an onset rule that, on a curve sitting at the threshold, finds a false onset more often
than alpha/2. Each simulation draws 2,000 curves like the tool's metrics and calls the
production array functions on all of them at once (emergence.curve.bands).

The band covers step k iff |t_k(true change)| <= its critical value, since the band is
{delta : |t_k(delta)| <= c} (tests/test_curve.py checks the band's ends against the same
statistic), so coverage is read off the pivots without solving for the ends.
"""
from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest
import simdata as sd

from emergence.curve.bands import max_t_critical, pivots

DRAWS = 2000
LOW, HIGH = 0.93, 0.97
Z = NormalDist().inv_cdf(0.975)


def _share_switched(k: int, low: float, high: float) -> np.ndarray:
    return np.linspace(low, high, k)


def expected_errors(rng, k, n):
    """Expected error over bands: step k = (1 - w_k) base + w_k final + N(0, 0.5), w_k from 0.2 to 1,
    base and final 10 Beta(., 4) sharing a gamma: steps correlated through each item; truth w_k (E final - E base)."""
    base, final, truth = sd.paired_expected_errors(rng, (DRAWS, n))
    w = _share_switched(k, 0.2, 1.0)[None, :, None]
    values = (1 - w) * base[:, None, :] + w * final[:, None, :] + rng.normal(0.0, 0.5, (DRAWS, k, n))
    return base, values, w[0, :, 0] * truth


def absolute_errors(rng, k, n):
    """Absolute errors in years: an item switches from its base answer to its tuned one at a random step
    (30% by the first, 60% by the last) and keeps it: zero-inflated, skewed differences."""
    base = sd.abs_errors(rng, sd.ABS_BASE, (DRAWS, n))
    tuned = sd.abs_errors(rng, sd.ABS_TUNED, (DRAWS, n))
    p = _share_switched(k, 0.3, 0.6)
    switched = rng.random((DRAWS, 1, n)) < p[None, :, None]
    truth = p * (sd.pmf_mean(sd.ABS_TUNED) - sd.pmf_mean(sd.ABS_BASE))
    return base, np.where(switched, tuned[:, None, :], base[:, None, :]), truth


def within_2y(rng, k, n):
    """0/1: an item switches from its base outcome (rate 0.3) to an independent final one (0.5) at a
    random step (20% by the first, all by the last)."""
    base = (rng.random((DRAWS, n)) < 0.3).astype(float)
    final = (rng.random((DRAWS, n)) < 0.5).astype(float)
    p = _share_switched(k, 0.2, 1.0)
    switched = rng.random((DRAWS, 1, n)) < p[None, :, None]
    return base, np.where(switched, final[:, None, :], base[:, None, :]), p * 0.2


CASES = [(expected_errors, "continuous", 4, 50), (expected_errors, "continuous", 8, 200),
         (absolute_errors, "continuous", 6, 100), (within_2y, "binary", 4, 200), (within_2y, "binary", 8, 50)]


@pytest.mark.parametrize("dgp,kind,k,n", CASES, ids=[f"{c[0].__name__}-K{c[2]}-n{c[3]}" for c in CASES])
def test_max_t_band_covers_every_step_at_once(dgp, kind, k, n):
    rng = np.random.default_rng(10 * k + n)
    base, values, truth = dgp(rng, k, n)
    c, q = max_t_critical(base, values, kind=kind, n_boot=999, rng=rng)
    t = np.abs(pivots(base, values, truth, kind))
    if kind == "binary":  # the pointwise interval is Tango's at z; the band never goes below it
        q = np.full_like(q, Z)
        c = np.fmax(c, Z)
    defined = np.isfinite(c) & np.all(np.isfinite(q) & ~np.isnan(t), axis=1)
    assert defined.mean() >= 0.99
    t, c, q = t[defined], c[defined], q[defined]
    band = np.mean(np.all(t <= c[:, None], axis=1))
    pointwise = np.mean(np.all(t <= q, axis=1))
    assert LOW <= band <= HIGH, (band, pointwise)
    assert pointwise < LOW, pointwise  # the steps' own intervals are not a band
    if k == 8:  # correlated steps: max-t is narrower than Bonferroni's z_{1 - alpha / 2K}
        assert np.median(c) < 0.95 * NormalDist().inv_cdf(1 - 0.025 / k)


def flat_expected_errors(rng, k, n):
    """Every step sits at the same change from base (the least favourable null for an onset): an
    item's tuned value plus fresh N(0, 1.5) per step."""
    base, final, truth = sd.paired_expected_errors(rng, (DRAWS, n))
    return base, final[:, None, :] + rng.normal(0.0, 1.5, (DRAWS, k, n)), truth


def flat_within_2y(rng, k, n):
    """0/1, every step at rate 0.5 against a base rate 0.3: an item keeps its tuned outcome at a step
    with probability 0.6, else draws afresh."""
    base = (rng.random((DRAWS, n)) < 0.3).astype(float)
    final = (rng.random((DRAWS, n)) < 0.5).astype(float)
    fresh = (rng.random((DRAWS, k, n)) < 0.5).astype(float)
    return base, np.where(rng.random((DRAWS, k, n)) < 0.6, final[:, None, :], fresh), 0.2


@pytest.mark.parametrize("dgp,kind,k,n", [(flat_expected_errors, "continuous", 6, 100),
                                         (flat_within_2y, "binary", 8, 50)])
def test_false_onset_at_the_threshold_is_held_at_half_alpha_by_the_band_not_by_pointwise(dgp, kind, k, n):
    rng = np.random.default_rng(7 * k + n)
    base, values, truth = dgp(rng, k, n)
    c, q = max_t_critical(base, values, kind=kind, n_boot=999, rng=rng)
    if kind == "binary":
        q = np.full_like(q, Z)
    # min_effect = |truth| in the better direction: an onset is a band end beyond the truth,
    # i.e. the step's statistic at the threshold beyond the critical value (signed toward better)
    better = np.sign(truth)
    t = better * pivots(base, values, truth, kind)
    simultaneous = np.mean(np.any(t > np.fmax(c[:, None], q), axis=1))
    pointwise = np.mean(np.any(t > q, axis=1))
    assert simultaneous <= 0.035, simultaneous
    assert pointwise >= 2 * simultaneous and pointwise > 0.05, (pointwise, simultaneous)
