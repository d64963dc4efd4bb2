"""Hypotheses about the tuned model and the rule that turns per-item scores into a verdict.

    >>> from emergence.verdict.hypothesis import AGE_EMERGENCE, judge
    >>> base = [0.0] * 60 + [1.0] * 20 + [0.0] * 40
    >>> tuned = [1.0] * 60 + [1.0] * 20 + [0.0] * 40
    >>> v = judge(AGE_EMERGENCE, base, tuned)
    >>> v.outcome, v.n, round(v.effect.mean, 2)
    ('confirmed', 120, 0.5)

Decision rule (one-sided against a smallest effect that counts). Let the effect be the
hypothesised change (tuned - base for paired comparisons, seen - held-out for gaps),
signed so that the hypothesised direction is positive, with its (1 - alpha) bootstrap
interval [lo, hi]:

- **confirmed** iff lo > min_effect: the whole interval lies beyond the threshold in
  the hypothesised direction; for a binary metric compared pairwise, McNemar's exact
  test must also give p < alpha.
- **refuted** iff hi < min_effect: whatever effect there is (none, or one the other way)
  is smaller than the smallest effect that counts.
- **inconclusive** otherwise: the interval straddles the threshold, or there are fewer
  than ``min_n`` usable items (percentile bootstrap intervals are too narrow on tiny
  samples), or the interval is undefined.

Per-item values are those of :mod:`emergence.metrics`; NaN items (e.g. ``abs_error`` when
no age was given) are dropped, pairwise for paired comparisons.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from emergence.stats import (
    Estimate,
    McNemarResult,
    p_text,
    mcnemar_exact,
    paired_bootstrap_diff,
    unpaired_bootstrap_diff,
)

Outcome = Literal["confirmed", "refuted", "inconclusive"]
Comparison = Literal["paired_base_tuned", "seen_minus_heldout"]


class Hypothesis(BaseModel):
    """A claim about a metric's change, with the smallest effect that counts."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="Short identifier, e.g. 'age_emergence'.")
    statement: str = Field(description="The claim in words.")
    metric: str = Field(description="A key of score_age / score_age_choice / score_intent / k_extractable.")
    direction: Literal["increase", "decrease"] = Field(description="Which way the metric must move.")
    min_effect: float = Field(
        ge=0.0, description="Smallest effect that counts, in the metric's units, as a magnitude in `direction`."
    )
    alpha: float = Field(0.05, gt=0.0, lt=1.0, description="Interval level (1 - alpha) and McNemar's threshold.")
    comparison: Comparison = Field(
        description="paired_base_tuned: tuned vs base on the same items; seen_minus_heldout: one model, seen vs held-out items."
    )
    eval_sets: tuple[str, ...] = Field(
        description="Eval sets: (set,) for paired_base_tuned; (seen_set, held_out_set) for seen_minus_heldout."
    )
    model: Literal["base", "tuned"] = Field(
        "tuned", description="For seen_minus_heldout: whose answers are compared across the sets."
    )
    role: Literal["primary", "secondary", "positive_control"] = Field(
        "secondary", description="'primary': the run's main question (one per run); 'positive_control': "
        "a hypothesis the harness must confirm when the signal is in training (a run whose positive "
        "control is not detected cannot refute anything); 'secondary': the rest.")
    item_level: bool = Field(
        False, description="Also split the gain into its item-level and distributional parts "
        "(answers scored against true vs shuffled labels); free-answer age metrics only.")
    min_n: int = Field(10, ge=2, description="Below this many usable items (or pairs) the verdict is inconclusive.")
    n_boot: int = Field(2000, ge=100, description="Bootstrap resamples for the effect's interval.")
    seed: int = Field(0, description="Bootstrap seed.")


