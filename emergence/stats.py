"""Intervals that keep their coverage at small n, the minimum detectable effect, and sample sizes.

    >>> from emergence.stats import interval, minimum_detectable_effect, wilson_ci
    >>> str(wilson_ci(42, 100))
    '0.42 ± 0.05 [0.33, 0.52] (n=100)'
    >>> base, tuned = [0.0] * 10, [0.0] * 10
    >>> e = interval(base, tuned, design="paired")
    >>> e.method, e.short(signed=True)
    ('tango', '+0.00 [-0.28, +0.28]')
    >>> round(minimum_detectable_effect(e), 2)
    0.4
    >>> interval([0.0, 1.0, 1.0], [2.0, 3.5, 1.0], design="paired").method
    'paired_studentized'

Why these intervals: percentile-bootstrap intervals at n = 10-16 covered far less than
95%, and an all-zero sample gave a zero-width interval, so "no change" looked certain.
:func:`interval` picks, from (binary | continuous) x (one sample | paired | unpaired):

- binary: Wilson's score interval (one proportion), Tango's score interval (paired
  difference; closer to 95% than Newcombe's paired method at low discordance:
  benchmarks/README.md) and
  Newcombe's hybrid score interval (unpaired difference). Score intervals are never
  zero-width: 0/10 vs 0/10 gives [-0.28, +0.28].
- continuous: the studentised (bootstrap-t) interval for a mean, equal-tailed for one
  sample (it follows the skew of errors in years) and symmetric for differences (its
  two-sided coverage error is an order smaller, Hall 1988; equal-tailed bootstrap-t
  under-covered zero-inflated paired differences, 0.86-0.91 at n = 20). A
  sample whose values are all equal has no spread to studentise by: its interval is
  undefined (NaN), never zero-width; so is one where more than alpha of the resamples have
  no spread either.

The minimum detectable effect (MDE) at 80% power is read off the interval's own
half-width h: ``(z_{1-a/2} + z_{0.8}) / z_{1-a/2} * h`` (for a 95% interval, 1.43 h),
i.e. ``(z_{1-a/2} + z_{0.8}) * se`` with the se the interval implies. A true effect of
that size puts the interval's lower end above 0 with probability 0.8; with no effect, the
upper end falls below an MDE-sized threshold with probability 0.8. It is > 0 wherever the
interval has width. :func:`n_for_mde` sizes an eval set from assumed rates.

The array functions (``*_bounds``) take counts or rows of samples and return (low, high)
arrays, so a simulation computes thousands of intervals in one call with the same code.
NaNs are dropped before anything is computed; ``n`` counts the values (or pairs) used.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from statistics import NormalDist
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

Method = Literal[
    "normal", "wilson", "bootstrap", "paired_bootstrap", "unpaired_bootstrap",
    "tango", "newcombe", "newcombe_paired", "studentized", "paired_studentized", "unpaired_studentized",
]
Kind = Literal["binary", "continuous"]
Design = Literal["one_sample", "paired", "unpaired"]

# Bootstrap index/count matrices are built in chunks of at most this many cells, so a
# large eval set cannot allocate n_boot * n numbers at once.
_MAX_CELLS = 2_000_000
# Rows (samples) bootstrapped with one draw of resampling counts; a simulation of many
# samples gets fresh counts every _ROW_CHUNK rows, so its error does not hang on one draw.
_ROW_CHUNK = 256
_NORMAL = NormalDist()


class Estimate(BaseModel):
    """A point estimate with its standard error and a (1 - alpha) confidence interval."""

    # NaN marks "undefined" (no items, n < 2, no spread); keep it through JSON as NaN, not null
    model_config = ConfigDict(frozen=True, ser_json_inf_nan="constants")

    mean: float = Field(description="Point estimate (a mean, a proportion or a difference of means).")
    se: float = Field(description="Standard error of the estimate (NaN when undefined, e.g. n < 2).")
    ci_low: float = Field(description="Lower end of the confidence interval (NaN when undefined).")
    ci_high: float = Field(description="Upper end of the confidence interval (NaN when undefined).")
    n: int = Field(description="Number of values (or pairs) used after dropping NaNs; both sides together when unpaired.")
    method: Method = Field(description="How the interval was computed (see emergence.stats).")
    confidence: float = Field(0.95, description="Coverage of the interval, 1 - alpha.")

    def format(self, digits: int = 2, *, signed: bool = False) -> str:
        """`mean ± se [low, high] (n=N)`; `signed` prefixes positive means with '+'."""
        if self.n == 0 or math.isnan(self.mean):
            return f"n/a (n={self.n})"
        sign = "+" if signed else ""
        text = f"{self.mean:{sign}.{digits}f}"
        if not math.isnan(self.se):
            text += f" ± {self.se:.{digits}f}"
        if not (math.isnan(self.ci_low) or math.isnan(self.ci_high)):
            text += f" [{self.ci_low:{sign}.{digits}f}, {self.ci_high:{sign}.{digits}f}]"
        return text + f" (n={self.n})"

    def short(self, digits: int = 2, *, signed: bool = False) -> str:
        """`mean [low, high]` without se and n, for sentences."""
        if self.n == 0 or math.isnan(self.mean):
            return "n/a"
        sign = "+" if signed else ""
        text = f"{self.mean:{sign}.{digits}f}"
        if not (math.isnan(self.ci_low) or math.isnan(self.ci_high)):
            text += f" [{self.ci_low:{sign}.{digits}f}, {self.ci_high:{sign}.{digits}f}]"
        return text

    def __str__(self) -> str:
        return self.format()


class McNemarResult(BaseModel):
    """McNemar's exact test on paired binary outcomes (a = before, b = after)."""

    model_config = ConfigDict(frozen=True, ser_json_inf_nan="constants")

    b01: int = Field(description="Pairs where a is False and b is True (improvements).")
    b10: int = Field(description="Pairs where a is True and b is False (regressions).")
    n: int = Field(description="Number of pairs compared (concordant and discordant).")
    p_value: float = Field(
        description="Two-sided exact binomial p-value of b01 against b01 + b10 at 1/2; 1.0 without discordant pairs."
    )

    def __str__(self) -> str:
        return f"McNemar b01={self.b01} b10={self.b10} {p_text(self.p_value)} (n={self.n})"


