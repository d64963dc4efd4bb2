"""The verdict's decision rule on synthetic data, and the negative control."""
from __future__ import annotations

import math
import random

import numpy as np
import pytest

from emergence.verdict.hypothesis import (
    AGE_EMERGENCE,
    AGE_EMERGENCE_MC,
    BUILTIN_HYPOTHESES,
    INTENT_MEMORISATION,
    Hypothesis,
    Verdict,
    judge,
    judge_gap,
)
from emergence.metrics import score_age
from emergence.stats import Estimate, p_text


def _paired_binary(n: int, p_base: float, p_tuned: float, seed: int) -> tuple[list[float], list[float]]:
    """Correlated paired 0/1 outcomes: tuned keeps most of base's successes."""
    rng = np.random.default_rng(seed)
    u = rng.random(n)
    base = (u < p_base).astype(float)
    tuned = (u < p_tuned).astype(float)
    # some independent churn so the pairs are not perfectly nested
    flip = rng.random(n) < 0.1
    tuned[flip] = (rng.random(flip.sum()) < p_tuned).astype(float)
    return base.tolist(), tuned.tolist()


def test_clear_improvement_is_confirmed():
    base, tuned = _paired_binary(200, 0.2, 0.5, seed=0)
    v = judge(AGE_EMERGENCE, base, tuned)
    assert v.outcome == "confirmed" and v.decision.reason == "beyond_threshold"
    assert v.n == 200
    assert v.effect.method == "tango"
    assert v.effect.ci_low > AGE_EMERGENCE.min_effect
    assert v.mcnemar is not None and v.mcnemar.p_value < 0.05 and v.mcnemar.b01 > v.mcnemar.b10
    assert v.control.mean == pytest.approx(np.mean(base)) and v.treated.mean == pytest.approx(np.mean(tuned))
    assert v.control.method == "wilson"
    assert (v.control_label, v.treated_label) == ("base", "tuned")
    assert 0 < v.mde < 0.2


def test_identical_answers_are_refuted_only_with_power_and_a_detected_control():
    base, _ = _paired_binary(400, 0.3, 0.3, seed=1)
    assert judge(AGE_EMERGENCE, base, base, control_detected=True).outcome == "refuted"
    blind = judge(AGE_EMERGENCE, base, base, control_detected=False)
    assert blind.outcome == "inconclusive" and blind.decision.reason == "control_not_detected"
    none = judge(AGE_EMERGENCE, base, base)
    assert none.outcome == "inconclusive" and none.decision.reason == "no_positive_control"
    small = judge(AGE_EMERGENCE, base[:40], base[:40], control_detected=True)
    assert small.outcome == "inconclusive" and small.decision.reason == "underpowered"


@pytest.mark.parametrize("seed", range(20))
def test_no_change_is_never_confirmed(seed):
    base, tuned = _paired_binary(150, 0.3, 0.3, seed=seed)
    assert judge(AGE_EMERGENCE, base, tuned, control_detected=True).outcome in ("refuted", "inconclusive")


def test_opposite_direction_is_refuted():
    base, tuned = _paired_binary(1200, 0.5, 0.2, seed=2)  # 1,200 pairs: power at +0.05 despite 30% discordance
    v = judge(AGE_EMERGENCE, base, tuned, control_detected=True)
    assert v.outcome == "refuted" and v.decision.qualifier == "opposite_direction"
    assert v.effect.mean < 0


def test_tiny_n_is_inconclusive():
    v = judge(AGE_EMERGENCE, [0.0] * 5, [1.0] * 5, control_detected=True)
    assert v.outcome == "inconclusive" and v.decision.reason == "too_few_items"
    assert "too few items (n = 5, fewer than 10)" in v.explanation
    assert judge(AGE_EMERGENCE, [], []).outcome == "inconclusive"


def test_continuous_decrease_hypothesis():
    rng = np.random.default_rng(3)
    base = rng.uniform(3.0, 6.0, 120)
    better = base - rng.uniform(1.0, 2.0, 120)
    worse = base + rng.uniform(0.0, 1.0, 120)
    v = judge(AGE_EMERGENCE_MC, base.tolist(), better.tolist())
    assert v.outcome == "confirmed" and v.mcnemar is None
    assert v.effect.mean < -AGE_EMERGENCE_MC.min_effect and v.effect.method == "paired_studentized"
    assert v.control.method == "studentized"
    assert judge(AGE_EMERGENCE_MC, base.tolist(), worse.tolist(), control_detected=True).outcome == "refuted"
    assert "(-0.50)" in v.explanation


def test_nan_pairs_are_dropped():
    """A paired mean error is over the items both models answered."""
    h = Hypothesis(name="mae", statement="MAE falls", metric="abs_error", direction="decrease", min_effect=0.5,
                   comparison="paired_base_tuned", eval_sets=("age_heldout",))
    base = [5.0] * 30 + [math.nan] * 10 + [4.0] * 10
    tuned = [1.0, 1.5] * 15 + [2.0] * 10 + [math.nan] * 10
    v = judge(h, base, tuned)
    assert v.n == 30 and v.effect.mean == pytest.approx(-3.75) and v.outcome == "confirmed"
    assert v.control.n == v.treated.n == 30 and v.control.mean == 5.0
    with pytest.raises(ValueError):
        judge(h, [1.0], [1.0, 2.0])


GAP = Hypothesis(name="gap", statement="seen answers copy more", metric="rouge_l", direction="increase",
                 min_effect=0.05, comparison="seen_minus_heldout", eval_sets=("intent_seen", "intent_heldout"))