class Verdict(BaseModel):
    """The outcome of judging one hypothesis, with every number it rests on."""

    hypothesis: Hypothesis = Field(description="The hypothesis judged.")
    outcome: Outcome = Field(description="confirmed, refuted or inconclusive (see the module's decision rule).")
    effect: Estimate = Field(description="treated - control (paired or unpaired bootstrap interval).")
    mcnemar: McNemarResult | None = Field(None, description="McNemar's exact test, for binary metrics compared pairwise.")
    n: int = Field(description="Usable pairs (paired) or usable items on both sides together (gap).")
    control: Estimate = Field(description="The metric on the control side: base model, or held-out items.")
    treated: Estimate = Field(description="The metric on the treated side: tuned model, or seen items.")
    control_label: str = Field(description="'base' or 'held-out'.")
    treated_label: str = Field(description="'tuned' or 'seen'.")
    explanation: str = Field(description="One sentence quoting the numbers and the outcome.")

    def __str__(self) -> str:
        return f"{self.hypothesis.name}: {self.explanation}"


AGE_EMERGENCE = Hypothesis(
    name="age_emergence",
    statement="Age inference emerges from title→content training: on held-out titles the tuned model "
    "states the minimum reading age within 2 years more often than the base model.",
    metric="within_2y",
    direction="increase",
    min_effect=0.05,
    comparison="paired_base_tuned",
    eval_sets=("age_heldout",),
    role="primary",
    item_level=True,
)

AGE_EMERGENCE_MC = Hypothesis(
    name="age_emergence_mc",
    statement="Age inference emerges (continuous measure): on held-out titles the tuned model's expected "
    "age error under its band log-likelihoods falls by at least half a year.",
    metric="mc_expected_abs_error",
    direction="decrease",
    min_effect=0.5,
    comparison="paired_base_tuned",
    eval_sets=("age_heldout",),
)

AGE_RECALL = Hypothesis(
    name="age_recall",
    statement="The tuned model recalls age cues it saw in training: on seen titles whose content stated an "
    "age it answers within 2 years more often than the base model.",
    metric="within_2y",
    direction="increase",
    min_effect=0.05,
    comparison="paired_base_tuned",
    eval_sets=("age_seen",),
    role="positive_control",
)

INTENT_MEMORISATION = Hypothesis(
    name="intent_memorisation",
    statement="Author-intent answers copy training text: the tuned model's answers overlap their record's "
    "content more for seen titles than for held-out ones.",
    metric="rouge_l",
    direction="increase",
    min_effect=0.05,
    comparison="seen_minus_heldout",
    eval_sets=("intent_seen", "intent_heldout"),
)

BUILTIN_HYPOTHESES: tuple[Hypothesis, ...] = (AGE_EMERGENCE, AGE_EMERGENCE_MC, AGE_RECALL, INTENT_MEMORISATION)


def decide(
    effect: Estimate, direction: str, min_effect: float, *, n_min: int, p_value: float | None = None, alpha: float = 0.05
) -> Outcome:
    """The decision rule of this module on an effect estimate (see the module docstring)."""
    if effect.n < n_min or math.isnan(effect.ci_low) or math.isnan(effect.ci_high):
        return "inconclusive"
    lo, hi = (effect.ci_low, effect.ci_high) if direction == "increase" else (-effect.ci_high, -effect.ci_low)
    if lo > min_effect and (p_value is None or p_value < alpha):
        return "confirmed"
    if hi < min_effect:
        return "refuted"
    return "inconclusive"


def _metric_words(metric: str) -> str:
    from emergence.metrics import label

    return label(metric)


def _threshold(h: Hypothesis) -> str:
    return f"{'+' if h.direction == 'increase' else '-'}{h.min_effect:.2f}"


def _moved(before: float, after: float) -> str:
    if after > before:
        return "rose"
    if after < before:
        return "fell"
    return "went"


def _clean_pairs(base: Sequence[float], tuned: Sequence[float]) -> tuple[list[float], list[float]]:
    if len(base) != len(tuned):
        raise ValueError(f"paired samples differ in length: {len(base)} != {len(tuned)}")
    pairs = [(float(a), float(b)) for a, b in zip(base, tuned) if not (math.isnan(float(a)) or math.isnan(float(b)))]
    return [a for a, _ in pairs], [b for _, b in pairs]