def format_p(p: float) -> str:
    """A p-value for prose: three decimals, or '<0.001'."""
    if math.isnan(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def p_text(p: float) -> str:
    """'p=0.003' or 'p<0.001', for sentences."""
    text = format_p(p)
    return f"p{text}" if text.startswith("<") else f"p={text}"


def _z(alpha: float) -> float:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    return _NORMAL.inv_cdf(1.0 - alpha / 2.0)


def _clean(values: Sequence[float] | np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    return arr[~np.isnan(arr)]


def _pairs(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(a, dtype=float).ravel()
    y = np.asarray(b, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"paired samples differ in length: {x.size} != {y.size}")
    keep = ~(np.isnan(x) | np.isnan(y))
    return x[keep], y[keep]


def _empty(method: Method, alpha: float, n: int = 0, mean: float = math.nan) -> Estimate:
    return Estimate(mean=mean, se=math.nan, ci_low=math.nan, ci_high=math.nan, n=n, method=method, confidence=1 - alpha)


def _estimate(mean: float, se: float, lo: Any, hi: Any, n: int, method: Method, alpha: float) -> Estimate:
    return Estimate(mean=float(mean), se=float(se), ci_low=float(np.ravel(lo)[0]), ci_high=float(np.ravel(hi)[0]),
                    n=int(n), method=method, confidence=1 - alpha)


def is_binary(values: Sequence[float] | np.ndarray) -> bool:
    """True when every non-NaN value is 0 or 1 (and there is at least one)."""
    arr = _clean(values)
    return arr.size > 0 and bool(np.all((arr == 0.0) | (arr == 1.0)))


def mean_se(values: Sequence[float], alpha: float = 0.05) -> Estimate:
    """Mean with the standard error s/sqrt(n) and a normal (z) interval; NaNs dropped."""
    arr = _clean(values)
    n = arr.size
    if n == 0:
        return _empty("normal", alpha)
    mean = float(arr.mean())
    if n < 2:
        return _empty("normal", alpha, n=n, mean=mean)
    se = float(arr.std(ddof=1) / math.sqrt(n))
    half = _z(alpha) * se
    return Estimate(mean=mean, se=se, ci_low=mean - half, ci_high=mean + half, n=n, method="normal", confidence=1 - alpha)


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


# --------------------------------------------------------------------------- power
def mde_from_bounds(low: Any, high: Any, alpha: float = 0.05, power: float = 0.8) -> np.ndarray:
    """Minimum detectable effect from (1 - alpha) interval ends: (z_{1-a/2} + z_power) / z_{1-a/2} * (high - low) / 2."""
    z = _z(alpha)
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must lie in (0, 1), got {power}")
    return (z + _NORMAL.inv_cdf(power)) / z * (np.asarray(high, dtype=float) - np.asarray(low, dtype=float)) / 2.0


def minimum_detectable_effect(e: Estimate, power: float = 0.8) -> float:
    """The effect this estimate's design detects with probability ``power`` at its own alpha.

    Read off the interval's half-width (see the module docstring); NaN where the interval
    is undefined.
    """
    return float(mde_from_bounds(e.ci_low, e.ci_high, 1.0 - e.confidence, power))


def expected_mde(
    n: int,
    *,
    kind: Kind,
    design: Design,
    alpha: float = 0.05,
    power: float = 0.8,
    rate: float | None = None,
    rate_b: float | None = None,
    discordance: float | None = None,
    effect: float = 0.0,
    sd: float | None = None,
    sd_b: float | None = None,
) -> float:
    """The MDE an eval set of ``n`` items (``n`` per side when unpaired) should give.

    binary: the interval of :func:`interval` at the expected counts (fractional counts are
    fine for score intervals): one_sample needs ``rate``; paired needs ``discordance``
    (P(the two sides differ on an item)) and ``effect`` (p_b - p_a, default 0; ``rate``,
    if given, only checks that the table exists: Tango's width does not depend on it);
    unpaired needs ``rate`` (side a) and ``rate_b`` (default rate + effect).
    continuous: ``(z_{1-a/2} + z_power) * sd / sqrt(n)``, sd of the values (one_sample), of
    the differences (paired), or sqrt(sd^2 + sd_b^2) per side (unpaired). The bootstrap-t
    interval is wider than z * sd / sqrt(n) below ~30 items, so this is optimistic there.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    factor = (_z(alpha) + _NORMAL.inv_cdf(power))
    if kind == "continuous":
        if sd is None or sd < 0:
            raise ValueError("continuous planning needs sd >= 0")
        spread = math.hypot(sd, sd if sd_b is None else sd_b) if design == "unpaired" else sd
        return factor * spread / math.sqrt(n)
    if design == "one_sample":
        if rate is None:
            raise ValueError("binary one_sample planning needs rate")
        lo, hi = wilson_bounds(n * rate, n, alpha)
    elif design == "paired":
        if discordance is None:
            raise ValueError("binary paired planning needs discordance")
        p10, p01 = (discordance - effect) / 2.0, (discordance + effect) / 2.0
        if p10 < 0 or p01 < 0 or discordance > 1 or (rate is not None and (p10 > rate or p01 > 1 - rate)):
            raise ValueError(f"no paired table has rate={rate}, discordance={discordance}, effect={effect}")
        lo, hi = tango_bounds(n * p10, n * p01, n, alpha)
    else:
        if rate is None:
            raise ValueError("binary unpaired planning needs rate")
        rb = rate + effect if rate_b is None else rate_b
        lo, hi = newcombe_bounds(n * rate, n, n * rb, n, alpha)
    return float(mde_from_bounds(lo, hi, alpha, power))


def n_for_mde(target: float, *, max_n: int = 10_000_000, **assumptions: Any) -> int:
    """The smallest n (per side when unpaired) whose :func:`expected_mde` is <= target.

    ``assumptions`` are expected_mde's keywords (kind, design, alpha, power, rates, sd).

        >>> n_for_mde(0.05, kind="binary", design="paired", discordance=0.25, rate=0.25)
        793
    """
    if target <= 0:
        raise ValueError(f"target MDE must be > 0, got {target}")

    def ok(n: int) -> bool:
        return expected_mde(n, **assumptions) <= target

    hi = 2
    while not ok(hi):
        hi *= 2
        if hi > max_n:
            raise ValueError(f"no n <= {max_n} reaches an MDE of {target}")
    lo = hi // 2  # ok(lo) is False, or lo = 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return 1 if ok(1) else hi


# --------------------------------------------------------------------------- percentile bootstrap, McNemar
def _apply(stat: Callable[..., Any], samples: np.ndarray) -> np.ndarray:
    """stat over each row of samples; vectorised for numpy reductions that take axis=."""
    if stat in (np.mean, np.median, np.sum, np.std, np.var, np.nanmean, np.nanmedian):
        return np.asarray(stat(samples, axis=1), dtype=float)
    return np.array([float(stat(row)) for row in samples])


def _boot_stats(rng: np.random.Generator, n: int, n_boot: int, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """fn(idx) for n_boot rows of resampled indices, built in memory-bounded chunks."""
    chunk = max(1, _MAX_CELLS // max(n, 1))
    out = []
    done = 0
    while done < n_boot:
        rows = min(chunk, n_boot - done)
        out.append(fn(rng.integers(0, n, size=(rows, n))))
        done += rows
    return np.concatenate(out)


def _percentile(point: float, boots: np.ndarray, n: int, alpha: float, method: Method) -> Estimate:
    low, high = np.quantile(boots, [alpha / 2.0, 1.0 - alpha / 2.0])
    return Estimate(
        mean=point,
        se=float(boots.std(ddof=1)),
        ci_low=float(low),
        ci_high=float(high),
        n=n,
        method=method,
        confidence=1 - alpha,
    )


def bootstrap_ci(
    values: Sequence[float],
    stat: Callable[..., Any] = np.mean,
    n_boot: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> Estimate:
    """stat(values) with a percentile bootstrap interval; se is the bootstrap std.

    NaNs dropped; fewer than 2 values give a NaN interval (a resample of one value says
    nothing about its spread).
    """
    arr = _clean(values)
    n = arr.size
    if n == 0:
        return _empty("bootstrap", alpha)
    point = float(stat(arr))
    if n < 2:
        return _empty("bootstrap", alpha, n=n, mean=point)
    rng = np.random.default_rng(seed)
    boots = _boot_stats(rng, n, n_boot, lambda idx: _apply(stat, arr[idx]))
    return _percentile(point, boots, n, alpha, "bootstrap")


def paired_bootstrap_diff(
    a: Sequence[float],
    b: Sequence[float],
    stat: Callable[..., Any] = np.mean,
    n_boot: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> Estimate:
    """stat(b) - stat(a) over paired items (for the mean: the mean of b - a).

    Items are resampled jointly, so the interval accounts for the pairing. A pair with a
    NaN on either side is dropped; ``n`` counts the pairs kept.
    """
    x = np.asarray(a, dtype=float).ravel()
    y = np.asarray(b, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"paired samples differ in length: {x.size} != {y.size}")
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    n = x.size
    if n == 0:
        return _empty("paired_bootstrap", alpha)
    point = float(stat(y) - stat(x))
    if n < 2:
        return _empty("paired_bootstrap", alpha, n=n, mean=point)
    rng = np.random.default_rng(seed)
    boots = _boot_stats(rng, n, n_boot, lambda idx: _apply(stat, y[idx]) - _apply(stat, x[idx]))
    return _percentile(point, boots, n, alpha, "paired_bootstrap")


def unpaired_bootstrap_diff(
    a: Sequence[float],
    b: Sequence[float],
    stat: Callable[..., Any] = np.mean,
    n_boot: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> Estimate:
    """stat(b) - stat(a) for independent samples, each resampled on its own.

    NaNs dropped from each side; ``n`` is the total count used (len(a) + len(b)).
    """
    x = _clean(a)
    y = _clean(b)
    n = x.size + y.size
    if x.size == 0 or y.size == 0:
        return _empty("unpaired_bootstrap", alpha, n=n)
    point = float(stat(y) - stat(x))
    if x.size < 2 or y.size < 2:
        return _empty("unpaired_bootstrap", alpha, n=n, mean=point)
    rng = np.random.default_rng(seed)
    bx = _boot_stats(rng, x.size, n_boot, lambda idx: _apply(stat, x[idx]))
    by = _boot_stats(rng, y.size, n_boot, lambda idx: _apply(stat, y[idx]))
    return _percentile(point, by - bx, n, alpha, "unpaired_bootstrap")


def binom_two_sided_half(k: int, n: int) -> float:
    """Exact two-sided binomial p-value of k successes in n trials at p = 1/2."""
    if n == 0:
        return 1.0
    k = min(k, n - k)
    tail = sum(math.comb(n, i) for i in range(k + 1))
    # exact integer arithmetic until the final division: no float underflow for large n
    return min(1.0, 2.0 * tail / 2**n)


def mcnemar_exact(a: Sequence[bool], b: Sequence[bool]) -> McNemarResult:
    """McNemar's exact test: do paired binary outcomes change from a to b?

    b01 counts pairs false under a and true under b, b10 the reverse; under the null each
    discordant pair is a fair coin, so p is the two-sided binomial p-value of b01 out of
    b01 + b10 (1.0 when there are no discordant pairs). Values may be bools or 0/1
    floats; a pair with a NaN on either side is dropped.
    """
    x = np.asarray(a, dtype=float).ravel()
    y = np.asarray(b, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"paired samples differ in length: {x.size} != {y.size}")
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep] != 0, y[keep] != 0
    b01 = int(np.sum(~x & y))
    b10 = int(np.sum(x & ~y))
    return McNemarResult(b01=b01, b10=b10, n=int(x.size), p_value=binom_two_sided_half(b01, b01 + b10))


def estimate(
    values: Sequence[float],
    kind: Literal["auto", "wilson", "studentized", "bootstrap", "normal"] = "auto",
    alpha: float = 0.05,
    n_boot: int = 2000,
    seed: int = 0,
) -> Estimate:
    """The mean of values with an interval: "auto" is :func:`interval` (Wilson for 0/1
    data, bootstrap-t otherwise); "bootstrap" is the percentile bootstrap (kept for old
    callers: it under-covers at small n)."""
    arr = _clean(values)
    if kind == "auto":
        return interval(arr, alpha=alpha, n_boot=n_boot, seed=seed)
    if kind == "wilson":
        if arr.size and not is_binary(arr):
            raise ValueError("wilson_ci needs 0/1 values")
        return wilson_ci(int(arr.sum()), int(arr.size), alpha)
    if kind == "studentized":
        return interval(arr, kind="continuous", alpha=alpha, n_boot=n_boot, seed=seed)
    if kind == "bootstrap":
        return bootstrap_ci(arr, n_boot=n_boot, alpha=alpha, seed=seed)
    if kind == "normal":
        return mean_se(arr, alpha)
    raise ValueError(f"unknown kind {kind!r}")
