"""Controls that tell a real effect from an artefact: shuffled labels, item-level vs distributional gain.

    >>> from emergence.verdict.controls import shuffled_label_control
    >>> from emergence.verdict.hypothesis import AGE_EMERGENCE
    >>> v = shuffled_label_control(AGE_EMERGENCE, [None] * 20, [18.0] * 20, [float(a % 16) for a in range(20)])
    >>> v.hypothesis.name, v.outcome != "confirmed"
    ('age_emergence_shuffled_labels', True)

Both controls score the ages the answers state (``parsed_age``, None for no age) against
permuted labels, so no answer carries information about its own item: whatever gain
survives the permutation comes from the *distribution* of stated ages, not from reading
the title.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

from emergence.stats import Estimate, paired_bootstrap_diff
from emergence.verdict.hypothesis import Hypothesis, Verdict, decide, judge

__all__ = ["Controls", "ItemLevelControl", "item_level_control", "shuffled_label_control"]


def _score(parsed: Sequence[float | None], labels: Sequence[float], key: str) -> list[float]:
    from emergence.metrics import score_parsed_age

    return [score_parsed_age(p, float(lab))[key] for p, lab in zip(parsed, labels)]


def _permutation(labels: Sequence[float], seed: int) -> list[float]:
    import numpy as np

    return [float(x) for x in np.random.default_rng(seed).permutation(np.asarray(labels, dtype=float))]


def shuffled_label_control(hypothesis: Hypothesis, base_parsed: Sequence[float | None],
                           tuned_parsed: Sequence[float | None], label_ages: Sequence[float], *,
                           seed: int = 0) -> Verdict:
    """Negative control: judge a free-answer age hypothesis against permuted labels.

    Both models' stated ages are scored against the same random permutation of
    ``label_ages``. The harness is sound only if this is not "confirmed". A tuned model
    whose stated ages merely fit the corpus's age distribution better than the base
    model's can still gain here: that gain is distributional, not item-level inference.
    """
    h = hypothesis
    if h.comparison != "paired_base_tuned":
        raise ValueError("the shuffled-label control applies to paired_base_tuned hypotheses")
    if not (len(base_parsed) == len(tuned_parsed) == len(label_ages)):
        raise ValueError("need one base answer, one tuned answer and one label per item")
    shuffled = _permutation(label_ages, seed)
    control = h.model_copy(update={"name": f"{h.name}_shuffled_labels",
                                   "statement": f"{h.statement} (labels shuffled)"})
    return judge(control, _score(base_parsed, shuffled, h.metric), _score(tuned_parsed, shuffled, h.metric))


class ItemLevelControl(BaseModel):
    """Is a gain on held-out ages item-level inference or only a better age distribution?

    Each model's stated ages are scored against the true labels and against permuted
    labels (``rounds`` permutations, averaged per item). Scores on permuted labels measure
    how well the *distribution* of stated ages fits the corpus; the difference true minus
    shuffled (paired by item) measures item-level information. The tuned model's gain
    splits into a distributional part (the shuffled-label control) and an item-level part
    (``item_gain_diff``: tuned's true-minus-shuffled minus base's).
    """

    hypothesis: str = Field(description="The hypothesis controlled (its set and metric are used).")
    eval_set: str = Field(description="The eval set.")
    metric: str = Field(description="The metric (an 'age' family metric of emergence.metrics).")
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
        description="shuffled_label_control: base vs tuned on one permutation (the distributional part of "
        "the gain; the harness is sound only if this is not a real emergence claim).")
    kind: Literal["item-level", "item-level and distributional", "distributional only", "no gain", "unclear"] = Field(
        description="What the gain is, from the two decisions.")
    explanation: str = Field(description="One paragraph in words with the numbers.")


def item_level_control(hypothesis: Hypothesis, base_parsed: Sequence[float | None],
                       tuned_parsed: Sequence[float | None], label_ages: Sequence[float], *,
                       seed: int = 0, rounds: int = 20, eval_set: str = "age_heldout") -> ItemLevelControl:
    """Split a tuned model's gain into an item-level and a distributional part.

    Per item, each stated age is scored against its true label and against ``rounds``
    permutations of the labels (averaged); the permutation of round ``r`` is
    ``numpy.random.default_rng(seed + r).permutation(labels)``, so round 0 is the one
    :func:`shuffled_label_control` uses with ``seed``.
    """
    from emergence.metrics import label
    from emergence.stats import estimate

    h = hypothesis
    key = h.metric
    labels = [float(x) for x in label_ages]
    perms = [_permutation(labels, seed + r) for r in range(rounds)]

    def per_item(parsed: Sequence[float | None]) -> tuple[list[float], list[float]]:
        true = _score(parsed, labels, key)
        shuffled = []
        for i, p in enumerate(parsed):
            vals = [v for v in (_score([p], [perm[i]], key)[0] for perm in perms) if not math.isnan(v)]
            shuffled.append(sum(vals) / len(vals) if vals else math.nan)
        return true, shuffled

    b_true, b_shuf = per_item(base_parsed)
    t_true, t_shuf = per_item(tuned_parsed)
    boot = dict(n_boot=h.n_boot, alpha=h.alpha, seed=h.seed)
    base_gain = paired_bootstrap_diff(b_shuf, b_true, **boot)
    tuned_gain = paired_bootstrap_diff(t_shuf, t_true, **boot)
    b_item = [t - s for t, s in zip(b_true, b_shuf)]
    t_item = [t - s for t, s in zip(t_true, t_shuf)]
    diff = paired_bootstrap_diff(b_item, t_item, **boot)
    tuned_outcome = decide(tuned_gain, h.direction, h.min_effect, n_min=h.min_n)
    diff_outcome = decide(diff, h.direction, h.min_effect, n_min=h.min_n)
    shuffled = shuffled_label_control(h, base_parsed, tuned_parsed, labels, seed=seed)

    def est(values: list[float]) -> Estimate:
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
    words = label(key)
    text = (
        f"On {len(labels)} items of {eval_set}, the tuned model's {words} is {est(t_true).short()} on true "
        f"labels and {est(t_shuf).short()} on shuffled labels (item-level information "
        f"{tuned_gain.short(signed=True)}, {tuned_outcome}); the base model's is {est(b_true).short()} vs "
        f"{est(b_shuf).short()} ({base_gain.short(signed=True)}). Of the tuned model's gain, the part "
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


class Controls(BaseModel):
    """Checks that tell a real effect from an artefact."""

    item_level: dict[str, ItemLevelControl] = Field(
        default_factory=dict, description="Hypothesis name -> its item-level vs distributional split "
        "(hypotheses with item_level = true).")
    positive: Verdict | None = Field(
        None, description="The positive control: recall of cues seen in training (a harness that "
        "cannot detect this cannot refute anything).")
