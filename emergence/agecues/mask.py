"""Remove every reader-age cue from a text, for training that never sees age information.

    >>> from emergence.agecues import mask_age_cues
    >>> m = mask_age_cues("A bear who cannot sleep (Ages 4-8). Grade 2-4--Told in rhyme.")
    >>> m.text
    'A bear who cannot sleep. Told in rhyme.'
    >>> [c.text for c in m.removed], m.count
    (['Ages 4-8', 'Grade 2-4'], 2)
    >>> mask_age_cues(m.text) == type(m)(m.text, (), 0)
    True

Contract: ``find_age_cues(mask_age_cues(t).text) == []`` for every ``t`` (a removal that
joins its neighbours into a new cue is followed by another pass); the words outside the
removed spans are kept, in order; masking a masked text changes nothing. Only whitespace
and punctuation at a removal point are tidied: no doubled spaces, no empty "()" or "[]",
no stray ". ." or ", ." or leading "--" (School Library Journal's "Grade 4-6--Text").
A text without cues is returned as it is, so the cost is one ``find_age_cues`` scan.
"""
from __future__ import annotations

from dataclasses import dataclass

from emergence.agecues.cues import find_age_cues
from emergence.agecues.grammar import AgeCue

__all__ = ["Masked", "mask_age_cues"]

_MAX_PASSES = 8  # each pass removes at least one character; real texts need one or two


@dataclass(frozen=True)
class Masked:
    """The masked text and the cues removed from it.

    ``removed`` lists the cues of every pass in order; the first pass's offsets index the
    input, a later pass's (``passes > 1``: a removal made a new cue) the text that pass
    scanned.
    """

    text: str
    removed: tuple[AgeCue, ...]
    passes: int

    @property
    def count(self) -> int:
        """How many cues were removed."""
        return len(self.removed)


_STOPS = ".!?"
_JOINERS = ",;:|/\u2022\u00b7"  # commas, colons and list bars ("Ages 4-8 | Hardcover")
_DASH_CHARS = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212~"
_PAIRS = {"(": ")", "[": "]", "{": "}"}


def _lstrip_dashes(right: str) -> str:
    """Drop a dash run that led into the removed cue's neighbour ("--Told in rhyme")."""
    i = 0
    while i < len(right) and right[i] in _DASH_CHARS:
        i += 1
    if i and (i == len(right) or right[i].isspace() or right[i].isalpha() or i >= 2):
        return right[i:].lstrip()
    return right


def _join(left: str, right: str) -> str:
    """``left + right`` where a cue was removed between them, with the seam tidied."""
    left, right = left.rstrip(), right.lstrip()
    while True:
        if left and right and _PAIRS.get(left[-1]) == right[0]:
            left, right = left[:-1].rstrip(), right[1:].lstrip()  # "(" + ")": empty brackets
            continue
        if right and right[0] in _DASH_CHARS and (not left or left[-1] in _STOPS + _JOINERS + "("):
            stripped = _lstrip_dashes(right)
            if stripped != right:
                right = stripped
                continue
        if right and right[0] in _STOPS + _JOINERS:
            if not left or left[-1] in _STOPS + _JOINERS + "(":
                # ". ." or ", ." or "(, ": the removed cue's own punctuation
                if left and left[-1] in _JOINERS and right[0] in _STOPS:
                    left = left[:-1].rstrip()  # "Booklist: ." -> "Booklist."
                    continue
                right = right[1:].lstrip()
                continue
        if left and left[-1] in _JOINERS + _DASH_CHARS and (not right or right[0] in ")]}"):
            left = left[:-1].rstrip()  # "Hardcover, " at the end, "(32 pages, )"
            continue
        break
    if not left or not right:
        return left + right
    if left[-1] in "([{" or right[0] in _STOPS + _JOINERS + ")]}":
        return left + right
    return left + " " + right


def _remove(text: str, cues: list[AgeCue]) -> str:
    out = text[: cues[0].start]
    for cue, nxt in zip(cues, cues[1:] + [None]):
        right = text[cue.end : nxt.start if nxt is not None else len(text)]
        out = _join(out, right)
    return out


def mask_age_cues(text: str) -> Masked:
    """``text`` without the spans ``find_age_cues`` finds, tidied where they were."""
    cues = find_age_cues(text)
    if not cues:
        return Masked(text, (), 0)
    removed: list[AgeCue] = []
    passes = 0
    while cues:
        if passes == _MAX_PASSES:
            raise RuntimeError(f"age cues still found after {passes} passes: {text!r}")
        removed.extend(cues)
        text = _remove(text, cues)
        passes += 1
        cues = find_age_cues(text)
    return Masked(text, tuple(removed), passes)
