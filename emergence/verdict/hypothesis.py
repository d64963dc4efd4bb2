"""Hypotheses about the tuned model, and a verdict from per-item values with the decision rule.

    >>> from emergence.verdict.hypothesis import AGE_EMERGENCE, judge
    >>> base = [0.0] * 60 + [1.0] * 20 + [0.0] * 40
    >>> tuned = [1.0] * 60 + [1.0] * 20 + [0.0] * 40
    >>> v = judge(AGE_EMERGENCE, base, tuned, control_detected=True)
    >>> v.outcome, v.n, round(v.effect.mean, 2), v.effect.method
    ('confirmed', 120, 0.5, 'tango')

The effect is the hypothesised change (tuned - base for paired comparisons, seen -
held-out for gaps, the difference of the two for difference-in-differences) with the
interval that keeps its coverage for the metric's kind (:func:`emergence.stats.interval`),
its minimum detectable effect, and the decision of :mod:`emergence.verdict.decision`:
confirmed only beyond the smallest effect that counts; refuted only below it with power
and a detected positive control; inconclusive otherwise, with the reason. Per-item values
are those of :mod:`emergence.metrics`; NaN items are dropped (pairwise when paired, so a
paired mean error is over the items both models answered).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from emergence.memorisation.controls import CANARY_MIN_AUC
from emergence.stats import Estimate, McNemarResult, interval, mcnemar_exact, p_text
from emergence.verdict.decision import Decision, decide

Outcome = Literal["confirmed", "refuted", "inconclusive"]
Comparison = Literal["paired_base_tuned", "seen_minus_heldout", "diff_in_diff", "membership_auc"]
# how each comparison's two sides are related, and what they are called
_DESIGN = {"paired_base_tuned": ("paired", "base", "tuned"), "seen_minus_heldout": ("unpaired", "held-out", "seen"),
           "diff_in_diff": ("unpaired", "held-out: tuned − base", "seen: tuned − base"),
           "membership_auc": ("unpaired", "non-members", "members")}
CHANCE_AUC = 0.5  # a membership score that cannot tell members from non-members


class Hypothesis(BaseModel):
    """A claim about a metric's change, with the smallest effect that counts."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="Short identifier, e.g. 'age_emergence'.")
    statement: str = Field(description="The claim in words.")
    metric: str = Field(description="A key of emergence.metrics.METRICS.")
    direction: Literal["increase", "decrease"] = Field(description="Which way the metric must move.")
    min_effect: float = Field(
        ge=0.0, description="Smallest effect that counts, in the metric's units, as a magnitude in `direction`.")
    alpha: float = Field(0.05, gt=0.0, lt=1.0, description="Family alpha: the primary's interval level is "
                         "1 - alpha; secondaries share it by Holm's step-down.")
    comparison: Comparison = Field(
        description="paired_base_tuned: tuned vs base on the same items; seen_minus_heldout: one model, seen vs "
        "held-out items; diff_in_diff: (tuned - base) on seen items minus (tuned - base) on held-out items; "
        "membership_auc: one model's membership score on members vs non-members, the effect being the AUC "
        "minus 0.5 with its score interval (emergence.memorisation.auc).")
    eval_sets: tuple[str, ...] = Field(
        description="Eval sets: (set,) for paired_base_tuned; (seen_set, held_out_set) for the others "
        "((members, non-members) for membership_auc).")
    model: Literal["base", "tuned"] = Field(
        "tuned", description="For seen_minus_heldout and membership_auc: whose scores are compared across the sets.")
    role: Literal["primary", "secondary", "positive_control"] = Field(
        "secondary", description="'primary': the run's main question (one per run, judged at alpha); "
        "'positive_control': a hypothesis the harness must confirm where the signal is in training; "
        "'secondary': the rest (Holm-corrected).")
    positive_control: str | None = Field(
        None, description="Name of the positive-control hypothesis whose detection this one needs before it "
        "can be refuted (None: no control, so never refuted).")
    item_level: bool = Field(
        False, description="Confirm only if the gain is item-level too (answers scored against true vs "
        "shuffled labels must differ, tuned minus base); free-answer age metrics only.")
    min_n: int = Field(10, ge=2, description="Below this many usable items (or pairs) the verdict is inconclusive.")
    n_boot: int = Field(2000, ge=100, description="Bootstrap resamples of the continuous metrics' intervals.")
    seed: int = Field(0, description="Bootstrap seed.")

    @property
    def design(self) -> str:
        return _DESIGN[self.comparison][0]


