"""Reader-age cues in descriptions: a table of real-looking positives and negatives.

Phrasing follows Amazon book descriptions and their embedded reviews (School Library
Journal's "Grade 4-6--", "PreS-Gr 2", Booklist's "Gr. 3-5", Amazon's "Reading age: 9 - 12
years", toy-style "Ages 3+" and choking-hazard warnings).
"""
from __future__ import annotations

import dataclasses
import math
import subprocess
import sys

import pytest

import emergence
from emergence.agecues import (
    AGE_BANDS,
    AgeCue,
    band_of,
    find_age_cues,
    min_age_from_cues,
)

# (description, [(min_age, max_age), ...] in text order)
POSITIVES: list[tuple[str, list[tuple[float, float | None]]]] = [
    # "Ages N-M" and its spellings
    ("Ages 4-8", [(4, 8)]),
    ("ages 4 to 8", [(4, 8)]),
    ("AGES 4-8", [(4, 8)]),
    ("Ages 4–8 (en dash)", [(4, 8)]),
    ("Ages 4—8", [(4, 8)]),
    ("ages 4 through 8", [(4, 8)]),
    ("ages 4 thru 8", [(4, 8)]),
    ("Ages 8-4", [(4, 8)]),  # reversed range
    ("(Ages 9-12)", [(9, 12)]),
    ("Lexile: 560L; Ages 6-9", [(6, 9)]),
    ("Ages 2-5 Years", [(2, 5)]),
    ("Ages 3 to 6 years", [(3, 6)]),
    ("Ages 0-3", [(0, 3)]),
    ("Ages three to seven", [(3, 7)]),
    ("Cute summer dress for girls ages 2-8", [(2, 8)]),
    ("A must for any bookshelf. Ages 10-14", [(10, 14)]),  # cue at the end
    ("Age Range: 3 - 5 Years", [(3, 5)]),
    ("Reading age: 9 - 12 years", [(9, 12)]),
    ("Reading age: 18 years and up", [(18, None)]),
    # open-ended
    ("A rollicking read-aloud for ages 8 and up.", [(8, None)]),
    ("Fun facts and jokes, ages 8+", [(8, None)]),
    ("Ages 8 & up", [(8, None)]),
    ("ages 12 and older", [(12, None)]),
    ("Age 5 and up. A story of friendship.", [(5, None)]),  # cue at the start
    ("Reading level: Ages 3 and up", [(3, None)]),
    ("Ages: 3 years and up", [(3, None)]),
    ("Age: 4+ years", [(4, None)]),
    ("Ages 3yrs+", [(3, None)]),
    ("Suitable for 3 years +", [(3, None)]),
    ("Perfect for curious kids 8 and up", [(8, None)]),
    ("for children 3 years and up", [(3, None)]),
    ("For children from the age of 3", [(3, None)]),
    ("Fun for kids over 8", [(8, None)]),
    ("WARNING: CHOKING HAZARD--Small parts. Not for children under 3 yrs.", [(3, None)]),
    # months
    ("Ages 6 months–2 years", [(0.5, 2)]),
    ("Ages 18 months and up", [(1.5, None)]),
    ("Recommended for 18 months and up", [(1.5, None)]),
    ("Soft crinkle book for babies 6-12 months", [(0.5, 1)]),
    ("Sizes 0-12 months", [(0, 1)]),
    # year-olds
    ("A must-have for 4-8 year olds", [(4, 8)]),
    ("Perfect for 3 to 5 year olds", [(3, 5)]),
    ("Great for 5-year-olds learning to count", [(5, 5)]),
    ("The perfect gift for a 12-year-old boy", [(12, 12)]),
    ("for kids between 4 and 8 years old", [(4, 8)]),
    ("For children between the ages of 4 and 8", [(4, 8)]),
    ("Includes activities for kids 4-8", [(4, 8)]),
    ("children aged 3-5", [(3, 5)]),
    ("Perfect for children under 5", [(0, 5)]),
    # grades: age = grade + 5, K = 5, PreK = 4, PreS = 3
    ("Grade 3-5", [(8, 10)]),
    ("Grades K-2", [(5, 7)]),
    ("From School Library Journal: Grade 4-6--Twelve-year-old Mia moves to a new town.", [(9, 11)]),
    ("Grade 3 Up--Told in alternating chapters", [(8, None)]),
    ("Interest Level: Grades 3-7", [(8, 12)]),
    ("Grades 9–12", [(14, 17)]),
    ("grades 3 and up", [(8, None)]),
    ("Activities for grades 2–4", [(7, 9)]),
    ("PreS-Gr 2--A lively rhyming text.", [(3, 7)]),
    ("Gr 3-5--Short chapters.", [(8, 10)]),
    ("Gr. 4-6.", [(9, 11)]),
    ("Gr 1-3", [(6, 8)]),
    ("Gr 5 Up-", [(10, None)]),
    ("Gr 9 Up–In this gripping debut", [(14, None)]),
    ("K-3", [(5, 8)]),
    ("K-Gr 2", [(5, 7)]),
    ("PreK-2", [(4, 7)]),
    ("Pre-K - Grade 1", [(4, 6)]),
    ("Grades PreK-1", [(4, 6)]),
    ("Kindergarten-Grade 2--Simple sentences.", [(5, 7)]),
    ("Grade level: Preschool - 2", [(3, 7)]),
    ("Great for 3rd graders", [(8, 8)]),
    ("Perfect for 3rd-5th grade classrooms", [(8, 10)]),
    ("first grade reading level", [(6, 6)]),
    ("Grade 2-4 (Ages 7-9)", [(7, 9), (7, 9)]),
    # word labels
    ("Grade level: Baby - Preschool", [(0, 5)]),
    ("Reading age : Baby - 2 years", [(0, 2)]),
    ("Toddler - Preschool", [(1, 5)]),
    ("From birth to 3 years", [(0, 3)]),
    ("A sturdy board book with lift-the-flaps", [(0, 3)]),
    ("Perfect for babies and toddlers", [(0, 3)]),
    ("A toddler favorite with bright pictures", [(1, 3)]),
    ("A preschool classic", [(3, 5)]),
    ("A middle grade novel perfect for fans of Wonder", [(9, 12)]),
    ("A young adult novel of first love and loss", [(13, 17)]),
    ("Teen & Young Adult", [(13, 17)]),
    ("YA fantasy at its best", [(13, 17)]),
    ("for teens and young adults", [(13, 17), (13, 17)]),
    ("An adult coloring book with 50 intricate designs", [(18, None)]),
    ("Written for adults who love puzzles", [(18, None)]),
    ("Ideal for readers of all ages", [(0, None)]),
]

