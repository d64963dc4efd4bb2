"""Loader defects found by conformance suites, fuzzing and hostile inputs (issue 13).

Each test fails on the loader of commit 9544d29 (ijson arrays, orjson lines, the C byte
scan) and passes on this one; the comment on each says what the old loader did.
"""
from __future__ import annotations

import gzip
import io
import os
import threading

import orjson
import pytest

from emergence.corpus.records import LoadError
from emergence.corpus.stream import stream_records

GOOD = [{"uid": f"u{i}", "title": f"Title {i}", "content": f"Content {i}"} for i in range(6)]


def jsonl(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


def array(items: list[bytes]) -> bytes:
    return b"[\n" + b",\n".join(items) + b"\n]\n"


def outcome(data: bytes, policy: str = "skip", **options) -> tuple:
    """(titles yielded, rejected counts, the LoadError's reason and record number or None)."""
    stream = stream_records(io.BytesIO(data), policy=policy, **options)
    seen, error = [], None
    try:
        for record in stream:
            seen.append((record.title, record.content))
    except LoadError as err:
        error = (err.reason, err.line if err.line is not None else err.item)
    assert stream.stats.reconciles()
    return seen, dict(stream.stats.rejected), error


def both_formats(items: list[bytes], policy: str = "skip", **options) -> tuple[tuple, tuple]:
    return outcome(jsonl(items), policy, **options), outcome(array(items), policy, **options)


GOOD_LINES = [orjson.dumps(r) for r in GOOD]


# -- JSON arrays: nesting and size ---------------------------------------------------------


@pytest.mark.parametrize("policy", ["skip", "strict"])
def test_array_item_nested_deeper_than_1024_levels_is_refused_like_a_line(policy):
    # old: JSON Lines refused the line (orjson's limit), the array yielded the record
    deep = b'{"title": "deep", "n": ' + b"[" * 1100 + b"]" * 1100 + b"}"
    fine = b'{"title": "fine", "n": ' + b"[" * 500 + b"]" * 500 + b"}"
    lines, items = both_formats([GOOD_LINES[0], deep, fine, GOOD_LINES[1]], policy)
    if policy == "skip":
        assert lines == items
        assert [title for title, _ in lines[0]] == ["Title 0", "fine", "Title 1"]
        assert lines[1] == {"too_deep": 1}
    else:
        assert lines[2] == ("too_deep", 2) and items[2] == ("too_deep", 2)


@pytest.mark.parametrize("policy", ["skip", "strict"])
def test_max_line_bytes_bounds_an_array_item_as_it_bounds_a_line(policy):
    # old: an item over the bound ended the whole read ("item_too_large"), under skip too
    big = orjson.dumps({"title": "big", "content": "x" * 5000})
    lines, items = both_formats([GOOD_LINES[0], big, GOOD_LINES[1]], policy, max_line_bytes=1000)
    assert lines == items
    if policy == "skip":
        assert lines[1] == {"line_too_long": 1} and len(lines[0]) == 2
    else:
        assert lines[2] == ("line_too_long", 2)


# -- JSON arrays: what yajl let through ------------------------------------------------------

HOSTILE = {
    "lone low surrogate": b'{"title": "a\\udc00b"}',
    "lone high surrogate": b'{"title": "a\\ud800b"}',
    "lone high surrogate in a key": b'{"title": "t", "\\ud800": 1}',
    "lone surrogate in an extra": b'{"title": "t", "category": "\\udc00"}',
    "invalid UTF-8 in a title": b'{"title": "caf\xe9"}',
    "invalid UTF-8 in an extra": b'{"title": "t", "category": "caf\xe9"}',
    "UTF-8 encoded surrogate": b'{"title": "\xed\xa0\x80"}',
    "integer beyond 64 bits": b'{"title": "big int", "target_ind": [123456789012345678901234567890]}',
    "number beyond a double": b'{"title": "huge", "target_rel": [1e400]}',
    "negative number beyond a double": b'{"title": "huge neg", "true_min_age": -1e400}',
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
@pytest.mark.parametrize("policy", ["skip", "strict"])
def test_array_and_lines_agree_record_for_record_on_hostile_values(case, policy):
    # old: the array raised UnicodeDecodeError (lone low surrogate, invalid UTF-8), turned a
    # lone high surrogate into '?' where JSON Lines rejected the line, and stopped the
    # whole read at big numbers (under skip too) where JSON Lines accepted them
    lines, items = both_formats([GOOD_LINES[0], HOSTILE[case], GOOD_LINES[1]], policy)
    assert lines == items
    titles = [title for title, _ in lines[0]]
    assert "Title 0" in titles and (policy == "strict" or "Title 1" in titles)
    assert all("?" not in title for title in titles)


def test_values_beyond_64_bits_or_a_double_are_kept_not_fatal():
    # old: the array form stopped at them even under skip
    data = array([HOSTILE["integer beyond 64 bits"], HOSTILE["number beyond a double"], GOOD_LINES[0]])
    records = list(stream_records(io.BytesIO(data)))
    assert [r.title for r in records] == ["big int", "huge", "Title 0"]
    assert records[0].target_ind == [123456789012345678901234567890]
    assert records[1].target_rel == [float("inf")]


# -- encodings ----------------------------------------------------------------------------


class _Trickle(io.RawIOBase):
    """A pipe that hands out `step` bytes a read."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._step = data, step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self._step, len(self._data))
        buffer[:n] = self._data[:n]
        self._data = self._data[n:]
        return n


@pytest.mark.parametrize("step", [1, 2])
def test_a_bom_split_across_short_reads_is_dropped(step):
    # old: the BOM was looked for in the first read only: 1-2 bytes from a pipe, and the
    # stream was refused as not_json
    data = b"\xef\xbb\xbf" + jsonl(GOOD_LINES)
    assert [r.title for r in stream_records(_Trickle(data, step))] == [r["title"] for r in GOOD]


@pytest.mark.parametrize("bom", [False, True])
@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
@pytest.mark.parametrize("policy", ["skip", "strict"])
def test_utf16_and_utf32_are_refused_and_named(codec, bom, policy):
    # old: UTF-16 without a BOM had every line rejected as malformed_json (no error, no
    # hint); with a BOM, not_json without naming the encoding
    text = jsonl(GOOD_LINES).decode()
    data = ("\ufeff" + text if bom else text).encode(codec)
    with pytest.raises(LoadError) as info:
        list(stream_records(io.BytesIO(data), policy=policy))
    assert info.value.reason == "not_json" and codec.upper() in str(info.value)
    assert ("no byte-order mark" in str(info.value)) != bom


# -- blank lines ----------------------------------------------------------------------------


@pytest.mark.parametrize("blank", [b"\f", b"\v", b" \f "])
@pytest.mark.parametrize("policy", ["skip", "strict"])
def test_lines_of_form_feeds_or_vertical_tabs_are_not_blank(blank, policy):
    # old: bytes.isspace() took them for blank lines, skipped even under strict; JSON's
    # whitespace is space, tab, CR and LF only
    seen, rejected, error = outcome(jsonl([GOOD_LINES[0], blank, GOOD_LINES[1]]), policy)
    if policy == "skip":
        assert rejected == {"malformed_json": 1} and len(seen) == 2
    else:
        assert error == ("malformed_json", 2)
    assert outcome(jsonl([GOOD_LINES[0], b" \t\r", GOOD_LINES[1]]), policy)[1:] == ({}, None)  # truly blank


# -- gzip ----------------------------------------------------------------------------------


def _damaged(n: int = 5000) -> tuple[bytes, int]:
    """A one-member gzip file (stored blocks, so it still inflates) with ten titles altered
    in its middle and the CRC left as it was: the damage shows only at the trailer."""
    lines = [orjson.dumps({"title": f"Title {i:05d}", "content": "c"}) for i in range(n)]
    data = bytearray(gzip.compress(jsonl(lines), compresslevel=0))
    for i in range(n // 2, n // 2 + 10):
        at = data.index(b"Title %05d" % i)
        data[at:at + 5] = b"Xitle"
    return bytes(data), n


def test_strict_yields_nothing_from_a_gzip_member_whose_check_fails():
    # old: every record of the damaged member came through, the altered ones included,
    # before the CRC error
    data, _ = _damaged()
    seen, _, error = outcome(data, "strict")
    assert seen == [] and error[0] == "bad_gzip"


def test_skip_says_how_many_records_came_from_the_damaged_member(monkeypatch):
    # old: the error said nothing of what had been yielded from the damaged member
    import emergence.corpus.readers as readers

    monkeypatch.setattr(readers, "BLOCK", 4096)  # zlib drops the output of the call that fails
    data, n = _damaged()
    stream = stream_records(io.BytesIO(data))
    seen = []
    with pytest.raises(LoadError) as info:
        for record in stream:
            seen.append(record.title)
    assert info.value.reason == "bad_gzip" and "member 1" in str(info.value)
    assert f"{len(seen)} records from lines 1-" in str(info.value) and 0 < len(seen) <= n


def test_strict_yields_the_good_members_before_a_damaged_one():
    # old: the damaged member's records came too (it spans several of the old reader's reads)
    good = gzip.compress(jsonl(GOOD_LINES))
    data, _ = _damaged(20_000)
    seen, _, error = outcome(good + data, "strict")
    assert [title for title, _ in seen] == [r["title"] for r in GOOD]
    assert error[0] == "bad_gzip"


@pytest.mark.parametrize("policy", ["skip", "strict"])
def test_a_bad_checksum_names_the_member_not_byte_offset_0(policy):
    # old: "<stream>, byte offset 0: bad_gzip" for a small file, whatever the place
    data = bytearray(gzip.compress(jsonl(GOOD_LINES)))
    data[-8] ^= 0xFF  # the CRC
    with pytest.raises(LoadError) as info:
        list(stream_records(io.BytesIO(bytes(data)), policy=policy))
    err = info.value
    assert err.reason == "bad_gzip" and err.offset is None and "byte offset" not in str(err)
    assert "gzip member 1" in str(err) and "incorrect data check" in str(err)


@pytest.mark.parametrize("policy", ["skip", "strict"])
@pytest.mark.parametrize("form", ["jsonl", "array"])
def test_trailing_bytes_after_gzip_are_counted_with_a_warning_not_fatal(policy, form):
    # old: bad_gzip after everything had been read; gzip -d warns and goes on
    plain = jsonl(GOOD_LINES) if form == "jsonl" else array(GOOD_LINES)
    data = gzip.compress(plain) + b"\0\0" + b"this is not gzip"
    stream = stream_records(io.BytesIO(data), policy=policy)
    with pytest.warns(RuntimeWarning, match="16 bytes after the last gzip member"):
        titles = [r.title for r in stream]
    assert titles == [r["title"] for r in GOOD]
    assert stream.stats.trailing_bytes == 16 and stream.stats.reconciles()


# -- sources --------------------------------------------------------------------------------


def test_a_directory_is_not_called_missing(tmp_path):
    # old: "no such corpus file" (FileNotFoundError) for a directory
    with pytest.raises(IsADirectoryError, match="is a directory"):
        stream_records(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such corpus file"):
        stream_records(tmp_path / "missing.jsonl")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("policy", ["skip", "strict"])
def test_a_fifo_is_read_as_a_corpus(tmp_path, compress, policy):
    # old: "no such corpus file" for a FIFO (process substitution, `mkfifo`)
    fifo = tmp_path / "corpus.fifo"
    os.mkfifo(fifo)
    data = jsonl(GOOD_LINES)
    data = gzip.compress(data) if compress else data

    def write() -> None:
        with open(fifo, "wb") as f:
            f.write(data)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        assert [r.title for r in stream_records(fifo, policy=policy)] == [r["title"] for r in GOOD]
    finally:
        if writer.is_alive():  # the loader never opened the FIFO: open it here so the writer ends
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        writer.join(timeout=10)


# -- error text -------------------------------------------------------------------------------


def test_errors_give_line_and_column_not_orjsons_position_inside_the_line():
    # old: "line 4: malformed_json: unexpected character: line 1 column 2 (char 1)"
    data = jsonl([*GOOD_LINES[:3], b'{"title" "x"}', GOOD_LINES[3]])
    with pytest.raises(LoadError) as info:
        list(stream_records(io.BytesIO(data), policy="strict"))
    err = info.value
    assert (err.line, err.column) == (4, 10)
    assert str(err).startswith("<stream>, line 4, column 10: malformed_json: ")
    assert "char" not in str(err) and "line 1" not in str(err)
