"""ROC curves and the true-positive rate at a low false-positive rate (1% by default).

    >>> from emergence.memorisation.roc import roc_curve, tpr_at_fpr
    >>> roc_curve([3.0, 2.0], [1.0, 2.0])
    (array([0. , 0. , 0.5, 1. ]), array([0. , 0.5, 1. , 1. ]))
    >>> r = tpr_at_fpr(list(range(50, 250)), list(range(200)), n_boot=200)
    >>> r.resolvable, r.threshold, r.tpr.mean, r.fpr
    (True, 198.0, 0.255, 0.005)
    >>> tpr_at_fpr([2.0] * 20, [1.0] * 20, n_boot=200).text()
    'TPR at 1% FPR: not resolvable with 20 non-members; at the strictest threshold (above every non-member; expected FPR 4.8%) TPR 100% [84, 100]'

The threshold is the j-th largest non-member score with ``j = floor(target (n0 + 1))``,
a record counted a member when its score is strictly above it. A threshold at the j-th
largest of n0 draws passes a fresh non-member with probability j / (n0 + 1) on average
(order statistics), so that rule keeps the *expected* FPR at or below the target and the
empirical FPR ((j - 1) / n0 without ties) below it. The usual "largest TPR with empirical
FPR <= 1%" picks the next lower score, whose expected FPR is up to twice the target at a
few hundred non-members: its TPR came out 0.16 for a true 0.13 at 200 + 200
(benchmarks/README.md). With fewer than ``1/target - 1`` non-members (99 at 1%) no
threshold reaches the target: the result says so (``resolvable`` False) and reports the
TPR above every non-member with that threshold's expected FPR, never a number labelled 1%.

The interval is a percentile bootstrap resampling members and non-members separately
(the threshold moves with the resample), widened to contain the Wilson interval of the
TPR at the fixed threshold, so a sample where every member falls on one side does not
get a zero-width interval. It covered 0.95-0.98 at 500 and 2,000 a side, 0.92-0.95 at
200 and 0.77-0.94 at 100: below a few hundred non-members read the TPR as descriptive.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from emergence.stats import Estimate, wilson_bounds
from emergence.stats.estimate import _z

__all__ = ["TprAtFpr", "roc_curve", "threshold_rank", "tpr_at_fpr", "tpr_at_rank"]

_MAX_CELLS = 2_000_000  # bootstrap resamples are drawn in blocks of at most this many numbers


def _clean(values: Sequence[float] | np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    return arr[~np.isnan(arr)]


def roc_curve(members: Sequence[float] | np.ndarray, nonmembers: Sequence[float] | np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, tpr) of "member iff score >= t" at every distinct score t, from (0, 0) to (1, 1),
    for plotting. Ties between the sides give a diagonal step, so the trapezoid area under
    the curve is the Mann-Whitney AUC with ties counted half."""
    x, y = _clean(members), _clean(nonmembers)
    if x.size == 0 or y.size == 0:
        raise ValueError("roc_curve needs at least one score on each side")
    scores = np.concatenate([x, y])
    is_member = np.concatenate([np.ones(x.size), np.zeros(y.size)])
    order = np.argsort(-scores, kind="stable")
    scores, is_member = scores[order], is_member[order]
    last = np.r_[scores[1:] != scores[:-1], True]  # the last position of each distinct score
    tp = np.cumsum(is_member)[last]
    fp = np.cumsum(1.0 - is_member)[last]
    return np.r_[0.0, fp / y.size], np.r_[0.0, tp / x.size]


def threshold_rank(n_nonmembers: int, target: float) -> int:
    """j: the threshold is the j-th largest non-member score, ``floor(target (n0 + 1))``;
    0 when no threshold among n0 non-members reaches the target FPR."""
    if not 0.0 < target < 1.0:
        raise ValueError(f"the target FPR must lie in (0, 1), got {target}")
    return min(n_nonmembers, math.floor(target * (n_nonmembers + 1) + 1e-9))


def tpr_at_rank(members: np.ndarray, nonmembers: np.ndarray, j: int) -> tuple[np.ndarray, np.ndarray]:
    """(TPR, threshold) per row: the share of members strictly above the j-th largest
    non-member of the row (j >= 1)."""
    y = np.atleast_2d(nonmembers)
    threshold = -np.partition(-y, j - 1, axis=-1)[..., j - 1]
    return np.mean(np.atleast_2d(members) > threshold[..., None], axis=-1), threshold