NEGATIVES: list[str] = [
    "Jane's Battleships of the 20th Century",
    "Covers 100 years of history in 320 pages.",
    "Tales from the ages of sail",
    "Age of Empires II strategy guide",
    "A history of the Middle Ages",
    "Tools of the Stone Age 3 million years ago",
    "The Ice Age 2 movie companion",
    "Through the Ages 3-Book Set",
    "Now only $8.99!",
    "First published in 1998.",
    "Music of the 1990s",
    "Rated 4.5 stars",
    "8 years later, she returns home.",
    "In 5-10 years, the market will change.",
    "In the next 2 to 3 years",
    "Over 20 years of research",
    "Written by a chef with 10+ years of experience",
    "Grade A beef recipes",
    "Forged from high-grade steel",
    # ages of characters: a protagonist's age is not the reader's
    "A 12-year-old boy discovers a secret.",
    "He was 8 years old when the war began.",
    "Tom, aged 12, runs away from home.",
    "At age 12 she moved to Paris.",
    "At the age of 12, Mary began to write.",
    "In third grade, Jake learned to read.",
    "A 5th grader named Sam",
    # counts, sizes, levels and other look-alikes
    "K-9 Unit: Police dogs in action",
    "Available in sizes 8 and up",
    "Top 10 and up-and-coming chefs",
    "12+ recipes for busy weeknights",
    "Volume 3 and up of the series",
    "Chapter 8 and beyond",
    "Rated 4 and above by critics",
    "Practice 3 or 4 times a week",
    "Pages 4-8 cover the basics.",
    "Ranked #1 in 2 categories",
    # adults as a setting, not as the reader
    "A cookbook for adults and children alike",
    "Adult supervision required.",
    "A guide for parents of toddlers",
    "Surviving the toddler years",
    "A preschool teacher's handbook",
    "The third-grade teachers at Lincoln Elementary",
    "A young woman returns home",
    "Maya and the dragon",
    "The grown children return",
    "",
]


def _ages(cues: list[AgeCue]) -> list[tuple[float, float | None]]:
    return [(c.min_age, c.max_age) for c in cues]


def _check_spans(text: str, cues: list[AgeCue]) -> None:
    for cue in cues:
        assert text[cue.start : cue.end] == cue.text
    starts = [c.start for c in cues]
    assert starts == sorted(starts)
    for left, right in zip(cues, cues[1:]):
        assert left.end <= right.start, (left, right)


@pytest.mark.parametrize(("text", "expected"), POSITIVES, ids=[t for t, _ in POSITIVES])
def test_positive_cues(text, expected):
    cues = find_age_cues(text)
    assert _ages(cues) == [(float(lo), None if hi is None else float(hi)) for lo, hi in expected]
    _check_spans(text, cues)
    assert min_age_from_cues(text) == min(lo for lo, _ in expected)


@pytest.mark.parametrize("text", NEGATIVES)
def test_negative_cues(text):
    assert find_age_cues(text) == []
    assert min_age_from_cues(text) is None


