"""Standard errors, confidence intervals, bootstrap differences and McNemar's exact test.

    >>> from emergence.stats import wilson_ci, paired_bootstrap_diff, mcnemar_exact
    >>> str(wilson_ci(42, 100))
    '0.42 ± 0.05 [0.33, 0.52] (n=100)'
    >>> mcnemar_exact([False, False, True], [True, True, True]).p_value
    0.5
    >>> round(paired_bootstrap_diff([0, 0, 1, 1], [1, 1, 1, 1]).mean, 2)
    0.5

Every function is small, pure and seeded: the same inputs give the same interval.
NaN values are dropped before anything is computed, and the ``n`` of the result counts
the values (or pairs) actually used, so a report never hides how many items abstained.
Only numpy and the standard library are used; the exact formulas are tested against
hand-computed values.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from statistics import NormalDist
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

Method = Literal["normal", "wilson", "bootstrap", "paired_bootstrap", "unpaired_bootstrap"]

# Bootstrap index matrices are built in chunks of at most this many cells, so a large
# eval set cannot allocate n_boot * n integers at once.
_MAX_CELLS = 2_000_000


class Estimate(BaseModel):
    """A point estimate with its standard error and a (1 - alpha) confidence interval."""

    # NaN marks "undefined" (no items, n < 2); keep it through JSON as NaN, not null
    model_config = ConfigDict(frozen=True, ser_json_inf_nan="constants")

    mean: float = Field(description="Point estimate (a mean, a proportion or a difference of means).")
    se: float = Field(description="Standard error of the estimate (NaN when undefined, e.g. n < 2).")
    ci_low: float = Field(description="Lower end of the confidence interval (NaN when undefined).")
    ci_high: float = Field(description="Upper end of the confidence interval (NaN when undefined).")
    n: int = Field(description="Number of values (or pairs) used after dropping NaNs.")
    method: Method = Field(description="How the interval was computed.")
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
    return NormalDist().inv_cdf(1.0 - alpha / 2.0)


def _clean(values: Sequence[float] | np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    return arr[~np.isnan(arr)]


def _empty(method: Method, alpha: float, n: int = 0, mean: float = math.nan) -> Estimate:
    return Estimate(mean=mean, se=math.nan, ci_low=math.nan, ci_high=math.nan, n=n, method=method, confidence=1 - alpha)


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


def wilson_ci(successes: int, n: int, alpha: float = 0.05) -> Estimate:
    """Proportion successes/n with the Wilson score interval (no continuity correction).

    The reported se is the plain binomial sqrt(p(1-p)/n); the interval is Wilson's, which
    stays inside [0, 1] and keeps its coverage near 0 and 1 where the normal one fails.
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return _empty("wilson", alpha)
    z = _z(alpha)
    p = successes / n
    z2n = z * z / n
    centre = (p + z2n / 2.0) / (1.0 + z2n)
    half = z / (1.0 + z2n) * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n))
    return Estimate(
        mean=p,
        se=math.sqrt(p * (1.0 - p) / n),
        ci_low=max(0.0, centre - half),
        ci_high=min(1.0, centre + half),
        n=n,
        method="wilson",
        confidence=1 - alpha,
    )


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
    kind: Literal["auto", "wilson", "bootstrap", "normal"] = "auto",
    alpha: float = 0.05,
    n_boot: int = 2000,
    seed: int = 0,
) -> Estimate:
    """The mean of values with an interval: Wilson for 0/1 data, bootstrap otherwise ("auto")."""
    arr = _clean(values)
    if kind == "auto":
        kind = "wilson" if is_binary(arr) else "bootstrap"
    if kind == "wilson":
        if arr.size and not is_binary(arr):
            raise ValueError("wilson_ci needs 0/1 values")
        return wilson_ci(int(arr.sum()), int(arr.size), alpha)
    if kind == "bootstrap":
        return bootstrap_ci(arr, n_boot=n_boot, alpha=alpha, seed=seed)
    if kind == "normal":
        return mean_se(arr, alpha)
    raise ValueError(f"unknown kind {kind!r}")
