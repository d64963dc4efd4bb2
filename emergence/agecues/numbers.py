"""Readings of number phrases: "Ages 4-8", "8 and up", "4-8 year olds", "between 4 and 8".

    >>> from emergence.agecues import find_age_cues
    >>> [(c.text, c.kind) for c in find_age_cues("Fun for kids 8 and up; ages 4-8.")]
    [('kids 8 and up', 'age_plus'), ('ages 4-8', 'age_range')]

Each reading is a pattern matched at an anchor plus a builder that decides, from the
match and the words before it, whether the phrase states a reader age.
"""
from __future__ import annotations

import re

from emergence.agecues.grammar import (
    FRAGMENTS, Ctx, Hit, compile_pattern, grade_age, in_years, is_months, is_word,
    num_value, ordered, plot_after, tail_re, text_before, word_char_before,
)

# ---------------------------------------------------------------- "age(s) N" phrases
AGE_KEYWORD = compile_pattern(
    r"""
    age(?:s|d)?\b                                 # "age", "ages", "aged"; never "page"
    (?:\s+(?:range|group|level|bracket))?         # Amazon's "Age Range:"
    <<FS>>(?:[:=(]<<FS>>)?
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
_AGE_BAD_PREFIX = tail_re(
    r"\b(?:middle|stone|bronze|iron|dark|golden|ice|space|new|gilded|jazz|atomic|digital"
    r"|at|by|since|until|till|the)\s+"
)
_AGE_PREFIX = tail_re(r"\b(?P<p>reading|recommended|suggested|target|interest)\s+")
_AGED_WHO = tail_re(r"\b(?:children|kids|readers|boys|girls|students|those|anyone)\s+")
_APPOSITION = tail_re(r",\s*")
_LIST_AFTER = compile_pattern(r"\s*(?:,|(?:and|&)\s+<<NUM>>)")


def build_age_keyword(m: re.Match[str], ctx: Ctx) -> Hit | None:
    start = m.start()
    if word_char_before(ctx, start) or _AGE_BAD_PREFIX.search(text_before(ctx, start, 16)):
        return None
    if start > 1 and ctx.low[start - 1] == "-" and ctx.low[start - 2].isalnum():
        return None  # "coming-of-age", "school-age 5": a compound; "tale--Ages 4-8" is a cue
    a, b, ub = m["a"], m["b"], m["ub"]
    ua = m["ua"] or m["up"]
    open_or_range = bool(b or m["plus"])
    if not (open_or_range or ua):
        if is_word(a):
            return None  # "at all ages one can..." - a number word alone is too weak
        if re.match(r"-[a-z]", ctx.low[m.end() : m.end() + 2]):
            return None  # "Age 10-Minute Stories"
    if m.group().startswith("aged") and not open_or_range and not ctx.answer:
        # "Tom, aged 12, runs away" is a character; "children aged 12" a reader.
        if not _AGED_WHO.search(text_before(ctx, start, 24)):
            return None
    if not ctx.answer:
        if not open_or_range and _APPOSITION.search(text_before(ctx, start, 4)):
            if _LIST_AFTER.match(ctx.low, m.end()):
                return None  # "The boys, ages 9 and 11, spend the summer": two characters
        if plot_after(ctx, m.end()):
            return None  # "teens aged 16 to 18 must compete": the story's people
    lo = in_years(num_value(a), ua or ub)
    hi = in_years(num_value(b), ub or ua) if b else None
    lo, hi = ordered(lo, hi)
    prefix = _AGE_PREFIX.search(text_before(ctx, start, 24))
    if prefix:
        start -= len(prefix.group())
    if is_months(ua) or is_months(ub):
        kind = "months"
    elif prefix and prefix["p"] == "reading":
        kind = "reading_age"
    elif b:
        kind = "age_range"
    elif m["plus"]:
        kind = "age_plus"
    else:
        kind = "age"
    return Hit(lo, hi, kind, start)


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
NUMBER_PHRASE = compile_pattern(
    _NUMBER_PHRASE_SRC, LEAD=FRAGMENTS["LEAD_DIGITS"], BNUM=FRAGMENTS["DIGITS"]
)
# Answers are short, so there the phrase may also be written in words ("six to eight").
NUMBER_PHRASE_ANSWER = compile_pattern(
    _NUMBER_PHRASE_SRC,
    LEAD="(?:" + FRAGMENTS["LEAD_DIGITS"] + "|" + FRAGMENTS["WORDNUM"] + ")",
    BNUM=FRAGMENTS["NUM"],
)
# Descriptions read a phrase led by a number word only when it ends in "year(s) old(s)":
# "three- to nine-year-olds", "any seven year old", "five- to eight-years-old".
NUMBER_PHRASE_WORDS = compile_pattern(
    r"""(?P<a><<WORDNUM>>)
    (?:\s*-?\s*(?P<ua><<YEARS>>))?
    (?:(?:<<SEP>>)(?P<b><<NUM>>)(?:\s*-?\s*(?P<ub><<YEARS>>))?)?
    [\s-]*(?P<old>olds?\b)
    (?:(?P<plus><<AND_UP>>)(?:\s*(?P<up><<YEARS>>)(?:\s+old)?)?)?
    """
)

_WHO = tail_re(
    r"""\b(?P<who>children|kids|readers|boys|girls|students|toddlers|babies|baby|infants
        |newborns|youngsters|tweens|teens|preschoolers|listeners|ones)
    \s+(?P<paren>\(\s*)?(?:(?:aged?|ages|from|of)\s+)?"""
)
# Words that address a single or plural age to the reader: "any seven year old", "loved
# by three-year-olds", "a hit with 5-year-olds"; "two 12-year-olds" or "a group of
# 10-year-olds" are the story's characters.
_READER_LEAD = tail_re(r"\b(?:any|by|with|among)\s+")
_SENTENCE_START = tail_re(r"(?:^|[.!?:;(]\s*)")
_READER_VERB_AFTER = re.compile(
    r"\s+(?:will|can|could|may|might|should|would|love|adore|enjoy|delight|devour|learn)\b"
)
# "Suitable from 3 years", "recommended from 9 months": "from" states a minimum after a
# word of suitability (without one, "from 3 years" is a duration or a history).
_SUITABLE_BEFORE = re.compile(
    r"\b(?:suitable|recommended|ideal|safe|appropriate|designed|perfect|intended|great)\b"
    r"[^.!?;\n]*$"
)
_FOR_READER = tail_re(
    r"\bfor\s+(?:(?:your|a|an|any|every|the|little|young|curious|budding)\s+){0,2}"
)
_RELATION = tail_re(
    r"""(?:\b(?P<who>children|kids|babies|infants|toddlers|anyone|those|readers|people|persons
            |users|youngsters|students|ages?)\s+)?
        \b(?P<rel>under|below|younger\s+than|less\s+than|over|above|older\s+than
            |from|past|beyond)\s+
        (?:(?:the\s+)?(?P<age>age)\s+(?:of\s+)?)?"""
)
_NEGATION = re.compile(r"\b(?:not|never|no|unsuitable|unsafe|inappropriate)\b[^.!?\n;]*$")
# "K-3", "PreK-2", "PreS-Gr 2", "Kindergarten-Grade 2": a grade range without "grade" first.
_GRADE_BARE = tail_re(
    r"""(?<![\w-])(?P<g1>k|pre-?k|pre-?s|pre-?school|kindergarten)
        (?:<<SEP>>)(?P<gw>(?:grades?|gr\.?)\s*)?"""
)
# Words before "N and up" / "N+" that make it a count, a level or a duration.
_PLUS_BAD_PREFIX = tail_re(
    r"""\b(?:sizes?|levels?|pages?|chapters?|books?|volumes?|grades?|no\.|vol\.|part|step|rated
        |rating|score|over|than|past|last|next|nearly|almost|within|top|about|lexile|phase)\s+"""
)
# Software and versions: "Java 8 and above", "Windows 7 and up", "Python 3 or older".
_VERSION_BEFORE = tail_re(
    r"""\b(?:version|ver\.?|v|release|python|java|windows|ios|android|excel|office|macos
        |os\s*x|perl|php|ruby|photoshop|vim|gtk|motif|html|css|swift|kotlin|unity|level)\s*"""
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
_CHARACTER_BEFORE = tail_re(
    r"""\b(?:he|she|they|i|author|writer|protagonist|character|hero|heroine|narrator|boy|girl)
        \s+(?:was|were|is|turned|turns)\s+(?:only\s+|just\s+|about\s+|nearly\s+)?"""
)
_GRADE_ABBR = tail_re(r"(?<![\w-])grs?\.?\s*")
_GRADE_LEAD = tail_re(r"(?<![\w-])(?:grs?\.?|grades?(?:\s+levels?)?\s*:?)\s*")
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
DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212~"


def _bare_context(before: str) -> bool:
    tail = before[-24:].rstrip()
    if not tail:
        return False
    if tail[-1] in DASHES:
        return True
    words = tail.rsplit(None, 2)
    word = words[-1].rstrip(".")
    if word in _BARE_CONTEXT_WORDS or any(d in word for d in DASHES):
        return True  # "K-Gr 3", "PreS-Grade 2": the dash sits before the grade word
    after = _BARE_CONTEXT_PAIRS.get(word)
    return after is not None and len(words) > 1 and words[-2] in after


_CLOSE_PAREN = re.compile(r"\s*\)")
_AGE_GROUP_AFTER = re.compile(r"[\s-]+age\s+(?:group|range|bracket|band)\b")


def build_number_phrase(m: re.Match[str], ctx: Ctx) -> Hit | None:
    hit = _build_number_phrase(m, ctx)
    if hit is not None and hit.end is None and "(" in ctx.low[hit.start : m.start()]:
        close = _CLOSE_PAREN.match(ctx.low, m.end())  # "readers (8-12)": the cue owns both
        if close is not None:
            return hit._replace(end=close.end())
    return hit


def _build_number_phrase(m: re.Match[str], ctx: Ctx) -> Hit | None:
    start = m.start()
    if word_char_before(ctx, start):
        return None  # "mp3", "covid19"
    a, b, old, plus = m["a"], m["b"], m["old"], m["plus"]
    ua, ub, up = m["ua"], m["ub"], m["up"]
    before = text_before(ctx, start)

    if not (b or old or plus) and not _bare_context(before) and not is_months(ua):
        # A bare number ("1998", "320", "8") or a duration ("20 years") with nothing that
        # makes it an age; only "babies 6 months" survives without a shape or a context.
        return None

    # "Gr 3-5", "Gr. 4-6--", "Gr 5 Up": the school-library abbreviation of a grade range.
    abbr = _GRADE_ABBR.search(before[-8:]) if "gr" in before[-8:] else None
    if abbr and not (ua or ub or up or old or is_word(a)):
        lo = grade_age(a)
        hi = grade_age(b) if b else lo
        if lo is None or hi is None:
            return None
        lo, hi = ordered(lo, hi)
        return Hit(lo, None if plus else hi, "grade", start - len(abbr.group()))
    plus_word = plus.strip().lstrip(DASHES).strip() if plus else ""
    if plus_word == "up":
        return None  # a bare "up" is open-ended only after "age" or "grade"

    # "K-3", "PreS-Gr 2": the number ends a school-library grade range.
    grade = _GRADE_BARE.search(before) if ("k" in before or "pre" in before) else None
    if grade and not (ua or old or is_word(a)):
        g1 = grade["g1"]
        g1_pos = start - len(grade.group())
        if g1 == "k" and ctx.text[g1_pos] != "K":
            return None  # lower-case "k-3" is not the school-library style
        if g1 == "k" and a == "9" and not grade["gw"]:
            return None  # K-9: police dogs
        lo, hi = grade_age(g1), grade_age(a)
        if lo is None or hi is None:
            return None
        lo, hi = ordered(lo, hi)
        lead = _GRADE_LEAD.search(text_before(ctx, g1_pos, 16))  # "Gr. K-2", "Grades PreK-3"
        if lead:
            g1_pos -= len(lead.group())
        return Hit(lo, None if plus else hi, "grade", g1_pos)

    # "children under 3", "not for children under 3 yrs", "from the age of 10".
    rel = _RELATION.search(before)
    if rel and not b:
        word = rel["rel"]
        if rel["age"]:
            pass
        elif word == "from" and (ua or up) and (
            ctx.answer
            or rel["who"]
            or _SUITABLE_BEFORE.search(before[: len(before) - len(rel.group())])
        ):
            pass  # "children from 3 years", "suitable from 9 months"
        elif word in ("from", "past", "beyond") or not rel["who"]:
            rel = None
    if rel and not b:
        if not ctx.answer and plot_after(ctx, m.end()):
            return None  # "all children over 12 were evacuated"
        n = in_years(num_value(a), ua or up)
        rel_start = start - len(rel.group())
        if rel["rel"].startswith(("under", "below", "younger", "less")) and not plus:
            # "Not for children under 3" states a minimum; "for children under 5" a maximum.
            if _NEGATION.search(ctx.low[max(0, rel_start - 80) : rel_start]):
                return Hit(n, None, "age_plus", rel_start)
            return Hit(0.0, n, "age_under", rel_start)
        return Hit(n, None, "age_plus", rel_start)

    who = _WHO.search(before)
    for_reader = _FOR_READER.search(before)
    months = is_months(ua) or is_months(ub) or is_months(up)
    unit = ua or ub or up
    if who and not ctx.answer and plot_after(ctx, m.end()):
        return None  # "children ages 8 to 12 were disappearing"
    lead = None if (who or for_reader) else _READER_LEAD.search(before)
    if who:
        start -= len(who.group())
    elif for_reader and (old or plus):
        start -= len(for_reader.group())
    elif lead and old:
        start -= len(lead.group())

    if old:
        if not (ua or ub):
            return None  # "8 old" is no age
        # One age ("a 12-year-old boy", "two 12-year-olds") is the story's unless it is
        # addressed to the reader; a range ("8- to 12-year-olds") is the audience's.
        addressed = bool(for_reader or who or plus or lead) or (
            old == "olds"
            and _SENTENCE_START.search(before)
            and _READER_VERB_AFTER.match(ctx.low, m.end())
        )
        singular = not (b or addressed or (old == "olds" and ctx.answer))
        if not (b or addressed) and not ctx.answer:
            return None
        # An answer may state "18 years old" bare, but "the story of a 12-year-old boy" or
        # "the author was 25 years old" still speak of someone other than the reader.
        if singular and (
            _CHARACTER_AFTER.match(ctx.low, m.end()) or _CHARACTER_BEFORE.search(before)
        ):
            return None
        lo = in_years(num_value(a), ua or ub)
        hi = in_years(num_value(b), ub or ua) if b else (None if plus else lo)
        lo, hi = ordered(lo, hi)
        kind = "months" if months else ("age_range" if b else ("age_plus" if plus else "age"))
        return Hit(lo, hi, kind, start)

    if plus:
        after = m.end()
        if _COUNT_AFTER.match(ctx.low, after) or _DURATION_AFTER.match(ctx.low, after):
            return None
        if not who and (_PLUS_BAD_PREFIX.search(before) or _VERSION_BEFORE.search(before)):
            return None
        if "." in a and not (ua or up or who):
            return None  # "Python 2.2 and older", "version 6.2 or older": a version
        if plus_word == "plus" and not (who or for_reader or ua or up or ctx.answer):
            return None  # "2 plus 2", "50 plus photographs"
        bare_plus = plus_word == "+" and not (ua or up)
        if bare_plus and not (who or ctx.answer):
            # "12+ recipes" is a count; "(8+)" on its own is the age-badge style.
            if not (before.endswith("(") and ctx.low[after : after + 1] == ")"):
                return None
        if not ctx.answer and a in ("one", "zero"):
            return None  # "one and above the rest"
        lo = in_years(num_value(a), ua or up)
        hi = None
        if b:
            lo, _ = ordered(lo, in_years(num_value(b), ub or ua or up))
        return Hit(lo, hi, "months" if months else "age_plus", start)

    if b:
        # "in 5-10 years", "pages 4-8" are no ages; a reader word or a range from 0 is.
        if _GRADE_TAIL.match(ctx.low, m.end()):
            return None  # "3-5 grade": the grade patterns read it
        suited = (
            for_reader and (ua or ub)
            and _SUITABLE_BEFORE.search(before[: len(before) - len(for_reader.group())])
        )  # "Suitable for 3-6 years"; "he served for 5-10 years" is a duration
        group = _AGE_GROUP_AFTER.match(ctx.low, m.end())  # "for the 8-12 age group"
        if not (who or suited or group or (num_value(a) == 0 and unit)):
            return None
        if (suited or group) and for_reader and not who:
            start -= len(for_reader.group())
        if is_word(a) and not (unit or ctx.answer):
            return None  # "the girls two or three times"
        lo = in_years(num_value(a), ua or ub)
        hi = in_years(num_value(b), ub or ua)
        lo, hi = ordered(lo, hi)
        return Hit(lo, hi, "months" if months else "age_range", start, group and group.end())

    if who and months and who["who"] in ("babies", "baby", "infants", "newborns", "toddlers"):
        return Hit(in_years(num_value(a), ua), None, "months", start)  # "babies 6 months"
    return None


# "between the ages of 4 and 8", "between 4 and 8 years old".
BETWEEN = compile_pattern(
    r"""
    between\s+(?:the\s+)?(?P<kw>ages?\s+(?:of\s+)?)?       # "ages" makes it an age
    (?P<a><<NUM>>)(?:\s*-?\s*(?P<ua><<UNIT>>))?
    \s+(?:and|&|to|-)\s+                                 # "and" joins a range only here
    (?P<b><<NUM>>)(?:\s*-?\s*(?P<ub><<UNIT>>)(?P<old>[\s-]+old)?)?   # so does "old"
    """
)
_BETWEEN_WHO = re.compile(r"\b(?:children|kids|readers|boys|girls|babies|toddlers)\b[^.!?\n]*$")


def build_between(m: re.Match[str], ctx: Ctx) -> Hit | None:
    if word_char_before(ctx, m.start()):
        return None
    ua, ub = m["ua"], m["ub"]
    # "between 5 and 10 years" is a duration unless it says "old", "ages" or who.
    if not (m["kw"] or m["old"] or _BETWEEN_WHO.search(text_before(ctx, m.start(), 30))):
        return None
    if not ctx.answer and plot_after(ctx, m.end()):
        return None  # "children between the ages of ten and sixteen are chosen"
    lo = in_years(num_value(m["a"]), ua or ub)
    hi = in_years(num_value(m["b"]), ub or ua)
    lo, hi = ordered(lo, hi)
    return Hit(lo, hi, "months" if is_months(ua) or is_months(ub) else "age_range", m.start())




# ---------------------------------------------------------------- "as young as N"
# "Children as young as 4 will enjoy it", "for kids as young as four". The group word
# before it is required ("she began competing as young as 8" is a life story), and what
# follows must not be the story's past ("boys as young as 12 were sent to fight").
AS_YOUNG = compile_pattern(
    r"as\s+young\s+as\s+(?P<a><<NUM>>)(?:\s*-?\s*(?P<ua><<UNIT>>))?(?:\s+old\b)?"
)
_YOUNG_WHO = tail_re(
    r"""\b(?:children|kids|readers|players|toddlers|babies|listeners|youngsters|learners
        |students|boys|girls|ones|fans|cooks|artists|scientists|builders|gamers|crafters)\s+"""
)


def build_as_young(m: re.Match[str], ctx: Ctx) -> Hit | None:
    who = _YOUNG_WHO.search(text_before(ctx, m.start(), 24))
    if who is None or plot_after(ctx, m.end()):
        return None
    return Hit(in_years(num_value(m["a"]), m["ua"]), None, "age_plus", m.start() - len(who.group()))


# ---------------------------------------------------------------- review ranges
# Kirkus ends a review with its genre and an age range in parentheses, without "ages":
# "(Picture book. 3-6)", "(Fiction. 9-13)", "(Fiction. 14 & up)". The cue is the whole
# parenthesis, so a genre label inside it ("Young adult fiction", "Board book") yields to
# the range.
REVIEW_RANGE = compile_pattern(
    r"""(?P<a><<LEAD_DIGITS>>)
    (?:\s*<<DASH>>\s*(?P<b><<DIGITS>>)|(?P<plus>\s*(?:&|and)\s*up\b|\s*\+))
    \s*\)"""
)
_REVIEW_GENRE = tail_re(r"\(\s*[a-z][a-z'/,&\s-]{1,40}\.\s*")


def build_review_range(m: re.Match[str], ctx: Ctx) -> Hit | None:
    genre = _REVIEW_GENRE.search(text_before(ctx, m.start()))
    if genre is None:
        return None
    lo = num_value(m["a"])
    hi = num_value(m["b"]) if m["b"] else None
    lo, hi = ordered(lo, hi)
    return Hit(lo, hi, "age_range" if m["b"] else "age_plus", m.start() - len(genre.group()))