def test_the_table_is_large_enough():
    assert len(POSITIVES) + len(NEGATIVES) >= 60


@pytest.mark.parametrize(
    ("text", "cue_text", "kind"),
    [
        ("For ages 4-8.", "ages 4-8", "age_range"),
        ("For ages 8+.", "ages 8+", "age_plus"),
        ("Age: 5.", "Age: 5", "age"),
        ("Ages 6 months–2 years", "Ages 6 months–2 years", "months"),
        ("Reading age: 9 - 12 years", "Reading age: 9 - 12 years", "reading_age"),
        ("From School Library Journal: Grade 4-6--A story.", "Grade 4-6", "grade"),
        ("PreS-Gr 2--Rhymes.", "PreS-Gr 2", "grade"),
        ("A board book.", "board book", "label"),
        ("Perfect for children under 5.", "children under 5", "age_under"),
        ("Not for children under 3 years.", "children under 3 years", "age_plus"),
    ],
)
def test_cue_text_and_kind(text, cue_text, kind):
    (cue,) = find_age_cues(text)
    assert (cue.text, cue.kind) == (cue_text, kind)


def test_a_long_description_with_reviews():
    text = (
        "From School Library Journal Grade 2-4--When 8-year-old Lily finds a stray puppy, "
        "she must convince her parents. Copyright 2004 Reed Business Information, Inc. "
        "From Booklist Ages 7-10. A warm first chapter book. Hardcover, 96 pages, $15.99."
    )
    cues = find_age_cues(text)
    assert [(c.text, c.min_age, c.max_age) for c in cues] == [
        ("Grade 2-4", 7.0, 9.0),
        ("Ages 7-10", 7.0, 10.0),
    ]
    _check_spans(text, cues)
    assert min_age_from_cues(text) == 7.0


def test_min_age_is_the_smallest_of_several_cues():
    text = "A young adult novel; Booklist says Gr. 8-10, Kirkus Ages 12 and up."
    assert min_age_from_cues(text) == 12.0


def test_offsets_survive_characters_that_lower_case_to_two():
    text = "İstanbul tales for ages 4-8"  # "İ".lower() is two code points
    (cue,) = find_age_cues(text)
    assert cue.text == "ages 4-8"
    assert text[cue.start : cue.end] == "ages 4-8"


def test_agecue_is_a_frozen_dataclass():
    cue = AgeCue(4.0, 8.0, 0, 8, "Ages 4-8", "age_range")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cue.min_age = 5.0  # type: ignore[misc]
    names = [f.name for f in dataclasses.fields(AgeCue)]
    assert names == ["min_age", "max_age", "start", "end", "text", "kind"]


def test_long_noisy_text_does_not_blow_up():
    text = ("1998 $8.99 320 pages 4.5% - -- K- Pre- ages of 3-Book " * 2000) + " Ages 4-8"
    cues = find_age_cues(text)
    assert _ages(cues) == [(4.0, 8.0)]


def test_public_names_are_exported():
    assert emergence.find_age_cues is find_age_cues
    assert emergence.AgeCue is AgeCue
    assert emergence.band_of is band_of
    assert emergence.AGE_BANDS is AGE_BANDS


def test_agecues_imports_no_heavy_library():
    code = (
        "import sys, emergence.agecues as a; a.find_age_cues('Ages 4-8'); "
        "heavy = {'torch', 'transformers', 'datasets', 'peft', 'trl', 'lm_eval', 'matplotlib'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------- bands
def test_age_bands_are_the_contract():
    assert AGE_BANDS == (
        ("0-2", 0, 2),
        ("3-5", 3, 5),
        ("6-8", 6, 8),
        ("9-12", 9, 12),
        ("13-17", 13, 17),
        ("18+", 18, None),
    )


@pytest.mark.parametrize(
    ("age", "band"),
    [
        (0, "0-2"), (0.5, "0-2"), (2, "0-2"), (2.5, "0-2"), (2.99, "0-2"),
        (3, "3-5"), (5.5, "3-5"), (6, "6-8"), (8.9, "6-8"), (9, "9-12"), (12.5, "9-12"),
        (13, "13-17"), (17.9, "13-17"), (18, "18+"), (45, "18+"),
    ],
)
def test_band_of(age, band):
    assert band_of(age) == band


@pytest.mark.parametrize("age", [-1, -0.5, math.nan])
def test_band_of_rejects_impossible_ages(age):
    with pytest.raises(ValueError):
        band_of(age)


@pytest.mark.parametrize(
    "module",
    ["__init__", "answers", "bands", "cues", "grades", "grammar", "labels", "mask", "numbers", "scan"],
)
def test_module_doctests(module):
    import doctest
    import importlib

    name = "emergence.agecues" if module == "__init__" else f"emergence.agecues.{module}"
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0 and result.attempted > 0
