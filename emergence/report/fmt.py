"""Numbers in words for the report and the CLIs: one interval formatter, metric-aware.

    >>> from emergence.report.fmt import fmt_est, fmt_metric
    >>> fmt_est({"mean": 0.25, "ci_low": 0.18, "ci_high": 0.34, "n": 100}, pct=True)
    '25% [18, 34]'
    >>> fmt_metric({"mean": 4.83, "ci_low": 4.1, "ci_high": 5.5, "n": 84}, "abs_error")
    '4.8 [4.1, 5.5]'

A metric's digits and whether it reads as a percentage come from its registry entry
(:data:`emergence.metrics.METRICS`), so a table never retypes them.
"""
from __future__ import annotations

import math
from typing import Any

__all__ = ["age", "duration", "fmt_est", "fmt_metric", "isnan", "num", "pct", "truncate"]


def isnan(x: Any) -> bool:
    """None or NaN."""
    return x is None or (isinstance(x, float) and math.isnan(x))


# what a partial dict (a test's, an old file's) lacks: undefined, not zero
_UNDEFINED = {"mean": math.nan, "se": math.nan, "ci_low": math.nan, "ci_high": math.nan, "n": 0, "method": "normal"}


def fmt_est(est: Any, digits: int = 2, *, pct: bool = False, signed: bool = False) -> str:
    """`mean [low, high]` of an Estimate or its dict (:meth:`Estimate.short`, the one
    interval formatter); '–' when undefined."""
    from emergence.stats import Estimate

    if est is None:
        return "–"
    if not isinstance(est, Estimate):
        given = {k: (math.nan if v is None else v) for k, v in dict(est).items()}
        est = Estimate.model_validate({**_UNDEFINED, **given})
    text = est.short(digits, signed=signed, pct=pct)
    return "–" if text == "n/a" else text


def fmt_metric(est: Any, key: str, *, signed: bool = False) -> str:
    """:func:`fmt_est` with the metric's own digits and percentage format."""
    from emergence.metrics import METRICS

    metric = METRICS.get(key)
    if metric is None:
        return fmt_est(est, signed=signed)
    return fmt_est(est, metric.digits + (2 if metric.percent else 0), pct=metric.percent, signed=signed)


def num(x: Any, digits: int = 3) -> str:
    """A plain number, '–' when missing."""
    return "–" if isnan(x) else f"{x:.{digits}f}"


def pct(x: float) -> str:
    """A share as a percentage with one decimal."""
    return f"{100 * x:.1f}%"


def truncate(text: str | None, limit: int = 160) -> str:
    """Whitespace collapsed, cut at ``limit`` characters with an ellipsis."""
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def age(x: Any) -> str:
    """An age in years, '–' when none."""
    return "–" if isnan(x) else f"{x:g}"


def duration(seconds: float) -> str:
    """Seconds as '12.3 s', '4 min 05 s' or '1 h 02 min'."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
