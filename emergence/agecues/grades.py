"""The grade reading: "Grade 3-5", "Grades K-2", "Grade 3 Up", "3rd-5th grade", "for 3rd graders".

    >>> from emergence.agecues import find_age_cues
    >>> [(c.text, c.min_age, c.max_age) for c in find_age_cues("Grades 3-5. For 3rd graders.")]
    [('Grades 3-5', 8.0, 10.0), ('For 3rd graders', 8.0, 8.0)]

Grades map to ages as grade + 5 (K = 5, PreK = 4, PreS = 3).
"""
from __future__ import annotations

import re

from emergence.agecues.grammar import (
    Ctx, Hit, compile_pattern, grade_age, ordered, tail_re, text_before, word_char_before,
)

# ---------------------------------------------------------------- grades
# "Grade 3-5", "Grades K-2", "Grade 4-6--", "Grade 3 Up", "Grade level: Preschool - 2", and
# the ordinal forms ending in "grade": "3rd-5th grade", "for 3rd graders", "second-grade
# reading level", "kindergarten through third grade". One scan from the literal "grade";
# the ordinal before it is read from the preceding text. The abbreviation ("Gr 3-5",
# "Gr. 4 Up") is read by the number-phrase builder, so no scan starts from "gr".
GRADE = compile_pattern(
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
      | (?P<post>\s+(?:and\s+up|&\s+up|and\s+above|<<SCHOOLWORK>>))
    )?
    """
)
_GRADE_PREFIX = tail_re(r"\b(?:interest|reading)\s+level\s*:?\s*")
_ORDINAL_BEFORE = tail_re(
    r"""(?<![\w-])(?P<o1><<ORD>>|kindergarten|pre-?k|pre-?school)
        (?:\s*(?:grade\s*)?(?:<<SEP>>|\s*(?:and|&|,)\s*)(?P<o2><<ORD>>))?
        [\s-]*"""
)
_FOR = tail_re(r"\bfor\s+(?:(?:your|a|an|the)\s+)?")
_TEACHERS_AFTER = re.compile(r"\s*teachers?\b")


def build_grade(m: re.Match[str], ctx: Ctx) -> Hit | None:
    start = m.start()
    if m["g1"] and m["gs"] in (None, "s"):
        if word_char_before(ctx, start, "-"):
            return None  # "high-grade", "upgrade"; "Kindergarten-Grade 2" is a number phrase
        lo = grade_age(m["g1"])
        hi = grade_age(m["g2"]) if m["g2"] else (None if m["plus"] else lo)
        if lo is None or (m["g2"] and hi is None):
            return None
        if m["plus2"]:
            hi = None
        lo, hi = ordered(lo, hi)
        prefix = _GRADE_PREFIX.search(text_before(ctx, start, 24))
        if prefix:
            start -= len(prefix.group())
        return Hit(lo, hi, "grade", start)

    ordinal = _ORDINAL_BEFORE.search(text_before(ctx, start))
    if ordinal is None:
        return None
    end = m.end("post") if m["post"] else start + len("grade") + len(m["gs"] or "")
    if _TEACHERS_AFTER.match(ctx.low, end):
        return None  # "third-grade teachers" are adults
    o1, o2 = ordinal["o1"], ordinal["o2"]
    start -= len(ordinal.group())
    for_ = _FOR.search(text_before(ctx, start, 16))
    if not (o2 or m["gs"] == "rs" or for_ or m["post"] or ctx.answer):
        return None  # "In third grade, Jake..." is the story's setting
    if o2 is None and grade_age(o1) is not None and grade_age(o1) < 6:
        return None  # "kindergarten grade" alone: the label patterns decide
    lo = grade_age(o1)
    hi = grade_age(o2) if o2 else lo
    if lo is None or hi is None:
        return None
    lo, hi = ordered(lo, hi)
    if m["post"] and ("up" in m["post"] or "above" in m["post"]):
        hi = None
    if for_:
        start -= len(for_.group())
    return Hit(lo, hi, "grade", start, end)