class Verdict(BaseModel):
    """The outcome of judging one hypothesis, with every number it rests on."""

    model_config = ConfigDict(ser_json_inf_nan="constants")

    hypothesis: Hypothesis = Field(description="The hypothesis judged.")
    outcome: Outcome = Field(description="confirmed, refuted or inconclusive (emergence.verdict.decision), "
                             "the item-level part included where the hypothesis asks for it.")
    decision: Decision = Field(description="The decision on the effect: reason, qualifier, MDE, alpha.")
    item_level: Decision | None = Field(
        None, description="The decision on the item-level part of the gain (hypotheses with item_level).")
    effect: Estimate = Field(description="treated - control with its interval (emergence.stats.interval).")
    mcnemar: McNemarResult | None = Field(None, description="McNemar's exact test, for 0/1 metrics compared "
                                          "pairwise (reported beside the interval).")
    n: int = Field(description="Usable pairs (paired) or usable items on both sides together (unpaired).")
    control: Estimate = Field(description="The metric on the control side.")
    treated: Estimate = Field(description="The metric on the treated side.")
    control_label: str = Field(description="What the control side is: 'base', 'held-out', ...")
    treated_label: str = Field(description="What the treated side is: 'tuned', 'seen', ...")
    holm_step: int = Field(0, description="Holm step it was decided at (0: the primary or a control, at alpha).")
    explanation: str = Field(description="The numbers and the decision in words.")

    @property
    def mde(self) -> float:
        return self.decision.mde

    def __str__(self) -> str:
        return f"{self.hypothesis.name}: {self.explanation}"


AGE_EMERGENCE = Hypothesis(
    name="age_emergence",
    statement="Age inference emerges from title→content training: on held-out titles the tuned model "
    "states the minimum reading age within 2 years more often than the base model, and the gain is "
    "item-level (it does not survive shuffling the labels).",
    metric="within_2y", direction="increase", min_effect=0.05, comparison="paired_base_tuned",
    eval_sets=("age_heldout",), role="primary", positive_control="age_recall", item_level=True,
)

AGE_EMERGENCE_MC = Hypothesis(
    name="age_emergence_mc",
    statement="Age inference emerges (continuous measure): on held-out titles the tuned model's expected "
    "age error under its band probabilities falls by at least half a year.",
    metric="mc_expected_abs_error", direction="decrease", min_effect=0.5, comparison="paired_base_tuned",
    eval_sets=("age_heldout",), positive_control="age_recall",
)

AGE_RECALL = Hypothesis(
    name="age_recall",
    statement="Positive control: the tuned model recalls age cues it saw in training: on seen titles whose "
    "training content kept its age cue it answers within 2 years more often than the base model.",
    metric="within_2y", direction="increase", min_effect=0.05, comparison="paired_base_tuned",
    eval_sets=("age_seen",), role="positive_control",
)

CANARY_RECALL = Hypothesis(
    name="canary_recall",
    statement="Positive control of the memorisation panel: the tuned model knows the canary sentences planted "
    "in its training records: under the reference-calibrated score their AUC against never-planted canaries "
    "is at least 0.95, with its whole interval.",
    metric="reference", direction="increase", min_effect=round(CANARY_MIN_AUC - CHANCE_AUC, 12), comparison="membership_auc",
    eval_sets=("canaries", "canary_controls"), role="positive_control",
)

