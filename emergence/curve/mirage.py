"""The mirage check (Schaeffer et al. 2023): does a discrete metric jump where the continuous ones move smoothly?

    >>> from emergence.curve.mirage import find_jump
    >>> find_jump([0.02, 0.01, 0.30, 0.02], [0.05, 0.05, 0.06, 0.05])  # (index, excess over the rest)
    (2, 0.25)
    >>> find_jump([0.31, 0.29], [0.03, 0.03])[0] is None  # two near-equal halves are no jump
    True
    >>> find_jump([0.10, 0.11, 0.09, 0.10], [0.05] * 4)[0] is None  # a steady climb
    True

The rule, per metric, on the steps both kinds of metric were probed at (base first):

- C_k is the change from base at step k (C_0 = 0) and delta_k = C_k - C_{k-1} the change
  over the k-th interval between consecutive probed steps.
- **jump at k** iff J_k = |delta_k| - sum_{j != k} |delta_j| > h_k, h_k the half-width of
  J_k's own interval: one interval's change is larger than all the others together (the
  issue's definition), by more than the noise of that comparison. h_k = z_{1-alpha/(2K)} x
  the sd of J_k over bootstrap resamples of the items (the same resampled items at every
  step, so the correlation of the changes is in it); Bonferroni over the K intervals
  because the rule tests the largest excess (at K = 2, J_1 = -J_2: the test is two-sided).
  At most one k can qualify.
- **moved** iff the simultaneous band of the change from base excludes 0 at some step.
- shape: "jump"; else "smooth" if it moved; else "flat" ("undefined" if a change or its
  interval is).

Flags: **discrete jumps, continuous smooth** (the mirage: the continuous metrics carried the
change and the jump is where it crossed the discrete metric's threshold) when the discrete
metric jumps and every continuous metric is smooth; **the reverse** when the discrete metric
is smooth and a continuous one jumps; otherwise both_jump, both_smooth, unmatched (some
moved, some stayed flat) or no_change. Fewer than 2 steps after the base: too_few_steps.

Why a noise floor, and why on the excess J_k: with K intervals of pure noise one |delta_k|
exceeds the sum of the others often (always, up to ties, at K = 2), and a smooth curve
whose intervals are nearly equal (two equal halves; a change linear in steps on a
geometric schedule puts half its total in the last interval) has J ~ 0 and would flip
between "jump" and "smooth" on noise. "J_k > h_k" is "J_k's interval lies above 0": the
brief's "a jump smaller than its own interval's half-width is not a jump", applied to the
statistic that decides. Consecutive changes share a step (delta_k and delta_{k+1} both
hold C_k, with opposite signs), so adding the changes' own half-widths in quadrature would
understate J's noise; the bootstrap keeps that covariance. A real jump of size D among
changes of noise sd s clears the floor once D > h + (K - 1) s (|delta_j| of pure noise
adds ~0.8 s each, which only makes a jump harder to claim). A false jump matters: "both
jump" reads as evidence of an abrupt ability. The rule reads the curve as its plot does
on the probed steps: on a geometric schedule, as on a log axis.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from emergence.curve.result import MetricCurve

__all__ = ["MetricShape", "MirageCheck", "Pattern", "Shape", "find_jump", "jump_excess", "metric_shape", "mirage_check",
           "too_few_steps"]

Shape = Literal["jump", "smooth", "flat", "undefined"]
Pattern = Literal["discrete_jumps_continuous_smooth", "continuous_jumps_discrete_smooth", "both_jump", "both_smooth",
                  "unmatched", "no_change", "too_few_steps", "undefined"]


class MetricShape(BaseModel):
    """How one metric moved over the probed steps."""

    model_config = ConfigDict(frozen=True, ser_json_inf_nan="constants")

    metric: str = Field(description="The metric's key.")
    label: str = Field(description="Words for the metric.")
    steps: list[int] = Field(description="The steps read, the base first.")
    changes: list[float] = Field(description="delta_k: the change from base's step-to-step change over each interval.")
    half_widths: list[float] = Field(description="h_k: half-width of each J_k's own 95% interval (bootstrap), "
                                     "the noise floor a jump must clear.")
    moved: bool = Field(description="The simultaneous band of the change from base excludes 0 at some step.")
    shape: Shape = Field(description="jump, smooth, flat or undefined (emergence.curve.mirage).")
    jump_step: int | None = Field(description="The step ending the interval that jumps; None without a jump.")
    jump_excess: float | None = Field(description="J_k = |delta_k| - sum of the other |delta_j| at the jump.")


class MirageCheck(BaseModel):
    """A discrete metric against the continuous ones on the same steps."""

    model_config = ConfigDict(frozen=True, ser_json_inf_nan="constants")

    pattern: Pattern = Field(description="Which case of the rule applied (emergence.curve.mirage).")
    mirage: bool = Field(description="Flag: the discrete metric jumps while every continuous metric moves smoothly.")
    reverse: bool = Field(description="Flag: a continuous metric jumps while the discrete metric moves smoothly.")
    discrete: MetricShape = Field(description="The discrete metric's shape.")
    continuous: list[MetricShape] = Field(description="Each continuous metric's shape on the same steps.")
    carried_by: list[str] = Field(description="Keys of the metrics that carried the change (see words).")
    words: str = Field(description="One or two sentences for the report.")


def jump_excess(changes: Any) -> np.ndarray:
    """J_k = |delta_k| - sum_{j != k} |delta_j| along the last axis (rows of resamples at once)."""
    d = np.abs(np.asarray(changes, dtype=float))
    return 2.0 * d - d.sum(axis=-1, keepdims=True)


def find_jump(changes: Sequence[float], half_widths: Sequence[float]) -> tuple[int | None, float]:
    """(index of the interval that jumps or None, the largest excess J_k).

    ``half_widths`` are the half-widths h_k of each J_k's own interval; a jump needs
    J_k > h_k (module docstring). A NaN change or half-width makes no jump there."""
    if len(changes) != len(half_widths):
        raise ValueError(f"{len(changes)} changes but {len(half_widths)} half-widths")
    if not len(changes):
        return None, math.nan
    excess = jump_excess(changes)
    k = int(np.argmax(np.where(np.isnan(excess), -np.inf, excess)))
    jump = bool(excess[k] > float(half_widths[k]))  # NaN compares False: no jump
    return (k if jump else None), round(float(excess[k]), 12)


def metric_shape(curve: MetricCurve) -> MetricShape:
    """The shape of one metric over its curve's steps (module docstring)."""
    later = curve.points[1:]
    cum = [0.0] + [p.change.mean if p.change is not None else math.nan for p in later]
    changes = [b - a for a, b in zip(cum, cum[1:])]
    half = [p.jump_half_width if p.jump_half_width is not None else math.nan for p in later]
    moved = any(p.band_low is not None and p.band_high is not None and (p.band_low > 0 or p.band_high < 0)
                for p in later)
    base = dict(metric=curve.metric, label=curve.label, steps=curve.steps, changes=changes, half_widths=half,
                moved=moved)
    if not later or any(math.isnan(v) for v in changes + half):
        return MetricShape(**base, shape="undefined", jump_step=None, jump_excess=None)
    k, excess = find_jump(changes, half)
    if k is not None:
        return MetricShape(**base, shape="jump", jump_step=later[k].step, jump_excess=excess)
    return MetricShape(**base, shape="smooth" if moved else "flat", jump_step=None, jump_excess=None)


