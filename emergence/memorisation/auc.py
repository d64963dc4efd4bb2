"""AUC of member vs non-member scores (Mann-Whitney, ties half) with a score interval that
keeps its coverage from 8 + 8 to thousands a side.

    >>> from emergence.memorisation.auc import auc
    >>> auc([3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]).short()
    '0.72 [0.43, 0.89]'
    >>> e = auc([2.0] * 8, [1.0] * 8)              # every member above every non-member
    >>> e.mean, e.ci_high, round(e.ci_low, 2)
    (1.0, 1.0, 0.78)

Why this interval (coverage table: benchmarks/README.md): DeLong's variance with a
logit interval is undefined when the AUC is 1 (43% of 8 + 8 samples at AUC 0.97),
over-covers at 8 a side (0.97-0.98) and under-covers at 50 a side and AUC 0.97
(0.90-0.94): DeLong's variance shrinks exactly when the estimate overshoots. So the
interval is a score interval (Newcombe 2006, method 5): the set of AUCs theta with
``(A - theta)^2 <= z^2 V(theta)``, V evaluated at each candidate theta rather than at the
estimate A, which keeps it non-degenerate at A = 1. V is the binormal model's variance of
the Mann-Whitney estimate with Newcombe's ``N* = (m + n)/2 - 1`` for both sizes,

    V(theta) = [theta (1 - theta) + 2 (N* - 1) (Q(theta) - theta^2)] / (m n),
    Q(theta) = P(X1 > Y, X2 > Y) = Phi2(h, h; 1/2),  h = Phi^-1(theta),

scaled up to DeLong's empirical variance where the data are more dispersed than the
model (unequal variances, heavy tails): ``V(theta) * max(1, V_DeLong / V(A))``.
Newcombe's own exponential-model variance over-covered the binormal case at 200 a side
and AUC 0.97 (0.986); this one covered 0.940-0.969 on binormal, unequal-variance and
exponential scores at 8-200 a side and AUC 0.5-0.97 (exactly 0.968 for identical laws at
8 + 8). Keep the sides balanced: at 50 + 2,000 and AUC 0.97 on non-binormal scores it
covered 0.88-0.90 (the 50 members' placements carry the variance and are too few to
estimate it).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np

from emergence.stats import Estimate
from emergence.stats.estimate import _z

__all__ = ["MIN_PER_SIDE", "auc", "auc_bounds", "binormal_auc_variance", "mann_whitney_auc", "placements"]

_NORMAL = NormalDist()
# Owen's T(h, 1/sqrt(3)) by Gauss-Legendre quadrature: the integrand is smooth on a short
# interval, 16 nodes reach 1e-13 relative error for |h| <= 9 (tests compare with scipy)
_A = 1.0 / math.sqrt(3.0)
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(16)
_X = (_NODES + 1.0) * _A / 2.0
_W = _WEIGHTS * _A / 2.0 / (2.0 * math.pi)
_H_MAX = 9.0  # Phi(9) = 1 - 1e-19: the bisection's bracket in h
_BISECT = 32  # h to 18 / 2^32 < 5e-9, theta to < 2e-9
# Fewer scores a side than this get no interval: with 3 + 3 identical distributions the
# extreme outcomes alone (1/20 each) exclude 0.5, and the interval covers 0.90 (2 + 2: 0.67)
MIN_PER_SIDE = 4


def _phi_upper(h: np.ndarray) -> np.ndarray:
    """1 - Phi(h), exact in the tail (erfc)."""
    return 0.5 * np.frompyfunc(math.erfc, 1, 1)(np.asarray(h, dtype=float) / math.sqrt(2.0)).astype(float)


def _owens_t(h: np.ndarray) -> np.ndarray:
    """Owen's T(h, 1/sqrt(3)): Phi2(h, h; 1/2) = Phi(h) - 2 T(h, 1/sqrt(3)) (Owen 1956)."""
    h = np.asarray(h, dtype=float)
    return np.exp(-0.5 * h[..., None] ** 2 * (1.0 + _X**2)) / (1.0 + _X**2) @ _W


