"""Reader-age cues in book descriptions, and the age a model's free answer states.

    >>> from emergence.agecues import find_age_cues, min_age_from_cues, parse_age_answer, band_of
    >>> [(c.min_age, c.max_age, c.kind) for c in find_age_cues("Bedtime fun. Ages 6 months–2 years.")]
    [(0.5, 2.0, 'months')]
    >>> [(c.text, c.min_age) for c in find_age_cues("School Library Journal: Grade 4-6--A fine tale.")]
    [('Grade 4-6', 9.0)]
    >>> min_age_from_cues("Jane's Battleships of the 20th Century: 320 pages, $8.99.") is None
    True
    >>> parse_age_answer("The minimum recommended age is 11.")
    11.0
    >>> parse_age_answer("I'm sorry, I cannot determine the age for this book.") is None
    True
    >>> band_of(2.5)
    '0-2'

Two entry points share one grammar:

* ``find_age_cues(text)`` scans a cleaned description for statements of the intended
  *reader* age and returns non-overlapping :class:`AgeCue` spans sorted by ``start``.
* ``parse_age_answer(text)`` reads a chat model's answer to "what is the minimum
  recommended age for reading ...?" and returns the minimum age it states, or None.

Cue kinds: ``age_range`` ("Ages 4-8", "kids 4 to 8"), ``age_plus`` ("ages 8+", "8 and up",
"not for children under 3"), ``age`` (one stated age: "Age: 5", "for 5-year-olds"),
``age_under`` ("for children under 5": 0 .. 5), ``months`` (any cue measured in months:
"Ages 6 months–2 years" -> 0.5 .. 2), ``grade`` ("Grade 3-5", "PreS-Gr 2", "3rd graders"),
``reading_age`` (Amazon's "Reading age: 9 - 12 years"), ``label`` (words naming an age
group) and, from ``parse_age_answer`` only, ``answer`` ("the minimum age is 11").
Dashes may be -, –, —, ~ (also doubled); ranges may say "to", "through", "thru", "or";
reversed ranges ("Ages 8-4") are read in order.

Mappings (ages in years):

* Grades: age = grade + 5 at both ends of a range (the age a child starts that grade);
  K = 5, PreK = 4, PreS / preschool = 3. "Grade 7 Up" -> 12 .. None.
* Word labels name an age band, so each maps to the floor of the band it names, which
  keeps a label inside the right ``AGE_BANDS`` band:
  board book 0 .. 3, baby / infant / newborn / birth 0, toddler 1 .. 3, preschool 3 .. 5,
  kindergartners 5, middle grade 9 .. 12 (publishers say "8-12", but 8 would put a
  middle-grade label in the 6-8 band), teen / "for teenagers" 13 .. 17, young adult / YA
  13 .. 17 (publishers often say "12 and up"; 12 would put the whole YA category in the
  9-12 band), "for adults" / "adult readers" / "adult fiction" 18, "all ages" 0.
  Answers only (in a description these words are a setting, not a reader cue): tweens 10,
  middle school 11, high school 14, elementary school 6, primary school 5, early readers 5,
  college 18, adolescents 13, bare "adults" 18 / "teenagers" 13 / "kindergarten" 5, PG-13.
* A number above 21 is never a reader age in a description ("for women over 40" is a
  demographic); an answer keeps any two-digit age it states.
* In descriptions, number words ("three") count after "age(s)" ("Ages three to seven");
  elsewhere only digits do, which keeps the scan fast. Answers read number words anywhere.

Deliberate non-cues: ages of characters ("a 12-year-old boy", "Tom, aged 12", "at age 12",
"at the age of 12", "In third grade, ..."): a protagonist's age suggests but does not state
the reader age. A singular age counts when it is addressed to the reader ("a gift for a
12-year-old boy"). Never cues either: "20th century", "100 years of history", "the ages of
sail", "Age of Empires", "Middle Ages", "Stone Age", page counts, prices, years, "8 years
later", "10+ years of experience", "in 5-10 years", "grade A", "high-grade", "K-9" (police
dogs), "for adults and children alike", "adult supervision".

Choosing among several ages in an answer (``parse_age_answer``): split the answer into
sentences; take the first sentence that holds an age and a "minimum" word (minimum,
youngest, at least, "not ... for"), else the first that holds an age and a recommendation
word (recommended, suitable, appropriate, intended, aimed, ideal, best for, ...); in it,
the first age at or after that word (else the last one before it). With no such sentence,
the smallest age stated anywhere. An answer that is only a number ("12", "12 years.")
states that age. An answer without any age (a refusal, "I don't know", an answer about
something else, "published in 1998", "100 pages", "$8.99", "the 20th century") gives None;
so do ages of someone other than the reader ("the author was 25 years old", "the story
of a 12-year-old boy").

Speed (this runs over millions of descriptions): every pattern is compiled once at
import and runs on the lower-cased text without IGNORECASE. The cheap pre-check is one
regex scan for *anchors* - a non-alphanumeric character followed by a digit run or a
stem such as "age", "grade", "between", "toddler", "teen" - built as a trie of literals so
that the engine skips ahead between separators. A description without anchors costs that
one scan; each anchor is then read by the few patterns that start with it
(``pattern.match`` at the anchor), and what comes before it (a "for", "children", "not")
is checked on a short slice. About 3 s of CPU per 100k descriptions of ~600 characters.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable, NamedTuple

__all__ = [
    "AGE_BANDS",
    "AgeCue",
    "band_of",
    "find_age_cues",
    "min_age_from_cues",
    "parse_age_answer",
]

AGE_BANDS: tuple[tuple[str, float, float | None], ...] = (
    ("0-2", 0, 2),
    ("3-5", 3, 5),
    ("6-8", 6, 8),
    ("9-12", 9, 12),
    ("13-17", 13, 17),
    ("18+", 18, None),
)

# Above this, a number in a description is a demographic, not a reader age.
_MAX_CUE_AGE = 21.0


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
_WORD_NUMBERS: dict[str, int] = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19, "twenty": 20, "twenty-one": 21,
}
_ORDINAL_WORDS: dict[str, int] = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
    "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12,
}

_FRAGMENTS: dict[str, str] = {}


def _expand(pattern: str, fragments: dict[str, str] | None = None) -> str:
    """Replace ``<<NAME>>`` by fragment NAME (``fragments`` first, then the shared ones)."""
    table = {**_FRAGMENTS, **(fragments or {})}
    return re.sub(r"<<(\w+)>>", lambda m: table[m.group(1)], pattern)


def _frag(name: str, pattern: str) -> None:
    _FRAGMENTS[name] = "(?:" + _expand(pattern) + ")"


# Hyphen, the Unicode dashes (U+2010..U+2015), minus sign and tilde: cleaned text keeps
# whatever dash the HTML entity was ("&#8211;" -> en dash).
_frag("DASH", r"[-\u2010-\u2015\u2212~]")
# A 1-2 digit number that is not part of a longer number, a price, a decimal or a
# percentage: "1998", "$8.99", "100 years", "4.5%" never yield an age.
_frag("DIGITS", r"(?<![\d.,$£€#])\d{1,2}(?:\.\d)?(?!\d|[.,]\d|\s*%)")
# The same, written to START a pattern: a leading digit lets the engine skip ahead, and
# the look-behind sits after it (it sees the character before the number plus the digit).
# [0-9] rather than \d: the engine's skip-ahead tests a range faster than a category.
_frag("LEAD_DIGITS", r"[0-9](?<![\d.,$£€#][0-9])\d?(?:\.\d)?(?!\d|[.,]\d|\s*%)")
_frag(
    "WORDNUM",
    r"\b(?:"
    + "|".join(w.replace("-", r"[\s-]") for w in sorted(_WORD_NUMBERS, key=len, reverse=True))
    + r")\b",
)
_frag("NUM", r"<<DIGITS>>|<<WORDNUM>>")
_frag("ORD", r"\d{1,2}(?:st|nd|rd|th)\b|\b(?:" + "|".join(_ORDINAL_WORDS) + r")\b")
# No leading \b, so "3yrs" and "18mos" read; the trailing guard stops "yo" in "your".
_frag("YEARS", r"(?:years?|yrs?\.?|y\.?o\.?)(?![a-z])")
_frag("MONTHS", r"(?:months?|mos?\.?|mths?\.?)(?![a-z])")
_frag("UNIT", r"<<MONTHS>>|<<YEARS>>")
# Range separators: dashes (also doubled), "to", "through", "thru", "or", "until".
_frag("SEP", r"\s*<<DASH>>+\s*|\s+(?:to|through|thru|or|until|till)\s+")
# Open-ended: "8+", "8 and up", "8 & older", "8 or over"; "up-and-coming" is not.
_frag("AND_UP", r"\s*\+|\s*(?:and|&|or)\s*(?:up(?:wards?)?|older|over|above|beyond)\b(?!-[a-z])")
# After "age" or "grade" a bare "up" is open-ended too (SLJ's "Grade 3 Up").
_frag("PLUS", r"<<AND_UP>>|\s+up\b(?!-[a-z])")
# A grade token inside a grade phrase: 3, 3rd, third, K, PreK, PreS, preschool.
_frag(
    "GTOK",
    r"\d{1,2}(?:st|nd|rd|th)?(?![\d.]\d|\w)"
    r"|\b(?:k|kg|kindergarten|pre-?k|pre-?kindergarten|pre-?s|pre-?school)\b"
    r"|\b(?:" + "|".join(_ORDINAL_WORDS) + r")\b",
)


def _compile(pattern: str, **fragments: str) -> re.Pattern[str]:
    # No IGNORECASE: the patterns run on text.lower(), where literal prefixes are fast.
    return re.compile(_expand(pattern, fragments), re.VERBOSE)


def _tail(regex: str) -> re.Pattern[str]:
    """A check on the text just before a match: ``regex`` must end the slice."""
    return re.compile("(?:" + _expand(regex) + r")$", re.VERBOSE)


# ---------------------------------------------------------------- value helpers
def _number(token: str) -> float:
    word = re.sub(r"[\s-]+", "-", token.strip().lower())
    if word in _WORD_NUMBERS:
        return float(_WORD_NUMBERS[word])
    return float(token)


def _is_word(token: str | None) -> bool:
    return bool(token) and not token.strip()[0].isdigit()


def _is_months(unit: str | None) -> bool:
    return bool(unit) and unit.strip().lower().startswith("m")


def _years(value: float, unit: str | None) -> float:
    return value / 12.0 if _is_months(unit) else value


def _grade_age(token: str | None) -> float | None:
    if not token:
        return None
    t = token.strip().lower().replace("-", "")
    if t in ("k", "kg", "kindergarten"):
        return 5.0
    if t in ("prek", "prekindergarten"):
        return 4.0
    if t in ("pres", "preschool"):
        return 3.0
    if t in _ORDINAL_WORDS:
        return float(_ORDINAL_WORDS[t] + 5)
    digits = re.match(r"\d+", t)
    if digits and 1 <= int(digits.group()) <= 12:
        return float(int(digits.group()) + 5)
    return None


def _ordered(lo: float, hi: float | None) -> tuple[float, float | None]:
    # Reversed ranges ("Ages 8-4", "Grade 5-3") are typos for the ordered range.
    if hi is not None and hi < lo:
        return hi, lo
    return lo, hi


class _Ctx(NamedTuple):
    text: str  # the original text (for case checks: "K-3", "YA")
    low: str  # text.lower(), same length; every pattern runs on it
    answer: bool  # reading a model's answer rather than a description


class _Hit(NamedTuple):
    lo: float
    hi: float | None
    kind: str
    start: int  # may start before the match: "children" in "children under 3"
    end: int | None = None  # None: where the match ends


_Builder = Callable[[re.Match[str], _Ctx], "_Hit | None"]


def _before(ctx: _Ctx, pos: int, width: int = 48) -> str:
    return ctx.low[max(0, pos - width) : pos]


def _word_char_before(ctx: _Ctx, pos: int, extra: str = "") -> bool:
    return pos > 0 and (ctx.low[pos - 1].isalnum() or ctx.low[pos - 1] in "_" + extra)


# ---------------------------------------------------------------- "age(s) N" phrases
_AGE_KEYWORD = _compile(
    r"""
    age(?:s|d)?\b                                 # "age", "ages", "aged"; never "page"
    (?:\s+(?:range|group|level|bracket))?         # Amazon's "Age Range:"
    \s*(?:[:=(]\s*)?
    (?:from\s+)?
    (?P<a><<NUM>>)                                 # a number must follow: "the ages of sail"
    (?:\s*-?\s*(?P<ua><<UNIT>>)(?:\s+old)?)?      # "6 months", "3 years"
    (?:
        (?:<<SEP>>)(?P<b><<NUM>>)(?:\s*-?\s*(?P<ub><<UNIT>>)(?:[\s-]+old)?)?   # "-2 years"
      | (?P<plus><<PLUS>>)(?:\s*(?P<up><<UNIT>>))?                            # "+ years"
    )?
    """
)
# "Middle Ages 5", "Stone Age 3", "Ice Age 2" are eras and titles; "at age 12", "by age 5"
# a character's or a child's life; "Through the Ages 3-Book Set" a series.
_AGE_BAD_PREFIX = _tail(
    r"\b(?:middle|stone|bronze|iron|dark|golden|ice|space|new|gilded|jazz|atomic|digital"
    r"|at|by|since|until|till|the)\s+"
)
_AGE_PREFIX = _tail(r"\b(?P<p>reading|recommended|suggested|target|interest)\s+")
_AGED_WHO = _tail(r"\b(?:children|kids|readers|boys|girls|students|those|anyone)\s+")


def _build_age_keyword(m: re.Match[str], ctx: _Ctx) -> _Hit | None:
    start = m.start()
    if _word_char_before(ctx, start, "-") or _AGE_BAD_PREFIX.search(_before(ctx, start, 16)):
        return None
    a, b, ub = m["a"], m["b"], m["ub"]
    ua = m["ua"] or m["up"]
    open_or_range = bool(b or m["plus"])
    if not (open_or_range or ua):
        if _is_word(a):
            return None  # "at all ages one can..." - a number word alone is too weak
        if re.match(r"-[a-z]", ctx.low[m.end() : m.end() + 2]):
            return None  # "Age 10-Minute Stories"
    if m.group().startswith("aged") and not open_or_range and not ctx.answer:
        # "Tom, aged 12, runs away" is a character; "children aged 12" a reader.
        if not _AGED_WHO.search(_before(ctx, start, 24)):
            return None
    lo = _years(_number(a), ua or ub)
    hi = _years(_number(b), ub or ua) if b else None
    lo, hi = _ordered(lo, hi)
    prefix = _AGE_PREFIX.search(_before(ctx, start, 24))
    if prefix:
        start -= len(prefix.group())
    if _is_months(ua) or _is_months(ub):
        kind = "months"
    elif prefix and prefix["p"] == "reading":
        kind = "reading_age"
    elif b:
        kind = "age_range"
    elif m["plus"]:
        kind = "age_plus"
    else:
        kind = "age"
    return _Hit(lo, hi, kind, start)


# ---------------------------------------------------------------- phrases led by a number
# One pattern reads every number phrase ("4-8 year olds", "8 and up", "3 years+", "6-12
# months", "(8+)"); the builder decides from its parts and the words before it whether it
# states a reader age. One scan instead of five keeps the digit-led search cheap.
_NUMBER_PHRASE_SRC = r"""
    (?P<a><<LEAD>>)                                              # 4
    (?:\s*-?\s*(?P<ua><<UNIT>>))?                                # 4 months / 4-year
    (?:(?:<<SEP>>)(?P<b><<BNUM>>)(?:\s*-?\s*(?P<ub><<UNIT>>))?)?  # -8 / to 8 years
    (?:[\s-]*(?P<old>olds?\b|of\s+age\b))?                       # -olds / of age
    (?:(?P<plus><<PLUS>>)(?:\s*(?P<up><<UNIT>>)(?:\s+old)?)?)?     # and up / + years
"""
# In descriptions both numbers are digits ("Grade 4-6--Twelve-year-old Mia" is no range).
_NUMBER_PHRASE = _compile(
    _NUMBER_PHRASE_SRC, LEAD=_FRAGMENTS["LEAD_DIGITS"], BNUM=_FRAGMENTS["DIGITS"]
)
# Answers are short, so there the phrase may also be written in words ("six to eight").
_NUMBER_PHRASE_ANSWER = _compile(
    _NUMBER_PHRASE_SRC,
    LEAD="(?:" + _FRAGMENTS["LEAD_DIGITS"] + "|" + _FRAGMENTS["WORDNUM"] + ")",
    BNUM=_FRAGMENTS["NUM"],
)

_WHO = _tail(
    r"""\b(?P<who>children|kids|readers|boys|girls|students|toddlers|babies|baby|infants
        |newborns|youngsters|tweens|teens|preschoolers|listeners)
    \s+(?:(?:aged?|ages|from)\s+)?"""
)
_FOR_READER = _tail(
    r"\bfor\s+(?:(?:your|a|an|any|every|the|little|young|curious|budding)\s+){0,2}"
)
_RELATION = _tail(
    r"""(?:\b(?P<who>children|kids|babies|infants|toddlers|anyone|those|readers|people|persons
            |users|youngsters|students|ages?)\s+)?
        \b(?P<rel>under|below|younger\s+than|less\s+than|over|above|older\s+than
            |from|past|beyond)\s+
        (?:(?:the\s+)?(?P<age>age)\s+(?:of\s+)?)?"""
)
_NEGATION = re.compile(r"\b(?:not|never|no|unsuitable|unsafe|inappropriate)\b[^.!?\n;]*$")
# "K-3", "PreK-2", "PreS-Gr 2", "Kindergarten-Grade 2": a grade range without "grade" first.
_GRADE_BARE = _tail(
    r"""(?<![\w-])(?P<g1>k|pre-?k|pre-?s|pre-?school|kindergarten)
        (?:<<SEP>>)(?P<gw>(?:grades?|gr\.?)\s*)?"""
)
# Words before "N and up" / "N+" that make it a count, a level or a duration.
_PLUS_BAD_PREFIX = _tail(
    r"""\b(?:sizes?|levels?|pages?|chapters?|books?|volumes?|grades?|no\.|vol\.|part|step|rated
        |rating|score|over|than|past|last|next|nearly|almost|within|top|about|lexile|phase)\s+"""
)
_COUNT_AFTER = re.compile(
    r"\s*(?:players?|people|persons|copies|units|items|pieces|pages|participants|recipes"
    r"|stories|titles|books|hours|minutes|reviews|languages|countries|illustrations|photos)\b"
)
_DURATION_AFTER = re.compile(
    r"\s+(?:of|in|ago|later|experience|before|after|on|with|at|as|teaching|writing|working"
    r"|since|now|from|into)\b"
)
_GRADE_TAIL = re.compile(r"[\s-]*grade\b")
_CHARACTER_AFTER = re.compile(
    r"[\s-]+(?:boy|girl|child|kid|son|daughter|protagonist|hero|heroine|orphan|narrator"
    r"|brother|sister|named|who|whose)\b"
)
_CHARACTER_BEFORE = _tail(
    r"""\b(?:he|she|they|i|author|writer|protagonist|character|hero|heroine|narrator|boy|girl)
        \s+(?:was|were|is|turned|turns)\s+(?:only\s+|just\s+|about\s+|nearly\s+)?"""
)
_GRADE_ABBR = _tail(r"(?<![\w-])grs?\.?\s*")
_GRADE_LEAD = _tail(r"(?<![\w-])(?:grs?\.?|grades?(?:\s+levels?)?\s*:?)\s*")
# What must end the text before a bare number for it to be read at all: a range
# separator ("K-3"), a relation ("under 3", "the age of 3") or a grade abbreviation.
# Most numbers in a description are bare ("1998", "320 pages"), so this is a set lookup.
_BARE_CONTEXT_WORDS = frozenset(
    "under below over above from past beyond age gr grs grade grades".split()
)
# Words that count only after a given word: "older than 3", "the age of 3", "K to 3".
_BARE_CONTEXT_PAIRS = {
    "than": frozenset({"older", "younger", "less"}),
    "of": frozenset({"age"}),
    **{
        sep: frozenset(
            {"k", "prek", "pre-k", "pres", "pre-s", "preschool", "pre-school", "kindergarten"}
        )
        for sep in ("to", "through", "thru", "or", "until", "till")
    },
}
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212~"


def _bare_context(before: str) -> bool:
    tail = before[-24:].rstrip()
    if not tail:
        return False
    if tail[-1] in _DASHES:
        return True
    words = tail.rsplit(None, 2)
    word = words[-1].rstrip(".")
    if word in _BARE_CONTEXT_WORDS or any(d in word for d in _DASHES):
        return True  # "K-Gr 3", "PreS-Grade 2": the dash sits before the grade word
    after = _BARE_CONTEXT_PAIRS.get(word)
    return after is not None and len(words) > 1 and words[-2] in after


def _build_number_phrase(m: re.Match[str], ctx: _Ctx) -> _Hit | None:
    start = m.start()
    if _word_char_before(ctx, start):
        return None  # "mp3", "covid19"
    a, b, old, plus = m["a"], m["b"], m["old"], m["plus"]
    ua, ub, up = m["ua"], m["ub"], m["up"]
    before = _before(ctx, start)

    if not (b or old or plus) and not _bare_context(before) and not _is_months(ua):
        # A bare number ("1998", "320", "8") or a duration ("20 years") with nothing that
        # makes it an age; only "babies 6 months" survives without a shape or a context.
        return None

    # "Gr 3-5", "Gr. 4-6--", "Gr 5 Up": the school-library abbreviation of a grade range.
    abbr = _GRADE_ABBR.search(before[-8:]) if "gr" in before[-8:] else None
    if abbr and not (ua or ub or up or old or _is_word(a)):
        lo = _grade_age(a)
        hi = _grade_age(b) if b else lo
        if lo is None or hi is None:
            return None
        lo, hi = _ordered(lo, hi)
        return _Hit(lo, None if plus else hi, "grade", start - len(abbr.group()))
    if plus and plus.strip() == "up":
        return None  # a bare "up" is open-ended only after "age" or "grade"

    # "K-3", "PreS-Gr 2": the number ends a school-library grade range.
    grade = _GRADE_BARE.search(before) if ("k" in before or "pre" in before) else None
    if grade and not (ua or old or _is_word(a)):
        g1 = grade["g1"]
        g1_pos = start - len(grade.group())
        if g1 == "k" and ctx.text[g1_pos] != "K":
            return None  # lower-case "k-3" is not the school-library style
        if g1 == "k" and a == "9" and not grade["gw"]:
            return None  # K-9: police dogs
        lo, hi = _grade_age(g1), _grade_age(a)
        if lo is None or hi is None:
            return None
        lo, hi = _ordered(lo, hi)
        lead = _GRADE_LEAD.search(_before(ctx, g1_pos, 16))  # "Gr. K-2", "Grades PreK-3"
        if lead:
            g1_pos -= len(lead.group())
        return _Hit(lo, None if plus else hi, "grade", g1_pos)

    # "children under 3", "not for children under 3 yrs", "from the age of 10".
    rel = _RELATION.search(before)
    if rel and not b:
        word = rel["rel"]
        if word in ("from", "past", "beyond") and not rel["age"]:
            rel = None
        elif not (rel["who"] or rel["age"]):
            rel = None
    if rel and not b:
        n = _years(_number(a), ua or up)
        rel_start = start - len(rel.group())
        if rel["rel"].startswith(("under", "below", "younger", "less")) and not plus:
            # "Not for children under 3" states a minimum; "for children under 5" a maximum.
            if _NEGATION.search(ctx.low[max(0, rel_start - 80) : rel_start]):
                return _Hit(n, None, "age_plus", rel_start)
            return _Hit(0.0, n, "age_under", rel_start)
        return _Hit(n, None, "age_plus", rel_start)

    who = _WHO.search(before)
    for_reader = _FOR_READER.search(before)
    months = _is_months(ua) or _is_months(ub) or _is_months(up)
    unit = ua or ub or up
    if who:
        start -= len(who.group())
    elif for_reader and (old or plus):
        start -= len(for_reader.group())

    if old:
        if not (ua or ub):
            return None  # "8 old" is no age
        # A singular "a 12-year-old boy" is a character unless addressed to the reader.
        singular = not (b or old == "olds" or for_reader or who or plus)
        if singular and not ctx.answer:
            return None
        # An answer may state "18 years old" bare, but "the story of a 12-year-old boy" or
        # "the author was 25 years old" still speak of someone other than the reader.
        if singular and (
            _CHARACTER_AFTER.match(ctx.low, m.end()) or _CHARACTER_BEFORE.search(before)
        ):
            return None
        lo = _years(_number(a), ua or ub)
        hi = _years(_number(b), ub or ua) if b else (None if plus else lo)
        lo, hi = _ordered(lo, hi)
        kind = "months" if months else ("age_range" if b else ("age_plus" if plus else "age"))
        return _Hit(lo, hi, kind, start)

    if plus:
        after = m.end()
        if _COUNT_AFTER.match(ctx.low, after) or _DURATION_AFTER.match(ctx.low, after):
            return None
        if not who and _PLUS_BAD_PREFIX.search(before):
            return None
        bare_plus = plus.strip() == "+" and not (ua or up)
        if bare_plus and not (who or ctx.answer):
            # "12+ recipes" is a count; "(8+)" on its own is the age-badge style.
            if not (before.endswith("(") and ctx.low[after : after + 1] == ")"):
                return None
        if not ctx.answer and a in ("one", "zero"):
            return None  # "one and above the rest"
        lo = _years(_number(a), ua or up)
        hi = None
        if b:
            lo, _ = _ordered(lo, _years(_number(b), ub or ua or up))
        return _Hit(lo, hi, "months" if months else "age_plus", start)

    if b:
        # "in 5-10 years", "pages 4-8" are no ages; a reader word or a range from 0 is.
        if _GRADE_TAIL.match(ctx.low, m.end()):
            return None  # "3-5 grade": the grade patterns read it
        if not (who or (_number(a) == 0 and unit)):
            return None
        if _is_word(a) and not (unit or ctx.answer):
            return None  # "the girls two or three times"
        lo = _years(_number(a), ua or ub)
        hi = _years(_number(b), ub or ua)
        lo, hi = _ordered(lo, hi)
        return _Hit(lo, hi, "months" if months else "age_range", start)

    if who and months and who["who"] in ("babies", "baby", "infants", "newborns", "toddlers"):
        return _Hit(_years(_number(a), ua), None, "months", start)  # "babies 6 months"
    return None


# "between the ages of 4 and 8", "between 4 and 8 years old".
_BETWEEN = _compile(
    r"""
    between\s+(?:the\s+)?(?P<kw>ages?\s+(?:of\s+)?)?       # "ages" makes it an age
    (?P<a><<NUM>>)(?:\s*-?\s*(?P<ua><<UNIT>>))?
    \s+(?:and|&|to|-)\s+                                 # "and" joins a range only here
    (?P<b><<NUM>>)(?:\s*-?\s*(?P<ub><<UNIT>>)(?P<old>[\s-]+old)?)?   # so does "old"
    """
)
_BETWEEN_WHO = re.compile(r"\b(?:children|kids|readers|boys|girls|babies|toddlers)\b[^.!?\n]*$")


def _build_between(m: re.Match[str], ctx: _Ctx) -> _Hit | None:
    if _word_char_before(ctx, m.start()):
        return None
    ua, ub = m["ua"], m["ub"]
    # "between 5 and 10 years" is a duration unless it says "old", "ages" or who.
    if not (m["kw"] or m["old"] or _BETWEEN_WHO.search(_before(ctx, m.start(), 30))):
        return None
    lo = _years(_number(m["a"]), ua or ub)
    hi = _years(_number(m["b"]), ub or ua)
    lo, hi = _ordered(lo, hi)
    return _Hit(lo, hi, "months" if _is_months(ua) or _is_months(ub) else "age_range", m.start())


# ---------------------------------------------------------------- grades
# "Grade 3-5", "Grades K-2", "Grade 4-6--", "Grade 3 Up", "Grade level: Preschool - 2", and
# the ordinal forms ending in "grade": "3rd-5th grade", "for 3rd graders", "second-grade
# reading level", "kindergarten through third grade". One scan from the literal "grade";
# the ordinal before it is read from the preceding text. The abbreviation ("Gr 3-5",
# "Gr. 4 Up") is read by the number-phrase builder, so no scan starts from "gr".
_GRADE = _compile(
    r"""
    grade(?P<gs>rs|r|s)?\b                  # "grade", "grades", "grader(s)"; "grade A" stops here
    (?:
        (?P<num>                            # "Grade 3-5", "Grades K-2", "Grade 3 Up"
            (?:\s+levels?)?\s*:?\s*
            (?P<g1><<GTOK>>)
            (?:
                (?:<<SEP>>)(?:(?:grades?|gr\.?)\s*)?(?P<g2><<GTOK>>)(?P<plus2><<PLUS>>)?
              | (?P<plus><<PLUS>>)
            )?
        )
        # after an ordinal, the words that make "third grade" the reader's grade
      | (?P<post>\s+(?:and\s+up|&\s+up|readers?|reading|level|students|classrooms?|kids
            |children|and\s+above))
    )?
    """
)
_GRADE_PREFIX = _tail(r"\b(?:interest|reading)\s+level\s*:?\s*")
_ORDINAL_BEFORE = _tail(
    r"""(?<![\w-])(?P<o1><<ORD>>|kindergarten|pre-?k|pre-?school)
        (?:\s*(?:grade\s*)?(?:<<SEP>>|\s*(?:and|&|,)\s*)(?P<o2><<ORD>>))?
        [\s-]*"""
)
_FOR = _tail(r"\bfor\s+(?:(?:your|a|an|the)\s+)?")
_TEACHERS_AFTER = re.compile(r"\s*teachers?\b")


def _build_grade(m: re.Match[str], ctx: _Ctx) -> _Hit | None:
    start = m.start()
    if m["g1"] and m["gs"] in (None, "s"):
        if _word_char_before(ctx, start, "-"):
            return None  # "high-grade", "upgrade"; "Kindergarten-Grade 2" is a number phrase
        lo = _grade_age(m["g1"])
        hi = _grade_age(m["g2"]) if m["g2"] else (None if m["plus"] else lo)
        if lo is None or (m["g2"] and hi is None):
            return None
        if m["plus2"]:
            hi = None
        lo, hi = _ordered(lo, hi)
        prefix = _GRADE_PREFIX.search(_before(ctx, start, 24))
        if prefix:
            start -= len(prefix.group())
        return _Hit(lo, hi, "grade", start)

    ordinal = _ORDINAL_BEFORE.search(_before(ctx, start))
    if ordinal is None:
        return None
    end = m.end("post") if m["post"] else start + len("grade") + len(m["gs"] or "")
    if _TEACHERS_AFTER.match(ctx.low, end):
        return None  # "third-grade teachers" are adults
    o1, o2 = ordinal["o1"], ordinal["o2"]
    start -= len(ordinal.group())
    for_ = _FOR.search(_before(ctx, start, 16))
    if not (o2 or m["gs"] == "rs" or for_ or m["post"] or ctx.answer):
        return None  # "In third grade, Jake..." is the story's setting
    if o2 is None and _grade_age(o1) is not None and _grade_age(o1) < 6:
        return None  # "kindergarten grade" alone: the label patterns decide
    lo = _grade_age(o1)
    hi = _grade_age(o2) if o2 else lo
    if lo is None or hi is None:
        return None
    lo, hi = _ordered(lo, hi)
    if m["post"] and ("up" in m["post"] or "above" in m["post"]):
        hi = None
    if for_:
        start -= len(for_.group())
    return _Hit(lo, hi, "grade", start, end)


# ---------------------------------------------------------------- labels
# Label words -> (min, max) for label ranges ("Baby - Preschool", "Birth to 3 years").
_LABEL_SPAN = {
    "baby": (0.0, 1.0), "babies": (0.0, 1.0), "infant": (0.0, 1.0), "infants": (0.0, 1.0),
    "newborn": (0.0, 0.5), "newborns": (0.0, 0.5), "birth": (0.0, 0.0),
    "toddler": (1.0, 3.0), "toddlers": (1.0, 3.0),
    "preschool": (3.0, 5.0), "preschoolers": (3.0, 5.0), "preschooler": (3.0, 5.0),
    "pres": (3.0, 5.0), "prek": (4.0, 5.0), "kindergarten": (5.0, 6.0), "k": (5.0, 6.0),
}

_LABEL_RANGE = r"""
    (?P<l1>baby|babies|infants?|newborns?|birth|toddlers?|pre-?school(?:ers?)?|pre-?k|pre-?s)\b
    (?:<<SEP>>)
    (?:
        (?P<l2>toddlers?|pre-?school(?:ers?)?|pre-?k|kindergarten|k)\b      # "Baby - Preschool"
      | (?P<gk>(?:grades?|gr\.?)\s*)?(?P<n2><<NUM>>)(?:\s*-?\s*(?P<u2><<UNIT>>))?(?!\w)
                                                  # "Baby - 2 years", "Preschool - 2" (grade)
    )
"""
_LABEL_PREFIX = _tail(r"\b(?:reading\s+age|age\s+range|grade\s+level|ages?)\s*:?\s*")


def _label_key(word: str) -> str:
    return word.lower().replace("-", "")


def _build_label_range(m: re.Match[str], ctx: _Ctx) -> _Hit | None:
    start = m.start()
    if _word_char_before(ctx, start, "-"):
        return None
    l1 = _label_key(m["l1"])
    if l1 == "pres" and not m["l2"] and not m["gk"]:
        return None  # "PreS-2" is read as a grade range by the number phrase
    if m["l2"] == "k" and ctx.text[m.start("l2")] != "K":
        return None
    lo = _LABEL_SPAN[l1][0]
    if m["l2"]:
        hi = _LABEL_SPAN[_label_key(m["l2"])][1]
    else:
        n2 = m["n2"]
        if m["u2"]:
            hi = _years(_number(n2), m["u2"])
        elif m["gk"] or l1.startswith("pre"):
            hi = _grade_age(n2) if not _is_word(n2) else None  # "Preschool - 2": grade 2
            if hi is None:
                return None
        else:
            hi = _number(n2)  # "Baby - 2": years
    lo, hi = _ordered(lo, hi)
    prefix = _LABEL_PREFIX.search(_before(ctx, start, 24))
    if prefix:
        start -= len(prefix.group())
    return _Hit(lo, hi, "label", start)


class _Reading(NamedTuple):
    """One way to read the text at an anchor: ``regex`` is matched where one of
    ``anchors`` (literal stems; ``_DIGIT`` for a run of digits) starts."""

    anchors: tuple[str, ...]
    regex: re.Pattern[str]
    build: _Builder
    rank: int = 0  # 0: numeric statements, 1: word labels; on overlap numeric wins


_DIGIT = "0-9"


def _label(
    stems: tuple[str, ...],
    pattern: str,
    lo: float,
    hi: float | None,
    *,
    needs_before: re.Pattern[str] | None = None,
    reject_before: re.Pattern[str] | None = None,
    upper: str | None = None,
) -> _Reading:
    """A word label worth (lo, hi).

    ``needs_before``: a tail pattern that must end just before the match (the cue then
    starts where it starts: "for" in "for babies"); ``reject_before``: one that vetoes it;
    ``upper``: the match must read exactly so in the original text ("YA").
    """

    def build(m: re.Match[str], ctx: _Ctx) -> _Hit | None:
        start = m.start()
        if _word_char_before(ctx, start):
            return None
        if reject_before is not None and reject_before.search(_before(ctx, start, 16)):
            return None
        if upper is not None and ctx.text[start : m.end()] != upper:
            return None
        if needs_before is not None:
            lead = needs_before.search(_before(ctx, start, 40))
            if lead is None:
                return None
            start -= len(lead.group())
        return _Hit(lo, hi, "label", start)

    return _Reading(stems, _compile(pattern), build, rank=1)


_YOUNG_BEFORE = _tail(r"young[\s-]")
_FOR_BEFORE = _tail(r"\bfor\s+")

_CUE_LABELS: list[_Reading] = [
    _Reading(
        ("bab", "infant", "newborn", "birth", "toddler", "preschool", "pre-school", "prek",
         "pre-k", "pres", "pre-s"),
        _compile(_LABEL_RANGE),
        _build_label_range,
        rank=1,
    ),
    _label(("board",), r"board[\s-]?books?\b", 0.0, 3.0),
    _label(("bab", "infant"), r"(?:babies|baby|infants)\s+(?:and|&)\s+toddlers?\b", 0.0, 3.0),
    _label(
        ("bab", "infant", "newborn"), r"(?:babies|baby|infants|newborns)\b", 0.0, 3.0,
        needs_before=_tail(r"\bfor\s+(?:(?:your|the|a|little|new)\s+){0,2}"),
    ),
    # "parents of toddlers" and "the toddler years" are parenting books for adults.
    _label(
        ("toddler",),
        r"toddlers?\b(?<!of\stoddler)(?<!of\stoddlers)"
        r"(?!\s+(?:years|stage|tantrums|behaviou?r|sleep|parenting|discipline))",
        1.0, 3.0,
    ),
    _label(
        ("preschool", "pre-school"),
        r"pre-?school(?:ers?)?\b(?!\s+(?:teachers?|educators?|directors?))", 3.0, 5.0,
    ),
    _label(("kinder",), r"kinder?gart(?:e)?ners\b", 5.0, 6.0),
    _label(("middle",), r"middle[\s-]grade(?:rs)?\b(?!\s+teachers?)", 9.0, 12.0),
    _label(
        ("teen",),
        r"teen\s+(?:(?:&|and)\s+young[\s-]adults?|readers?|fiction|books?|novels?|audiences?)\b",
        13.0, 17.0,
    ),
    _label(
        ("teen",), r"(?:teens|teenagers)\b", 13.0, 17.0,
        needs_before=_tail(r"\b(?:for|to)\s+(?:older\s+|young\s+)?"),
    ),
    _label(("young",), r"young[\s-]adults?\b", 13.0, 17.0),
    _label(("ya",), r"ya\b", 13.0, 17.0, upper="YA"),
    _label(
        ("adult", "grown"),
        r"""(?:grown[\s-]?ups|adults)\b
            (?!\s+(?:and|&|or)\s+(?:children|kids|teens|young|older\s+children|teenagers))
            (?!\s+(?:alike|too|as\s+well))""",
        18.0, None, needs_before=_FOR_BEFORE,
    ),
    _label(
        ("adult",),
        r"""adult\s+(?:readers?|fiction|coloring|colouring|audiences?|content|themes?|language
            |situations|novels?)\b
          | adults\s+only\b""",
        18.0, None, reject_before=_YOUNG_BEFORE,
    ),
    # Anchored at "age" (an anchor inside a longer one would be skipped by the scan).
    _label(("age",), r"ages\b", 0.0, None, needs_before=_tail(r"\b(?:all|any)\s+")),
]

# In an answer to the age question these words name the reader; in a description they
# are usually the setting ("a high school romance"), so they are answer-only.
_ANSWER_LABELS: list[_Reading] = [
    _label(("age",), r"ages?\b", 0.0, None, needs_before=_tail(r"\b(?:all|any|every)\s+")),
    _label(("preteen", "pre-teen", "tween"), r"(?:pre-?teens?|tweens?)\b", 10.0, 12.0),
    _label(
        ("teen", "adolesc"), r"(?:teens|teenagers?|teen|adolescents?|adolescence)\b", 13.0, 17.0
    ),
    _label(
        ("adult", "grown", "mature"),
        r"""(?:adults?|adulthood|grown[\s-]?ups|mature\s+(?:readers|audiences?))\b
            (?!\s+(?:supervision|help|guidance|assistance|reading\s+(?:to|aloud)|to\s+read))""",
        18.0, None, reject_before=_YOUNG_BEFORE,
    ),
    _label(("college",), r"college(?:\s+students)?\b", 18.0, None),
    _label(("high",), r"high[\s-]school(?:ers)?\b", 14.0, 17.0),
    _label(("middle",), r"middle[\s-]school(?:ers)?\b", 11.0, 13.0),
    _label(("elementary", "grade"), r"(?:elementary|grade)[\s-]school(?:ers)?\b", 6.0, 11.0),
    _label(("primary",), r"primary[\s-]school\b", 5.0, 11.0),
    _label(("kinder",), r"kinder?gart(?:e)?n(?:ers?)?\b", 5.0, 6.0),
    _label(
        ("early", "beginning", "emergent", "emerging"),
        r"(?:early|beginning|emergent|emerging)\s+readers?\b", 5.0, 7.0,
    ),
    _label(("bab", "infant", "newborn"), r"(?:babies|baby|infants?|newborns?)\b", 0.0, 1.0),
    _label(("pg",), r"pg-?13\b", 13.0, None),
]


# ---------------------------------------------------------------- answer-only numeric
# "The minimum recommended age is 11.", "Recommended reading age: 9", "minimum age of 12".
_STATED_AGE = _compile(
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


def _build_stated_age(m: re.Match[str], ctx: _Ctx) -> _Hit | None:
    if _word_char_before(ctx, m.start()):
        return None
    return _Hit(_years(_number(m["a"]), m["ua"]), None, "answer", m.start())


# "at least 13", "as young as 4": loose, so only in an answer to the age question.
_AT_LEAST = _compile(
    r"""
    (?:at\s+least|as\s+young\s+as)\s+(?P<a><<NUM>>)(?:\s*-?\s*(?P<ua><<UNIT>>))?
    (?!\s*(?:chapters?|pages?|percent|dollars?|minutes|hours|days|weeks|books?|times|words)\b)
    """
)


def _build_at_least(m: re.Match[str], ctx: _Ctx) -> _Hit | None:
    if _word_char_before(ctx, m.start()):
        return None
    return _Hit(_years(_number(m["a"]), m["ua"]), None, "age_plus", m.start())


# ---------------------------------------------------------------- the scan
class _Scanner:
    """Finds every anchor with one regex scan, then matches the readings of each anchor
    in place.

    Anchors start words, so the scan looks for a non-alphanumeric character followed by
    a trie of the anchor stems (or a digit run). Python's regex engine then skips ahead
    to the next space or punctuation mark instead of trying every character, and a
    description is scanned once rather than once per pattern. Anchors must not end in a
    separator (the next anchor needs it).
    """

    def __init__(self, readings: list[_Reading]) -> None:
        self.by_anchor: dict[str, list[tuple[int, _Reading]]] = {}
        for order, reading in enumerate(readings):
            for anchor in reading.anchors:
                assert anchor[-1].isalnum() or anchor == _DIGIT, anchor
                self.by_anchor.setdefault(anchor, []).append((order, reading))
        words = [a for a in self.by_anchor if a != _DIGIT]
        alternatives = _trie_alternatives(words)
        if _DIGIT in self.by_anchor:
            alternatives.append("[0-9]+")
        stems = "(" + "|".join(alternatives) + ")"
        self.at_start = re.compile(stems)
        self.after_separator = re.compile("[^a-z0-9]" + stems)

    def anchors(self, low: str) -> list[tuple[int, str]]:
        found = [(m.start(1), m.group(1)) for m in self.after_separator.finditer(low)]
        first = self.at_start.match(low)
        if first is not None:
            found.insert(0, (0, first.group(1)))
        return found


def _trie_alternatives(words: list[str]) -> list[str]:
    """Top-level alternatives, one per first letter, matching the longest of ``words``."""
    groups: dict[str, list[str]] = {}
    for word in words:
        groups.setdefault(word[0], []).append(word[1:])
    return [re.escape(first) + _trie(rest) for first, rest in groups.items()]


def _trie(suffixes: list[str]) -> str:
    alternatives = _trie_alternatives([s for s in suffixes if s])
    if "" in suffixes:
        # A shorter stem is a prefix of a longer one ("young", "youngest"): prefer the longer.
        return "(?:" + "|".join(alternatives) + ")?" if alternatives else ""
    return alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"


_STATED_AGE_ANCHORS = (
    "min", "recommended", "suggested", "suitable", "appropriate", "target", "ideal",
    "youngest", "lowest", "starting", "reading", "good", "best", "right", "proper",
)
_SHARED: list[_Reading] = [
    _Reading(("age",), _AGE_KEYWORD, _build_age_keyword),
    _Reading(("between",), _BETWEEN, _build_between),
    _Reading(("grade",), _GRADE, _build_grade),
]
_CUE_SCANNER = _Scanner(
    [_Reading((_DIGIT,), _NUMBER_PHRASE, _build_number_phrase), *_SHARED, *_CUE_LABELS]
)
_ANSWER_SCANNER = _Scanner(
    [
        _Reading(
            (_DIGIT, *(w for w in _WORD_NUMBERS if "-" not in w)),
            _NUMBER_PHRASE_ANSWER,
            _build_number_phrase,
        ),
        *_SHARED,
        _Reading(_STATED_AGE_ANCHORS, _STATED_AGE, _build_stated_age),
        _Reading(("at least", "as young"), _AT_LEAST, _build_at_least),
        *_CUE_LABELS,
        *_ANSWER_LABELS,
    ]
)


def _lower(text: str) -> str:
    low = text.lower()
    if len(low) != len(text):
        # A few characters lower-case to two ("İ" -> "i̇"); keep offsets aligned.
        low = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    return low


def _scan(text: str, scanner: _Scanner, answer: bool) -> list[AgeCue]:
    if not text:
        return []
    ctx = _Ctx(text, _lower(text), answer)
    low = ctx.low
    # (rank, -length, start, order, cue): the preferred reading of an overlap sorts first.
    found: list[tuple[int, int, int, int, AgeCue]] = []
    by_anchor = scanner.by_anchor
    for pos, anchor in scanner.anchors(low):
        for order, reading in by_anchor.get(anchor) or by_anchor[_DIGIT]:
            m = reading.regex.match(low, pos)
            if m is None:
                continue
            hit = reading.build(m, ctx)
            if hit is None:
                continue
            lo, hi, kind, start, end = hit
            if lo < 0 or (not answer and lo > _MAX_CUE_AGE):
                continue
            end = m.end() if end is None else end
            cue = AgeCue(
                float(lo), None if hi is None else float(hi), start, end, text[start:end], kind
            )
            found.append((reading.rank, start - end, start, order, cue))
    if not found:
        return []
    found.sort(key=lambda item: item[:4])
    kept: list[AgeCue] = []
    for *_, cue in found:
        if all(cue.end <= k.start or cue.start >= k.end for k in kept):
            kept.append(cue)
    kept.sort(key=lambda c: c.start)
    return kept


# ---------------------------------------------------------------- public API
def find_age_cues(text: str) -> list[AgeCue]:
    """Reader-age cues in a cleaned description, sorted by ``start``, non-overlapping."""
    return _scan(text, _CUE_SCANNER, answer=False)


def min_age_from_cues(text: str) -> float | None:
    """The smallest ``min_age`` among the cues in ``text``; None when there are none."""
    cues = find_age_cues(text)
    return min(c.min_age for c in cues) if cues else None


# An answer that is nothing but a number answers the question it was asked.
_BARE_ANSWER = _compile(
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
    bare = _BARE_ANSWER.match(_lower(text))
    if bare is not None:
        return _years(_number(bare["a"]), bare["ua"])  # the whole answer is "12" or "12 years."
    cues = _scan(text, _ANSWER_SCANNER, answer=True)
    if not cues:
        return None
    low = _lower(text)
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


def band_of(age: float) -> str:
    """The ``AGE_BANDS`` name whose range holds ``floor(age)`` (2.5 -> "0-2")."""
    if age is None or math.isnan(age) or age < 0:
        raise ValueError(f"age must be a non-negative number, got {age!r}")
    whole = math.floor(age)
    for name, lo, hi in AGE_BANDS:
        if whole >= lo and (hi is None or whole <= hi):
            return name
    raise ValueError(f"no band holds age {age!r}")  # unreachable: the bands cover 0..inf
