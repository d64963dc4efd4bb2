"""Differential fuzz: stream_records against a plain reference (orjson, html.unescape, str.split).

Random records (dirty text, wrong types, extras) are serialised several ways and some
lines are then damaged (cut, a byte flipped or inserted, a blank-looking line); the
loader must give, line for line, what the reference gives: the same records, cleaned
alike, and the same rejections by reason, in JSON Lines (block boundaries anywhere, gzip)
and, where no line was damaged, as one JSON array. Fixed seeds, a few seconds.
"""
from __future__ import annotations

import gzip
import html
import io
import json
import random
import re

import orjson
import pytest

from emergence.corpus.records import LoadError
from emergence.corpus.stream import stream_records

_PIECES = [
    "a", "Bc", "d e", " ", "  ", "&amp;", "&nbsp;", "&#9;", "&#1;", "&#x20;", "&notit;", "& ", "&amp", "&#128512;",
    "\t", "\n", "\r", "\x00", "\x07", "\x0b", "\x0c", "\x1c", "\x1f", "\x7f", "\x80", "\x85", "\x9f", "\xa0",
    "\xad", "\u1680", "\u2003", "\u2028", "\u202f", "\u3000", "\u200b", "\u2019", "é", "日本", '"', "\\", "/",
    "😀",
]
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")  # controls that str.split does not split on


def reference_clean(text: str) -> str:
    return " ".join(_CONTROLS.sub("", html.unescape(text)).split())


def reference(data: bytes) -> tuple[list[tuple], dict[str, int], list[tuple[int, str]]]:
    """(records as (uid, title, content, category), rejections by reason, (line, reason) in order)."""
    records, rejected, order = [], {}, []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip(b" \t\r"):
            continue
        reason = None
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            try:
                line.decode()
                reason = "malformed_json"
            except UnicodeDecodeError:
                reason = "invalid_utf8"
        if reason is None and not isinstance(obj, dict):
            reason = "not_object"
        if reason is None:
            for key, value in obj.items():  # the decoder stops at the first field that does not fit
                if key == "title" and value is None:
                    reason = "missing_title"
                elif key in ("title", "content") and not isinstance(value, str):
                    reason = "wrong_type"
                elif key == "uid" and value is not None and not isinstance(value, str):
                    reason = "wrong_type"
                if reason:
                    break
            else:
                if "title" not in obj:
                    reason = "missing_title"
                elif not reference_clean(obj["title"]):
                    reason = "empty_title"
        if reason:
            rejected[reason] = rejected.get(reason, 0) + 1
            order.append((number, reason))
            continue
        records.append((obj.get("uid"), reference_clean(obj["title"]), reference_clean(obj.get("content", "")),
                        obj.get("category")))
    return records, rejected, order


_PLAIN = ["a", "Bc", "d e", " ", "  ", "   ", "word"]  # most real text: printable ASCII, spaces (the fast path)


def _text(rng: random.Random, k: int) -> str:
    return "".join(rng.choices(_PLAIN if rng.random() < 0.6 else _PIECES, k=rng.randint(0, k)))


def _value(rng: random.Random, k: int):
    roll = rng.random()
    if roll < 0.85:
        return _text(rng, k)
    return rng.choice([None, 7, 2.5, True, [1, "x"], {"a": _text(rng, 2)}, ""])


def _record(rng: random.Random) -> dict:
    record = {}
    keys = ["uid", "title", "content", "category", "target_ind", "junk"]
    rng.shuffle(keys)
    for key in keys:
        if rng.random() < (0.95 if key == "title" else 0.6):
            record[key] = [rng.randrange(10**6) for _ in range(rng.randint(0, 4))] if key == "target_ind" else \
                _value(rng, 30 if key == "content" else 6)
    return record


def _encode(rng: random.Random, record) -> bytes:
    style = rng.randrange(3)
    if style == 0:
        return orjson.dumps(record)
    if style == 1:
        return json.dumps(record).encode()  # ", " and ": ", every non-ASCII character escaped
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()


def _damage(rng: random.Random, line: bytes) -> bytes:
    roll = rng.randrange(6)
    if roll == 0:
        return line[: rng.randrange(len(line))]
    if roll == 1 and line:
        at = rng.randrange(len(line))
        return line[:at] + bytes([line[at] ^ (1 << rng.randrange(8))]) + line[at + 1:]
    if roll == 2:
        at = rng.randrange(len(line) + 1)
        return line[:at] + bytes([rng.randrange(256)]) + line[at:]
    if roll == 3:
        return rng.choice([b"\f", b"\v", b" \t ", b"\r", b"[1, 2]", b'"text"', b"null", b"\xef\xbb\xbf{}"])
    return line + rng.choice([b" ", b"\r", b" x", b"}"])


def _corpus(seed: int, n: int, damaged: float) -> tuple[bytes, list[bytes], bool]:
    rng = random.Random(seed)
    lines, hit = [], False
    for _ in range(n):
        line = _encode(rng, _record(rng))
        if rng.random() < damaged:
            line, hit = _damage(rng, line), True
        lines.append(line)
    return b"\n".join(lines) + b"\n", lines, hit


def _load(data: bytes, policy: str = "skip", **options):
    stream = stream_records(io.BytesIO(data), policy=policy, **options)
    records = [(r.uid, r.title, r.content, r.category) for r in stream]
    assert stream.stats.reconciles()
    return records, dict(stream.stats.rejected)


@pytest.mark.parametrize("seed", range(12))
def test_loader_matches_the_reference_line_for_line(monkeypatch, seed):
    import emergence.corpus.readers as readers

    data, lines, _ = _corpus(seed, 400, damaged=0.15)
    records, rejected, order = reference(data)
    assert _load(data) == (records, rejected)
    monkeypatch.setattr(readers, "BLOCK", random.Random(seed).choice([1, 7, 64, 1000]))
    assert _load(data) == (records, rejected)
    assert _load(gzip.compress(data)) == (records, rejected)
    if order:  # strict stops at the first rejection, with its line and reason
        with pytest.raises(LoadError) as info:
            _load(data, "strict")
        assert (info.value.line, info.value.reason) == order[0]


@pytest.mark.parametrize("seed", range(6))
def test_the_array_form_gives_what_json_lines_gives(seed):
    data, lines, _ = _corpus(1000 + seed, 300, damaged=0.0)
    array = b"[" + b",\n".join(lines) + b"]"
    assert _load(array) == _load(data) == reference(data)[:2]
