"""emergence.metrics: per-item scores and their aggregation."""
from __future__ import annotations

import math
import random

import numpy as np
import pytest

from emergence.metrics import (
    band_choice_correct,
    band_midpoints,
    band_names,
    k_extractable,
    longest_common_substring,
    memorisation_gap,
    nanmean,
    ngram_overlap,
    score_age,
    score_age_choice,
    score_intent,
    summarise,
    summarise_by_band,
)
from emergence.metrics import keys as family_keys

AGE_KEYS = family_keys("age")
AGE_CHOICE_KEYS = family_keys("age_choice")
INTENT_KEYS = family_keys("intent")


# ----------------------------------------------------------------- score_age
@pytest.mark.parametrize(
    ("answer", "label", "parsed", "within", "band"),
    [
        ("This book is suitable for ages 4 and up.", 5.0, 4.0, 1.0, 1.0),
        ("I would recommend it for readers 18 years old and older.", 10.0, 18.0, 0.0, 0.0),
        ("Ages 8 to 12.", 11.0, 8.0, 0.0, 0.0),  # the minimum of a range counts: 8 is in 6-8
        ("Ages 9 to 12.", 12.0, 9.0, 0.0, 1.0),  # right band, 3 years off
        ("Ages 9 to 12.", 11.0, 9.0, 1.0, 1.0),  # exactly 2 years off counts
        ("Ages 6 and up.", 5.0, 6.0, 1.0, 0.0),  # within 2 years, but across a band edge
    ],
)
def test_score_age_stated_age(answer, label, parsed, within, band):
    s = score_age(answer, label)
    assert s["inferred"] == 1.0
    assert s["parsed_age"] == parsed
    assert s["abs_error"] == pytest.approx(abs(parsed - label))
    assert s["within_2y"] == within
    assert s["band_correct"] == band
    assert set(AGE_KEYS) <= set(s)


@pytest.mark.parametrize("answer", ["", "I'm not able to determine that.", "It is a lovely story about a cat."])
def test_score_age_no_age(answer):
    s = score_age(answer, 7.0)
    assert s["inferred"] == 0.0 and s["within_2y"] == 0.0 and s["band_correct"] == 0.0
    assert math.isnan(s["abs_error"]) and math.isnan(s["parsed_age"])


def test_score_age_needs_a_label():
    with pytest.raises(ValueError):
        score_age("Ages 4 and up", None)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        score_age("Ages 4 and up", float("nan"))


def test_positive_control_restated_cues_are_detected():
    # answers that restate the label's cue, in the ways descriptions state ages
    rng = random.Random(0)
    templates = ["Ages {a} and up.", "This book is for ages {a}-{b}.", "Recommended for readers {a} and older.",
                 "Suitable for children aged {a} to {b}."]
    for _ in range(40):
        age = rng.randint(3, 14)
        text = rng.choice(templates).format(a=age, b=age + 3)
        s = score_age(text, float(age))
        assert s["inferred"] == 1.0, text
        assert s["within_2y"] == 1.0, text
        assert s["abs_error"] == 0.0, text


# ----------------------------------------------------------------- multiple choice
def test_score_age_choice_hand_computed():
    names = band_names()
    assert names == ("0-2", "3-5", "6-8", "9-12", "13-17", "18+")
    lls = [math.log(p) for p in (0.1, 0.6, 0.1, 0.1, 0.05, 0.05)]
    s = score_age_choice(lls, "3-5")
    assert s["mc_correct"] == 1.0 and s["mc_band"] == 1
    assert s["mc_label_prob"] == pytest.approx(0.6)
    mids = band_midpoints()
    assert mids == (1.0, 4.0, 7.0, 10.5, 15.0, 18.0)
    expected = sum(p * abs(m - 4.0) for p, m in zip((0.1, 0.6, 0.1, 0.1, 0.05, 0.05), mids))
    assert s["mc_expected_abs_error"] == pytest.approx(expected)
    # with the true age given, the error is measured from it
    s5 = score_age_choice(lls, "3-5", label_age=5.0)
    assert s5["mc_expected_abs_error"] == pytest.approx(sum(p * abs(m - 5.0) for p, m in zip((0.1, 0.6, 0.1, 0.1, 0.05, 0.05), mids)))
    assert score_age_choice(lls, "9-12")["mc_correct"] == 0.0
    assert band_choice_correct(lls, "3-5") == 1
    assert set(AGE_CHOICE_KEYS) <= set(s)


