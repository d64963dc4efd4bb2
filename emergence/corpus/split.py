"""Stable train / held-out assignment of records, by a keyed blake2b hash of their uid.

    >>> from emergence.corpus.split import split_of
    >>> split_of({"uid": "0000032034", "title": "Adult Ballet Tutu Yellow"})
    'train'
    >>> split_of({"title": "Jane's Battleships of the 20th Century"}, held_out=1.0)
    'held_out'

The assignment depends only on the key string and the salt: identical across runs,
processes (it never uses the salted built-in `hash()`), machines and Python versions.
Changing `salt` draws a new, independent split.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Literal

from emergence.corpus.records import Record, clean_text

__all__ = ["split_key", "split_of", "split_point"]

_SCALE = float(1 << 64)


def split_key(record: Record | Mapping[str, Any]) -> str:
    """The string a record is split by: its uid, or its cleaned title when uid is missing or empty."""
    if isinstance(record, Record):
        uid, title = record.uid, record.title
    else:
        uid = record.get("uid")
        raw_title = record.get("title")
        # a Record's title is cleaned; clean a raw mapping's title too, so a line and the
        # Record built from it land in the same split
        title = clean_text(raw_title) if isinstance(raw_title, str) else None
    if isinstance(uid, str) and uid:
        return uid
    if not title:
        raise ValueError("a record needs a non-empty uid or title to be split")
    return title


def split_point(key: str, *, salt: str = "emergence") -> float:
    """Where `key` falls in [0, 1): the first 8 bytes of blake2b(salt NUL key), big-endian, / 2**64."""
    digest = hashlib.blake2b(salt.encode("utf-8") + b"\x00" + key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def split_of(
    record: Record | Mapping[str, Any], *, held_out: float = 0.1, salt: str = "emergence"
) -> Literal["train", "held_out"]:
    """"held_out" for about a `held_out` share of records, "train" for the rest, stably.

    `record` is a `Record` or a mapping with `uid` and/or `title`. Raising `held_out`
    only moves records from train to held-out, never back: the held-out set at 0.1 is a
    subset of the held-out set at 0.2 with the same salt.
    """
    if not 0.0 <= held_out <= 1.0:
        raise ValueError(f"held_out must be in [0, 1], got {held_out}")
    return "held_out" if split_point(split_key(record), salt=salt) < held_out else "train"
