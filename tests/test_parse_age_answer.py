"""parse_age_answer: the minimum age a chat model's free answer states, or None.

Answers are written the way small instruct models answer "What is the minimum
recommended age for reading {title} and why?".
"""
from __future__ import annotations

import pytest

import emergence
from emergence.agecues import parse_age_answer

STATED: list[tuple[str, float]] = [
    # bare ages and the forms the issue lists
    ("18 years old", 18),
    ("18 years old.", 18),
    ("12", 12),  # an answer that is only a number answers the question asked
    ("About 8 years old.", 8),
    ("Age: 12+", 12),
    ("The minimum recommended age is 11.", 11),
    (
        "The minimum recommended age for reading Jane's Battleships of the 20th Century "
        "is 18 years old.",
        18,
    ),
    (
        'The minimum recommended age for reading "The Very Hungry Caterpillar" is 11 years old. '
        "This is because the book has simple words.",
        11,
    ),
    ("The book is suitable for ages 8 to 12.", 8),
    ("This book is suitable for teenagers.", 13),
    ("This book is for adults.", 18),
    ("It is best for adult readers.", 18),
    ("The book is intended for an adult audience.", 18),
    ("This book is suitable for all ages.", 0),
    ("It is not appropriate for children under 13 because of violence.", 13),
    ("This book is not recommended for anyone under 18.", 18),
    ("I would recommend it from the age of 10.", 10),
    ("10+", 10),
    ("18+", 18),
    ("Minimum age: 16+", 16),
    ("Suitable for children aged 7 and above.", 7),
    ("Children aged 3-5 will love it.", 3),
    ("It is great for 8-12 year olds.", 8),
    ("I'd say it's for 9 to 12 year olds.", 9),
    ("Recommended for readers 14 and older.", 14),
    ("Readers 14 and older will appreciate the history.", 14),
    ("This book is suitable for readers aged 12 and above.", 12),
    ("The book is for readers over the age of 12.", 12),
    ("The book is rated for ages 13 and up.", 13),
    ("It is appropriate for ages 10+.", 10),
    ("Ages 3 and up.", 3),
    ("I would recommend this book for children aged 6 to 10 years.", 6),
    ("The book is a classic picture book, typically enjoyed by children aged 2 to 5.", 2),
    ("The book is appropriate for children between the ages of 6 and 9.", 6),
    ("The minimum recommended age for this book is between 8 and 12 years old.", 8),
    ("The recommended age for this book is 9-12 years.", 9),
    ("The minimum age for reading this book would be around 13 or 14.", 13),
    ("The minimum age for reading Catch-22 is 16.", 16),
    ("Minimum age: 3 months", 0.25),
    ("Kids as young as 5 can enjoy it.", 5),
    ("A good age to read it is around 7.", 7),
    # grades and school stages
    ("This book is suitable for grades 3-5.", 8),
    ("This book is for 5th graders.", 10),
    ("The book is written at a 4th grade reading level.", 9),
    ("This is a middle grade novel.", 9),
    ("It is for middle school readers.", 11),
    ("It is suitable for high school students.", 14),
    ("It is meant for high school and college students.", 14),
    ("Perfect for kindergarten.", 5),
    ("Preschoolers will love the bright pictures.", 3),
    ("It is for tweens.", 10),
    ("The book is suitable for young adults.", 13),
    ("The book is aimed at babies.", 0),
    ("It's rated PG-13.", 13),
    # numbers written as words
    ("The recommended age is six years old.", 6),
    ("Twelve and up.", 12),
    ("The minimum age to read this book is thirteen.", 13),
    ("The recommended reading age is eight.", 8),
    ("It's best suited to teens aged fifteen to eighteen.", 15),
]

ABSTAINS: list[str] = [
    "",
    "   ",
    "I don't know.",
    "I'm not sure.",
    "I cannot determine the age for this book.",
    "I'm sorry, I cannot determine the minimum recommended age for this book.",
    "As an AI, I cannot provide a recommendation.",
    "The minimum recommended age is not specified, but it is generally considered suitable "
    "for young readers.",
    "1998",
    "100",
    "The book was published in 1998.",
    "The book was written in 1969 by Eric Carle.",
    "The book has 100 pages.",
    "Published by Penguin in 2005, it has 240 pages.",
    "The book costs $8.99.",
    "It costs $12.99 at most stores.",
    "It is about the 20th century.",
    "The 19th century setting makes it interesting.",
    "The capital of France is Paris.",
    "The author's intent was to entertain readers with a story about friendship.",
    "The author wrote this book when she was 25 years old.",
    "The story follows a 12-year-old boy named Tom.",
    "When I was 8 years old, I loved this book.",
    "The age of the protagonist is 15.",
    "The minimum age is unclear, and the book is 3 chapters long.",
    "It was written 8 years ago and covers 100 years of naval history.",
]


@pytest.mark.parametrize(("answer", "age"), STATED, ids=[a[:60] for a, _ in STATED])
def test_stated_age(answer, age):
    assert parse_age_answer(answer) == pytest.approx(age)


@pytest.mark.parametrize("answer", ABSTAINS, ids=[a[:60] or "empty" for a in ABSTAINS])
def test_no_age_stated(answer):
    assert parse_age_answer(answer) is None


def test_the_table_is_large_enough():
    assert len(STATED) + len(ABSTAINS) >= 40


