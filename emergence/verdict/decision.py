"""The decision rule: confirmed, refuted or inconclusive, with the reason in words.

    >>> from emergence.stats import interval
    >>> from emergence.verdict.decision import decide
    >>> d = decide(interval([0.0] * 10, [0.0] * 10, design="paired"), "increase", 0.05,
    ...            min_n=10, control_detected=True)
    >>> d.outcome, d.reason
    ('inconclusive', 'underpowered')
    >>> d.words()
    'Inconclusive: underpowered: MDE 0.40 at n = 10 exceeds the smallest effect that counts (+0.05).'

Let the effect be signed so that the hypothesised direction is positive, with its
(1 - alpha) interval [lo, hi] (alpha possibly adjusted for multiplicity) and m the
smallest effect that counts:

- **confirmed** iff lo > m: the whole interval lies beyond the threshold.
- **refuted** iff hi < m AND the design had >= 80% power at m (MDE <= m) AND the run's
  positive control was detected. A narrow interval below m from a design that could not
  have seen m, or from a harness that missed its planted signal, says nothing.
- **inconclusive** otherwise, with the first reason that applies: too few items, an
  undefined interval, underpowered (MDE > m: more items would help), an interval
  straddling m, no positive control, positive control not detected.

The qualifier "smaller than the smallest effect that counts" marks an interval that
excludes 0 in the hypothesised direction without reaching m (0 < lo <= m): a real
improvement that a plain "No" would hide. "opposite direction" marks hi < 0.

Multiplicity: one primary hypothesis at alpha; the secondaries by Holm's step-down
(:func:`holm`, :func:`holm_p`).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from emergence.stats import Estimate, minimum_detectable_effect

Outcome = Literal["confirmed", "refuted", "inconclusive"]
Direction = Literal["increase", "decrease"]
Reason = Literal[
    "beyond_threshold",  # confirmed
    "below_threshold",  # refuted
    "too_few_items",
    "undefined_interval",
    "straddles_threshold",
    "underpowered",
    "control_not_detected",
    "no_positive_control",
]
Qualifier = Literal["smaller_than_min_effect", "opposite_direction"]

POWER = 0.8  # the power "refuted" needs at the smallest effect that counts


class Decision(BaseModel):
    """One hypothesis's outcome, why, and every number the sentence quotes."""

    model_config = ConfigDict(frozen=True, ser_json_inf_nan="constants")

    outcome: Outcome = Field(description="confirmed, refuted or inconclusive (see emergence.verdict.decision).")
    reason: Reason = Field(description="Why: the first rule of the decision that applied (module docstring order).")
    qualifier: Qualifier | None = Field(
        None, description="smaller_than_min_effect: the interval excludes 0 but not the threshold; "
        "opposite_direction: it lies wholly against the hypothesised direction.")
    effect: Estimate = Field(description="The effect and its interval, in the metric's units and sign.")
    direction: Direction = Field(description="The hypothesised direction of the effect.")
    min_effect: float = Field(description="Smallest effect that counts, a magnitude in `direction`.")
    mde: float = Field(description="Minimum detectable effect at 80% power at this n and alpha (NaN if undefined).")
    alpha: float = Field(description="The alpha the interval was built at (after any multiplicity adjustment).")
    n: int = Field(description="Items (pairs; the smaller side for an unpaired gap) counted against min_n.")
    min_n: int = Field(description="Below this many items the outcome is inconclusive.")
    control_detected: bool | None = Field(
        description="Whether the run's positive control was detected; None: the run had none.")

    def words(self, digits: int = 2) -> str:
        """One sentence for the report and the CLI (the same words in both)."""
        f = f".{digits}f"
        sign = "+" if self.direction == "increase" else "-"
        thr = f"{sign}{self.min_effect:{f}}"
        e = self.effect
        ci = f"[{e.ci_low:+{f}}, {e.ci_high:+{f}}]"
        conf = f"{100 * e.confidence:g}%"
        mde = f"MDE {self.mde:{f}} at n = {self.n}"
        text = {
            "beyond_threshold": f"Confirmed: the {conf} interval {ci} lies wholly beyond the smallest effect "
            f"that counts ({thr})",
            "below_threshold": f"Refuted: the {conf} interval {ci} lies below the smallest effect that counts "
            f"({thr}), with power to see it ({mde}) and the positive control detected",
            "too_few_items": f"Inconclusive: too few items (n = {self.n}, fewer than {self.min_n})",
            "undefined_interval": f"Inconclusive: undefined interval (no spread to bound the effect at n = {self.n})",
            "straddles_threshold": f"Inconclusive: the {conf} interval {ci} straddles the threshold {thr} ({mde})",
            "underpowered": f"Inconclusive: underpowered: {mde} exceeds the smallest effect that counts ({thr})",
            "control_not_detected": f"Inconclusive: the positive control was not detected, so the interval {ci} "
            f"below {thr} may be the harness's blindness",
            "no_positive_control": f"Inconclusive: no positive control ran, so the interval {ci} below {thr} "
            f"cannot be told from a blind harness",
        }[self.reason]
        if self.qualifier == "smaller_than_min_effect":
            text += "; the interval excludes 0: an effect in the hypothesised direction, smaller than the " \
                "smallest effect that counts" + ("" if self.outcome == "refuted" else " or not shown to reach it")
        elif self.qualifier == "opposite_direction":
            text += "; the interval excludes 0 on the other side: the effect goes the opposite way"
        return text + "."

    def __str__(self) -> str:
        return self.words()


