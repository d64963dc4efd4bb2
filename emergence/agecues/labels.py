"""Word labels that name an age group: "board book", "toddler", "middle grade", "YA".

    >>> from emergence.agecues import find_age_cues
    >>> [(c.text, c.min_age) for c in find_age_cues("A middle grade novel. Baby - Preschool.")]
    [('middle grade', 9.0), ('Baby - Preschool', 0.0)]

Each label maps to the floor of the ``AGE_BANDS`` band it names.
"""
from __future__ import annotations

import re

from emergence.agecues.grammar import (
    Ctx, Hit, Reading, compile_pattern, grade_age, in_years, is_word, num_value, ordered,
    tail_re, text_before, word_char_before,
)

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
        (?P<l2>toddlers?|pre-?school(?:ers?)?|pre-?k|pre-?s|kindergarten|k)\b  # "Baby - Preschool"
      | (?P<gk>(?:grades?|gr\.?)\s*)?(?P<n2><<NUM>>)(?:\s*-?\s*(?P<u2><<UNIT>>))?(?!\w)
                                                  # "Baby - 2 years", "Preschool - 2" (grade)
    )
"""
_LABEL_PREFIX = tail_re(r"\b(?:reading\s+age|age\s+range|grade\s+level|ages?)\s*:?\s*")


def _label_key(word: str) -> str:
    return word.lower().replace("-", "")


def _build_label_range(m: re.Match[str], ctx: Ctx) -> Hit | None:
    start = m.start()
    if word_char_before(ctx, start, "-"):
        return None
    l1 = _label_key(m["l1"])
    if l1 == "pres" and not m["l2"] and not m["gk"]:
        return None  # "PreS-2" is read as a grade range by the number phrase
    if m["l2"] == "k" and ctx.text[m.start("l2")] != "K":
        return None
    if _label_key(m["l2"] or "") == "pres" and ctx.text[m.end("l2") - 1] != "S":
        return None  # "Baby-PreS" is School Library Journal's; "baby-pres" is no label
    lo = _LABEL_SPAN[l1][0]
    if m["l2"]:
        hi = _LABEL_SPAN[_label_key(m["l2"])][1]
    else:
        n2 = m["n2"]
        if m["u2"]:
            hi = in_years(num_value(n2), m["u2"])
        elif m["gk"] or l1.startswith("pre"):
            hi = grade_age(n2) if not is_word(n2) else None  # "Preschool - 2": grade 2
            if hi is None:
                return None
        else:
            hi = num_value(n2)  # "Baby - 2": years
    lo, hi = ordered(lo, hi)
    prefix = _LABEL_PREFIX.search(text_before(ctx, start, 24))
    if prefix:
        start -= len(prefix.group())
    return Hit(lo, hi, "label", start)


def label_reading(
    stems: tuple[str, ...],
    pattern: str,
    lo: float,
    hi: float | None,
    *,
    needs_before: re.Pattern[str] | None = None,
    reject_before: re.Pattern[str] | None = None,
    upper: str | None = None,
) -> Reading:
    """A word label worth (lo, hi).

    ``needs_before``: a tail pattern that must end just before the match (the cue then
    starts where it starts: "for" in "for babies"); ``reject_before``: one that vetoes it;
    ``upper``: the match must read exactly so in the original text ("YA").
    """

    def build(m: re.Match[str], ctx: Ctx) -> Hit | None:
        start = m.start()
        if word_char_before(ctx, start):
            return None
        if reject_before is not None and reject_before.search(text_before(ctx, start, 32)):
            return None
        if upper is not None and ctx.text[start : m.end()] != upper:
            return None
        if needs_before is not None:
            lead = needs_before.search(text_before(ctx, start, 40))
            if lead is None:
                return None
            start -= len(lead.group())
        return Hit(lo, hi, "label", start)

    return Reading(stems, compile_pattern(pattern), build, rank=1)


_FIELD_WORDS = {
    "baby": 0.0, "babies": 0.0, "infant": 0.0, "infants": 0.0, "newborn": 0.0,
    "newborns": 0.0, "birth": 0.0, "toddler": 1.0, "toddlers": 1.0, "preschool": 3.0,
    "preschoolers": 3.0, "preschooler": 3.0, "pres": 3.0, "prek": 4.0, "kindergarten": 5.0,
    "k": 5.0, "middle grade": 9.0, "teen": 13.0, "teens": 13.0, "teenager": 13.0,
    "teenagers": 13.0, "young adult": 13.0, "young adults": 13.0, "ya": 13.0,
    "adult": 18.0, "adults": 18.0, "all ages": 0.0,
}
_FIELD_WORD = r"""(?:baby|babies|infants?|newborns?|birth|toddlers?|pre-?school(?:ers?)?
    |pre-?k|pre-?s|kindergarten|k|middle[\s-]grade|teen(?:ager)?s?|young[\s-]adults?|ya
    |adults?|all\s+ages)\b"""
_FIELD_LABEL = compile_pattern(
    r"""(?P<field>reading\s+age|age\s+(?:range|level|group)|(?:grade|interest|reading)\s+level
        |ages?)
    <<FS>>:<<FS>>
    (?P<l1><<WORD>>)
    (?:\s*(?:&|and)\s*<<WORD>>)?                    # "Teen & Young Adult"
    (?:<<AND_UP>>|<<SEP>>(?:<<WORD>>|<<NUM>>(?:\s*-?\s*<<UNIT>>)?(?!\w)))?
    """,
    WORD=_FIELD_WORD,
)


def _build_field_label(m: re.Match[str], ctx: Ctx) -> Hit | None:
    if word_char_before(ctx, m.start()):
        return None
    word = re.sub(r"[\s-]+", " ", m["l1"]).replace("pre ", "pre").replace("-", "")
    lo = _FIELD_WORDS.get(word)
    if lo is None or (word == "k" and ctx.text[m.start("l1")] != "K"):
        return None
    kind = "reading_age" if m["field"].startswith("reading age") else "label"
    return Hit(lo, None, kind, m.start())


_YOUNG_BEFORE = tail_re(r"young[\s-]")
_FOR_BEFORE = tail_re(r"\bfor\s+")
_FOR_TO_BEFORE = tail_re(r"\b(?:for|to)\s+(?:(?:your|the|all|older|younger|young)\s+)?")

CUE_LABELS: list[Reading] = [
    Reading(
        ("bab", "infant", "newborn", "birth", "toddler", "preschool", "pre-school", "prek",
         "pre-k", "pres", "pre-s"),
        compile_pattern(_LABEL_RANGE),
        _build_label_range,
        rank=1,
    ),
    label_reading(("board",), r"board[\s-]?books?\b", 0.0, 3.0),
    label_reading(("bab", "infant"), r"(?:babies|baby|infants)\s+(?:and|&)\s+toddlers?\b", 0.0, 3.0),
    label_reading(
        ("bab", "infant", "newborn"), r"(?:babies|baby|infants|newborns)\b", 0.0, 3.0,
        needs_before=tail_re(r"\bfor\s+(?:(?:your|the|a|little|new)\s+){0,2}"),
    ),
    # "parents of toddlers" and "the toddler years" are parenting books for adults.
    label_reading(
        ("toddler",),
        r"toddlers?\b(?<!of\stoddler)(?<!of\stoddlers)"
        r"(?!\s+(?:years|stage|tantrums|behaviou?r|sleep|parenting|discipline))",
        1.0, 3.0,
        # "Parenting your toddler", "raising a toddler": a book for the parent
        reject_before=tail_re(
            r"\b(?:parenting|raising|disciplining|feeding|potty[\s-]training|understanding"
            r"|taming|managing|coping\s+with)\s+(?:(?:your|a|the|my|our)\s+)?"
        ),
    ),
    label_reading(
        ("preschool", "pre-school"),
        r"pre-?school(?:ers?)?\b(?!\s+(?:teachers?|educators?|directors?))", 3.0, 5.0,
        # "the first day of preschool", "at preschool": the story's setting
        reject_before=tail_re(r"\b(?:at|in|of|from|to|after|before)\s+(?:the\s+)?"),
    ),
    label_reading(("kinder",), r"kinder?gart(?:e)?ners\b", 5.0, 6.0),
    # "Kindergarten Math Workbook", "kindergarten readiness skills"
    label_reading(
        ("kinder",), r"kinder?garten[\s-]+(?:readiness\s+)?<<SCHOOLWORK>>", 5.0, 6.0,
        reject_before=tail_re(r"\b(?:at|in|of|from|to|after|before)\s+(?:the\s+)?"),
    ),
    # Product details: "Suitable from birth", "safe from birth" (not "deaf from birth").
    label_reading(
        ("birth",), r"birth\b(?!<<SEP>>)", 0.0, None,
        needs_before=tail_re(
            r"\b(?:suitable|recommended|safe|ideal|designed|perfect|appropriate|use)\s+from\s+"
        ),
    ),
    # Amazon's product-detail fields given in words: "Reading age: Baby and up",
    # "Reading age: Young Adult", "Age Range: Teen", "Grade level: Kindergarten and up".
    Reading(("reading", "age", "grade", "interest"), _FIELD_LABEL, _build_field_label, rank=1),
    label_reading(("middle",), r"middle[\s-]grade(?:rs)?\b(?!\s+teachers?)", 9.0, 12.0),
    label_reading(
        ("teen",),
        r"teen\s+(?:(?:&|and)\s+young[\s-]adults?|readers?|fiction|books?|novels?|audiences?)\b",
        13.0, 17.0,
    ),
    label_reading(
        ("teen",), r"(?:teens|teenagers)\b", 13.0, 17.0,
        needs_before=tail_re(r"\b(?:for|to)\s+(?:older\s+|young\s+)?"),
    ),
    label_reading(("young",), r"young[\s-]adults?\b", 13.0, 17.0),
    label_reading(("ya",), r"ya\b", 13.0, 17.0, upper="YA"),
    # School stages name the reader only when the book is "for" them ("a middle school
    # romance" is a setting): the values of the answer labels below.
    label_reading(
        ("preteen", "pre-teen", "tween"), r"(?:pre-?teens|tweens)\b", 10.0, 12.0,
        needs_before=_FOR_TO_BEFORE,
    ),
    label_reading(
        ("middle",), r"middle[\s-]school(?:ers|\s+(?:students|readers|kids))\b", 11.0, 13.0,
        needs_before=_FOR_TO_BEFORE,
    ),
    label_reading(
        ("high",), r"high[\s-]school(?:ers|\s+(?:students|readers|kids))\b", 14.0, 17.0,
        needs_before=_FOR_TO_BEFORE,
    ),
    label_reading(
        ("early", "beginning", "emergent"), r"(?:early|beginning|emergent)\s+readers\b", 5.0, 7.0,
        needs_before=_FOR_TO_BEFORE,
    ),
    label_reading(
        ("adult", "grown"),
        r"""(?:grown[\s-]?ups|adults)\b
            (?!\s+(?:and|&|or)\s+(?:children|kids|teens|young|older\s+children|teenagers))
            (?!\s+(?:alike|too|as\s+well))""",
        18.0, None, needs_before=_FOR_BEFORE,
    ),
    label_reading(
        ("adult",),
        r"""adult\s+(?:readers?|fiction|coloring|colouring|audiences?|content|themes?|language
            |situations|novels?)\b
          | adults\s+only\b""",
        18.0, None, reject_before=_YOUNG_BEFORE,
    ),
    # Anchored at "age" (an anchor inside a longer one would be skipped by the scan).
    label_reading(("age",), r"ages\b", 0.0, None, needs_before=tail_re(r"\b(?:all|any)\s+")),
]

# In an answer to the age question these words name the reader; in a description they
# are usually the setting ("a high school romance"), so they are answer-only.
ANSWER_LABELS: list[Reading] = [
    label_reading(("age",), r"ages?\b", 0.0, None, needs_before=tail_re(r"\b(?:all|any|every)\s+")),
    label_reading(("preteen", "pre-teen", "tween"), r"(?:pre-?teens?|tweens?)\b", 10.0, 12.0),
    label_reading(
        ("teen", "adolesc"), r"(?:teens|teenagers?|teen|adolescents?|adolescence)\b", 13.0, 17.0
    ),
    label_reading(
        ("adult", "grown", "mature"),
        r"""(?:adults?|adulthood|grown[\s-]?ups|mature\s+(?:readers|audiences?))\b
            (?!\s+(?:supervision|help|guidance|assistance|reading\s+(?:to|aloud)|to\s+read))""",
        18.0, None, reject_before=_YOUNG_BEFORE,
    ),
    label_reading(("college",), r"college(?:\s+students)?\b", 18.0, None),
    label_reading(("high",), r"high[\s-]school(?:ers)?\b", 14.0, 17.0),
    label_reading(("middle",), r"middle[\s-]school(?:ers)?\b", 11.0, 13.0),
    label_reading(("elementary", "grade"), r"(?:elementary|grade)[\s-]school(?:ers)?\b", 6.0, 11.0),
    label_reading(("primary",), r"primary[\s-]school\b", 5.0, 11.0),
    label_reading(("kinder",), r"kinder?gart(?:e)?n(?:ers?)?\b", 5.0, 6.0),
    label_reading(
        ("early", "beginning", "emergent", "emerging"),
        r"(?:early|beginning|emergent|emerging)\s+readers?\b", 5.0, 7.0,
    ),
    label_reading(("bab", "infant", "newborn"), r"(?:babies|baby|infants?|newborns?)\b", 0.0, 1.0),
    label_reading(("pg",), r"pg-?13\b", 13.0, None),
]