MEMBERSHIP_MEMORISATION = Hypothesis(
    name="membership_memorisation",
    statement="The tuned model memorised its training records: the reference-calibrated log-likelihood (tuned "
    "minus base) tells training records from held-out ones, AUC above 0.55.",
    metric="reference", direction="increase", min_effect=0.05, comparison="membership_auc",
    eval_sets=("members", "nonmembers"), positive_control="canary_recall",
)

INTENT_MEMORISATION = Hypothesis(
    name="intent_memorisation",
    statement="Author-intent answers copy training text: tuning raises the answers' overlap with their "
    "record's content more for seen titles than for held-out ones (difference in differences).",
    metric="rouge_l", direction="increase", min_effect=0.05, comparison="diff_in_diff",
    eval_sets=("intent_seen", "intent_heldout"), positive_control="canary_recall",
)

EXTRACTION_MEMORISATION = Hypothesis(
    name="extraction_memorisation",
    statement="Training records became extractable: greedy decoding from a 50-token prefix of a member's content "
    "reproduces its next 50 tokens for at least 2 percentage points more members after tuning than before.",
    metric="k_extractable", direction="increase", min_effect=0.02, comparison="paired_base_tuned",
    eval_sets=("members",), positive_control="canary_recall",
)

BUILTIN_HYPOTHESES: tuple[Hypothesis, ...] = (AGE_EMERGENCE, AGE_EMERGENCE_MC, AGE_RECALL, CANARY_RECALL,
                                              MEMBERSHIP_MEMORISATION, INTENT_MEMORISATION, EXTRACTION_MEMORISATION)
# the memorisation question's measures, most direct first: the first that is not inconclusive decides it
MEMORISATION_ORDER: tuple[str, ...] = (MEMBERSHIP_MEMORISATION.name, INTENT_MEMORISATION.name,
                                       EXTRACTION_MEMORISATION.name)


def _words(metric: str) -> str:
    from emergence.metrics import label

    return label(metric)


def _kind(metric: str, comparison: str) -> str | None:
    from emergence.metrics import METRICS

    if comparison in ("diff_in_diff", "membership_auc"):  # per-item differences, scores: never 0/1
        return "continuous"
    return METRICS[metric].kind if metric in METRICS else None


def _moved(before: float, after: float) -> str:
    return "rose" if after > before else "fell" if after < before else "went"


def effect_interval(h: Hypothesis, control: Sequence[float], treated: Sequence[float], *,
                    alpha: float | None = None) -> Estimate:
    """The hypothesis's effect (treated - control) with its interval at ``alpha`` (default h.alpha);
    for membership_auc, the AUC of treated over control minus 0.5."""
    if h.comparison == "membership_auc":
        from emergence.memorisation import auc

        e = auc([x for x in treated if x == x], [x for x in control if x == x], alpha=h.alpha if alpha is None else alpha)
        return e.model_copy(update={"mean": e.mean - CHANCE_AUC, "ci_low": e.ci_low - CHANCE_AUC,
                                    "ci_high": e.ci_high - CHANCE_AUC})
    return interval(control, treated, design=h.design, kind=_kind(h.metric, h.comparison),  # type: ignore[arg-type]
                    alpha=h.alpha if alpha is None else alpha, n_boot=h.n_boot, seed=h.seed)


def _side(values: Sequence[float], h: Hypothesis) -> Estimate:
    return interval(values, kind=_kind(h.metric, h.comparison), alpha=h.alpha,  # type: ignore[arg-type]
                    n_boot=h.n_boot, seed=h.seed)


def combine(main: Decision, item: Decision | None) -> Outcome:
    """Both parts must be confirmed to confirm; either refuted refutes; else inconclusive."""
    if item is None:
        return main.outcome
    if main.outcome == "confirmed" and item.outcome == "confirmed":
        return "confirmed"
    if "refuted" in (main.outcome, item.outcome):
        return "refuted"
    return "inconclusive"


