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

from pydantic import BaseModel, ConfigDict, Field

from emergence.stats import Estimate, interval
from emergence.verdict.decision import Decision, decide
from emergence.verdict.hypothesis import Hypothesis, Verdict, verdict

__all__ = ["Controls", "ItemLevelControl", "item_level_control", "item_level_decision", "shuffled_label_control"]


def _score(parsed: Sequence[float | None], labels: Sequence[float], key: str) -> list[float]:
    from emergence.metrics import score_parsed_age

    return [score_parsed_age(p, float(lab))[key] for p, lab in zip(parsed, labels)]


def _permutation(labels: Sequence[float], seed: int) -> list[float]:
    import numpy as np

    return [float(x) for x in np.random.default_rng(seed).permutation(np.asarray(labels, dtype=float))]


def _item_parts(h: Hypothesis, base_parsed: Sequence[float | None], tuned_parsed: Sequence[float | None],
                labels: Sequence[float], seed: int, rounds: int) -> dict[str, list[float]]:
    """Per item, each model's score on the true labels and its mean over ``rounds`` permutations."""
    perms = [_permutation(labels, seed + r) for r in range(rounds)]
    out: dict[str, list[float]] = {}
    for which, parsed in (("base", base_parsed), ("tuned", tuned_parsed)):
        out[f"{which}_true"] = _score(parsed, labels, h.metric)
        shuffled = []
        for i, p in enumerate(parsed):
            vals = [v for v in (_score([p], [perm[i]], h.metric)[0] for perm in perms) if not math.isnan(v)]
            shuffled.append(sum(vals) / len(vals) if vals else math.nan)
        out[f"{which}_shuffled"] = shuffled
    out["base_item"] = [t - s for t, s in zip(out["base_true"], out["base_shuffled"])]
    out["tuned_item"] = [t - s for t, s in zip(out["tuned_true"], out["tuned_shuffled"])]
    return out


def _paired(h: Hypothesis, a: Sequence[float], b: Sequence[float]) -> Estimate:
    # means over permutations are not 0/1: the continuous paired interval
    return interval(a, b, design="paired", kind="continuous", alpha=h.alpha, n_boot=h.n_boot, seed=h.seed)


def _decide(h: Hypothesis, e: Estimate, control_detected: bool | None) -> Decision:
    return decide(e, h.direction, h.min_effect, min_n=h.min_n, control_detected=control_detected)


def item_level_decision(h: Hypothesis, base_parsed: Sequence[float | None], tuned_parsed: Sequence[float | None],
                        labels: Sequence[float], *, seed: int = 0, rounds: int = 20,
                        control_detected: bool | None = None) -> Decision:
    """The decision on the item-level part of the gain: tuned's (true - shuffled) minus base's."""
    parts = _item_parts(h, base_parsed, tuned_parsed, labels, seed, rounds)
    return _decide(h, _paired(h, parts["base_item"], parts["tuned_item"]), control_detected)


def shuffled_label_control(hypothesis: Hypothesis, base_parsed: Sequence[float | None],
                           tuned_parsed: Sequence[float | None], label_ages: Sequence[float], *,
                           seed: int = 0, rounds: int = 20, control_detected: bool | None = None) -> Verdict:
    """Negative control: judge the hypothesis, by its whole rule, against permuted labels.

    Both models' stated ages are scored against the same random permutation of
    ``label_ages``, so no answer carries information about its own item. With the
    item-level part required (``hypothesis.item_level``), the permuted labels' own
    item-level part must be confirmed too, which only chance can give: so this control
    can come out "confirmed" only at the interval's error rate, whatever the answers, and
    a model that answers "18 and up" to every title, or starts answering where the base
    abstained, gains nothing here.
    """
    h = hypothesis
    if h.comparison != "paired_base_tuned":
        raise ValueError("the shuffled-label control applies to paired_base_tuned hypotheses")
    if not (len(base_parsed) == len(tuned_parsed) == len(label_ages)):
        raise ValueError("need one base answer, one tuned answer and one label per item")
    shuffled = _permutation(label_ages, seed)
    control = h.model_copy(update={"name": f"{h.name}_shuffled_labels", "role": "secondary",
                                   "statement": f"{h.statement} (labels shuffled)"})
    item = (item_level_decision(control, base_parsed, tuned_parsed, shuffled, seed=seed + 10_000, rounds=rounds,
                                control_detected=control_detected) if h.item_level else None)
    return verdict(control, _score(base_parsed, shuffled, h.metric), _score(tuned_parsed, shuffled, h.metric),
                   control_detected=control_detected, item_level=item)