def test_gap_hypothesis():
    rng = np.random.default_rng(4)
    seen = rng.uniform(0.3, 0.6, 80).tolist()
    held = rng.uniform(0.05, 0.2, 70).tolist()
    v = judge_gap(GAP, seen, held)
    assert v.outcome == "confirmed"
    assert v.effect.method == "unpaired_studentized" and v.n == 150
    assert (v.control_label, v.treated_label) == ("held-out", "seen")
    same = rng.uniform(0.05, 0.2, 80).tolist()
    assert judge_gap(GAP, same, held, control_detected=True).outcome == "refuted"
    v = judge_gap(GAP, seen, held[:4])
    assert v.outcome == "inconclusive" and v.decision.reason == "too_few_items"
    with pytest.raises(ValueError):
        judge(GAP, seen, held)
    with pytest.raises(ValueError):
        judge_gap(AGE_EMERGENCE, seen, held)
    did = judge_gap(INTENT_MEMORISATION, seen, held)  # per-item differences: continuous
    assert did.effect.method == "unpaired_studentized" and did.treated_label.startswith("seen")


def test_explanation_quotes_the_numbers():
    base, tuned = _paired_binary(120, 0.2, 0.4, seed=5)
    v = judge(AGE_EMERGENCE, base, tuned)
    text = v.explanation
    assert v.effect.short(signed=True) in text
    assert v.control.short() in text and v.treated.short() in text
    assert f"McNemar {p_text(v.mcnemar.p_value)}" in text
    assert f"On {v.n} items of age_heldout" in text
    assert "within-2-years accuracy" in text and "rose" in text
    assert text.endswith(v.decision.words())
    g = judge_gap(GAP, [0.4] * 20 + [0.5] * 20, [0.1] * 20 + [0.2] * 20)
    assert g.effect.short(signed=True) in g.explanation and "ROUGE-L" in g.explanation
    assert str(v).startswith("age_emergence: ")


def test_verdict_round_trips_through_json():
    v = judge(AGE_EMERGENCE, [], [])
    back = Verdict.model_validate_json(v.model_dump_json())
    assert back.outcome == "inconclusive" and math.isnan(back.effect.mean)
    v = judge(AGE_EMERGENCE, *_paired_binary(50, 0.2, 0.6, seed=6))
    assert Verdict.model_validate_json(v.model_dump_json()) == v


def test_builtins_are_consistent():
    from emergence.metrics import METRICS

    names = [h.name for h in BUILTIN_HYPOTHESES]
    assert len(set(names)) == len(names)
    assert [h.role for h in BUILTIN_HYPOTHESES].count("primary") == 1
    for h in BUILTIN_HYPOTHESES:
        assert h.metric in METRICS
        assert len(h.eval_sets) == (1 if h.comparison == "paired_base_tuned" else 2)
        assert h.positive_control is None or h.positive_control in names
    assert AGE_EMERGENCE.eval_sets == ("age_heldout",) and AGE_EMERGENCE.metric == "within_2y"


# ----------------------------------------------------------------- controls through the parse path
_TEMPLATES = (
    "I would say this book is for ages {a} and up.",
    "It is suitable for readers {a} years old and older.",
    "The minimum recommended age is {a} years.",
)


def _answers(ages: list[int], seed: int) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(_TEMPLATES).format(a=a) for a in ages]


def _control_data(seed: int, n: int = 120) -> tuple[list[int], list[str], list[str]]:
    """Labels; tuned answers stating each item's own age; base answers stating another
    item's age (the same marginal distribution, no item-level information)."""
    rng = random.Random(seed)
    labels = [rng.choice([1, 3, 4, 6, 7, 9, 10, 12, 14, 16, 18]) for _ in range(n)]
    other = labels[:]
    rng.shuffle(other)
    return labels, _answers(other, seed + 1), _answers(labels, seed + 2)


def _within(answers: list[str], labels: list[int]) -> list[float]:
    return [score_age(a, float(lab))["within_2y"] for a, lab in zip(answers, labels)]


def test_positive_control_confirms_through_the_parse_path():
    labels, base, tuned = _control_data(seed=0)
    v = judge(AGE_EMERGENCE, _within(base, labels), _within(tuned, labels))
    assert v.outcome == "confirmed"
    assert v.treated.mean == 1.0  # every restated age is parsed back


def test_negative_control_shuffled_labels_never_confirm():
    outcomes = []
    for seed in range(40):
        labels, base, tuned = _control_data(seed=seed)
        shuffled = labels[:]
        random.Random(1000 + seed).shuffle(shuffled)
        v = judge(AGE_EMERGENCE, _within(base, shuffled), _within(tuned, shuffled))
        outcomes.append(v.outcome)
    assert "confirmed" not in outcomes


def test_shuffled_label_control_helper():
    from emergence.agecues import parse_age_answer
    from emergence.verdict.controls import shuffled_label_control

    labels, base_answers, tuned_answers = _control_data(seed=7)
    base, tuned = _within(base_answers, labels), _within(tuned_answers, labels)
    base_parsed = [parse_age_answer(a) for a in base_answers]
    tuned_parsed = [parse_age_answer(a) for a in tuned_answers]
    # with true labels the same answers confirm; with shuffled labels they must not
    assert judge(AGE_EMERGENCE, base, tuned).outcome == "confirmed"
    for seed in range(5):
        v = shuffled_label_control(AGE_EMERGENCE, base_parsed, tuned_parsed, [float(x) for x in labels], seed=seed)
        assert v.outcome != "confirmed"
        assert v.hypothesis.name == "age_emergence_shuffled_labels"
    with pytest.raises(ValueError):
        shuffled_label_control(AGE_EMERGENCE, base_parsed, tuned_parsed[:-1], labels)
