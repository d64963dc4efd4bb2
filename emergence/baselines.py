"""Baselines reported beside every model: the majority band and a title-keyword rule.

    >>> from emergence.baselines import majority_band, rule_band_from_title, baseline_answers
    >>> majority_band(["3-5", "3-5", "9-12", 4.0])
    '3-5'
    >>> rule_band_from_title("Goodnight Moon: A Board Book")
    '0-2'
    >>> baseline_answers([{"title": "The Dragon Quest"}], "rule")
    ['Suitable for ages 10 and up.']

Baselines answer in words, like a model, so their answers go through exactly the same
:func:`emergence.metrics.score_age` path (parser included) as a model's answers.

The rule's keyword list (:data:`TITLE_RULES`) is written from general knowledge of how
books for each age are titled and marketed (formats such as board books and early
readers, themes such as bedtime or dragons, adult non-fiction genres). It is deliberately
generic and was not fitted to any corpus, in particular not to the embedded sample
generator, so it measures what title words alone give away.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

BaselineKind = Literal["majority", "rule"]

# The answer a baseline gives when it has no guess: parses to no age (inferred = 0).
ABSTAIN_ANSWER = "I cannot tell the reading age from the title alone."

# (regular expression on the lowercased title, band). First match wins, so format
# phrases, which say most about the reader, come before theme words that also appear in
# books for other ages ("My First Dragon Book" is a toddler's book).
TITLE_RULES: tuple[tuple[str, str], ...] = (
    # formats
    (r"\bboard books?\b|\bbath books?\b|\bcloth books?\b|\blift[- ]the[- ]flap\b|\btouch[- ]and[- ]feel\b", "0-2"),
    (r"\bmy first\b|\bfirst words\b|\bbaby\b|\bbabies\b|\btoddlers?\b|\bpeek[- ]?a[- ]?boo\b", "0-2"),
    (r"\bpicture books?\b|\bpreschool(ers?)?\b|\bkindergarten\b|\bpre-?k\b", "3-5"),
    (r"\b(early|beginning|first|easy) readers?\b|\blevel [1-4]\b|\bi can read\b|\bstep into reading\b", "6-8"),
    (r"\bchapter books?\b|\bphonics\b|\bsight words\b|\b(first|second|1st|2nd) grade\b", "6-8"),
    (r"\bmiddle[- ]grade\b", "9-12"),
    (r"\byoung adults?\b|\bya\b|\bteens?\b|\bteenagers?\b|\bhigh school\b", "13-17"),
    (r"\bcookbook\b|\bhandbook\b|\btextbook\b|\bmanual\b|\bfor dummies\b|\ba novel\b|\bmemoir\b", "18+"),
    # themes
    (r"\babcs?\b|\balphabet\b|\bcolou?rs\b|\bshapes\b|\bgoodnight\b|\bnursery rhymes?\b|\blullab(y|ies)\b", "0-2"),
    (r"\bbedtime\b|\bbunny\b|\bbunnies\b|\bpuppy\b|\bkitten\b|\bteddy\b|\bpotty\b|\bcounting\b", "3-5"),
    (r"\breaders?\b|\bjokes?\b|\briddles?\b", "6-8"),
    (r"\badventures?\b|\bmyster(y|ies)\b|\bdragons?\b|\bquest\b|\bwizards?\b|\bdetectives?\b|\btreasure\b", "9-12"),
    (r"\bvampires?\b|\bdystopi(a|an)\b|\bprom\b|\bcoming of age\b|\bnovel\b.*\blove\b|\blove\b.*\bnovel\b", "13-17"),
    (r"\bhistory\b|\bguide\b|\bbiography\b|\brecipes?\b|\bbusiness\b|\binvesting\b|\bleadership\b", "18+"),
    (r"\bmanagement\b|\bmarriage\b|\bdiet\b|\bfinance\b|\bpolitics\b|\btheory\b|\bessays\b", "18+"),
)
_COMPILED = tuple((re.compile(pattern), band) for pattern, band in TITLE_RULES)


def _band_ages() -> dict[str, float]:
    from emergence.metrics import band_midpoints, band_names

    return dict(zip(band_names(), band_midpoints()))


def _as_band(label: str | float) -> str:
    from emergence.agecues import band_of
    from emergence.metrics import band_names

    if isinstance(label, str):
        if label not in band_names():
            raise ValueError(f"unknown band {label!r}; bands are {band_names()}")
        return label
    return band_of(float(label))


def majority_band(train_labels: Iterable[str | float]) -> str:
    """The most frequent band among training labels (bands, or ages mapped with band_of).

    Ties go to the band listed first in AGE_BANDS, so the result is deterministic.
    """
    from emergence.metrics import band_names

    counts = Counter(_as_band(x) for x in train_labels)
    if not counts:
        raise ValueError("majority_band needs at least one training label")
    return max(band_names(), key=lambda b: (counts[b], -band_names().index(b)))


def band_age(band: str) -> int:
    """The whole-year age a baseline states for a band: the band midpoint rounded down
    (a midpoint is the guess closest to most ages in a band), 18 for "18+"."""
    return int(_band_ages()[_as_band(band)])


def band_answer(band: str) -> str:
    """A model-like answer stating the band's age, e.g. 'Suitable for ages 4 and up.'."""
    return f"Suitable for ages {band_age(band)} and up."


def rule_band_from_title(title: str) -> str | None:
    """Guess the band from title words with :data:`TITLE_RULES`; None when no rule matches."""
    text = (title or "").lower()
    for pattern, band in _COMPILED:
        if pattern.search(text):
            return band
    return None


def _title(item: Any) -> str:
    if isinstance(item, Mapping):
        return str(item.get("title", ""))
    return str(getattr(item, "title", ""))


def baseline_answers(items: Sequence[Any], kind: BaselineKind, *, majority: str | None = None) -> list[str]:
    """One answer text per item (EvalItem or mapping with a title).

    - ``"majority"``: every item gets :func:`band_answer` of ``majority`` (required; take it
      from :func:`majority_band` of the training labels).
    - ``"rule"``: :func:`rule_band_from_title`; items no rule matches get the majority
      band's answer when ``majority`` is given, else :data:`ABSTAIN_ANSWER`.
    """
    if kind == "majority":
        if majority is None:
            raise ValueError("the majority baseline needs majority=majority_band(train_labels)")
        return [band_answer(majority)] * len(items)
    if kind == "rule":
        out = []
        for item in items:
            band = rule_band_from_title(_title(item)) or majority
            out.append(band_answer(band) if band else ABSTAIN_ANSWER)
        return out
    raise ValueError(f"unknown baseline kind {kind!r}")