def verdict(h: Hypothesis, control: Sequence[float], treated: Sequence[float], *, alpha: float | None = None,
            control_detected: bool | None = None, item_level: Decision | None = None, holm_step: int = 0) -> Verdict:
    """Judge ``h`` from its two sides (paired item by item for paired_base_tuned)."""
    design, control_label, treated_label = _DESIGN[h.comparison]
    if design == "paired":
        if len(control) != len(treated):
            raise ValueError(f"paired samples differ in length: {len(control)} != {len(treated)}")
        keep = [(a, b) for a, b in zip(control, treated) if not (math.isnan(a) or math.isnan(b))]
        control, treated = [a for a, _ in keep], [b for _, b in keep]
    effect = effect_interval(h, control, treated, alpha=alpha)
    n_side = effect.n if design == "paired" else min(sum(not math.isnan(x) for x in control),
                                                    sum(not math.isnan(x) for x in treated))
    decision = decide(effect, h.direction, h.min_effect, min_n=h.min_n, control_detected=control_detected, n=n_side)
    outcome = combine(decision, item_level)
    binary = _kind(h.metric, h.comparison) == "binary"
    mcn = mcnemar_exact(control, treated) if design == "paired" and binary else None
    c, t = _side(control, h), _side(treated, h)
    where = f"{effect.n} items of {h.eval_sets[0]}" if design == "paired" else \
        f"{t.n} {h.eval_sets[0]} and {c.n} {h.eval_sets[1]} items"
    if effect.n == 0:
        text = f"No usable items for {_words(h.metric)}."
    elif h.comparison == "membership_auc":
        auc_ = effect.model_copy(update={"mean": effect.mean + CHANCE_AUC, "ci_low": effect.ci_low + CHANCE_AUC,
                                         "ci_high": effect.ci_high + CHANCE_AUC})
        text = (f"On {t.n} {h.eval_sets[0]} and {c.n} {h.eval_sets[1]}, the {h.model} model's {_words(h.metric)} "
                f"averages {t.short()} and {c.short()}; AUC {auc_.short()} (chance 0.50), AUC − 0.5 "
                f"{effect.short(signed=True)}. " + decision.words())
    else:
        kind = {"paired": "paired difference", "unpaired": "difference"}[design]
        text = (f"On {where}, {_words(h.metric)} {_moved(c.mean, t.mean)} from {c.short()} ({control_label}) to "
                f"{t.short()} ({treated_label}); {kind} {effect.short(signed=True)}")
        if mcn is not None:
            text += f", McNemar {p_text(mcn.p_value)} ({mcn.b01} improved, {mcn.b10} worsened)"
        text += ". " + decision.words()
    if item_level is not None:
        text += f" Item-level part: {item_level.words()}"
        if outcome != decision.outcome:
            text += f" So the verdict is {outcome}: confirming needs both parts."
    return Verdict(hypothesis=h, outcome=outcome, decision=decision, item_level=item_level, effect=effect, mcnemar=mcn,
                   n=effect.n, control=c, treated=t, control_label=control_label, treated_label=treated_label,
                   holm_step=holm_step, explanation=text)


def judge(hypothesis: Hypothesis, base: Sequence[float], tuned: Sequence[float], *,
          control_detected: bool | None = None) -> Verdict:
    """Judge a paired_base_tuned hypothesis from per-item values on the same items, at its alpha."""
    if hypothesis.comparison != "paired_base_tuned":
        raise ValueError(f"{hypothesis.name} compares {hypothesis.comparison}; use judge_gap(hypothesis, seen, held_out)")
    return verdict(hypothesis, base, tuned, control_detected=control_detected)


def judge_gap(hypothesis: Hypothesis, seen: Sequence[float], held_out: Sequence[float], *,
              control_detected: bool | None = None) -> Verdict:
    """Judge a seen-minus-held-out (or difference-in-differences) hypothesis: its two sides
    are different items (for diff_in_diff, per-item tuned - base differences)."""
    if hypothesis.comparison == "paired_base_tuned":
        raise ValueError(f"{hypothesis.name} compares {hypothesis.comparison}; use judge(hypothesis, base, tuned)")
    return verdict(hypothesis, held_out, seen, control_detected=control_detected)
