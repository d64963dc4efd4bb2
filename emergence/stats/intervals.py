"""Intervals that keep their coverage at small n: score intervals for 0/1 data, bootstrap-t for the rest.

    >>> from emergence.stats.intervals import interval
    >>> interval([0.0] * 10, [0.0] * 10, design="paired").short(signed=True)
    '+0.00 [-0.28, +0.28]'
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from emergence.stats.estimate import (Design, Estimate, Kind, Method, _clean, _empty,
                                      _estimate, _pairs, _z, is_binary)

__all__ = ["interval", "newcombe_bounds", "newcombe_paired_bounds", "studentized_bounds", "studentized_diff_bounds",
           "tango_bounds", "tango_score", "wilson_bounds", "wilson_ci"]

# Bootstrap index/count matrices are built in chunks of at most this many cells, so a
# large eval set cannot allocate n_boot * n numbers at once.
_MAX_CELLS = 2_000_000
# Rows (samples) bootstrapped with one draw of resampling counts; a simulation of many
# samples gets fresh counts every _ROW_CHUNK rows, so its error does not hang on one draw.
_ROW_CHUNK = 256


# --------------------------------------------------------------------------- score intervals
def wilson_bounds(successes: Any, n: Any, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Wilson's score interval for successes/n, elementwise over arrays (NaN where n = 0).

    Counts may be fractional (expected counts, for planning)."""
    k = np.asarray(successes, dtype=float)
    m = np.asarray(n, dtype=float)
    z = _z(alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / m
        z2n = z * z / m
        centre = (p + z2n / 2.0) / (1.0 + z2n)
        half = z / (1.0 + z2n) * np.sqrt(np.maximum(p * (1.0 - p), 0.0) / m + z * z / (4.0 * m * m))
    return np.maximum(0.0, centre - half), np.minimum(1.0, centre + half)


def newcombe_bounds(k_a: Any, n_a: Any, k_b: Any, n_b: Any, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe's hybrid score interval (1998, method 10) for p_b - p_a, independent samples.

    The square-and-add of each proportion's Wilson distances:
    ``low = d - sqrt((p_b - l_b)^2 + (u_a - p_a)^2)``, ``high = d + sqrt((u_b - p_b)^2 + (p_a - l_a)^2)``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        pa = np.asarray(k_a, dtype=float) / np.asarray(n_a, dtype=float)
        pb = np.asarray(k_b, dtype=float) / np.asarray(n_b, dtype=float)
    la, ua = wilson_bounds(k_a, n_a, alpha)
    lb, ub = wilson_bounds(k_b, n_b, alpha)
    d = pb - pa
    return d - np.sqrt((pb - lb) ** 2 + (ua - pa) ** 2), d + np.sqrt((ub - pb) ** 2 + (pa - la) ** 2)


def newcombe_paired_bounds(n11: Any, n10: Any, n01: Any, n00: Any, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe's paired score interval (1998, method 10) for p_b - p_a.

    ``n10`` counts pairs with a = 1, b = 0, ``n01`` a = 0, b = 1. Wilson distances of the
    two margins combined with the phi correlation of the table, phi clipped as Newcombe
    does: (AD - BC - N/2) when AD - BC > N/2, 0 for 0 <= AD - BC <= N/2, 0 when a margin is 0.
    Kept beside Tango's (what :func:`interval` uses) for the comparison in the benchmark.
    """
    c11, c10, c01, c00 = (np.asarray(v, dtype=float) for v in (n11, n10, n01, n00))
    n = c11 + c10 + c01 + c00
    pa, pb = (c11 + c10) / n, (c11 + c01) / n
    la, ua = wilson_bounds(c11 + c10, n, alpha)
    lb, ub = wilson_bounds(c11 + c01, n, alpha)
    det = c11 * c00 - c10 * c01
    margins = (c11 + c10) * (c01 + c00) * (c11 + c01) * (c10 + c00)
    num = np.where(det > n / 2.0, det - n / 2.0, np.where(det >= 0.0, 0.0, det))
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = np.where(margins > 0, num / np.sqrt(margins), 0.0)
    d = pb - pa
    low = d - np.sqrt(np.maximum((pb - lb) ** 2 - 2 * phi * (pb - lb) * (ua - pa) + (ua - pa) ** 2, 0.0))
    high = d + np.sqrt(np.maximum((ub - pb) ** 2 - 2 * phi * (ub - pb) * (pa - la) + (pa - la) ** 2, 0.0))
    return low, high


def tango_score(delta: Any, n10: Any, n01: Any, n: Any) -> np.ndarray:
    """Tango's (1998) score statistic for a paired difference p_b - p_a = delta.

    ``(n01 - n10 - n delta) / sqrt(n (2 q + delta (1 - delta)))``, q the maximum-likelihood
    estimate of P(a = 1, b = 0) under delta (closed form); 0 where it is 0/0 (no
    discordant pairs at delta = 0). Decreasing in delta; the interval is |score| <= z.
    """
    d = np.asarray(delta, dtype=float)
    b, c, m = (np.asarray(v, dtype=float) for v in (n01, n10, n))
    qa = 2.0 * m
    qb = -b - c + (2.0 * m - b + c) * d
    qc = -c * d * (1.0 - d)
    q = (np.sqrt(np.maximum(qb * qb - 4.0 * qa * qc, 0.0)) - qb) / (2.0 * qa)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (b - c - m * d) / np.sqrt(m * (2.0 * q + d * (1.0 - d)))
    return np.where(np.isnan(t), 0.0, t)


def tango_bounds(n10: Any, n01: Any, n: Any, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Tango's score interval for a paired difference p_b - p_a = (n01 - n10) / n.

    Solves score(delta) = +z (low) and -z (high) by bisection on (-1, 1), elementwise;
    concordant pairs enter only through n. NaN where n = 0.
    """
    z = _z(alpha)
    shape = np.broadcast(np.asarray(n10), np.asarray(n01), np.asarray(n)).shape

    def solve(target: float) -> np.ndarray:
        lo, hi = np.full(shape, -1.0), np.full(shape, 1.0)
        for _ in range(60):  # 2 / 2**60 is below float resolution
            mid = (lo + hi) / 2.0
            right = tango_score(mid, n10, n01, n) > target
            lo, hi = np.where(right, mid, lo), np.where(right, hi, mid)
        return (lo + hi) / 2.0

    empty = np.asarray(n, dtype=float) <= 0
    return np.where(empty, np.nan, solve(z)), np.where(empty, np.nan, solve(-z))


# --------------------------------------------------------------------------- bootstrap-t
def _counts(rng: np.random.Generator, rows: int, n: int) -> np.ndarray:
    """rows x n resampling counts (how often each item is drawn in n draws with replacement)."""
    idx = rng.integers(0, n, size=(rows, n)) + (np.arange(rows) * n)[:, None]
    return np.bincount(idx.ravel(), minlength=rows * n).reshape(rows, n).astype(float)


def _boot_moments(centred: np.ndarray, n_boot: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """For rows of centred samples: each resample's mean and variance (ddof=1), (rows, n_boot)."""
    rows, n = centred.shape
    means = np.empty((rows, n_boot))
    var = np.empty((rows, n_boot))
    step = max(1, _MAX_CELLS // n)
    sq = centred * centred
    for start in range(0, n_boot, step):
        w = _counts(rng, min(step, n_boot - start), n).T / n
        m1 = centred @ w
        means[:, start:start + w.shape[1]] = m1
        var[:, start:start + w.shape[1]] = np.maximum(sq @ w - m1 * m1, 0.0) * n / (n - 1)
    return means, var


def _t_ratio(dev: np.ndarray, var: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """dev / sqrt(var); a resample with no spread (var ~ 0) gives +-inf (or 0 when dev ~ 0)."""
    tiny = 1e-12 * scale[:, None]
    flat = var <= tiny
    with np.errstate(divide="ignore", invalid="ignore"):
        t = dev / np.sqrt(np.where(flat, 1.0, var))
    close = np.abs(dev) <= np.sqrt(tiny)
    return np.where(flat, np.where(close, 0.0, np.copysign(np.inf, dev)), t)


def _order_stat(sorted_rows: np.ndarray, q: float, upper: bool) -> np.ndarray:
    b = sorted_rows.shape[1]
    k = math.ceil((b + 1) * q) if upper else math.floor((b + 1) * q)
    return sorted_rows[:, min(max(k, 1), b) - 1]


def studentized_bounds(
    x: Any, alpha: float = 0.05, n_boot: int = 2000, rng: np.random.Generator | int | None = 0, *, symmetric: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap-t interval for the mean of each row of ``x`` (rows x n, no NaNs).

    t* = (mean* - mean) / se* over ``n_boot`` resamples; equal-tailed:
    [mean - t*_{1-a/2} se, mean - t*_{a/2} se]; symmetric: mean -+ |t*|_{1-a} se (Hall 1988).
    NaN for a row with no spread, n < 2, or an infinite t* quantile (more than alpha of
    the resamples without spread: too few distinct values to bound the mean).
    """
    x = np.atleast_2d(np.asarray(x, dtype=float))
    rng = np.random.default_rng(rng)
    rows, n = x.shape
    low, high = np.full(rows, np.nan), np.full(rows, np.nan)
    if n < 2:
        return low, high
    for r0 in range(0, rows, _ROW_CHUNK):
        block = x[r0:r0 + _ROW_CHUNK]
        mean = block.mean(axis=1)
        centred = block - mean[:, None]
        var = (centred * centred).sum(axis=1) / (n - 1)
        se = np.sqrt(var / n)
        bmean, bvar = _boot_moments(centred, n_boot, rng)
        t = _t_ratio(bmean, bvar / n, var / n)
        if symmetric:
            q = _order_stat(np.sort(np.abs(t), axis=1), 1.0 - alpha, upper=True)
            lo, hi = mean - q * se, mean + q * se
        else:
            ts = np.sort(t, axis=1)
            lo = mean - _order_stat(ts, 1.0 - alpha / 2.0, upper=True) * se
            hi = mean - _order_stat(ts, alpha / 2.0, upper=False) * se
        ok = (var > 0) & np.isfinite(lo) & np.isfinite(hi)
        low[r0:r0 + len(block)] = np.where(ok, lo, np.nan)
        high[r0:r0 + len(block)] = np.where(ok, hi, np.nan)
    return low, high


def studentized_diff_bounds(
    x: Any, y: Any, alpha: float = 0.05, n_boot: int = 2000, rng: np.random.Generator | int | None = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric bootstrap-t interval for mean(y) - mean(x), independent samples, row by row.

    Each side is resampled on its own; se = sqrt(s_x^2/n_x + s_y^2/n_y) and the same for
    each resample. NaN as in :func:`studentized_bounds` (both sides without spread, a side
    with fewer than 2 values, an infinite |t*| quantile).
    """
    x = np.atleast_2d(np.asarray(x, dtype=float))
    y = np.atleast_2d(np.asarray(y, dtype=float))
    rng = np.random.default_rng(rng)
    rows, nx = x.shape
    ny = y.shape[1]
    if y.shape[0] != rows:
        raise ValueError(f"x and y need the same number of rows, got {rows} and {y.shape[0]}")
    low, high = np.full(rows, np.nan), np.full(rows, np.nan)
    if nx < 2 or ny < 2:
        return low, high
    for r0 in range(0, rows, _ROW_CHUNK):
        bx, by = x[r0:r0 + _ROW_CHUNK], y[r0:r0 + _ROW_CHUNK]
        mx, my = bx.mean(axis=1), by.mean(axis=1)
        cx, cy = bx - mx[:, None], by - my[:, None]
        v = (cx * cx).sum(axis=1) / (nx - 1) / nx + (cy * cy).sum(axis=1) / (ny - 1) / ny
        xm, xv = _boot_moments(cx, n_boot, rng)
        ym, yv = _boot_moments(cy, n_boot, rng)
        t = _t_ratio(ym - xm, xv / nx + yv / ny, v)
        q = _order_stat(np.sort(np.abs(t), axis=1), 1.0 - alpha, upper=True)
        d, se = my - mx, np.sqrt(v)
        ok = (v > 0) & np.isfinite(q)
        low[r0:r0 + len(bx)] = np.where(ok, d - q * se, np.nan)
        high[r0:r0 + len(bx)] = np.where(ok, d + q * se, np.nan)
    return low, high


# --------------------------------------------------------------------------- one entry point
def interval(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray | None = None,
    *,
    design: Design | None = None,
    kind: Kind | None = None,
    alpha: float = 0.05,
    n_boot: int = 2000,
    seed: int = 0,
) -> Estimate:
    """The mean of ``a`` (one_sample), or of b - a over pairs (paired), or mean(b) - mean(a)
    (unpaired), with the interval that keeps its coverage for the data's kind.

    ``kind`` None: binary when every value is 0 or 1 (pass the metric's kind to be explicit).
    ``design`` defaults to one_sample without ``b`` and must be given with it. For unpaired,
    ``n`` is len(a) + len(b) after NaNs are dropped; for paired, the pairs kept.
    """
    design = design or ("one_sample" if b is None else None)
    if design is None:
        raise ValueError("two samples: say design='paired' or design='unpaired'")
    if (design == "one_sample") != (b is None):
        raise ValueError(f"design {design!r} takes {'one sample' if design == 'one_sample' else 'two samples'}")
    _z(alpha)
    if kind not in (None, "binary", "continuous"):
        raise ValueError(f"kind must be 'binary' or 'continuous', got {kind!r}")
    if design == "paired":
        x, y = _pairs(a, b)
    else:
        x, y = _clean(a), (None if b is None else _clean(b))
    values = x if y is None else np.concatenate([x, y])
    binary = is_binary(values) if kind is None else kind == "binary"
    if binary and values.size and not is_binary(values):
        raise ValueError("kind='binary' needs 0/1 values")
    if design == "one_sample":
        if binary:
            return wilson_ci(int(x.sum()), int(x.size), alpha)
        if x.size < 2:
            return _empty("studentized", alpha, n=int(x.size), mean=float(x.mean()) if x.size else math.nan)
        lo, hi = studentized_bounds(x, alpha, n_boot, seed)
        return _estimate(x.mean(), x.std(ddof=1) / math.sqrt(x.size), lo, hi, x.size, "studentized", alpha)
    if design == "paired":
        n = int(x.size)
        if binary:
            if n == 0:
                return _empty("tango", alpha)
            n10, n01 = int(np.sum((x == 1) & (y == 0))), int(np.sum((x == 0) & (y == 1)))
            d = (n01 - n10) / n
            lo, hi = tango_bounds(n10, n01, n, alpha)
            return _estimate(d, math.sqrt(max((n01 + n10) / n - d * d, 0.0) / n), lo, hi, n, "tango", alpha)
        diff = y - x
        if n < 2:
            return _empty("paired_studentized", alpha, n=n, mean=float(diff.mean()) if n else math.nan)
        lo, hi = studentized_bounds(diff, alpha, n_boot, seed, symmetric=True)
        return _estimate(diff.mean(), diff.std(ddof=1) / math.sqrt(n), lo, hi, n, "paired_studentized", alpha)
    if design != "unpaired":
        raise ValueError(f"unknown design {design!r}")
    n = int(x.size + y.size)
    method: Method = "newcombe" if binary else "unpaired_studentized"
    if x.size == 0 or y.size == 0:
        return _empty(method, alpha, n=n)
    d = float(y.mean() - x.mean())
    if binary:
        pa, pb = x.mean(), y.mean()
        lo, hi = newcombe_bounds(x.sum(), x.size, y.sum(), y.size, alpha)
        return _estimate(d, math.sqrt(pa * (1 - pa) / x.size + pb * (1 - pb) / y.size), lo, hi, n, method, alpha)
    if x.size < 2 or y.size < 2:
        return _empty(method, alpha, n=n, mean=d)
    lo, hi = studentized_diff_bounds(x, y, alpha, n_boot, seed)
    se = math.sqrt(x.var(ddof=1) / x.size + y.var(ddof=1) / y.size)
    return _estimate(d, se, lo, hi, n, method, alpha)


def wilson_ci(successes: int, n: int, alpha: float = 0.05) -> Estimate:
    """Proportion successes/n with the Wilson score interval (no continuity correction).

    The reported se is the plain binomial sqrt(p(1-p)/n); the interval is Wilson's, which
    stays inside [0, 1] and keeps its coverage near 0 and 1 where the normal one fails.
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return _empty("wilson", alpha)
    p = successes / n
    lo, hi = wilson_bounds(successes, n, alpha)
    return _estimate(p, math.sqrt(p * (1.0 - p) / n), lo, hi, n, "wilson", alpha)