def decide(
    effect: Estimate,
    direction: Direction,
    min_effect: float,
    *,
    mde: float | None = None,
    alpha: float | None = None,
    min_n: int = 10,
    control_detected: bool | None = None,
    n: int | None = None,
) -> Decision:
    """Apply the decision rule (module docstring) to an effect estimate.

    ``mde`` defaults to :func:`emergence.stats.minimum_detectable_effect` of ``effect``;
    ``alpha``, when given, must be the alpha ``effect`` was built at (a Holm-adjusted
    alpha needs an interval rebuilt at it). ``n`` defaults to ``effect.n``; for an
    unpaired gap pass the smaller side.
    """
    if direction not in ("increase", "decrease"):
        raise ValueError(f"direction must be 'increase' or 'decrease', got {direction!r}")
    if min_effect < 0:
        raise ValueError(f"min_effect is a magnitude, got {min_effect}")
    built = float(f"{1.0 - effect.confidence:.12g}")  # 1 - 0.95 is 0.050000000000000044
    if alpha is not None and not math.isclose(alpha, built, rel_tol=1e-9, abs_tol=1e-12):
        raise ValueError(f"the interval was built at alpha={built:g}, not {alpha:g}: rebuild it at that alpha")
    mde = minimum_detectable_effect(effect, POWER) if mde is None else float(mde)
    n = effect.n if n is None else n
    lo, hi = (effect.ci_low, effect.ci_high) if direction == "increase" else (-effect.ci_high, -effect.ci_low)
    qualifier: Qualifier | None = None
    if n < min_n:
        outcome, reason = "inconclusive", "too_few_items"
    elif math.isnan(lo) or math.isnan(hi):
        outcome, reason = "inconclusive", "undefined_interval"
    else:
        if 0.0 < lo <= min_effect:
            qualifier = "smaller_than_min_effect"
        elif hi < 0.0:
            qualifier = "opposite_direction"
        if lo > min_effect:
            outcome, reason = "confirmed", "beyond_threshold"
        elif not mde <= min_effect:  # NaN MDE is not power
            outcome, reason = "inconclusive", "underpowered"
        elif hi >= min_effect:
            outcome, reason = "inconclusive", "straddles_threshold"
        elif control_detected is None:
            outcome, reason = "inconclusive", "no_positive_control"
        elif not control_detected:
            outcome, reason = "inconclusive", "control_not_detected"
        else:
            outcome, reason = "refuted", "below_threshold"
    return Decision(outcome=outcome, reason=reason, qualifier=qualifier, effect=effect, direction=direction,
                    min_effect=min_effect, mde=mde, alpha=built, n=n, min_n=min_n, control_detected=control_detected)


# --------------------------------------------------------------------------- multiplicity
@dataclass(frozen=True)
class Claim:
    """A hypothesis to decide within a family: how to build its interval at any alpha, and its rule."""

    build: Callable[[float], Estimate]  # alpha -> the effect's (1 - alpha) interval; deterministic (seeded)
    direction: Direction
    min_effect: float
    min_n: int = 10
    control_detected: bool | None = None
    n: int | None = None  # items counted against min_n (the smaller side of a gap); default the estimate's n


