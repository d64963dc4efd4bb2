"""Stable train / held-out assignment of records, by a keyed blake2b hash of their normalised title.

    >>> from emergence.corpus.split import split_of, split_key
    >>> split_key({"uid": "B01", "title": "The Very Hungry Caterpillar (Board Book)"})
    't:the very hungry caterpillar board book'
    >>> a = split_of({"uid": "B01", "title": "Goodnight Moon"})
    >>> a == split_of({"uid": "C99", "title": "GOODNIGHT  MOON!"})   # another edition, same side
    True

The real corpus repeats a title across product variants (paperback, hardcover, another
year's edition: different uids, often the same description). Splitting by uid would put
variants on both sides, so a "held-out" title could have been trained on under another
id. The key is therefore the title, case-folded (Unicode NFKC first) with punctuation and
whitespace reduced to single spaces; only a record whose title normalises to nothing
falls back to its uid. The assignment depends only on the key and the salt: identical
across runs, processes (it never uses the salted built-in ``hash()``), machines and
Python versions. Changing ``salt`` draws a new, independent split.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from typing import Any, Literal

from emergence.corpus.records import Record, clean_text

__all__ = ["normalise_title", "split_key", "split_of", "split_point"]

_SCALE = float(1 << 64)
_NON_WORD = re.compile(r"[\W_]+")


def normalise_title(title: str) -> str:
    """The title as the split compares it: NFKC, case-folded, punctuation and runs of
    whitespace reduced to one space, trimmed."""
    return _NON_WORD.sub(" ", unicodedata.normalize("NFKC", title).casefold()).strip()


def split_key(record: Record | Mapping[str, Any]) -> str:
    """The string a record is split by: ``"t:"`` + its normalised title, or ``"u:"`` + its
    uid when the title normalises to nothing (the prefixes keep a uid from ever equalling a title)."""
    if not isinstance(record, Mapping):  # a Record, or any record-like object (an eval item)
        uid, title = getattr(record, "uid", None), record.title
    else:
        uid = record.get("uid")
        raw_title = record.get("title")
        # a Record's title is cleaned; clean a raw mapping's title too, so a line and the
        # Record built from it land in the same split
        title = clean_text(raw_title) if isinstance(raw_title, str) else None
    key = normalise_title(title) if title else ""
    if key:
        return "t:" + key
    if isinstance(uid, str) and uid:
        return "u:" + uid
    raise ValueError("a record needs a title with a letter or digit, or a non-empty uid, to be split")


def split_point(key: str, *, salt: str = "emergence") -> float:
    """Where `key` falls in [0, 1): the first 8 bytes of blake2b(salt NUL key), big-endian, / 2**64."""
    digest = hashlib.blake2b(salt.encode("utf-8") + b"\x00" + key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def split_of(record: Record | Mapping[str, Any], *, held_out: float = 0.1,
             salt: str = "emergence") -> Literal["train", "held_out"]:
    """"held_out" for about a `held_out` share of titles, "train" for the rest, stably.

    `record` is a `Record` or a mapping with `title` and/or `uid`. Every record of one
    normalised title lands on the same side. Raising `held_out` only moves titles from
    train to held-out, never back: the held-out set at 0.1 is a subset of the held-out set
    at 0.2 with the same salt.
    """
    if not 0.0 <= held_out <= 1.0:
        raise ValueError(f"held_out must be in [0, 1], got {held_out}")
    return "held_out" if split_point(split_key(record), salt=salt) < held_out else "train"
