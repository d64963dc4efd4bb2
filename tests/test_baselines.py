"""Baselines: majority band, title-keyword rule, answers scored through score_age."""
from __future__ import annotations

import pytest

from emergence.baselines import (
    ABSTAIN_ANSWER,
    TITLE_RULES,
    band_age,
    band_answer,
    baseline_answers,
    majority_band,
    rule_band_from_title,
)
from emergence.metrics import band_names, score_age


def test_majority_band_counts_bands_and_ages():
    assert majority_band(["3-5", "6-8", "3-5"]) == "3-5"
    assert majority_band([4.0, 4.5, 10.0]) == "3-5"  # ages mapped with band_of
    assert majority_band([2.5, "0-2", 12.0]) == "0-2"
    # ties go to the band listed first
    assert majority_band(["18+", "6-8"]) == "6-8"
    with pytest.raises(ValueError):
        majority_band([])
    with pytest.raises(ValueError):
        majority_band(["4-7"])


@pytest.mark.parametrize("band", band_names())
def test_band_answer_parses_back_to_the_band(band):
    # baselines must go through the same parser as models and land in their own band
    s = score_age(band_answer(band), float(band_age(band)))
    assert s["inferred"] == 1.0 and s["abs_error"] == 0.0 and s["band_correct"] == 1.0


def test_band_ages_are_whole_midpoints():
    assert [band_age(b) for b in band_names()] == [1, 4, 7, 10, 15, 18]


@pytest.mark.parametrize(
    ("title", "band"),
    [
        ("Goodnight Moon", "0-2"),
        ("Baby's First Colors: A Board Book", "0-2"),
        ("My First Dragon Book", "0-2"),  # a format phrase outranks a theme word
        ("The Little Bunny's Bedtime", "3-5"),
        ("Counting with Animals: A Picture Book", "3-5"),
        ("Frog and Toad (I Can Read Level 2)", "6-8"),
        ("Sight Words Workbook for First Grade", "6-8"),
        ("The Mystery of the Lost Dragon", "9-12"),
        ("A Wizard's Quest", "9-12"),
        ("Surviving High School", "13-17"),
        ("A Teen's Guide to Money", "13-17"),  # audience beats genre
        ("The Love Novel Nobody Wrote", "13-17"),
        ("The Silent Hours: A Novel", "18+"),
        ("A Brief History of Time", "18+"),
        ("The Complete Vegetarian Cookbook", "18+"),
        ("Principles of Corporate Finance", "18+"),
    ],
)
def test_rule_band_from_title(title, band):
    assert rule_band_from_title(title) == band


@pytest.mark.parametrize("title", ["Untitled", "", "Zebra Crossing Numbers 47"])
def test_rule_abstains_without_keywords(title):
    assert rule_band_from_title(title) is None


def test_rule_list_is_documented_and_well_formed():
    names = set(band_names())
    assert all(band in names for _, band in TITLE_RULES)
    # every band has at least one rule
    assert {band for _, band in TITLE_RULES} == names


def test_baseline_answers():
    items = [{"title": "Goodnight Moon"}, {"title": "Untitled"}]

    class Item:  # EvalItem-like: attribute access
        title = "A Brief History of Time"

    assert baseline_answers(items, "majority", majority="6-8") == [band_answer("6-8")] * 2
    assert baseline_answers(items, "rule") == [band_answer("0-2"), ABSTAIN_ANSWER]
    assert baseline_answers(items, "rule", majority="9-12") == [band_answer("0-2"), band_answer("9-12")]
    assert baseline_answers([Item()], "rule") == [band_answer("18+")]
    with pytest.raises(ValueError):
        baseline_answers(items, "majority")
    with pytest.raises(ValueError):
        baseline_answers(items, "oracle")  # type: ignore[arg-type]


def test_baseline_answers_score_like_model_answers():
    items = [{"title": "Goodnight Moon", "label_age": 1.0}, {"title": "Untitled", "label_age": 9.0}]
    scores = [score_age(a, it["label_age"]) for a, it in zip(baseline_answers(items, "rule"), items)]
    assert scores[0]["inferred"] == 1.0 and scores[0]["within_2y"] == 1.0
    assert scores[1]["inferred"] == 0.0  # the abstention parses to no age
