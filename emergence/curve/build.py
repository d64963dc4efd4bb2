"""Build a metric's curve from its per-item values at each probed step, and the whole curve with its mirage checks.

    >>> import numpy as np
    >>> from emergence.curve.build import metric_curve
    >>> rng = np.random.default_rng(0)
    >>> base = rng.normal(5.0, 2.0, 80)
    >>> values = [base] + [base - d + rng.normal(0, 1.0, 80) for d in (0.0, 0.2, 1.5, 1.6)]
    >>> c = metric_curve(values, [0, 10, 25, 50, 100], kind="continuous", direction="decrease", min_effect=0.5,
    ...                  metric="expected_error", n_boot=999)
    >>> c.onset.step, c.band_contains_pointwise()
    (50, True)
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from emergence.curve.bands import change_sums, critical_alpha, max_t_critical, resample_sums, sums_band
from emergence.curve.mirage import MirageCheck, jump_excess, mirage_check, too_few_steps
from emergence.curve.onset import first_beyond, onset_percentiles
from emergence.curve.result import BandKind, CurvePoint, MetricCurve, Onset
from emergence.stats import Kind, interval
from emergence.verdict.decision import Direction

__all__ = ["EmergenceCurve", "MetricSeries", "emergence_curve", "metric_curve"]


def _matrix(values: Any, steps: Sequence[int]) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"values must be (steps, items), got shape {arr.shape}")
    if arr.shape[0] != len(steps) or len(steps) < 2:
        raise ValueError(f"need the base and at least one step, one row each: {arr.shape[0]} rows, steps {list(steps)}")
    if any(int(s) != s for s in steps) or any(b <= a for a, b in zip(steps, steps[1:])):
        raise ValueError(f"steps must be increasing integers, got {list(steps)}")
    return arr


def metric_curve(values: Any, steps: Sequence[int], *, kind: Kind, direction: Direction, min_effect: float,
                 metric: str = "metric", label: str = "", discrete: bool = False, alpha: float = 0.05,
                 n_boot: int = 2000, seed: int = 0, min_n: int = 10,
                 onset_band: BandKind = "simultaneous") -> MetricCurve:
    """One metric's curve from ``values[step_index][item]`` (row 0 = the base; NaN = no value).

    Each point: the metric with its one-sample interval, the change from base and the change
    from the previous step with their paired pointwise intervals (all from
    :func:`emergence.stats.interval`, so they are the verdict's), and the max-t simultaneous
    band (:mod:`emergence.curve.bands`), widened to the pointwise interval wherever that is
    wider; the onset (:mod:`emergence.curve.onset`) on ``onset_band``.
    """
    if onset_band not in ("simultaneous", "pointwise"):
        raise ValueError(f"onset_band must be 'simultaneous' or 'pointwise', got {onset_band!r}")
    arr = _matrix(values, steps)
    base, later = arr[0], arr[1:]
    k_steps = later.shape[0]
    opts = dict(kind=kind, alpha=alpha, n_boot=n_boot, seed=seed)
    level = [interval(row, **opts) for row in arr]
    change = [interval(base, row, design="paired", **opts) for row in later]
    step_up = [interval(a, b, design="paired", **opts) for a, b in zip(arr[:-1], arr[1:])]

    c = float(max_t_critical(base, later, kind=kind, alpha=alpha, n_boot=n_boot, rng=seed)[0][0])
    sums = change_sums(base, later, kind)
    if kind == "binary":  # the pointwise interval is Tango's at z: the band's statistic at c = z
        pointwise = np.full(k_steps, NormalDist().inv_cdf(1.0 - alpha / 2.0))
    else:  # the pointwise bootstrap-t's own critical value, read off its half-width
        with np.errstate(divide="ignore", invalid="ignore"):
            pointwise = np.array([(e.ci_high - e.ci_low) / 2.0 for e in change]) / sums.se[0]
    undefined = np.array([math.isnan(e.ci_low) for e in change])
    pointwise = np.where(undefined, np.nan, pointwise)
    critical = np.fmax(c, pointwise) if math.isfinite(c) else np.full(k_steps, c)  # NaN stays NaN; inf stays
    lo, hi = (v[0] for v in sums_band(sums, np.where(undefined, np.nan, critical)[None]))
    missing = np.isnan(lo) | np.isnan(hi)  # no band: the pointwise interval does not stand in for it
    lo = np.where(missing, np.nan, np.minimum(lo, [e.ci_low for e in change]))  # exact containment, no rounding gap
    hi = np.where(missing, np.nan, np.maximum(hi, [e.ci_high for e in change]))

    used = critical if onset_band == "simultaneous" else pointwise
    ends = (lo, hi) if onset_band == "simultaneous" else ([e.ci_low for e in change], [e.ci_high for e in change])
    found = int(first_beyond(*ends, sums.n[0], direction=direction, min_effect=min_effect, min_n=min_n))
    boot = resample_sums(base, later, kind=kind, n_boot=n_boot, rng=seed + 1)
    again = first_beyond(*sums_band(boot, used[None]), boot.n, direction=direction, min_effect=min_effect, min_n=min_n)
    p_lo, p_hi, none = onset_percentiles(again, k_steps, alpha)
    later_steps = [int(s) for s in steps[1:]]
    onset = Onset(band=onset_band, step=later_steps[found] if found < k_steps else None,
                  low=later_steps[p_lo] if p_lo < k_steps else None, high=later_steps[p_hi] if p_hi < k_steps else None,
                  no_onset_share=none, n_boot=n_boot, confidence=1.0 - alpha, last_step=later_steps[-1],
                  min_effect=min_effect, direction=direction)

    # the jump excess of every interval, on the same resamples: its sd sets the mirage check's floor
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nanstd of a step no resample could read: NaN
        cum = np.concatenate([np.zeros((n_boot, 1)), boot.mean], axis=1)
        excess = jump_excess(np.diff(cum, axis=1))
        z = NormalDist().inv_cdf(1.0 - alpha / (2.0 * k_steps))  # the largest of K excesses is the one tested
        floor = np.where(np.isnan(excess).mean(axis=0) <= alpha, z * np.nanstd(excess, axis=0, ddof=1), np.nan)

    points = [CurvePoint(step=int(steps[0]), value=level[0], change=None, band_low=None, band_high=None, increment=None,
                         jump_half_width=None)]
    points += [CurvePoint(step=later_steps[k], value=level[k + 1], change=change[k], band_low=float(lo[k]),
                          band_high=float(hi[k]), increment=step_up[k], jump_half_width=float(floor[k]))
               for k in range(k_steps)]
    return MetricCurve(metric=metric, label=label or metric, kind=kind, direction=direction, discrete=discrete,
                       min_effect=min_effect, alpha=alpha, n_items=arr.shape[1], points=points, band_critical=c,
                       band_alpha=float(critical_alpha(c)) if not math.isnan(c) else math.nan, onset=onset,
                       n_boot=n_boot, seed=seed)


@dataclass(frozen=True)
class MetricSeries:
    """One metric's per-item values along training and how to read them (the input of :func:`emergence_curve`)."""

    metric: str  # the metric's key (emergence.metrics.METRICS)
    values: Any  # (steps, items): row 0 the base, the same items in every row, NaN = no value
    steps: Sequence[int]  # the training step of each row, increasing
    kind: Kind
    direction: Direction
    min_effect: float
    discrete: bool = False  # thresholded or generated (the mirage check's "discrete" side)
    label: str = ""


class EmergenceCurve(BaseModel):
    """Every metric's curve, and each discrete metric checked against the continuous ones."""

    model_config = ConfigDict(frozen=True, ser_json_inf_nan="constants")

    metrics: list[MetricCurve] = Field(description="One curve per metric, each on its own probed steps.")
    mirage: list[MirageCheck] = Field(description="One check per discrete metric, against every continuous metric, "
                                      "on the steps they share (empty without both kinds).")

    @property
    def steps(self) -> list[int]:
        """Every probed step of any metric."""
        return sorted({s for m in self.metrics for s in m.steps})

    def curve(self, metric: str) -> MetricCurve:
        for m in self.metrics:
            if m.metric == metric:
                return m
        raise KeyError(metric)


def emergence_curve(series: Sequence[MetricSeries], *, alpha: float = 0.05, n_boot: int = 2000, seed: int = 0,
                    min_n: int = 10, onset_band: BandKind = "simultaneous") -> EmergenceCurve:
    """The curves of several metrics and the mirage checks between the two kinds.

    Discrete metrics may be probed on fewer steps (generation costs): each check reads every
    metric on the steps the discrete metric shares with all the continuous ones."""
    names = [s.metric for s in series]
    if len(set(names)) != len(names):
        raise ValueError(f"metric keys repeat: {names}")

    def build(s: MetricSeries, rows: Sequence[int] | None = None) -> MetricCurve:
        arr, steps = np.asarray(s.values, dtype=float), list(s.steps)
        if rows is not None:
            arr, steps = arr[list(rows)], [steps[i] for i in rows]
        return metric_curve(arr, steps, kind=s.kind, direction=s.direction, min_effect=s.min_effect, metric=s.metric,
                            label=s.label, discrete=s.discrete, alpha=alpha, n_boot=n_boot, seed=seed, min_n=min_n,
                            onset_band=onset_band)

    curves = {s.metric: build(s) for s in series}
    cont = [s for s in series if not s.discrete]
    checks = []
    for d in (s for s in series if s.discrete and cont):
        shared = set(d.steps).intersection(*(set(c.steps) for c in cont))
        if any(list(c.steps)[0] != list(d.steps)[0] for c in cont):
            raise ValueError(f"{d.metric} and the continuous metrics start from different base steps")

        def on_shared(s: MetricSeries) -> MetricCurve:
            rows = [i for i, step in enumerate(s.steps) if step in shared]
            return curves[s.metric] if len(rows) == len(s.steps) else build(s, rows)

        if len(shared) < 3:
            checks.append(too_few_steps(curves[d.metric], [curves[c.metric] for c in cont], sorted(shared)))
        else:
            checks.append(mirage_check(on_shared(d), [on_shared(c) for c in cont]))
    return EmergenceCurve(metrics=[curves[n] for n in names], mirage=checks)
