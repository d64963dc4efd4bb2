"""The estimate every statistic returns, McNemar's test, and p-values in words.

    >>> from emergence.stats.estimate import Estimate
    >>> Estimate(mean=0.25, se=0.04, ci_low=0.18, ci_high=0.34, n=100, method="wilson").short(pct=True)
    '25% [18, 34]'
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Design", "Estimate", "Kind", "McNemarResult", "Method", "binom_two_sided_half", "format_p", "is_binary",
           "mcnemar_exact", "p_text"]

Method = Literal[
    "normal", "wilson", "bootstrap", "paired_bootstrap", "unpaired_bootstrap",
    "tango", "newcombe", "newcombe_paired", "studentized", "paired_studentized", "unpaired_studentized",
    "auc_score",
]
Kind = Literal["binary", "continuous"]
Design = Literal["one_sample", "paired", "unpaired"]

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
        short = self.short(digits, signed=signed)
        if not math.isnan(self.se):
            head, _, rest = short.partition(" ")
            short = f"{head} ± {self.se:.{digits}f}" + (f" {rest}" if rest else "")
        return short + f" (n={self.n})"

    def short(self, digits: int = 2, *, signed: bool = False, pct: bool = False) -> str:
        """`mean [low, high]` without se and n, for sentences and tables: the one interval
        formatter (the report's and the CLIs' go through it). ``pct`` shows a share as a
        percentage with ``digits`` - 2 decimals; "n/a" when undefined."""
        if self.n == 0 or math.isnan(self.mean):
            return "n/a"
        scale, unit, d = (100.0, "%", max(digits - 2, 0)) if pct else (1.0, "", digits)
        sign = "+" if signed else ""
        text = f"{self.mean * scale:{sign}.{d}f}{unit}"
        if not (math.isnan(self.ci_low) or math.isnan(self.ci_high)):
            text += f" [{self.ci_low * scale:{sign}.{d}f}, {self.ci_high * scale:{sign}.{d}f}]"
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