def test_score_age_choice_is_continuous_and_accepts_lm_eval_pairs():
    # moving mass toward the true band lowers the expected error smoothly
    errs = [score_age_choice([0.0, 0.0, 0.0, 0.0, 0.0, x], "18+")["mc_expected_abs_error"] for x in (0, 1, 2, 3, 4)]
    assert all(a > b for a, b in zip(errs, errs[1:]))
    pairs = [(-3.0, False), (-1.0, True), (-5.0, False), (-5.0, False), (-6.0, False), (-7.0, False)]
    assert score_age_choice(pairs, "3-5")["mc_correct"] == 1.0
    # huge log-likelihoods do not overflow
    assert score_age_choice([-1e4, -2e4, -3e4, -4e4, -5e4, -6e4], "0-2")["mc_label_prob"] == pytest.approx(1.0)


def test_score_age_choice_rejects_bad_input():
    with pytest.raises(ValueError):
        score_age_choice([0.0, 1.0], "0-2")
    with pytest.raises(ValueError):
        score_age_choice([0.0] * 6, "4-7")


# ----------------------------------------------------------------- intent
def _lcs_brute(a: str, b: str) -> int:
    best = 0
    for i in range(len(a)):
        for j in range(i + 1, len(a) + 1):
            if j - i > best and a[i:j] in b:
                best = j - i
    return best


def test_longest_common_substring_matches_brute_force():
    rng = random.Random(7)
    for _ in range(300):
        a = "".join(rng.choice("abc ") for _ in range(rng.randint(0, 25)))
        b = "".join(rng.choice("abc ") for _ in range(rng.randint(0, 25)))
        assert longest_common_substring(a, b) == _lcs_brute(a, b), (a, b)
    assert longest_common_substring("xxhello worldyy", "a hello world b") == len("hello world")


def test_longest_common_substring_is_fast_on_long_text():
    rng = random.Random(1)
    ref = " ".join(rng.choice(["the", "a", "dog", "cat", "ran", "home", "quickly"]) for _ in range(2000))
    ans = "preface " + ref[3000:3500] + " epilogue"
    assert longest_common_substring(ans, ref) >= 500


def test_score_intent_hand_computed():
    ref = "A heartwarming story about friendship, loss and the courage to begin again in a small town."
    copied = "The author wanted to tell a heartwarming story about friendship, loss and the courage to begin again."
    fresh = "The author intended to entertain children with silly rhymes."
    c = score_intent(copied, ref)
    f = score_intent(fresh, ref)
    assert set(INTENT_KEYS) <= set(c)
    assert c["rouge_l"] > 0.6 > f["rouge_l"]
    copied_span = "a heartwarming story about friendship, loss and the courage to begin again"
    assert c["lcs_chars"] == len(copied_span)
    assert c["lcs_ratio"] == pytest.approx(len(copied_span) / len(copied))
    # 17 answer words -> 10 8-grams; those starting at "a heartwarming" or later occur in ref
    answer_words = copied.lower().replace(",", "").replace(".", "").split()
    grams = [tuple(answer_words[i:i + 8]) for i in range(len(answer_words) - 7)]
    ref_words = ref.lower().replace(",", "").replace(".", "").split()
    ref_grams = {tuple(ref_words[i:i + 8]) for i in range(len(ref_words) - 7)}
    assert c["ngram8_overlap"] == pytest.approx(sum(g in ref_grams for g in grams) / len(grams))
    assert c["ngram8_overlap"] == pytest.approx(5 / 10)
    assert f["ngram8_overlap"] == 0.0


def test_score_intent_identity_case_and_empty():
    ref = "Written to help parents talk to their children about moving to a new home and school."
    same = score_intent(ref.upper(), ref)
    assert same["rouge_l"] == pytest.approx(1.0)
    assert same["lcs_ratio"] == pytest.approx(1.0)
    assert same["ngram8_overlap"] == 1.0
    empty = score_intent("", ref)
    assert empty == {"rouge_l": 0.0, "lcs_chars": 0.0, "lcs_ratio": 0.0, "ngram8_overlap": 0.0}
    assert score_intent("seven words are not enough here", ref)["ngram8_overlap"] == 0.0


def test_ngram_overlap_counts_repeats():
    ref = list("abcdefghij")
    ans = list("abcdefgh") + list("zzzzzzzz")
    # 9 answer 8-grams, one of them in the reference
    assert ngram_overlap(ans, ref) == pytest.approx(1 / 9)
    assert ngram_overlap(list("abcdefgh") * 2, ref, n=8) == pytest.approx(2 / 9)


def test_k_extractable():
    assert k_extractable([1, 2, 3], [1, 2, 3]) == 1.0
    assert k_extractable((1, 2, 3), np.array([1, 2, 3])) == 1.0
    assert k_extractable([1, 2, 4], [1, 2, 3]) == 0.0
    assert k_extractable([1, 2], [1, 2, 3]) == 0.0  # stopped early
    assert k_extractable([1, 2, 3, 4], [1, 2, 3]) == 0.0
    with pytest.raises(ValueError):
        k_extractable([], [])


