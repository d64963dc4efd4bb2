"""The minimum reader age a chat model's free answer states.

    >>> from emergence.agecues import parse_age_answer
    >>> parse_age_answer("The minimum recommended age is 11.")
    11.0
    >>> parse_age_answer("I'm sorry, I cannot determine the age for this book.") is None
    True
"""
from __future__ import annotations

import re

from emergence.agecues.cues import SHARED_READINGS
from emergence.agecues.grammar import (
    DIGIT, WORD_NUMBERS, Ctx, Hit, Reading, compile_pattern, in_years, lower_aligned,
    num_value, word_char_before,
)
from emergence.agecues.labels import ANSWER_LABELS, CUE_LABELS
from emergence.agecues.numbers import NUMBER_PHRASE_ANSWER, build_number_phrase
from emergence.agecues.scan import Scanner, scan

# ---------------------------------------------------------------- answer-only numeric
# "The minimum recommended age is 11.", "Recommended reading age: 9", "minimum age of 12".
_STATED_AGE = compile_pattern(
    r"""
    (?:minimum|min\.?|recommended|suggested|suitable|appropriate|target|ideal|youngest
       |lowest|starting|reading|good|best|right|proper)
    \s+(?:[\w'-]+\s+){0,2}?age\b                     # "minimum recommended reading age"
    (?:\s+(?:for|to|of|when|at\s+which)\b[^\n]{0,140}?)?   # "for reading <any title>"
    \s*(?:\bis\b|\bwould\s+be\b|\bshould\s+be\b|\bwill\s+be\b|\bof\b|\bbe\b|:|=|\bwould\s+say\b)
    \s*(?:(?:about|around|approximately|approx\.?|roughly|at\s+least|likely|probably|generally
       |typically|usually|estimated\s+(?:to\s+be\s+)?|considered|set\s+at|from|between|age|ages
       |over|above)\s+)*
    (?P<a><<NUM>>)
    (?!\s*(?:st|nd|rd|th)\b)                           # "the 20th century"
    (?!\s*(?:chapters?|pages?|percent|dollars?|cents|minutes|hours|days|weeks|books?|volumes?
       |stars?|million|billion|thousand|hundred|times|words|editions?)\b)   # counts
    (?:\s*-?\s*(?P<ua><<UNIT>>))?
    """
)


def _build_stated_age(m: re.Match[str], ctx: Ctx) -> Hit | None:
    if word_char_before(ctx, m.start()):
        return None
    return Hit(in_years(num_value(m["a"]), m["ua"]), None, "answer", m.start())


# "at least 13", "as young as 4": loose, so only in an answer to the age question.
_AT_LEAST = compile_pattern(
    r"""
    (?:at\s+least|as\s+young\s+as)\s+(?P<a><<NUM>>)(?:\s*-?\s*(?P<ua><<UNIT>>))?
    (?!\s*(?:chapters?|pages?|percent|dollars?|minutes|hours|days|weeks|books?|times|words)\b)
    """
)


def _build_at_least(m: re.Match[str], ctx: Ctx) -> Hit | None:
    if word_char_before(ctx, m.start()):
        return None
    return Hit(in_years(num_value(m["a"]), m["ua"]), None, "age_plus", m.start())


_STATED_AGE_ANCHORS = (
    "min", "recommended", "suggested", "suitable", "appropriate", "target", "ideal",
    "youngest", "lowest", "starting", "reading", "good", "best", "right", "proper",
)
_ANSWER_SCANNER = Scanner(
    [
        Reading(
            (DIGIT, *(w for w in WORD_NUMBERS if "-" not in w)),
            NUMBER_PHRASE_ANSWER,
            build_number_phrase,
        ),
        *SHARED_READINGS,
        Reading(_STATED_AGE_ANCHORS, _STATED_AGE, _build_stated_age),
        Reading(("at least", "as young"), _AT_LEAST, _build_at_least),
        *CUE_LABELS,
        *ANSWER_LABELS,
    ]
)


# An answer that is nothing but a number answers the question it was asked.
_BARE_ANSWER = compile_pattern(
    r"""
    \s*(?:(?:about|around|approximately|roughly|age)\s+)?
    (?P<a><<NUM>>)(?:\s*-?\s*(?P<ua><<UNIT>>)(?:\s+old)?)?
    \s*[.!]?\s*$
    """
)
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\n+")
_MINIMUM_WORDS = re.compile(
    r"\b(?:minimum|min\.|youngest|lowest|at\s+least|no\s+(?:younger|less)"
    r"|not\s+(?:\w+\s+){0,3}?(?:for|to)\b)"
)
_RECOMMEND_WORDS = re.compile(
    r"\b(?:recommend\w*|suitable|suited|appropriate|intended|aimed|ideal|best\s+for|geared"
    r"|targete?d?|designed|written\s+for|perfect\s+for|reading\s+age|age\s+range|age\s+group"
    r"|audience|readers?\s+aged?)\b"
)


def _sentences(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for br in _SENTENCE_BREAK.finditer(text):
        spans.append((start, br.start()))
        start = br.end()
    spans.append((start, len(text)))
    return spans


def parse_age_answer(text: str) -> float | None:
    """The minimum reader age a free-text answer states, in years; None if it states none.

    The module docstring gives the rule that picks one age among several.
    """
    if not text or not text.strip():
        return None
    bare = _BARE_ANSWER.match(lower_aligned(text))
    if bare is not None:
        return in_years(num_value(bare["a"]), bare["ua"])  # the whole answer is "12" or "12 years."
    cues = scan(text, _ANSWER_SCANNER, answer=True)
    if not cues:
        return None
    low = lower_aligned(text)
    for words in (_MINIMUM_WORDS, _RECOMMEND_WORDS):
        for s0, s1 in _sentences(low):
            inside = [c for c in cues if s0 <= c.start < s1]
            if not inside:
                continue
            kw = words.search(low, s0, s1)
            if kw is None:
                continue
            after = [c for c in inside if c.start >= kw.start()]
            return (after[0] if after else inside[-1]).min_age
    return min(c.min_age for c in cues)

