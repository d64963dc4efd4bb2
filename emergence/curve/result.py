"""The typed results of one metric's curve: its points, its simultaneous band and its onset.

    >>> from emergence.curve.result import Onset
    >>> Onset(band="simultaneous", step=25, low=10, high=None, no_onset_share=0.04, n_boot=2000,
    ...       last_step=100, min_effect=0.05, direction="increase").words()
    'onset at step 25 (95% bootstrap interval: step 10 to later than step 100; 4% of resamples show no onset within 100 steps)'
"""
from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from emergence.stats import Estimate, Kind
from emergence.verdict.decision import Direction

__all__ = ["BandKind", "CurvePoint", "MetricCurve", "Onset"]

BandKind = Literal["simultaneous", "pointwise"]


class CurvePoint(BaseModel):
    """One probed step of one metric."""

    model_config = ConfigDict(frozen=True, ser_json_inf_nan="constants")

    step: int = Field(description="Training step (the base model's step first, usually 0).")
    value: Estimate = Field(description="The metric at this step: its mean with the one-sample interval of "
                            "emergence.stats.interval; n counts the items with a value (NaNs dropped).")
    change: Estimate | None = Field(description="Change from base (this step - base) over the items with a value "
                                    "at both, with the paired pointwise interval of emergence.stats.interval (the "
                                    "verdict's); n counts those pairs. None at the base.")
    band_low: float | None = Field(description="Lower end of the simultaneous band on the change from base (max-t; "
                                   "emergence.curve.bands); NaN where undefined, None at the base.")
    band_high: float | None = Field(description="Upper end of the simultaneous band; NaN where undefined, None at "
                                    "the base.")
    increment: Estimate | None = Field(description="Change from the previous probed step (paired, pointwise). "
                                       "None at the base.")
    jump_half_width: float | None = Field(description="Half-width of the bootstrap interval (at alpha / K) of this "
                                          "interval's jump excess J_k (emergence.curve.mirage): the noise floor a "
                                          "jump must clear. None at the base; NaN where undefined.")


class Onset(BaseModel):
    """The first step whose band of change from base lies wholly beyond the smallest effect that counts."""

    model_config = ConfigDict(frozen=True, ser_json_inf_nan="constants")

    band: BandKind = Field(description="Which band decides: simultaneous (the default: the chance that any step of a "
                           "curve with no effect passes is held at alpha/2) or pointwise.")
    step: int | None = Field(description="The onset step; None: no onset within the probed steps.")
    low: int | None = Field(description="Lower end of the bootstrap percentile interval of the onset step; None: "
                            "no onset within the probed steps at that percentile.")
    high: int | None = Field(description="Upper end of that interval; None: later than the last probed step "
                             "(no onset within it).")
    no_onset_share: float = Field(description="Share of the bootstrap resamples with no onset within the probed steps.")
    n_boot: int = Field(description="Bootstrap resamples of the items behind the interval.")
    confidence: float = Field(0.95, description="Coverage of the percentile interval, 1 - alpha.")
    last_step: int = Field(description="The last probed step ('no onset within N steps').")
    min_effect: float = Field(description="The smallest effect that counts, a magnitude in `direction`.")
    direction: Direction = Field(description="Which way is better for the metric.")

    def words(self) -> str:
        """One phrase for the report: the onset and its interval, or 'no onset within N steps'."""
        none = f"no onset within {self.last_step} steps"
        if self.step is None:
            return f"{none} ({100 * (1 - self.no_onset_share):.0f}% of resamples show one)"
        low = f"step {self.low}" if self.low is not None else f"later than step {self.last_step}"
        high = f"step {self.high}" if self.high is not None else f"later than step {self.last_step}"
        span = low if low == high else f"{low} to {high}"
        return (f"onset at step {self.step} ({100 * self.confidence:g}% bootstrap interval: {span}; "
                f"{100 * self.no_onset_share:.0f}% of resamples show {none})")


class MetricCurve(BaseModel):
    """One metric along training: the metric and its change from base at every probed step."""

    model_config = ConfigDict(frozen=True, ser_json_inf_nan="constants")

    metric: str = Field(description="The metric's key (emergence.metrics.METRICS).")
    label: str = Field(description="Words for the metric in charts and sentences.")
    kind: Kind = Field(description="binary (0/1 per item: Tango's interval and score) or continuous (bootstrap-t).")
    direction: Direction = Field(description="Which way is better: increase or decrease.")
    discrete: bool = Field(description="A thresholded or generated metric (accuracy, answer rate), the kind whose "
                           "jumps Schaeffer et al. (2023) warn may be the threshold's doing.")
    min_effect: float = Field(description="The smallest change from base that counts, a magnitude in `direction`.")
    alpha: float = Field(description="1 - coverage of the pointwise intervals and of the band (family-wise).")
    n_items: int = Field(description="Items in the matrix (some may be NaN at some steps; see each point's n).")
    points: list[CurvePoint] = Field(description="The base first, then each probed step in order.")
    band_critical: float = Field(description="The max-t critical value c: the band is {delta : |t_k(delta)| <= c} at "
                                 "every step (a step whose pointwise critical value is larger keeps its own).")
    band_alpha: float = Field(description="The per-step alpha the critical value amounts to, 2 (1 - Phi(c)): "
                              "what Bonferroni would spend at alpha / K.")
    onset: Onset = Field(description="The onset step with its bootstrap interval.")
    n_boot: int = Field(description="Bootstrap resamples behind the band's critical value and the onset's interval.")
    seed: int = Field(description="Seed of those resamples and of the bootstrap-t intervals.")

    @property
    def steps(self) -> list[int]:
        return [p.step for p in self.points]

    def band_contains_pointwise(self) -> bool:
        """True when every defined band holds its step's pointwise interval (it should, by construction)."""
        for p in self.points[1:]:
            if p.change is None or p.band_low is None or p.band_high is None or math.isnan(p.band_low):
                continue
            if p.band_low > p.change.ci_low + 1e-12 or p.band_high < p.change.ci_high - 1e-12:
                return False
        return True