def _names(shapes: Sequence[MetricShape]) -> str:
    labels = [s.label for s in shapes]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def _jump_text(s: MetricShape) -> str:
    k = s.steps.index(s.jump_step) - 1
    return (f"{s.label} jumps between steps {s.steps[k]} and {s.jump_step} ({s.changes[k]:+.3g}, more than its "
            f"other intervals' changes together by {s.jump_excess:.3g})")


def too_few_steps(discrete: MetricCurve, continuous: Sequence[MetricCurve], shared: Sequence[int]) -> MirageCheck:
    """The check that cannot be made: fewer than 2 shared steps after the base."""
    def blank(c: MetricCurve) -> MetricShape:
        return MetricShape(metric=c.metric, label=c.label, steps=list(shared), changes=[], half_widths=[], moved=False,
                           shape="undefined", jump_step=None, jump_excess=None)

    words = (f"Mirage check not possible: it needs two or more probed steps after the base that {discrete.label} "
             f"and the continuous metrics share; they share {max(len(shared) - 1, 0)}.")
    return MirageCheck(pattern="too_few_steps", mirage=False, reverse=False, discrete=blank(discrete),
                       continuous=[blank(c) for c in continuous], carried_by=[], words=words)


def mirage_check(discrete: MetricCurve, continuous: Sequence[MetricCurve]) -> MirageCheck:
    """Compare a discrete metric's shape with the continuous metrics' on the same steps."""
    if not continuous:
        raise ValueError("the mirage check needs at least one continuous metric")
    for c in continuous:
        if c.steps != discrete.steps:
            raise ValueError(f"{c.metric} was read at steps {c.steps}, {discrete.metric} at {discrete.steps}: "
                             "compute both curves on the steps they share")
    if len(discrete.points) < 3:
        return too_few_steps(discrete, continuous, discrete.steps)
    d, cs = metric_shape(discrete), [metric_shape(c) for c in continuous]
    every = [d, *cs]
    jumping = [s for s in cs if s.shape == "jump"]
    moved = [s for s in every if s.shape in ("jump", "smooth")]
    flat = [s for s in every if s.shape == "flat"]
    pattern: Pattern
    if any(s.shape == "undefined" for s in every):
        bad = [s for s in every if s.shape == "undefined"]
        pattern, carried, words = "undefined", [], (
            f"Mirage check not possible: the change of {_names(bad)} is undefined at some step.")
    elif d.shape == "jump" and all(s.shape == "smooth" for s in cs):
        pattern, carried = "discrete_jumps_continuous_smooth", cs
        words = (f"{_jump_text(d)} while {_names(cs)} {'moves' if len(cs) == 1 else 'move'} smoothly: the continuous "
                 f"{'metric' if len(cs) == 1 else 'metrics'} carried the change, and the jump is where a gradual "
                 f"change crossed {d.label}'s threshold (the mirage of Schaeffer et al. 2023), not a sudden ability.")
    elif d.shape == "smooth" and jumping:
        pattern, carried = "continuous_jumps_discrete_smooth", jumping
        words = (f"{'; '.join(_jump_text(s) for s in jumping)}, while {d.label} moves smoothly: the continuous "
                 f"measure carried an abrupt change that {d.label} spread over several steps; read the onset from "
                 f"{_names(jumping)}.")
    elif d.shape == "jump" and jumping:
        pattern, carried = "both_jump", [d, *jumping]
        same = all(s.jump_step == d.jump_step for s in jumping)
        words = (f"{'; '.join(_jump_text(s) for s in carried)}: both kinds of metric "
                 + ("agree on an abrupt change at the same step." if same else "jump, at different steps."))
    elif d.shape == "smooth" and all(s.shape == "smooth" for s in cs):
        pattern, carried = "both_smooth", every
        words = f"{_names(every)} all move smoothly: no jump to explain, in either kind of metric."
    elif not moved:
        pattern, carried = "no_change", []
        words = f"No metric's simultaneous band leaves 0: {_names(every)} did not move beyond noise."
    else:
        pattern, carried = "unmatched", moved
        words = (f"Only {_names(moved)} moved beyond noise ({'; '.join(f'{s.label}: {s.shape}' for s in moved)}); "
                 f"{_names(flat)} stayed flat, so the two kinds of metric cannot be compared for a mirage.")
    return MirageCheck(pattern=pattern, mirage=pattern == "discrete_jumps_continuous_smooth",
                       reverse=pattern == "continuous_jumps_discrete_smooth", discrete=d, continuous=cs,
                       carried_by=[s.metric for s in carried], words=words)