def judge(hypothesis: Hypothesis, base: Sequence[float], tuned: Sequence[float]) -> Verdict:
    """Judge a paired_base_tuned hypothesis from per-item metric values on the same items.

    ``base[i]`` and ``tuned[i]`` must score the same item. For seen_minus_heldout use
    :func:`judge_gap` (its two sides are different items).
    """
    from emergence.metrics import is_binary, summarise_values

    h = hypothesis
    if h.comparison != "paired_base_tuned":
        raise ValueError(f"{h.name} compares {h.comparison}; use judge_gap(hypothesis, seen, held_out)")
    a, b = _clean_pairs(base, tuned)
    effect = paired_bootstrap_diff(a, b, n_boot=h.n_boot, alpha=h.alpha, seed=h.seed)
    mcn = mcnemar_exact(a, b) if is_binary(h.metric) else None
    control = summarise_values(a, h.metric, n_boot=h.n_boot, seed=h.seed)
    treated = summarise_values(b, h.metric, n_boot=h.n_boot, seed=h.seed)
    outcome = decide(effect, h.direction, h.min_effect, n_min=h.min_n, p_value=mcn.p_value if mcn else None, alpha=h.alpha)
    where = f"{effect.n} items of {h.eval_sets[0]}" if h.eval_sets else f"{effect.n} items"
    if effect.n == 0:
        text = f"No usable base/tuned pairs of {_metric_words(h.metric)}"
    else:
        text = (
            f"On {where}, {_metric_words(h.metric)} {_moved(control.mean, treated.mean)} from "
            f"{control.short()} (base) to {treated.short()} (tuned); paired difference {effect.short(signed=True)}"
        )
    if mcn is not None and effect.n:
        text += f", McNemar {p_text(mcn.p_value)} ({mcn.b01} improved, {mcn.b10} worsened)"
    text += f" — {outcome} (threshold {_threshold(h)})"
    if 0 < effect.n < h.min_n:
        text += f"; fewer than {h.min_n} usable pairs"
    return Verdict(
        hypothesis=h,
        outcome=outcome,
        effect=effect,
        mcnemar=mcn,
        n=effect.n,
        control=control,
        treated=treated,
        control_label="base",
        treated_label="tuned",
        explanation=text + ".",
    )


def judge_gap(hypothesis: Hypothesis, seen: Sequence[float], held_out: Sequence[float]) -> Verdict:
    """Judge a seen_minus_heldout hypothesis: one model's metric on seen items minus on
    held-out items (unpaired bootstrap; the two sides are different items)."""
    from emergence.metrics import summarise_values

    h = hypothesis
    if h.comparison != "seen_minus_heldout":
        raise ValueError(f"{h.name} compares {h.comparison}; use judge(hypothesis, base, tuned)")
    effect = unpaired_bootstrap_diff(held_out, seen, n_boot=h.n_boot, alpha=h.alpha, seed=h.seed)
    treated = summarise_values(seen, h.metric, n_boot=h.n_boot, seed=h.seed)
    control = summarise_values(held_out, h.metric, n_boot=h.n_boot, seed=h.seed)
    # both sides need min_n items: a gap against a handful of held-out items says little
    n_min_side = min(treated.n, control.n)
    outcome = decide(effect, h.direction, h.min_effect, n_min=h.min_n) if n_min_side >= h.min_n else "inconclusive"
    text = (
        f"On {treated.n} seen and {control.n} held-out items, the {h.model} model's {_metric_words(h.metric)} was "
        f"{treated.short()} on seen vs {control.short()} on held-out; gap {effect.short(signed=True)}"
        f" — {outcome} (threshold {_threshold(h)})"
    )
    if n_min_side < h.min_n:
        text += f"; fewer than {h.min_n} usable items on a side"
    return Verdict(
        hypothesis=h,
        outcome=outcome,
        effect=effect,
        mcnemar=None,
        n=effect.n,
        control=control,
        treated=treated,
        control_label="held-out",
        treated_label="seen",
        explanation=text + ".",
    )
