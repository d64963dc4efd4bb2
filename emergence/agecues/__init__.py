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
    >>> mask_age_cues("A bear who cannot sleep. (Picture book. 3-6)").text
    'A bear who cannot sleep.'

Entry points that share one grammar:

* ``find_age_cues(text)`` scans a cleaned description for statements of the intended
  *reader* age and returns non-overlapping :class:`AgeCue` spans sorted by ``start``.
* ``mask_age_cues(text)`` removes those spans (``emergence.agecues.mask``: the training
  text of the never-exposed arm), so a missed cue is an exposure leak.
* ``parse_age_answer(text, title=None)`` reads a chat model's answer to "what is the
  minimum recommended age for reading {title}?" and returns the minimum age it states, or
  None; the echoed title is removed first.

Modules: ``grammar`` (fragments, helpers), ``numbers`` (number phrases), ``grades``,
``labels``, ``scan`` (the anchor scan), ``cues``, ``answers``, ``mask``, ``bands``
(``AGE_BANDS``, ``band_of``: the single source of the bands).

Cue kinds: ``age_range`` ("Ages 4-8", "kids 4 to 8"), ``age_plus`` ("ages 8+", "8 and up",
"not for children under 3"), ``age`` (one stated age: "Age: 5", "for 5-year-olds"),
``age_under`` ("for children under 5": 0 .. 5), ``months`` (any cue measured in months:
"Ages 6 months–2 years" -> 0.5 .. 2), ``grade`` ("Grade 3-5", "PreS-Gr 2", "3rd graders"),
``reading_age`` (Amazon's "Reading age: 9 - 12 years"), ``label`` (words naming an age
group) and, from ``parse_age_answer`` only, ``answer`` ("the minimum age is 11").
Dashes may be -, –, —, ~ (also doubled); ranges may say "to", "through", "thru", "or",
and a suspended hyphen joins ("5- to 11-year-olds", "four- and five-year-olds"); reversed
ranges ("Ages 8-4") are read in order. Open ends: "+", "and up", "& older", "plus",
"-up" after "Ages" (Publishers Weekly's "Ages 10-up"), "upwards". Also read: "children as
young as 4", "suitable from 3 years", Kirkus's "(Picture book. 3-6)" and "(Fiction. 14 &
up)" (the whole parenthesis is the cue), "Nth-grade workbook" / "Kindergarten Math",
Amazon fields in words ("Reading age: Baby and up", "Age Range: Teen"; the bidi marks
Amazon puts around the colon are allowed).

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
* In descriptions, number words ("three") count after "age(s)" ("Ages three to seven"),
  after "as young as" and before "year(s) old(s)" ("three- to nine-year-olds", "any seven
  year old"); elsewhere only digits do. Answers read number words anywhere.

Deliberate non-cues: ages of characters ("a 12-year-old boy", "two 12-year-olds", "a
group of 10-year-olds", "Tom, aged 12", "The boys, ages 9 and 11,", "at age 12", "at the
age of 12", "In third grade, ...", "her third-grade teacher", "first day at preschool"):
a protagonist's age suggests but does not state the reader age. One age counts when it
is addressed to the reader ("a gift for a 12-year-old boy", "any seven year old",
"loved by 3-year-olds"). A group with an age followed by the story's verbs is the story's
("children between the ages of ten and sixteen are chosen", "boys as young as 12 were
sent", "kids under 13 are banned": ``grammar.plot_after``). Never cues either: "20th century", "100 years of history", "the ages of
sail", "Age of Empires", "Middle Ages", "Stone Age", page counts, prices, years, "8 years
later", "10+ years of experience", "in 5-10 years", "grade A", "high-grade", "K-9" (police
dogs), "for adults and children alike", "adult supervision".

Choosing among several ages in an answer (``parse_age_answer``): split the answer into
sentences; take the first sentence that holds an age and a "minimum" word (minimum,
youngest, at least, "not ... for"), else the first that holds an age and a recommendation
word (recommended, suitable, appropriate, intended, aimed, ideal, best for, ...); in it,
the first age at or after that word (else the last one before it); an explicit number
beats a word label in the same sentence ("for teenagers, in particular ages 14 and up"
states 14). With no such sentence, the smallest age stated anywhere (numbers first in
each sentence). An answer that is only an age ("12", "12 years.", "9 or 10", "from 6
years") states it (a range its lower end). "There is no minimum age" / "no age limit"
states 0 when no age is stated; "no minimum age is specified" states none. An answer without any age (a refusal, "I don't know", an answer about
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
is checked on a short slice. ``benchmarks/bench_agecues.py`` measures it.
"""
from __future__ import annotations

from emergence.agecues.answers import parse_age_answer
from emergence.agecues.bands import AGE_BANDS, band_of
from emergence.agecues.cues import find_age_cues, min_age_from_cues
from emergence.agecues.grammar import AgeCue
from emergence.agecues.mask import Masked, mask_age_cues

__all__ = [
    "AGE_BANDS",
    "AgeCue",
    "Masked",
    "band_of",
    "find_age_cues",
    "mask_age_cues",
    "min_age_from_cues",
    "parse_age_answer",
]