def binormal_auc_variance(theta: np.ndarray, m: int, n: int) -> np.ndarray:
    """Variance of the Mann-Whitney AUC at true AUC ``theta`` under the equal-variance binormal
    model, Newcombe's N* = (m + n)/2 - 1 in place of both sample sizes (see module docstring).

    Q - theta^2 is computed as P(both below) - (1 - theta)^2 above 1/2, where it is a small
    difference of small numbers rather than of numbers near 1."""
    theta = np.clip(np.asarray(theta, dtype=float), 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.array([_NORMAL.inv_cdf(t) if 0.0 < t < 1.0 else math.copysign(math.inf, t - 0.5)
                      for t in theta.ravel()]).reshape(theta.shape)
    return _variance_at_h(h, m, n)


def _variance_at_h(h: np.ndarray, m: int, n: int) -> np.ndarray:
    hc = np.clip(h, -_H_MAX, _H_MAX)
    tail = _phi_upper(np.abs(hc))   # the smaller of theta and 1 - theta, exact
    upper = np.where(hc >= 0, tail, 1.0 - tail)   # 1 - theta
    lower = np.where(hc >= 0, 1.0 - tail, tail)   # theta
    t = _owens_t(np.abs(hc))
    # Phi2(h, h; 1/2) = Phi(h) - 2 T(h, 1/sqrt 3); P(both below) = Phi2(-h, -h; 1/2)
    cov = np.where(hc >= 0, (upper - 2.0 * t) - upper**2, (lower - 2.0 * t) - lower**2)
    star = (m + n) / 2.0 - 1.0
    var = (lower * upper + 2.0 * (star - 1.0) * np.maximum(cov, 0.0)) / (m * n)
    return np.where(np.isinf(h), 0.0, np.maximum(var, 0.0))


# --------------------------------------------------------------------------- ranks and placements
def _midranks(values: np.ndarray) -> np.ndarray:
    """Midranks (1-based, ties share their mean rank) along the last axis."""
    order = np.argsort(values, axis=-1, kind="stable")
    s = np.take_along_axis(values, order, axis=-1)
    n = s.shape[-1]
    pos = np.broadcast_to(np.arange(n), s.shape)
    new = np.ones(s.shape, dtype=bool)
    new[..., 1:] = s[..., 1:] != s[..., :-1]
    last = np.ones(s.shape, dtype=bool)
    last[..., :-1] = new[..., 1:]
    start = np.maximum.accumulate(np.where(new, pos, 0), axis=-1)
    end = np.flip(np.minimum.accumulate(np.flip(np.where(last, pos, n), axis=-1), axis=-1), axis=-1)
    ranks = np.empty(s.shape)
    np.put_along_axis(ranks, order, (start + end) / 2.0 + 1.0, axis=-1)
    return ranks


def placements(members: np.ndarray, nonmembers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's placement values along the last axis: for each member the share of non-members
    below it (ties half), for each non-member the share of members above it (ties half).
    Their means are both the AUC."""
    x = np.asarray(members, dtype=float)
    y = np.asarray(nonmembers, dtype=float)
    m, n = x.shape[-1], y.shape[-1]
    both = _midranks(np.concatenate([x, y], axis=-1))
    v10 = (both[..., :m] - _midranks(x)) / n
    v01 = 1.0 - (both[..., m:] - _midranks(y)) / m
    return v10, v01


def mann_whitney_auc(members: Sequence[float] | np.ndarray, nonmembers: Sequence[float] | np.ndarray) -> np.ndarray:
    """P(member score > non-member score) + P(equal) / 2 along the last axis."""
    v10, _ = placements(np.asarray(members, dtype=float), np.asarray(nonmembers, dtype=float))
    return v10.mean(axis=-1)


# --------------------------------------------------------------------------- the interval
def auc_bounds(
    members: np.ndarray, nonmembers: np.ndarray, alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(auc, low, high, se) for each row of ``members`` (rows x m) and ``nonmembers`` (rows x n).

    No NaNs (the caller drops them); at least one score a side; with fewer than
    ``MIN_PER_SIDE`` on a side the bounds and se are NaN. ``se`` is the square root of the
    variance the interval uses at the estimate. One call computes a simulation's
    thousands of intervals with the same code as :func:`auc`."""
    x = np.atleast_2d(np.asarray(members, dtype=float))
    y = np.atleast_2d(np.asarray(nonmembers, dtype=float))
    m, n = x.shape[-1], y.shape[-1]
    if m == 0 or n == 0:
        raise ValueError("auc_bounds needs at least one score on each side")
    z = _z(alpha)
    v10, v01 = placements(x, y)
    a = v10.mean(axis=-1)
    if min(m, n) < MIN_PER_SIDE:
        nan = np.full(a.shape, math.nan)
        return a, nan, nan, nan
    delong = (v10.var(axis=-1, ddof=1) if m > 1 else 0.0) / m + (v01.var(axis=-1, ddof=1) if n > 1 else 0.0) / n
    h_hat = np.array([_NORMAL.inv_cdf(t) if 0.0 < t < 1.0 else math.copysign(_H_MAX, t - 0.5) for t in a])
    at_hat = _variance_at_h(h_hat, m, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(at_hat > 0, np.maximum(1.0, delong / at_hat), 1.0)

    def outside(h: np.ndarray) -> np.ndarray:  # theta(h) lies outside the score interval
        theta = _phi_upper(-h)
        return (a - theta) ** 2 > z * z * scale * _variance_at_h(h, m, n)

    # lower end: theta in [0, A], outside at h = -H_MAX (unless A = 0), inside at h_hat
    lo_out, lo_in = np.full(a.shape, -_H_MAX), h_hat.copy()
    hi_in, hi_out = h_hat.copy(), np.full(a.shape, _H_MAX)
    for _ in range(_BISECT):
        mid = (lo_out + lo_in) / 2.0
        out = outside(mid)
        lo_out, lo_in = np.where(out, mid, lo_out), np.where(out, lo_in, mid)
        mid = (hi_in + hi_out) / 2.0
        out = outside(mid)
        hi_out, hi_in = np.where(out, mid, hi_out), np.where(out, hi_in, mid)
    low = np.where(a <= 0.0, 0.0, _phi_upper(-(lo_out + lo_in) / 2.0))
    high = np.where(a >= 1.0, 1.0, _phi_upper(-(hi_in + hi_out) / 2.0))
    return a, np.minimum(low, a), np.maximum(high, a), np.sqrt(scale * at_hat)


def auc(
    members: Sequence[float] | np.ndarray, nonmembers: Sequence[float] | np.ndarray, *, alpha: float = 0.05
) -> Estimate:
    """AUC of ``members`` against ``nonmembers`` (higher score = more likely a member): the
    Mann-Whitney estimate with ties counted half, and its score interval (module docstring).

    NaNs are dropped; ``n`` counts both sides. With no score on a side the AUC is undefined
    (NaN); with fewer than ``MIN_PER_SIDE`` (4) on a side it has no interval (NaN bounds)."""
    x = np.asarray(members, dtype=float).ravel()
    y = np.asarray(nonmembers, dtype=float).ravel()
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    if x.size == 0 or y.size == 0:
        _z(alpha)
        return Estimate(mean=math.nan, se=math.nan, ci_low=math.nan, ci_high=math.nan, n=int(x.size + y.size),
                        method="auc_score", confidence=1 - alpha)
    a, lo, hi, se = (float(v[0]) for v in auc_bounds(x[None], y[None], alpha))
    return Estimate(mean=a, se=se, ci_low=lo, ci_high=hi, n=int(x.size + y.size), method="auc_score",
                    confidence=1 - alpha)