class TprAtFpr(BaseModel):
    """The TPR at a target FPR, with the FPR its threshold actually reaches, in numbers and words."""

    model_config = ConfigDict(frozen=True, ser_json_inf_nan="constants")

    target_fpr: float = Field(description="The FPR asked for (0.01 for 'TPR at 1% FPR').")
    tpr: Estimate = Field(description="TPR at the threshold used, with its bootstrap interval (NaN when a side is empty).")
    threshold: float = Field(description="Score threshold: members are those strictly above it.")
    fpr: float = Field(description="Empirical FPR at the threshold (share of non-members above it).")
    expected_fpr: float = Field(description="Expected FPR of the threshold for a fresh non-member: j / (n0 + 1).")
    resolvable: bool = Field(description="Whether the expected FPR is at or below the target; False with too few "
                                         "non-members (fewer than 1/target - 1), where the threshold is the strictest.")
    n_members: int = Field(description="Member scores used (NaNs dropped).")
    n_nonmembers: int = Field(description="Non-member scores used (NaNs dropped).")

    def text(self) -> str:
        """One sentence for the report."""
        head = f"TPR at {self.target_fpr * 100:g}% FPR"
        if self.n_members == 0 or self.n_nonmembers == 0:
            return f"{head}: n/a ({self.n_members} members, {self.n_nonmembers} non-members)"
        if self.resolvable:
            return f"{head}: {self.tpr.short(pct=True)} (threshold {self.threshold:.4g}; empirical FPR {self.fpr:.1%})"
        return (f"{head}: not resolvable with {self.n_nonmembers} non-members; at the strictest threshold (above "
                f"every non-member; expected FPR {self.expected_fpr:.1%}) TPR {self.tpr.short(pct=True)}")


def tpr_at_fpr(
    members: Sequence[float] | np.ndarray,
    nonmembers: Sequence[float] | np.ndarray,
    fpr: float = 0.01,
    *,
    alpha: float = 0.05,
    n_boot: int = 2000,
    seed: int | np.random.Generator = 0,
) -> TprAtFpr:
    """TPR at ``fpr`` (higher score = more likely a member) with a bootstrap interval; see
    the module docstring for the threshold rule and what an unresolvable target returns."""
    x, y = _clean(members), _clean(nonmembers)
    _z(alpha)
    if n_boot < 2:
        raise ValueError(f"n_boot must be at least 2, got {n_boot}")
    j = threshold_rank(y.size, fpr)
    if x.size == 0 or y.size == 0:
        nan = Estimate(mean=math.nan, se=math.nan, ci_low=math.nan, ci_high=math.nan, n=int(x.size + y.size),
                       method="unpaired_bootstrap", confidence=1 - alpha)
        return TprAtFpr(target_fpr=fpr, tpr=nan, threshold=math.nan, fpr=math.nan, expected_fpr=math.nan,
                        resolvable=j >= 1, n_members=int(x.size), n_nonmembers=int(y.size))
    resolvable = j >= 1
    j = max(j, 1)
    tpr, threshold = (float(v[0]) for v in tpr_at_rank(x, y, j))
    rng = np.random.default_rng(seed)
    boots = np.empty(n_boot)
    step = max(1, _MAX_CELLS // max(x.size, y.size))
    for s in range(0, n_boot, step):
        rows = min(step, n_boot - s)
        bx = x[rng.integers(0, x.size, (rows, x.size))]
        by = y[rng.integers(0, y.size, (rows, y.size))]
        boots[s:s + rows] = tpr_at_rank(bx, by, j)[0]
    lo, hi = np.quantile(boots, [alpha / 2.0, 1.0 - alpha / 2.0])
    hits = int(np.sum(x > threshold))
    w_lo, w_hi = wilson_bounds(hits, x.size, alpha)
    estimate = Estimate(mean=tpr, se=float(boots.std(ddof=1)),
                        ci_low=float(min(lo, w_lo)), ci_high=float(max(hi, w_hi)), n=int(x.size + y.size),
                        method="unpaired_bootstrap", confidence=1 - alpha)
    return TprAtFpr(target_fpr=fpr, tpr=estimate, threshold=threshold, fpr=float(np.mean(y > threshold)),
                    expected_fpr=j / (y.size + 1), resolvable=resolvable, n_members=int(x.size),
                    n_nonmembers=int(y.size))
