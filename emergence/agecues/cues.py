"""Reader-age cues in a cleaned description.

    >>> from emergence.agecues import find_age_cues, min_age_from_cues
    >>> [(c.min_age, c.max_age, c.kind) for c in find_age_cues("Bedtime fun. Ages 6 months–2 years.")]
    [(0.5, 2.0, 'months')]
    >>> min_age_from_cues("Jane's Battleships of the 20th Century: 320 pages, $8.99.") is None
    True
"""
from __future__ import annotations

from emergence.agecues.grades import GRADE, build_grade
from emergence.agecues.grammar import DIGIT, WORD_NUMBERS, AgeCue, Reading
from emergence.agecues.labels import CUE_LABELS
from emergence.agecues.numbers import (
    AGE_KEYWORD, AS_YOUNG, BETWEEN, NUMBER_PHRASE, NUMBER_PHRASE_WORDS, REVIEW_RANGE,
    build_age_keyword, build_as_young, build_between, build_number_phrase, build_review_range,
)
from emergence.agecues.scan import Scanner, scan

SHARED_READINGS: list[Reading] = [
    Reading(("age",), AGE_KEYWORD, build_age_keyword),
    Reading(("between",), BETWEEN, build_between),
    Reading(("grade",), GRADE, build_grade),
]
CUE_SCANNER = Scanner(
    [
        Reading((DIGIT,), NUMBER_PHRASE, build_number_phrase),
        Reading((DIGIT,), REVIEW_RANGE, build_review_range),
        Reading(("as young",), AS_YOUNG, build_as_young),
        Reading(
            tuple(w for w in WORD_NUMBERS if "-" not in w), NUMBER_PHRASE_WORDS,
            build_number_phrase,
        ),
        *SHARED_READINGS,
        *CUE_LABELS,
    ]
)


def find_age_cues(text: str) -> list[AgeCue]:
    """Reader-age cues in a cleaned description, sorted by ``start``, non-overlapping."""
    return scan(text, CUE_SCANNER, answer=False)


def min_age_from_cues(text: str) -> float | None:
    """The smallest ``min_age`` among the cues in ``text``; None when there are none."""
    cues = find_age_cues(text)
    return min(c.min_age for c in cues) if cues else None
