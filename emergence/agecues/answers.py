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


# An answer that is nothing but an age answers the question it was asked: "12", "12
# years.", "9 or 10", "Probably 9-10.", "from 6 years", "Around 12 to 14 years."
_BARE_ANSWER = compile_pattern(
    r"""
    \s*(?:(?:about|around|approximately|roughly|age|ages|probably|likely|maybe|perhaps|from
        |i\s+(?:would|'d|’d)\s+say|i'd\s+say|i’d\s+say|i\s+think)\s+)*
    (?P<a><<NUM>>)(?:\s*-?\s*(?P<ua><<UNIT>>))?
    (?:(?:<<SEP>>)(?P<b><<NUM>>)(?:\s*-?\s*(?P<ub><<UNIT>>))?)?
    (?:\s+old)?(?:<<AND_UP>>)?
    \s*[.!]?\s*$
    """
)
# "There is no minimum age", "no age limit": every age may read it. Not "no minimum age
# is specified" (that is no answer).
_NO_MINIMUM = re.compile(
    r"""\bno\s+(?:minimum\s+(?:recommended\s+)?(?:reading\s+)?age
        |(?:minimum\s+)?age\s+(?:limits?|restrictions?|requirements?|minimum))\b
        (?!\s+(?:is\s+|was\s+|has\s+been\s+)?(?:specified|given|stated|mentioned|listed
            |provided|available|known|indicated|set|defined))""",
    re.VERBOSE,
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
_TITLE_WORD = re.compile(r"[^\W_]+")
_TRAILING_BRACKETS = re.compile(r"(?:\s*[(\[][^()\[\]]*[)\]])+\s*$")
# What an echoed title is replaced by: a phrase no reading takes for an age.
_TITLE_STAND_IN = "the book"


def _title_pattern(title: str) -> re.Pattern[str] | None:
    """Every echo of ``title``: its words in order, case-insensitively, with any run of
    spaces, quotes or punctuation (or none) between them; also the title without a
    trailing "(Series, No. 1)" and each part of "Main: Subtitle" of two or more words."""
    variants = [title, _TRAILING_BRACKETS.sub("", title)]
    parts = re.split(r"\s*:\s+", variants[-1])
    if len(parts) > 1:
        variants += parts
    alternatives = []
    for variant in variants:
        words = _TITLE_WORD.findall(variant)
        if len(words) >= 2 or (words and variant == title):
            alternatives.append(r"[\W_]*".join(map(re.escape, words)))
    if not alternatives:
        return None
    alternatives = sorted(set(alternatives), key=len, reverse=True)  # the longest echo first
    return re.compile(r"(?<![^\W_])(?:" + "|".join(alternatives) + r")(?![^\W_])", re.IGNORECASE)


def _sentences(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for br in _SENTENCE_BREAK.finditer(text):
        spans.append((start, br.start()))
        start = br.end()
    spans.append((start, len(text)))
    return spans


def _stated(cues: list) -> list:
    # An explicit number beats a word label in the same sentence ("for teenagers, in
    # particular ages 14 and up" states 14).
    numeric = [c for c in cues if c.kind != "label"]
    return numeric or cues


def parse_age_answer(text: str, title: str | None = None) -> float | None:
    """The minimum reader age a free-text answer states, in years; None if it states none.

    ``title``: the title the question asked about; every echo of it in the answer is
    removed before any number is read ("... My First Book of Bees: 50 Facts ... is 11"
    states 11). The module docstring gives the rule that picks one age among several.
    """
    if not text or not text.strip():
        return None
    if title:
        pattern = _title_pattern(title)
        if pattern is not None:
            text = pattern.sub(_TITLE_STAND_IN, text)
    low = lower_aligned(text)
    bare = _BARE_ANSWER.match(low)
    if bare is not None:  # the whole answer is "12", "12 years.", "9 or 10"
        lo = in_years(num_value(bare["a"]), bare["ua"] or bare["ub"])
        if bare["b"]:
            lo = min(lo, in_years(num_value(bare["b"]), bare["ub"] or bare["ua"]))
        return lo
    cues = scan(text, _ANSWER_SCANNER, answer=True)
    if not cues:
        return 0.0 if _NO_MINIMUM.search(low) else None
    sentences = _sentences(low)
    for words in (_MINIMUM_WORDS, _RECOMMEND_WORDS):
        for s0, s1 in sentences:
            inside = _stated([c for c in cues if s0 <= c.start < s1])
            if not inside:
                continue
            kw = words.search(low, s0, s1)
            if kw is None:
                continue
            after = [c for c in inside if c.start >= kw.start()]
            return (after[0] if after else inside[-1]).min_age
    return min(
        c.min_age for s0, s1 in sentences for c in _stated([c for c in cues if s0 <= c.start < s1])
    )
