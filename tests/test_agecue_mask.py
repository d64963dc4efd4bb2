"""mask_age_cues: every cue removed, the rest kept, the seams tidy, idempotent.

Properties are checked over texts generated with a fixed seed (cue phrases and
distractors glued with the punctuation descriptions use), over the labelled sentences and
over the embedded sample corpus.
"""
from __future__ import annotations

import dataclasses
import gzip
import json
import random
import re

import pytest

from emergence.agecues import Masked, find_age_cues, mask_age_cues
from emergence.corpus.records import clean_text
from emergence.corpus.sample import sample_path
from test_agecue_labelled import ALL_ROWS


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("A bear who cannot sleep. Ages 4-8.", "A bear who cannot sleep."),
        ("Ages 4-8. A bear who cannot sleep.", "A bear who cannot sleep."),
        ("A bear (Ages 4-8) who cannot sleep.", "A bear who cannot sleep."),
        ("A bear [Ages 4-8] who cannot sleep.", "A bear who cannot sleep."),
        ("A tale (ages 4-8, 32 pages).", "A tale (32 pages)."),
        ("Grade 4-6--Twelve-year-old Mia moves.", "Twelve-year-old Mia moves."),
        ("From School Library Journal: Gr 3-5--A robot.", "From School Library Journal: A robot."),
        ("Booklist: Ages 4-7.", "Booklist."),
        ("Hardcover, Ages 4-8", "Hardcover"),
        ("Ages 4-8 | Hardcover | 32 pages", "Hardcover | 32 pages"),
        ("Grade 2-4 (Ages 7-9)", ""),
        ("Irresistible. (Picture book. 4-8)", "Irresistible."),
        ("Reading age \u200f : \u200e 9 - 12 years", ""),
        ("Fun for kids 8 and up, with 40 stickers.", "Fun for, with 40 stickers."),
        ("Jane's Battleships of the 20th Century: 320 pages.", "Jane's Battleships of the 20th Century: 320 pages."),
        ("", ""),
    ],
)
def test_masked_text(text, masked):
    result = mask_age_cues(text)
    assert result.text == masked
    assert find_age_cues(result.text) == []


def test_masked_records_what_it_removed():
    result = mask_age_cues("Ages 4-8. Grade 2-4. A board book.")
    assert [(c.text, c.min_age) for c in result.removed] == [
        ("Ages 4-8", 4.0), ("Grade 2-4", 7.0), ("board book", 0.0)
    ]
    assert result.count == 3 and result.passes == 1
    assert mask_age_cues("No cue here.") == Masked("No cue here.", (), 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.text = ""  # type: ignore[misc]


def test_a_removal_that_makes_a_new_cue_is_followed_by_another_pass():
    # Removing "(Ages 4-8)" puts "for" before "5-year-olds": a new cue.
    text = "Ideal for (Ages 4-8) 5-year-olds."
    assert [c.text for c in find_age_cues(text)] == ["Ages 4-8"]
    result = mask_age_cues(text)
    assert result.passes == 2
    assert [c.text for c in result.removed] == ["Ages 4-8", "for 5-year-olds"]
    assert result.text == "Ideal."


# ---------------------------------------------------------------- properties
_CUES = (
    "Ages {a}-{b}", "ages {a} to {b}", "Ages {a}+", "for ages {a} and up", "Grade {g}-{h}",
    "Gr {g}-{h}--", "Grades K-{g}", "PreS-Gr {g}", "(Fiction. {a}-{b})", "(Picture book. {a}-{b})",
    "for {a}-{b} year olds", "for {w}-year-olds", "Reading age: {a} - {b} years",
    "Reading age: Baby and up", "kids {a} and up", "children under {a}", "Age Range: {a} - {b} Years",
    "a {o}-grade workbook", "children as young as {w}", "Ages {a}-up", "aged {a} plus",
    "a board book", "young adult", "for teens", "middle grade", "{w}- to {x}-year-olds",
    "Not for children under 3 yrs", "Baby - Preschool", "K-{g}", "ages {a} months-{b} years",
)
_FILLERS = (
    "A bear who cannot sleep", "Jane's Battleships of the 20th Century", "320 pages",
    "Copyright 2004 Reed Business Information, Inc", "Twelve-year-old Mia moves to a new town",
    "Over 50 recipes", "ISBN 0-439-13959-7", "Book 3 of the series", "$8.99", "the Middle Ages",
    "in 30 days", "a 14-year-old hero", "First published in 1998", "Told in rhyme",
    "kids", "for", "and", "with 40 stickers", "the ages of sail", "Hardcover", "the",
)
_GLUE = (" ", " ", ". ", ", ", " (", ") ", " -- ", "--", " | ", ": ", "; ", "! ", " [", "] ", "(", ")")
_WORDS = ("three", "four", "five", "six", "seven", "eight", "nine", "ten")
_ORD = ("first", "second", "third", "4th", "5th")


def _generated(n: int, seed: int = 13) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 8)):
            if rng.random() < 0.4:
                a = rng.randint(0, 14)
                parts.append(rng.choice(_CUES).format(
                    a=a, b=a + rng.randint(1, 5), g=rng.randint(1, 6), h=rng.randint(6, 12),
                    w=rng.choice(_WORDS), x=rng.choice(_WORDS), o=rng.choice(_ORD)))
            else:
                parts.append(rng.choice(_FILLERS))
            parts.append(rng.choice(_GLUE))
        texts.append(" ".join("".join(parts).split()))  # cleaned: single spaces, stripped
    return texts


def _sample_texts() -> list[str]:
    with gzip.open(sample_path(), "rt", encoding="utf-8") as f:
        return [t for t in (clean_text(json.loads(line)["content"]) for line in f) if t]


_WORD = re.compile(r"[^\W_]+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def _is_subsequence(small: list[str], big: list[str]) -> bool:
    it = iter(big)
    return all(word in it for word in small)


def _check(text: str) -> Masked:
    result = mask_age_cues(text)
    assert find_age_cues(result.text) == [], (text, result.text)
    assert mask_age_cues(result.text).text == result.text, text  # idempotent
    if result.passes <= 1:
        # The words outside the removed spans are kept exactly, in order.
        kept, last = [], 0
        for cue in result.removed:
            kept.append(text[last : cue.start])
            last = cue.end
        kept.append(text[last:])
        assert "".join(_words(" ".join(kept))) == "".join(_words(result.text)), (text, result.text)
    else:
        assert _is_subsequence(_words(result.text), _words(text)), (text, result.text)
    # The seams are tidy: no blemish appears that the input did not already have.
    for blemish in ("  ", "()", "[]", " .", " ,", ". .", ",.", " )", "( "):
        assert result.text.count(blemish) <= text.count(blemish), (blemish, text, result.text)
    assert result.text == result.text.strip() or text != text.strip()
    return result


def test_properties_on_generated_texts():
    texts = _generated(3000)
    results = [_check(t) for t in texts]
    assert sum(r.count for r in results) > 2000  # the generator does produce cues


def test_properties_on_the_labelled_sentences():
    results = [_check(row.text) for row in ALL_ROWS]
    assert sum(r.count > 0 for r in results) > 250


def test_properties_on_the_sample_corpus():
    texts = _sample_texts()
    results = [_check(t) for t in texts]
    assert sum(r.count > 0 for r in results) > 500
