"""The panel's controls: planted canaries must be detected, base-only scores must not be.

    >>> from emergence.memorisation.controls import canary_detection, negative_control
    >>> canary_detection([100.0 + i for i in range(40)], [float(i) for i in range(40)]).text
    'canaries detected: AUC 1.00 [0.97, 1.00], its whole interval above 0.95 (40 canaries, 40 controls)'
    >>> canary_detection([10.0 + i for i in range(8)], [float(i) for i in range(8)]).passed   # [0.78, 1.00]
    False
    >>> negative_control([0.1, 0.4, 0.2, 0.9], [0.3, 0.5, 0.0, 0.8]).passed
    True

Canaries (positive control): records seen in training with a unique sentence appended,
scored against canary sentences that were never planted, under the reference-calibrated
score. Detected iff the whole AUC interval lies above 0.95: the decision rule of
:mod:`emergence.verdict.decision` ("confirmed iff the interval lies beyond the smallest
effect that counts") applied to AUC − 0.5 with 0.45 as that effect, so the panel's control
and the ``canary_recall`` verdict always agree. It asks for a strong signal and for enough
canaries to show it: perfectly separated canaries need about 30 a side (8 + 8 give
[0.78, 1.00], 40 + 40 give [0.97, 1.00]); below 4 a side there is no interval, so no
detection.

Negative control: the base model never saw the split, so its scores of members and
non-members must give an AUC interval that covers 0.5. One that does not means the split
is not IID (Duan et al. 2024: non-IID member sets inflate attack AUCs), or the score
reads something other than training (length, template).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from emergence.memorisation.auc import MIN_PER_SIDE, auc
from emergence.stats import Estimate

__all__ = ["CANARY_MIN_AUC", "ControlResult", "canary_detection", "covers_chance", "negative_control"]

CANARY_MIN_AUC = 0.95


class ControlResult(BaseModel):
    """A control's AUC, whether the control passed, and a sentence saying why."""

    model_config = ConfigDict(frozen=True, ser_json_inf_nan="constants")

    control: str = Field(description="'canaries' (positive control) or 'base_only' (negative control).")
    auc: Estimate = Field(description="AUC of the scores with its 95% interval (emergence.memorisation.auc).")
    passed: bool = Field(description="Canaries: detected. Base-only: the interval covers 0.5.")
    rule: str = Field(description="The rule applied, in words.")
    text: str = Field(description="The outcome in one sentence, for the report.")


def covers_chance(estimate: Estimate, chance: float = 0.5) -> bool:
    """Whether an AUC interval contains ``chance``; False when the interval is undefined."""
    if math.isnan(estimate.ci_low) or math.isnan(estimate.ci_high):
        return False
    return estimate.ci_low <= chance <= estimate.ci_high


def _sizes(a: np.ndarray, b: np.ndarray, what: tuple[str, str]) -> str:
    return f"{int(np.sum(~np.isnan(a)))} {what[0]}, {int(np.sum(~np.isnan(b)))} {what[1]}"


def canary_detection(
    canaries: Sequence[float] | np.ndarray,
    controls: Sequence[float] | np.ndarray,
    *,
    min_auc: float = CANARY_MIN_AUC,
    alpha: float = 0.05,
) -> ControlResult:
    """Positive control: reference-calibrated scores of planted canaries (``canaries``) against
    never-planted ones (``controls``). Detected iff the whole (1 - alpha) AUC interval lies
    above ``min_auc``."""
    a, b = np.asarray(canaries, dtype=float).ravel(), np.asarray(controls, dtype=float).ravel()
    e = auc(a[~np.isnan(a)], b[~np.isnan(b)], alpha=alpha)
    sizes = _sizes(a, b, ("canaries", "controls"))
    rule = f"detected iff the whole {1 - alpha:.0%} AUC interval lies above {min_auc:g}"
    if math.isnan(e.mean):
        return ControlResult(control="canaries", auc=e, passed=False, rule=rule,
                             text=f"canaries not scored: AUC undefined ({sizes})")
    if math.isnan(e.ci_low):
        text = (f"canaries not detected: AUC {e.short()} has no interval with fewer than {MIN_PER_SIDE} "
                f"a side ({sizes})")
        return ControlResult(control="canaries", auc=e, passed=False, rule=rule, text=text)
    passed = e.ci_low > min_auc
    if passed:
        text = f"canaries detected: AUC {e.short()}, its whole interval above {min_auc:g} ({sizes})"
    elif e.mean >= min_auc:
        text = (f"canaries not detected: AUC {e.short()} reaches {min_auc:g} but its interval does not lie above "
                f"it: too few canaries to show it ({sizes})")
    else:
        text = f"canaries not detected: AUC {e.short()} < {min_auc:g} ({sizes})"
    return ControlResult(control="canaries", auc=e, passed=passed, rule=rule, text=text)


def negative_control(
    members: Sequence[float] | np.ndarray, nonmembers: Sequence[float] | np.ndarray, *, alpha: float = 0.05
) -> ControlResult:
    """Negative control: base-only scores of members vs non-members; passes iff the AUC
    interval covers 0.5."""
    a, b = np.asarray(members, dtype=float).ravel(), np.asarray(nonmembers, dtype=float).ravel()
    e = auc(a, b, alpha=alpha)
    sizes = _sizes(a, b, ("members", "non-members"))
    rule = f"passes iff the {1 - alpha:.0%} AUC interval of the base model's scores covers 0.5"
    if math.isnan(e.mean) or math.isnan(e.ci_low):
        return ControlResult(control="base_only", auc=e, passed=False, rule=rule,
                             text=f"base-only control undefined: AUC {e.short()} without an interval "
                                  f"(at least {MIN_PER_SIDE} scores a side are needed; {sizes})")
    if covers_chance(e):
        text = f"base-only AUC {e.short()} covers 0.5: the base cannot tell members from non-members ({sizes})"
        return ControlResult(control="base_only", auc=e, passed=True, rule=rule, text=text)
    text = (f"base-only AUC {e.short()} excludes 0.5: members and non-members differ before training "
            f"(a non-IID split, or the score reads length or template) ({sizes})")
    return ControlResult(control="base_only", auc=e, passed=False, rule=rule, text=text)