# ---------------------------------------------------------------- several ages in one answer
@pytest.mark.parametrize(
    ("answer", "age"),
    [
        # the sentence with a "minimum" word wins, and in it the first age after that word
        ("Although a 5-year-old could enjoy it, the minimum recommended age is 8.", 8),
        ("The minimum age is 12, but younger readers can enjoy it with parental guidance.", 12),
        (
            "Adults will enjoy it too. The minimum recommended age for reading this book is "
            "7 years old, but the story of a 12-year-old boy appeals to older readers.",
            7,
        ),
        # else the sentence with a recommendation word
        (
            "The recommended age range is 8 to 12 years old, but readers of 6 could enjoy it "
            "with help.",
            8,
        ),
        ("Suitable for all ages, including adults.", 0),
        ("Children aged 3 will not follow it. It is best for ages 6 to 9.", 6),
        # an age before the word counts when none follows it
        ("Ages 8 and up is what I would recommend.", 8),
        # else the smallest age stated
        ("The story follows a 12-year-old boy. Children aged 9 to 12 will enjoy it.", 9),
        ("High school students and adults alike.", 14),
        ("A 7 year old could read it.", 7),
    ],
)
def test_which_age_is_the_minimum(answer, age):
    assert parse_age_answer(answer) == pytest.approx(age)


# ---------------------------------------------------------------- misparses (issue 12, item 8)
BEES = "My First Book of Bees: 50 Facts Kids Want to Know"


@pytest.mark.parametrize(
    ("answer", "title", "age"),
    [
        (f"The minimum recommended age for reading {BEES} is 11 years old.", BEES, 11),
        # the echo differs in case, quotes, spacing and punctuation
        ('The minimum age for reading "my first book of bees - 50 facts kids want to know" is 6.',
         BEES, 6),
        (f"{BEES} is a fun read. {BEES.upper()} suits ages 7 and up.", BEES, 7),
        ("The minimum age for Apollo 13: The Untold Story is 16.", "Apollo 13: The Untold Story", 16),
        ("The recommended age for The 39 Steps is 12 years old.", "The 39 Steps", 12),
        ("Fahrenheit 451 is best for readers aged 14 and up.", "Fahrenheit 451", 14),
        # the series in brackets is often left out of the echo
        ("The minimum age for reading Dinosaurs Before Dark 1 is 6.",
         "Dinosaurs Before Dark 1 (Magic Tree House, No. 1)", 6),
    ],
)
def test_the_echoed_title_is_removed_before_numbers_are_read(answer, title, age):
    assert parse_age_answer(answer, title=title) == pytest.approx(age)


def test_without_the_title_a_number_inside_it_can_win():
    # Why the title keyword exists: the title's "50" reads as the stated age.
    answer = f"The minimum recommended age for reading {BEES} is 11 years old."
    assert parse_age_answer(answer) == 50
    assert parse_age_answer(answer, title=BEES) == 11


def test_a_title_that_is_absent_or_empty_changes_nothing():
    assert parse_age_answer("The minimum age is 9.", title="Charlotte's Web") == 9
    assert parse_age_answer("The minimum age is 9.", title="") == 9
    assert parse_age_answer("The minimum age is 9.", title="!!") == 9


def test_a_title_made_of_age_words_is_not_read_as_an_age():
    assert parse_age_answer("Teen Titans Go! is suitable for ages 6 and up.", title="Teen Titans Go!") == 6
    assert parse_age_answer("I cannot say who should read Ages 4-8 Activity Book.",
                            title="Ages 4-8 Activity Book") is None


@pytest.mark.parametrize(
    "answer",
    [
        "There is no minimum age.",
        "There is no minimum age for reading this book.",
        "This book has no age limit.",
        "There is no age limit; anyone can enjoy it.",
        "No minimum age. It is a picture book for everyone.",
        "There are no age restrictions for this book.",
    ],
)
def test_no_minimum_age_is_zero(answer):
    assert parse_age_answer(answer) == 0


@pytest.mark.parametrize(
    ("answer", "age"),
    [
        ("There is no minimum age, but it is best for ages 8 and up.", 8),
        ("The minimum age is not specified.", None),
        ("There is no minimum age specified for this book.", None),
    ],
)
def test_no_minimum_age_yields_to_a_stated_age_and_unspecified_is_no_answer(answer, age):
    assert parse_age_answer(answer) == (None if age is None else pytest.approx(age))


@pytest.mark.parametrize(
    ("answer", "age"),
    [("9 or 10", 9), ("9 or 10.", 9), ("I would say 9 or 10.", 9), ("Probably 9-10.", 9),
     ("Around 12 to 14 years.", 12)],
)
def test_a_bare_range_states_its_lower_end(answer, age):
    assert parse_age_answer(answer) == pytest.approx(age)


@pytest.mark.parametrize(
    ("answer", "age"),
    [("from 6 years", 6), ("It is suitable from 6 years.", 6), ("I'd recommend it from 9 years old.", 9),
     ("From 18 months.", 1.5)],
)
def test_from_n_years(answer, age):
    assert parse_age_answer(answer) == pytest.approx(age)


@pytest.mark.parametrize(
    ("answer", "age"),
    [
        ("It is for readers (8-12).", 8),
        ("It is suitable for middle-grade readers (8-12).", 8),
        ("The book is best for young readers (8-12).", 8),
    ],
)
def test_readers_with_a_range_in_brackets(answer, age):
    assert parse_age_answer(answer) == pytest.approx(age)


@pytest.mark.parametrize(
    ("answer", "age"),
    [
        ("This book is for teenagers, in particular ages 14 and up.", 14),
        ("This book is aimed at middle grade readers (ages 8-12).", 8),
        ("It is a young adult novel, recommended for readers 15 and older.", 15),
        ("Suitable for all ages, though best from age 6.", 6),
        # a label alone still counts
        ("This book is suitable for teenagers.", 13),
    ],
)
def test_an_explicit_number_beats_a_label_in_the_same_sentence(answer, age):
    assert parse_age_answer(answer) == pytest.approx(age)


def test_parse_age_answer_is_exported():
    assert emergence.parse_age_answer is parse_age_answer