class HolmDecision(BaseModel):
    """A hypothesis's decision within its family, with the alpha it was decided at."""

    model_config = ConfigDict(frozen=True, ser_json_inf_nan="constants")

    alpha: float = Field(description="The alpha its interval was built at: alpha/m, alpha/(m-1), ... (Holm), "
                         "or the family's alpha for the primary.")
    step: int = Field(description="Holm step at which it was decided (1 = tested at alpha/m); 0 for the primary.")
    decision: Decision = Field(description="The decision at that alpha.")


def _decide_at(test: Claim, alpha: float) -> Decision:
    return decide(test.build(alpha), test.direction, test.min_effect, alpha=alpha, min_n=test.min_n,
                  control_detected=test.control_detected, n=test.n)


def holm(tests: Mapping[str, Claim], alpha: float = 0.05) -> dict[str, HolmDecision]:
    """Holm's step-down over interval-based decisions; family-wise error of claims <= alpha.

    Step k tests every hypothesis still open at alpha / r, r the number still open (r = m
    at step 1): its interval is rebuilt at 1 - alpha / r and the decision rule applied.
    Those confirmed or refuted are closed at that alpha; if none was, the rest stay
    inconclusive (decided at the last alpha / r) and the procedure stops; otherwise the
    rest are tested again at the larger alpha / r.

    Why this is Holm: the intervals here are nested (wider at smaller alpha), so "the
    (1 - a) interval excludes m" is "p <= a" for the two-sided test of effect = m that the
    interval inverts; testing everything open at alpha / r and closing what passes is
    Holm's step-down on those p-values, with its directional claims (confirmed above m,
    refuted below) held at alpha as Holm's are (Shaffer 1980). Closing a hypothesis only
    when it is confirmed or refuted, not when power or a missing control blocks a
    refutation, keeps a subset of Holm's rejections, so the guarantee stands. The
    builders must be deterministic (seeded) so a rebuilt interval differs only in alpha.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    open_names = list(tests)
    out: dict[str, HolmDecision] = {}
    step = 0
    while open_names:
        step += 1
        level = alpha / len(open_names)
        decided = {name: _decide_at(tests[name], level) for name in open_names}
        closed = [name for name, d in decided.items() if d.outcome != "inconclusive"]
        for name in closed if closed else open_names:
            out[name] = HolmDecision(alpha=level, step=step, decision=decided[name])
        if not closed:
            break
        open_names = [name for name in open_names if name not in closed]
    return {name: out[name] for name in tests}


def decide_family(primary: tuple[str, Claim], secondary: Mapping[str, Claim], alpha: float = 0.05) -> dict[str, HolmDecision]:
    """The primary hypothesis at alpha on its own; the secondaries by :func:`holm` at alpha."""
    name, test = primary
    if name in secondary:
        raise ValueError(f"{name!r} is both the primary and a secondary hypothesis")
    return {name: HolmDecision(alpha=alpha, step=0, decision=_decide_at(test, alpha)), **holm(secondary, alpha)}


class HolmP(BaseModel):
    """Holm's step-down on one p-value."""

    model_config = ConfigDict(frozen=True)

    p_value: float = Field(description="The raw p-value.")
    alpha: float = Field(description="The alpha it was compared with: alpha / (m - rank + 1), rank by p ascending.")
    adjusted_p: float = Field(description="Holm-adjusted p-value: max over ranks <= its own of min(1, (m - j + 1) p_(j)).")
    rejected: bool = Field(description="Rejected by the step-down (adjusted_p <= alpha).")


def holm_p(p_values: Mapping[str, float] | Sequence[float], alpha: float = 0.05) -> dict[str, HolmP]:
    """Holm's step-down on p-values: sort ascending, reject while p_(k) <= alpha / (m - k + 1).

    Keys are the mapping's keys, or "0", "1", ... for a sequence. A NaN p-value is never
    rejected and sorts last.
    """
    items = dict(p_values) if isinstance(p_values, Mapping) else {str(i): p for i, p in enumerate(p_values)}
    m = len(items)
    order = sorted(items, key=lambda k: (math.isnan(items[k]), items[k]))
    out: dict[str, HolmP] = {}
    running, stopped = 0.0, False
    for rank, name in enumerate(order, start=1):
        p = float(items[name])
        level = alpha / (m - rank + 1)
        running = max(running, min(1.0, (m - rank + 1) * p)) if not math.isnan(p) else math.nan
        stopped = stopped or math.isnan(p) or p > level
        out[name] = HolmP(p_value=p, alpha=level, adjusted_p=running, rejected=not stopped)
    return {name: out[name] for name in items}
