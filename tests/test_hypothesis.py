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
    decide,
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
    assert v.outcome == "confirmed"
    assert v.n == 200
    assert v.effect.method == "paired_bootstrap"
    assert v.effect.ci_low > AGE_EMERGENCE.min_effect
    assert v.mcnemar is not None and v.mcnemar.p_value < 0.05 and v.mcnemar.b01 > v.mcnemar.b10
    assert v.control.mean == pytest.approx(np.mean(base)) and v.treated.mean == pytest.approx(np.mean(tuned))
    assert v.control.method == "wilson"
    assert (v.control_label, v.treated_label) == ("base", "tuned")


def test_identical_answers_are_refuted():
    base, _ = _paired_binary(200, 0.3, 0.3, seed=1)
    v = judge(AGE_EMERGENCE, base, base)
    assert v.outcome == "refuted"
    assert v.mcnemar is not None and v.mcnemar.p_value == 1.0


@pytest.mark.parametrize("seed", range(20))
def test_no_change_is_never_confirmed(seed):
    base, tuned = _paired_binary(150, 0.3, 0.3, seed=seed)
    assert judge(AGE_EMERGENCE, base, tuned).outcome in ("refuted", "inconclusive")


def test_opposite_direction_is_refuted():
    base, tuned = _paired_binary(200, 0.5, 0.2, seed=2)
    v = judge(AGE_EMERGENCE, base, tuned)
    assert v.outcome == "refuted"
    assert v.effect.mean < 0


def test_tiny_n_is_inconclusive():
    v = judge(AGE_EMERGENCE, [0.0] * 5, [1.0] * 5)
    assert v.outcome == "inconclusive"
    assert "fewer than 10 usable pairs" in v.explanation
    # the McNemar requirement alone also holds back 5 discordant pairs (p = 0.0625)
    loose = AGE_EMERGENCE.model_copy(update={"min_n": 2})
    v2 = judge(loose, [0.0] * 5, [1.0] * 5)
    assert v2.mcnemar.p_value == pytest.approx(0.0625) and v2.outcome == "inconclusive"
    assert judge(AGE_EMERGENCE, [], []).outcome == "inconclusive"


def test_decide_rule_directly():
    def eff(lo, hi, n=100):
        return Estimate(mean=(lo + hi) / 2, se=0.01, ci_low=lo, ci_high=hi, n=n, method="paired_bootstrap")

    assert decide(eff(0.06, 0.2), "increase", 0.05, n_min=10) == "confirmed"
    assert decide(eff(0.06, 0.2), "increase", 0.05, n_min=10, p_value=0.2) == "inconclusive"
    assert decide(eff(0.06, 0.2), "increase", 0.05, n_min=10, p_value=0.01) == "confirmed"
    assert decide(eff(0.01, 0.2), "increase", 0.05, n_min=10) == "inconclusive"
    assert decide(eff(-0.03, 0.04), "increase", 0.05, n_min=10) == "refuted"
    assert decide(eff(-0.3, -0.1), "increase", 0.05, n_min=10) == "refuted"
    assert decide(eff(-0.3, -0.1), "decrease", 0.05, n_min=10) == "confirmed"
    assert decide(eff(0.1, 0.3), "decrease", 0.05, n_min=10) == "refuted"
    assert decide(eff(0.1, 0.3, n=5), "increase", 0.05, n_min=10) == "inconclusive"
    assert decide(eff(math.nan, math.nan), "increase", 0.0, n_min=1) == "inconclusive"


def test_continuous_decrease_hypothesis():
    rng = np.random.default_rng(3)
    base = rng.uniform(3.0, 6.0, 120)
    better = base - rng.uniform(1.0, 2.0, 120)
    worse = base + rng.uniform(0.0, 1.0, 120)
    v = judge(AGE_EMERGENCE_MC, base.tolist(), better.tolist())
    assert v.outcome == "confirmed" and v.mcnemar is None
    assert v.effect.mean < -AGE_EMERGENCE_MC.min_effect
    assert v.control.method == "bootstrap"
    assert judge(AGE_EMERGENCE_MC, base.tolist(), worse.tolist()).outcome == "refuted"
    assert "threshold -0.50" in v.explanation


def test_nan_pairs_are_dropped():
    h = Hypothesis(name="mae", statement="MAE falls", metric="abs_error", direction="decrease", min_effect=0.5,
                   comparison="paired_base_tuned", eval_sets=("age_heldout",))
    base = [5.0] * 30 + [math.nan] * 10 + [4.0] * 10
    tuned = [1.0] * 30 + [2.0] * 10 + [math.nan] * 10
    v = judge(h, base, tuned)
    assert v.n == 30 and v.effect.mean == pytest.approx(-4.0) and v.outcome == "confirmed"
    with pytest.raises(ValueError):
        judge(h, [1.0], [1.0, 2.0])


def test_gap_hypothesis():
    rng = np.random.default_rng(4)
    seen = rng.uniform(0.3, 0.6, 80).tolist()
    held = rng.uniform(0.05, 0.2, 70).tolist()
    v = judge_gap(INTENT_MEMORISATION, seen, held)
    assert v.outcome == "confirmed"
    assert v.effect.method == "unpaired_bootstrap" and v.n == 150
    assert (v.control_label, v.treated_label) == ("held-out", "seen")
    same = rng.uniform(0.05, 0.2, 80).tolist()
    assert judge_gap(INTENT_MEMORISATION, same, held).outcome == "refuted"
    assert judge_gap(INTENT_MEMORISATION, seen, held[:4]).outcome == "inconclusive"
    with pytest.raises(ValueError):
        judge(INTENT_MEMORISATION, seen, held)
    with pytest.raises(ValueError):
        judge_gap(AGE_EMERGENCE, seen, held)


def test_explanation_quotes_the_numbers():
    base, tuned = _paired_binary(120, 0.2, 0.4, seed=5)
    v = judge(AGE_EMERGENCE, base, tuned)
    text = v.explanation
    assert v.effect.short(signed=True) in text
    assert v.control.short() in text and v.treated.short() in text
    assert f"McNemar {p_text(v.mcnemar.p_value)}" in text
    assert f"On {v.n} items of age_heldout" in text
    assert "within-2-years accuracy" in text and "rose" in text
    assert text.endswith(f"— {v.outcome} (threshold +0.05).")
    g = judge_gap(INTENT_MEMORISATION, [0.4] * 20 + [0.5] * 20, [0.1] * 20 + [0.2] * 20)
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
