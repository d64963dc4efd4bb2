"""One scan for anchors, then the readings of each anchor in place.

    >>> from emergence.agecues.cues import CUE_SCANNER
    >>> CUE_SCANNER.anchors("ages 4-8 for 3rd graders")
    [(0, 'age'), (5, '4'), (7, '8'), (13, '3'), (17, 'grade')]
"""
from __future__ import annotations

import re

from emergence.agecues.grammar import (
    DIGIT, MAX_CUE_AGE, AgeCue, Ctx, Reading, lower_aligned,
)

class Scanner:
    """Finds every anchor with one regex scan, then matches the readings of each anchor
    in place.

    Anchors start words, so the scan looks for a non-alphanumeric character followed by
    a trie of the anchor stems (or a digit run). Python's regex engine then skips ahead
    to the next space or punctuation mark instead of trying every character, and a
    description is scanned once rather than once per pattern. Anchors must not end in a
    separator (the next anchor needs it).
    """

    def __init__(self, readings: list[Reading]) -> None:
        self.by_anchor: dict[str, list[tuple[int, Reading]]] = {}
        for order, reading in enumerate(readings):
            for anchor in reading.anchors:
                assert anchor[-1].isalnum() or anchor == DIGIT, anchor
                self.by_anchor.setdefault(anchor, []).append((order, reading))
        words = [a for a in self.by_anchor if a != DIGIT]
        alternatives = _trie_alternatives(words)
        if DIGIT in self.by_anchor:
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



def scan(text: str, scanner: Scanner, answer: bool) -> list[AgeCue]:
    if not text:
        return []
    ctx = Ctx(text, lower_aligned(text), answer)
    low = ctx.low
    # (rank, -length, start, order, cue): the preferred reading of an overlap sorts first.
    found: list[tuple[int, int, int, int, AgeCue]] = []
    by_anchor = scanner.by_anchor
    for pos, anchor in scanner.anchors(low):
        for order, reading in by_anchor.get(anchor) or by_anchor[DIGIT]:
            m = reading.regex.match(low, pos)
            if m is None:
                continue
            hit = reading.build(m, ctx)
            if hit is None:
                continue
            lo, hi, kind, start, end = hit
            if lo < 0 or (not answer and lo > MAX_CUE_AGE):
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

