"""Hypotheses about the tuned model and the rule that turns per-item scores into a verdict.

    >>> from emergence.hypothesis import AGE_EMERGENCE, judge
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
    from emergence.metrics import METRIC_LABELS

    return METRIC_LABELS.get(metric, metric)


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
    from emergence.metrics import BINARY_KEYS, summarise_values

    h = hypothesis
    if h.comparison != "paired_base_tuned":
        raise ValueError(f"{h.name} compares {h.comparison}; use judge_gap(hypothesis, seen, held_out)")
    a, b = _clean_pairs(base, tuned)
    effect = paired_bootstrap_diff(a, b, n_boot=h.n_boot, alpha=h.alpha, seed=h.seed)
    mcn = mcnemar_exact(a, b) if h.metric in BINARY_KEYS else None
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


def judge_scores(
    hypothesis: Hypothesis,
    base: Mapping[str, Sequence[Mapping[str, float]]],
    tuned: Mapping[str, Sequence[Mapping[str, float]]],
) -> Verdict:
    """Judge any hypothesis from per-item score dicts keyed by eval set name.

    ``base[set_name]`` / ``tuned[set_name]`` are the lists of per-item dicts returned by
    the metrics module, in the same item order for both models.
    """
    from emergence.metrics import values_of

    h = hypothesis
    if h.comparison == "paired_base_tuned":
        name = h.eval_sets[0]
        return judge(h, values_of(base[name], h.metric), values_of(tuned[name], h.metric))
    scores = tuned if h.model == "tuned" else base
    seen_set, held_set = h.eval_sets
    return judge_gap(h, values_of(scores[seen_set], h.metric), values_of(scores[held_set], h.metric))


def shuffled_label_control(
    hypothesis: Hypothesis,
    base_answers: Sequence[str],
    tuned_answers: Sequence[str],
    label_ages: Sequence[float],
    *,
    seed: int = 0,
) -> Verdict:
    """Negative control: judge a free-answer age hypothesis against permuted labels.

    Both models' answers are scored with :func:`emergence.metrics.score_age` against the
    same random permutation of ``label_ages``, so no answer carries information about its
    own item. The harness is sound only if this is not "confirmed". A tuned model whose
    stated ages merely match the corpus's age distribution better than the base model's
    can still gain here: that gain is distributional, not item-level inference.
    """
    import numpy as np

    from emergence.metrics import score_age

    h = hypothesis
    if h.comparison != "paired_base_tuned":
        raise ValueError("the shuffled-label control applies to paired_base_tuned hypotheses")
    if not (len(base_answers) == len(tuned_answers) == len(label_ages)):
        raise ValueError("need one base answer, one tuned answer and one label per item")
    shuffled = np.random.default_rng(seed).permutation(np.asarray(label_ages, dtype=float))
    base = [score_age(a, float(lab))[h.metric] for a, lab in zip(base_answers, shuffled)]
    tuned = [score_age(a, float(lab))[h.metric] for a, lab in zip(tuned_answers, shuffled)]
    control = h.model_copy(update={"name": f"{h.name}_shuffled_labels", "statement": f"{h.statement} (labels shuffled)"})
    return judge(control, base, tuned)


class ItemLevelControl(BaseModel):
    """Is a gain on held-out ages item-level inference or only a better age distribution?

    Each model's answers are scored against the true labels and against permuted labels
    (``rounds`` permutations, averaged per item). Scores on permuted labels measure how
    well the *distribution* of stated ages fits the corpus; the difference true minus
    shuffled (paired by item) measures item-level information. The tuned model's gain
    splits into a distributional part (``gain_shuffled``, the shuffled-label control) and an
    item-level part (``item_gain_diff``: tuned's true-minus-shuffled minus base's).
    """

    hypothesis: str = Field(description="The hypothesis controlled (its set and metric are used).")
    eval_set: str = Field(description="The eval set.")
    metric: str = Field(description="The metric (a key of emergence.metrics.score_age).")
    rounds: int = Field(description="Label permutations averaged per item.")
    n: int = Field(description="Items with a base and a tuned answer.")
    base_true: Estimate = Field(description="Base model, true labels.")
    base_shuffled: Estimate = Field(description="Base model, permuted labels (mean over rounds per item).")
    tuned_true: Estimate = Field(description="Tuned model, true labels.")
    tuned_shuffled: Estimate = Field(description="Tuned model, permuted labels.")
    base_item_gain: Estimate = Field(description="Base: true minus shuffled, paired by item.")
    tuned_item_gain: Estimate = Field(description="Tuned: true minus shuffled, paired by item.")
    tuned_item_outcome: str = Field(
        description="Decision on tuned_item_gain against the hypothesis's min_effect (does the tuned "
        "model's answer carry item-level information at all).")
    item_gain_diff: Estimate = Field(
        description="tuned_item_gain minus base_item_gain, paired by item: the item-level part of the gain.")
    item_gain_outcome: str = Field(description="Decision on item_gain_diff against min_effect.")
    shuffled_control: Verdict = Field(
        description="emergence.hypothesis.shuffled_label_control: base vs tuned on one permutation "
        "(the distributional part of the gain; the harness is sound only if this is not a real "
        "emergence claim).")
    kind: Literal["item-level", "item-level and distributional", "distributional only", "no gain", "unclear"] = Field(
        description="What the gain is, from the two decisions.")
    explanation: str = Field(description="One paragraph in words with the numbers.")


def item_level_control(
    hypothesis: Hypothesis,
    base_answers: list[str],
    tuned_answers: list[str],
    label_ages: list[float],
    *,
    seed: int = 0,
    rounds: int = 20,
    eval_set: str = "age_heldout",
) -> ItemLevelControl:
    """Split a tuned model's gain into an item-level and a distributional part.

    Per item, each answer is scored (``emergence.metrics.score_age``) against its true
    label and against ``rounds`` permutations of the labels (averaged); the permutation of
    round ``r`` is ``numpy.random.default_rng(seed + r).permutation(labels)``, so round 0
    is the one :func:`emergence.hypothesis.shuffled_label_control` uses with ``seed``.
    Intervals are paired bootstraps from :mod:`emergence.stats`; decisions use
    :func:`emergence.hypothesis.decide` with the hypothesis's ``min_effect`` and ``min_n``.
    """
    import numpy as np

    from emergence.metrics import METRIC_LABELS, score_age
    from emergence.stats import estimate

    h = hypothesis
    key = h.metric
    labels = np.asarray(label_ages, dtype=float)
    perms = [np.random.default_rng(seed + r).permutation(labels) for r in range(rounds)]

    def per_item(answers: list[str]) -> tuple[list[float], list[float]]:
        true = [score_age(a, float(lab))[key] for a, lab in zip(answers, labels)]
        shuffled = []
        for i, answer in enumerate(answers):
            vals = [score_age(answer, float(p[i]))[key] for p in perms]
            vals = [v for v in vals if not math.isnan(v)]
            shuffled.append(sum(vals) / len(vals) if vals else math.nan)
        return true, shuffled

    b_true, b_shuf = per_item(base_answers)
    t_true, t_shuf = per_item(tuned_answers)
    boot = dict(n_boot=h.n_boot, alpha=h.alpha, seed=h.seed)
    base_gain = paired_bootstrap_diff(b_shuf, b_true, **boot)
    tuned_gain = paired_bootstrap_diff(t_shuf, t_true, **boot)
    b_item = [t - s for t, s in zip(b_true, b_shuf)]
    t_item = [t - s for t, s in zip(t_true, t_shuf)]
    diff = paired_bootstrap_diff(b_item, t_item, **boot)
    tuned_outcome = decide(tuned_gain, h.direction, h.min_effect, n_min=h.min_n)
    diff_outcome = decide(diff, h.direction, h.min_effect, n_min=h.min_n)
    shuffled = shuffled_label_control(h, base_answers, tuned_answers, list(labels), seed=seed)

    def est(values: list[float]) -> Estimate:
        # per-item means over permutations are not 0/1: Wilson for binary data, else bootstrap
        return estimate(values, kind="auto", alpha=h.alpha, n_boot=h.n_boot, seed=h.seed)

    item_ok = diff_outcome == "confirmed"
    dist_ok = shuffled.outcome == "confirmed"
    if item_ok and dist_ok:
        kind = "item-level and distributional"
    elif item_ok:
        kind = "item-level"
    elif dist_ok:
        kind = "distributional only"
    elif diff_outcome == "refuted" and shuffled.outcome == "refuted":
        kind = "no gain"
    else:
        kind = "unclear"
    words = METRIC_LABELS.get(key, key)
    text = (
        f"On {len(labels)} items of {eval_set}, the tuned model's {words} is {_short(est(t_true))} on true "
        f"labels and {_short(est(t_shuf))} on shuffled labels (item-level information "
        f"{tuned_gain.short(signed=True)}, {tuned_outcome}); the base model's is {_short(est(b_true))} vs "
        f"{_short(est(b_shuf))} ({base_gain.short(signed=True)}). Of the tuned model's gain, the part "
        f"that survives shuffling the labels (distributional) is {shuffled.effect.short(signed=True)} "
        f"({shuffled.outcome}); the item-level part is {diff.short(signed=True)} ({diff_outcome}). "
        f"So the gain is: {kind}."
    )
    return ItemLevelControl(
        hypothesis=h.name, eval_set=eval_set, metric=key, rounds=rounds, n=len(labels),
        base_true=est(b_true), base_shuffled=est(b_shuf), tuned_true=est(t_true), tuned_shuffled=est(t_shuf),
        base_item_gain=base_gain, tuned_item_gain=tuned_gain, tuned_item_outcome=tuned_outcome,
        item_gain_diff=diff, item_gain_outcome=diff_outcome, shuffled_control=shuffled, kind=kind,
        explanation=text)


def _short(e: Estimate) -> str:
    return e.short()