# ----------------------------------------------------------------- aggregation
def test_nanmean():
    assert nanmean([1.0, float("nan"), 3.0]) == 2.0
    assert math.isnan(nanmean([float("nan")]))
    assert math.isnan(nanmean([]))


def test_summarise_uses_the_interval_of_each_metrics_kind():
    scores = [
        {"inferred": 1.0, "abs_error": 1.0, "within_2y": 1.0, "band_correct": 1.0, "parsed_age": 4.0},
        {"inferred": 1.0, "abs_error": 5.0, "within_2y": 0.0, "band_correct": 0.0, "parsed_age": 12.0},
        {"inferred": 0.0, "abs_error": math.nan, "within_2y": 0.0, "band_correct": 0.0, "parsed_age": math.nan},
        {"inferred": 1.0, "abs_error": 0.0, "within_2y": 1.0, "band_correct": 1.0, "parsed_age": 7.0},
    ]
    summ = summarise(scores, AGE_KEYS)
    assert list(summ) == list(AGE_KEYS)
    assert summ["inferred"].method == "wilson" and summ["inferred"].n == 4 and summ["inferred"].mean == 0.75
    assert summ["abs_error"].method == "studentized" and summ["abs_error"].n == 3 and summ["abs_error"].mean == 2.0
    assert summ["within_2y"].mean == 0.5
    # default keys skip parsed_age
    assert "parsed_age" not in summarise(scores)
    # abs_error values happen to be 0 and 1 but the registry says continuous: no Wilson interval
    assert summarise([{"abs_error": 0.0}, {"abs_error": 1.0}], ["abs_error"])["abs_error"].method == "studentized"


def test_summarise_by_band():
    scores = [{"within_2y": 1.0}, {"within_2y": 0.0}, {"within_2y": 1.0}]
    out = summarise_by_band(scores, ["3-5", "3-5", "18+"], keys=("within_2y",))
    assert list(out) == ["3-5", "18+"]
    assert out["3-5"]["within_2y"].mean == 0.5 and out["3-5"]["within_2y"].n == 2
    with pytest.raises(ValueError):
        summarise_by_band(scores, ["3-5"])


def test_memorisation_gap_is_seen_minus_held_out():
    seen = [{"rouge_l": v} for v in np.linspace(0.3, 0.5, 40)]
    held = [{"rouge_l": v} for v in np.linspace(0.1, 0.2, 40)] + [{"rouge_l": math.nan}]
    gap = memorisation_gap(seen, held, "rouge_l")
    assert gap.method == "unpaired_studentized"
    assert gap.mean == pytest.approx(0.4 - 0.15)
    assert gap.n == 80
    assert 0.2 < gap.ci_low < gap.mean < gap.ci_high < 0.3


def test_band_proper_scores_hand_computed_and_ties_choose_nothing():
    # probabilities 0.5, 0.3, 0.2 on the first three bands (log-probs), truth "3-5" (index 1)
    lls = [math.log(0.5), math.log(0.3), math.log(0.2), -1e9, -1e9, -1e9]
    s = score_age_choice(lls, "3-5")
    cumulative = [0.5, 0.8, 1.0, 1.0, 1.0]
    observed = [0, 1, 1, 1, 1]
    assert s["mc_rps"] == pytest.approx(sum((c - o) ** 2 for c, o in zip(cumulative, observed)) / 5)
    assert s["mc_brier"] == pytest.approx(0.5 ** 2 + 0.7 ** 2 + 0.2 ** 2)
    assert s["mc_label_prob"] == pytest.approx(0.3) and s["mc_correct"] == 0.0
    flat = score_age_choice([-3.0] * 6, "0-2")
    assert flat["mc_correct"] == 0.0  # a tie chooses no band (argmax alone would credit the first)
    assert flat["mc_label_prob"] == pytest.approx(1 / 6)


def test_band_scores_are_proper_the_truth_minimises_them_in_expectation():
    """Reporting the true band distribution scores better on average than any distortion of it."""
    rng = np.random.default_rng(0)
    names = band_names()
    for _ in range(8):
        truth = rng.dirichlet(np.ones(6))
        draws = rng.choice(6, size=4000, p=truth)
        honest = np.log(truth)
        for distorted in (np.log(rng.dirichlet(np.ones(6))), np.log(truth ** 2 / np.sum(truth ** 2))):
            for key in ("mc_rps", "mc_brier"):
                mean_honest = np.mean([score_age_choice(honest, names[d])[key] for d in draws[:800]])
                mean_other = np.mean([score_age_choice(distorted, names[d])[key] for d in draws[:800]])
                assert mean_honest <= mean_other + 0.01, key