class ItemLevelControl(BaseModel):
    """Is a gain on held-out ages item-level inference or only a better age distribution?

    Each model's stated ages are scored against the true labels and against permuted
    labels (``rounds`` permutations, averaged per item). Scores on permuted labels measure
    how well the *distribution* of stated ages fits the corpus; the difference true minus
    shuffled (paired by item) measures item-level information. The tuned model's gain
    splits into a distributional part (tuned minus base on permuted labels) and an
    item-level part (``item_gain_diff``: tuned's true-minus-shuffled minus base's), which the
    hypothesis needs confirmed.
    """

    model_config = ConfigDict(ser_json_inf_nan="constants")

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
    item_gain_diff: Estimate = Field(
        description="tuned_item_gain minus base_item_gain, paired by item: the item-level part of the gain.")
    item_gain: Decision = Field(description="The decision on item_gain_diff (the hypothesis needs it confirmed).")
    distributional_gain: Estimate = Field(
        description="Tuned minus base on permuted labels, paired by item: the part of the gain that needs no "
        "item-level information.")
    distributional: Decision = Field(description="The decision on distributional_gain against min_effect.")
    shuffled_control: Verdict = Field(
        description="The hypothesis judged by its whole rule on one permutation of the labels (negative "
        "control: never confirmed but by chance).")
    kind: Literal["item-level", "item-level and distributional", "distributional only", "no gain", "unclear"] = Field(
        description="What the gain is, from the two decisions.")
    explanation: str = Field(description="One paragraph in words with the numbers.")

    @property
    def item_gain_outcome(self) -> str:
        return self.item_gain.outcome


def item_level_control(hypothesis: Hypothesis, base_parsed: Sequence[float | None],
                       tuned_parsed: Sequence[float | None], label_ages: Sequence[float], *,
                       seed: int = 0, rounds: int = 20, eval_set: str = "age_heldout",
                       control_detected: bool | None = None) -> ItemLevelControl:
    """Split a tuned model's gain into an item-level and a distributional part.

    Per item, each stated age is scored against its true label and against ``rounds``
    permutations of the labels (averaged); the permutation of round ``r`` is
    ``numpy.random.default_rng(seed + r).permutation(labels)``, so round 0 is the one
    :func:`shuffled_label_control` uses with ``seed``.
    """
    from emergence.metrics import label

    h = hypothesis
    labels = [float(x) for x in label_ages]
    parts = _item_parts(h, base_parsed, tuned_parsed, labels, seed, rounds)
    base_gain = _paired(h, parts["base_shuffled"], parts["base_true"])
    tuned_gain = _paired(h, parts["tuned_shuffled"], parts["tuned_true"])
    diff = _paired(h, parts["base_item"], parts["tuned_item"])
    dist = _paired(h, parts["base_shuffled"], parts["tuned_shuffled"])
    item_d, dist_d = _decide(h, diff, control_detected), _decide(h, dist, control_detected)
    shuffled = shuffled_label_control(h, base_parsed, tuned_parsed, labels, seed=seed, rounds=rounds,
                                      control_detected=control_detected)

    def est(values: list[float]) -> Estimate:
        return interval(values, alpha=h.alpha, n_boot=h.n_boot, seed=h.seed)

    if item_d.outcome == "confirmed":
        kind = "item-level and distributional" if dist_d.outcome == "confirmed" else "item-level"
    elif dist_d.outcome == "confirmed":
        kind = "distributional only"
    elif item_d.outcome == "refuted" and dist_d.outcome == "refuted":
        kind = "no gain"
    else:
        kind = "unclear"
    text = (
        f"On {len(labels)} items of {eval_set}, the tuned model's {label(h.metric)} is "
        f"{est(parts['tuned_true']).short()} on true labels and {est(parts['tuned_shuffled']).short()} on "
        f"shuffled labels; the base model's is {est(parts['base_true']).short()} vs "
        f"{est(parts['base_shuffled']).short()}. The part of the tuned model's gain that survives shuffling "
        f"the labels (distributional) is {dist.short(signed=True)}; the item-level part is "
        f"{diff.short(signed=True)}: {item_d.words()} So the gain is: {kind}."
    )
    return ItemLevelControl(
        hypothesis=h.name, eval_set=eval_set, metric=h.metric, rounds=rounds, n=len(labels),
        base_true=est(parts["base_true"]), base_shuffled=est(parts["base_shuffled"]),
        tuned_true=est(parts["tuned_true"]), tuned_shuffled=est(parts["tuned_shuffled"]),
        base_item_gain=base_gain, tuned_item_gain=tuned_gain, item_gain_diff=diff, item_gain=item_d,
        distributional_gain=dist, distributional=dist_d, shuffled_control=shuffled, kind=kind, explanation=text)


class Controls(BaseModel):
    """Checks that tell a real effect from an artefact."""

    model_config = ConfigDict(ser_json_inf_nan="constants")

    item_level: dict[str, ItemLevelControl] = Field(
        default_factory=dict, description="Hypothesis name -> its item-level vs distributional split "
        "(hypotheses with item_level = true).")
    positive: dict[str, Verdict] = Field(
        default_factory=dict, description="Positive-control hypothesis name -> its verdict (a harness that "
        "cannot detect a signal planted in training cannot refute anything).")
