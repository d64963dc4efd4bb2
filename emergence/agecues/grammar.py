"""The shared grammar of the age-cue readers: regex fragments, value helpers, the hit types.

    >>> from emergence.agecues.grammar import num_value, grade_age, in_years
    >>> num_value("twenty-one"), grade_age("3rd"), grade_age("PreK"), in_years(18, "months")
    (21.0, 8.0, 4.0, 1.5)

Patterns are written with ``<<NAME>>`` fragments (``expand``) and compiled once, without
IGNORECASE: every pattern runs on ``lower_aligned(text)``, where literal prefixes are fast.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, NamedTuple

# Above this, a number in a description is a demographic, not a reader age.
MAX_CUE_AGE = 21.0


@dataclass(frozen=True)
class AgeCue:
    """One reader-age statement: ``text == source[start:end]``; ages in years."""

    min_age: float
    max_age: float | None
    start: int
    end: int
    text: str
    kind: str


# ---------------------------------------------------------------- grammar fragments
WORD_NUMBERS: dict[str, int] = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19, "twenty": 20, "twenty-one": 21,
}
ORDINAL_WORDS: dict[str, int] = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
    "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12,
}

FRAGMENTS: dict[str, str] = {}


def expand(pattern: str, fragments: dict[str, str] | None = None) -> str:
    """Replace ``<<NAME>>`` by fragment NAME (``fragments`` first, then the shared ones)."""
    table = {**FRAGMENTS, **(fragments or {})}
    return re.sub(r"<<(\w+)>>", lambda m: table[m.group(1)], pattern)


def frag(name: str, pattern: str) -> None:
    FRAGMENTS[name] = "(?:" + expand(pattern) + ")"


# Hyphen, the Unicode dashes (U+2010..U+2015), minus sign and tilde: cleaned text keeps
# whatever dash the HTML entity was ("&#8211;" -> en dash).
frag("DASH", r"[-\u2010-\u2015\u2212~]")
# A 1-2 digit number that is not part of a longer number, a price, a decimal or a
# percentage: "1998", "$8.99", "100 years", "4.5%" never yield an age.
frag("DIGITS", r"(?<![\d.,$£€#])\d{1,2}(?:\.\d)?(?!\d|[.,]\d|\s*%)")
# The same, written to START a pattern: a leading digit lets the engine skip ahead, and
# the look-behind sits after it (it sees the character before the number plus the digit).
# [0-9] rather than \d: the engine's skip-ahead tests a range faster than a category.
frag("LEAD_DIGITS", r"[0-9](?<![\d.,$£€#][0-9])\d?(?:\.\d)?(?!\d|[.,]\d|\s*%)")
frag(
    "WORDNUM",
    r"\b(?:"
    + "|".join(w.replace("-", r"[\s-]") for w in sorted(WORD_NUMBERS, key=len, reverse=True))
    + r")\b",
)
frag("NUM", r"<<DIGITS>>|<<WORDNUM>>")
frag("ORD", r"\d{1,2}(?:st|nd|rd|th)\b|\b(?:" + "|".join(ORDINAL_WORDS) + r")\b")
# No leading \b, so "3yrs" and "18mos" read; the trailing guard stops "yo" in "your".
frag("YEARS", r"(?:years?|yrs?\.?|y\.?o\.?)(?![a-z])")
frag("MONTHS", r"(?:months?|mos?\.?|mths?\.?)(?![a-z])")
frag("UNIT", r"<<MONTHS>>|<<YEARS>>")
# Range separators: dashes (also doubled), "to", "through", "thru", "or", "until"; a
# suspended hyphen joins with a word too ("5- to 11-year-olds", "four- and five-year-olds").
frag(
    "SEP",
    r"\s*<<DASH>>+\s*(?:(?:to|through|thru|or|and|&)\s+)?"
    r"|<<DASH>>(?:to|through|thru)<<DASH>>"
    r"|\s+(?:to|through|thru|or|until|till)\s+",
)
# Open-ended: "8+", "8 and up", "8 & older", "8 or over", "8 plus", "8-plus", "8 upwards";
# "up-and-coming" is not.
frag(
    "AND_UP",
    r"\s*\+|\s*(?:and|&|or)\s*(?:up(?:wards?)?|older|over|above|beyond)\b(?!-[a-z])"
    r"|\s*-?\s*plus\b(?!-[a-z])|\s+upwards?\b(?!-[a-z])",
)
# After "age" or "grade" a bare "up" is open-ended too (SLJ's "Grade 3 Up", Publishers
# Weekly's "Ages 10-up").
frag("PLUS", r"<<AND_UP>>|(?:\s+|\s*<<DASH>>\s*)up\b(?!-[a-z])")
# What a school-level workbook is about: "4th-grade math workbook", "Kindergarten Math",
# "3rd Grade Reading Comprehension", "second-grade workbook"; not "class", "teacher", "boy".
frag(
    "SCHOOLWORK",
    r"""(?:math|maths|mathematics|science|spelling|vocabulary|writing|phonics|sight\s+words
        |reading|readers?|grammar|workbooks?|skills|practice|comprehension|activit(?:y|ies)
        |worksheets?|curriculum|homeschool(?:ing)?|test\s+prep|social\s+studies|geography
        |language\s+arts|english|handwriting|word\s+problems|fluency|common\s+core
        |flash\s*cards|success|level|students|classrooms?|kids|children|learners
        |books?(?!\s+reports?))\b""",
)
# Spaces around a field's colon; Amazon's product details put bidi marks there
# ("Reading age \u200f : \u200e 9 - 12 years"), and cleaning keeps them.
frag("FS", r"[\s\u200e\u200f]*")
# A grade token inside a grade phrase: 3, 3rd, third, K, PreK, PreS, preschool.
frag(
    "GTOK",
    r"\d{1,2}(?:st|nd|rd|th)?(?![\d.]\d|\w)"
    r"|\b(?:k|kg|kindergarten|pre-?k|pre-?kindergarten|pre-?s|pre-?school)\b"
    r"|\b(?:" + "|".join(ORDINAL_WORDS) + r")\b",
)


def compile_pattern(pattern: str, **fragments: str) -> re.Pattern[str]:
    # No IGNORECASE: the patterns run on text.lower(), where literal prefixes are fast.
    return re.compile(expand(pattern, fragments), re.VERBOSE)


def tail_re(regex: str) -> re.Pattern[str]:
    """A check on the text just before a match: ``regex`` must end the slice."""
    return re.compile("(?:" + expand(regex) + r")$", re.VERBOSE)


# ---------------------------------------------------------------- value helpers
def num_value(token: str) -> float:
    word = re.sub(r"[\s-]+", "-", token.strip().lower())
    if word in WORD_NUMBERS:
        return float(WORD_NUMBERS[word])
    return float(token)


def is_word(token: str | None) -> bool:
    return bool(token) and not token.strip()[0].isdigit()


def is_months(unit: str | None) -> bool:
    return bool(unit) and unit.strip().lower().startswith("m")


def in_years(value: float, unit: str | None) -> float:
    return value / 12.0 if is_months(unit) else value


def grade_age(token: str | None) -> float | None:
    if not token:
        return None
    t = token.strip().lower().replace("-", "")
    if t in ("k", "kg", "kindergarten"):
        return 5.0
    if t in ("prek", "prekindergarten"):
        return 4.0
    if t in ("pres", "preschool"):
        return 3.0
    if t in ORDINAL_WORDS:
        return float(ORDINAL_WORDS[t] + 5)
    digits = re.match(r"\d+", t)
    if digits and 1 <= int(digits.group()) <= 12:
        return float(int(digits.group()) + 5)
    return None


def ordered(lo: float, hi: float | None) -> tuple[float, float | None]:
    # Reversed ranges ("Ages 8-4", "Grade 5-3") are typos for the ordered range.
    if hi is not None and hi < lo:
        return hi, lo
    return lo, hi


class Ctx(NamedTuple):
    text: str  # the original text (for case checks: "K-3", "YA")
    low: str  # text.lower(), same length; every pattern runs on it
    answer: bool  # reading a model's answer rather than a description


class Hit(NamedTuple):
    lo: float
    hi: float | None
    kind: str
    start: int  # may start before the match: "children" in "children under 3"
    end: int | None = None  # None: where the match ends


Builder = Callable[[re.Match[str], Ctx], "Hit | None"]


def text_before(ctx: Ctx, pos: int, width: int = 48) -> str:
    return ctx.low[max(0, pos - width) : pos]


def word_char_before(ctx: Ctx, pos: int, extra: str = "") -> bool:
    return pos > 0 and (ctx.low[pos - 1].isalnum() or ctx.low[pos - 1] in "_" + extra)


# What follows a group's age when the group is in the story, not the audience: "children
# between the ages of ten and sixteen are chosen", "boys as young as 12 were sent",
# "kids under 13 are banned", "children as young as six worked". A reader statement goes
# on in the present or future ("will love", "can follow", "are sure to enjoy").
_PLOT_AFTER = re.compile(
    r"""[\s,]*(?:
        (?:were|was|had|must|did)\b
      | (?:are|is)\s+(?:being\s+|now\s+|all\s+|often\s+)?
        (?!(?:sure|certain|bound|going|ready|invited|encouraged|welcome|guaranteed|likely
            |expected|introduced|inspired|delighted|amazed|hooked|captivated|fascinated
            |engaged|entertained|intrigued|thrilled|enchanted|charmed|drawn)\b)
        [a-z]+(?:ed|en|wn|nt|ing)\b
      | (?!(?:need|feed|speed|breed|seed|proceed|succeed|exceed|embed|loved|enjoyed|adored
            |liked|devoured|appreciated|requested|wanted|learned|illustrated|printed
            |bound|based|aimed|designed|intended|geared|targeted|suited|recommended)\b)
        [a-z]{3,}ed\b           # "worked", "disappeared"; not "aged", "red", "bed"
    )""",
    re.VERBOSE,
)


def plot_after(ctx: Ctx, end: int) -> bool:
    """Whether the words after ``end`` make the group before it a story's characters."""
    return _PLOT_AFTER.match(ctx.low, end) is not None


class Reading(NamedTuple):
    """One way to read the text at an anchor: ``regex`` is matched where one of
    ``anchors`` (literal stems; ``DIGIT`` for a run of digits) starts."""

    anchors: tuple[str, ...]
    regex: re.Pattern[str]
    build: Builder
    rank: int = 0  # 0: numeric statements, 1: word labels; on overlap numeric wins


DIGIT = "0-9"


def lower_aligned(text: str) -> str:
    """``text.lower()`` with the same length, so offsets in it index ``text``."""
    low = text.lower()
    if len(low) != len(text):
        # A few characters lower-case to two ("İ" -> "i̇"); keep offsets aligned.
        low = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    return low
