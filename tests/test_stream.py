"""stream_records: formats, bad input under both policies, reconciliation, shard, skip, stdin, cleaning."""
from __future__ import annotations

import gzip
import io
import subprocess
import sys
import tracemalloc
import zlib

import orjson
import pytest

from emergence.corpus.records import LoadError, Record
from emergence.corpus.stream import RecordStream, SeenPairs, stream_records

GOOD = [
    {"uid": f"u{i}", "title": f"Title {i} &amp; more", "content": "" if i % 3 == 0 else f"Content  {i}\tAges 4-8",
     "target_ind": [i, i + 1], "target_rel": [1.0, 0.5]}
    for i in range(30)
]
CLEAN_TITLES = [f"Title {i} & more" for i in range(30)]


def jsonl(records) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def array(records) -> bytes:
    return b"[\n" + b",\n".join(orjson.dumps(r) for r in records) + b"\n]\n"


def write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def titles(stream) -> list[str]:
    return [r.title for r in stream]


# -- formats ----------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["jsonl", "array"])
@pytest.mark.parametrize("compress", [False, True])
def test_formats_are_sniffed_from_bytes_and_give_the_same_records(tmp_path, form, compress):
    data = jsonl(GOOD) if form == "jsonl" else array(GOOD)
    if compress:
        data = gzip.compress(data)
    path = write(tmp_path, "corpus.bin", data)  # the name says nothing about the format
    stream = stream_records(path)
    records = list(stream)
    assert all(isinstance(r, Record) for r in records)
    assert [r.title for r in records] == CLEAN_TITLES
    assert records[1].content == "Content 1 Ages 4-8"
    assert records[1].extras == {"target_ind": [1, 2], "target_rel": [1.0, 0.5]}
    assert stream.stats.format == form + ("+gzip" if compress else "")
    assert stream.stats.read == stream.stats.yielded == len(GOOD)
    assert stream.stats.bytes_read == len(data)
    assert stream.stats.reconciles()


def test_file_objects_paths_and_multi_member_gzip(tmp_path):
    data = jsonl(GOOD)
    assert titles(stream_records(io.BytesIO(data))) == CLEAN_TITLES
    assert titles(stream_records(str(write(tmp_path, "a.jsonl", data)))) == CLEAN_TITLES
    two_members = gzip.compress(jsonl(GOOD[:10])) + gzip.compress(jsonl(GOOD[10:]))
    assert titles(stream_records(io.BytesIO(two_members))) == CLEAN_TITLES


def test_gzip_members_with_zero_padding_read_as_gzip_module_does():
    padded = gzip.compress(jsonl(GOOD[:10])) + b"\0" * 10 + gzip.compress(jsonl(GOOD[10:])) + b"\0" * 5
    assert gzip.decompress(padded) == jsonl(GOOD)  # the standard library's reading
    stream = stream_records(io.BytesIO(padded))
    assert titles(stream) == CLEAN_TITLES and stream.stats.format == "jsonl+gzip"


def test_gzip_of_many_members_and_sizes_matches_the_plain_stream():
    import random

    rng = random.Random(0)
    records = [dict(GOOD[i % len(GOOD)], uid=f"u{i}") for i in range(5000)]
    plain = jsonl(records)
    for _ in range(5):  # members cut at random byte offsets, some of them empty
        cuts = sorted(rng.randrange(len(plain) + 1) for _ in range(rng.randrange(1, 6)))
        pieces = [plain[a:b] for a, b in zip([0, *cuts], [*cuts, len(plain)])]
        data = b"".join(gzip.compress(p, compresslevel=rng.choice([1, 6, 9])) for p in pieces)
        got = [(r.uid, r.title, r.content) for r in stream_records(io.BytesIO(data))]
        assert got == [(r.uid, r.title, r.content) for r in stream_records(io.BytesIO(plain))]


class _PipeLike(io.RawIOBase):
    """Readable, not seekable, and hands out a few bytes per read, like a pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer) -> int:
        n = min(len(buffer), 7, len(self._data))
        buffer[:n] = self._data[:n]
        self._data = self._data[n:]
        return n


@pytest.mark.parametrize("compress", [False, True])
def test_unseekable_trickling_source(compress):
    data = jsonl(GOOD)
    if compress:
        data = gzip.compress(data)
    assert titles(stream_records(_PipeLike(data))) == CLEAN_TITLES


@pytest.mark.parametrize("compress", [False, True])
def test_standard_input(tmp_path, compress):
    data = jsonl(GOOD[:20]) + b'{"title": 5}\n'
    path = write(tmp_path, "in.bin", gzip.compress(data) if compress else data)
    script = (
        "import sys\n"
        "from emergence.corpus.stream import stream_records\n"
        "s = stream_records(sys.stdin.buffer)\n"
        "n = sum(1 for _ in s)\n"
        "print(n, s.stats.format, s.stats.rejected, s.stats.source)\n"
    )
    with open(path, "rb") as stdin:
        out = subprocess.run([sys.executable, "-c", script], stdin=stdin, capture_output=True, text=True, check=True)
    fmt = "jsonl+gzip" if compress else "jsonl"
    assert out.stdout.split() == ["20", fmt, "{'wrong_type':", "1}", "<stdin>"]
    assert out.stderr == ""  # no progress bar on a pipe


def test_blank_lines_bom_crlf_and_no_final_newline():
    data = b"\xef\xbb\xbf\n  \n" + b"\r\n".join(orjson.dumps(r) for r in GOOD[:3]) + b"\r\n\n   \n" + orjson.dumps(GOOD[3])
    stream = stream_records(io.BytesIO(data))
    assert titles(stream) == CLEAN_TITLES[:4]
    assert stream.stats.read == 4 and stream.stats.reconciles()


def test_empty_stream_has_no_records():
    for data in (b"", b"  \n\n", gzip.compress(b"")):
        stream = stream_records(io.BytesIO(data))
        assert list(stream) == [] and stream.stats.read == 0 and stream.stats.reconciles()
    assert list(stream_records(io.BytesIO(b"[]"))) == []


# -- bad records, both policies ------------------------------------------------------------

BAD_LINES = {
    "malformed_json": b'{"uid": "x", "title": "unterminated',
    "invalid_utf8": b'{"uid": "x", "title": "caf\xe9 latin-1"}',
    "not_object": b'["a", "list"]',
    "missing_title": b'{"uid": "x", "content": "no title"}',
    "empty_title": b'{"uid": "x", "title": " &nbsp;\\t "}',
    "wrong_type": b'{"uid": "x", "title": 12345}',
}


@pytest.mark.parametrize("reason", sorted(BAD_LINES))
def test_bad_line_is_skipped_and_counted_under_skip(reason):
    bad = BAD_LINES[reason]
    data = jsonl(GOOD[:5]) + bad + b"\n" + jsonl(GOOD[5:10])
    stream = stream_records(io.BytesIO(data))
    assert titles(stream) == CLEAN_TITLES[:10]
    stats = stream.stats
    assert stats.rejected == {reason: 1}
    assert stats.read == 11 and stats.yielded == 10 and stats.reconciles()
    [example] = stats.examples[reason]
    assert example.startswith("line 6: " if reason not in ("malformed_json", "invalid_utf8") else "line 6, column ")


@pytest.mark.parametrize("reason", sorted(BAD_LINES))
def test_bad_line_raises_under_strict_after_the_good_ones(reason):
    data = jsonl(GOOD[:5]) + BAD_LINES[reason] + b"\n" + jsonl(GOOD[5:10])
    stream = stream_records(io.BytesIO(data), policy="strict")
    seen = []
    with pytest.raises(LoadError) as info:
        for record in stream:
            seen.append(record.title)
    assert seen == CLEAN_TITLES[:5]
    err = info.value
    assert (err.reason, err.line, err.path) == (reason, 6, "<stream>")
    assert "line 6" in str(err) and reason in str(err)
    assert stream.stats.reconciles()  # the bad line counts as rejected even when raised


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (b'{"title": "T", "content": ["not", "text"]}', "content"),
        (b'{"title": "T", "content": null}', "content"),
        (b'{"title": "T", "uid": 42}', "uid"),
        (b'{"title": true}', "title"),
    ],
)
def test_wrong_types_of_each_field_are_rejected(line, field):
    stream = stream_records(io.BytesIO(line + b"\n"))
    assert list(stream) == []
    assert stream.stats.rejected == {"wrong_type": 1}
    with pytest.raises(LoadError) as info:
        list(stream_records(io.BytesIO(line + b"\n"), policy="strict"))
    assert info.value.reason == "wrong_type" and field in str(info.value)


def test_examples_keep_the_first_three_per_reason():
    data = b"".join(b"{bad %d\n" % i for i in range(6)) + jsonl(GOOD[:2])
    stream = stream_records(io.BytesIO(data))
    assert len(list(stream)) == 2
    assert stream.stats.rejected == {"malformed_json": 6}
    assert [e.split(":")[0] for e in stream.stats.examples["malformed_json"]] == [
        "line 1, column 2", "line 2, column 2", "line 3, column 2"]


@pytest.mark.parametrize("policy", ["skip", "strict"])
def test_huge_line_is_rejected_without_being_held(tmp_path, policy):
    import emergence.corpus.readers as readers

    huge = b'{"uid": "h", "title": "huge", "content": "' + b"x" * (64 << 20) + b'"}\n'
    path = write(tmp_path, "huge.jsonl", jsonl(GOOD[:3]) + huge + jsonl(GOOD[3:6]))
    tracemalloc.start()
    try:
        stream = stream_records(path, policy=policy)
        seen = []
        if policy == "skip":
            seen = titles(stream)
        else:
            with pytest.raises(LoadError) as info:
                for record in stream:
                    seen.append(record.title)
            assert (info.value.reason, info.value.line) == ("line_too_long", 4)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # the 64 MiB line never sits in memory: a few blocks' worth at most
    assert peak < 6 * readers.BLOCK < len(huge) // 2
    if policy == "skip":
        assert seen == CLEAN_TITLES[:6]
        assert stream.stats.rejected == {"line_too_long": 1} and stream.stats.reconciles()
    else:
        assert seen == CLEAN_TITLES[:3]


def test_max_line_bytes_bounds_the_line_with_its_newline():
    line = orjson.dumps(GOOD[1]) + b"\n"
    ok = stream_records(io.BytesIO(line * 2), max_line_bytes=len(line))
    assert len(list(ok)) == 2
    short = stream_records(io.BytesIO(line * 2), max_line_bytes=len(line) - 1)
    assert list(short) == [] and short.stats.rejected == {"line_too_long": 2}
    # an unterminated last line that exactly fills the bound is complete
    last = stream_records(io.BytesIO(line[:-1]), max_line_bytes=len(line) - 1)
    assert len(list(last)) == 1


# -- fatal problems: both policies ----------------------------------------------------------


@pytest.mark.parametrize("policy", ["skip", "strict"])
@pytest.mark.parametrize(
    "data",
    [b"uid,title,content\n1,A,B\n", b"PAR1\x00\x01binary", b"just some text\n", b"\xff\xfe{\x00"],
    ids=["csv", "parquet", "text", "utf16"],
)
def test_a_stream_that_is_not_json_is_an_error(tmp_path, policy, data):
    path = write(tmp_path, "data.json", data)
    with pytest.raises(LoadError) as info:
        list(stream_records(path, policy=policy))
    assert info.value.reason == "not_json" and str(path) in str(info.value)


@pytest.mark.parametrize("form", ["jsonl", "array"])
def test_truncated_gzip_yields_complete_records_then_raises_under_skip(form):
    records = [dict(GOOD[i % 30], uid=f"u{i}") for i in range(3000)]
    data = gzip.compress(jsonl(records) if form == "jsonl" else array(records))
    cut = data[: len(data) * 2 // 3]
    stream = stream_records(io.BytesIO(cut))
    seen = []
    with pytest.raises(LoadError) as info:
        for record in stream:
            seen.append(record.uid)
    assert info.value.reason == "truncated_gzip"
    # everything decompressible before the cut and complete came through, in order
    plain = zlib.decompressobj(31).decompress(cut)
    complete = plain[: plain.rfind(b"\n") + 1]
    expected = complete.count(b"\n") if form == "jsonl" else complete.count(b"\n") - 2
    assert len(seen) >= expected - 1 and seen == [f"u{i}" for i in range(len(seen))]
    assert f"{len(seen)} records from" in str(info.value) and "member 1" in str(info.value)
    assert stream.stats.reconciles()


@pytest.mark.parametrize("form", ["jsonl", "array"])
def test_truncated_gzip_yields_nothing_of_its_member_under_strict(form):
    first = gzip.compress(jsonl(GOOD[:10]) if form == "jsonl" else array(GOOD[:10]))
    if form == "array":  # one array over two members
        first = gzip.compress(array(GOOD[:10])[:-3] + b",\n")
        second = gzip.compress(b",\n".join(orjson.dumps(r) for r in GOOD[10:]) + b"\n]\n")
    else:
        second = gzip.compress(jsonl(GOOD[10:]))
    data = first + second[: len(second) // 2]
    stream = stream_records(io.BytesIO(data), policy="strict")
    seen = []
    with pytest.raises(LoadError) as info:
        for record in stream:
            seen.append(record.title)
    assert info.value.reason == "truncated_gzip" and "member 2" in str(info.value)
    assert seen == CLEAN_TITLES[:10]  # the first member's records, none of the second's


@pytest.mark.parametrize("policy", ["skip", "strict"])
def test_corrupt_gzip_is_an_error(policy):
    data = bytearray(gzip.compress(jsonl(GOOD)))
    data[-8] ^= 0xFF  # break the CRC in the trailer
    with pytest.raises(LoadError) as info:
        list(stream_records(io.BytesIO(bytes(data)), policy=policy))
    assert info.value.reason == "bad_gzip"


# -- the JSON-array form -----------------------------------------------------------------


def test_array_bad_items_are_skipped_or_raised_with_item_and_offset():
    items = [*GOOD[:3], {"title": 7}, "a string", {"uid": "y"}, *GOOD[3:5]]
    data = array(items)
    stream = stream_records(io.BytesIO(data))
    assert titles(stream) == CLEAN_TITLES[:5]
    assert stream.stats.rejected == {"wrong_type": 1, "not_object": 1, "missing_title": 1}
    assert stream.stats.reconciles()
    assert stream.stats.examples["wrong_type"][0].startswith("item 4, offset ")
    with pytest.raises(LoadError) as info:
        list(stream_records(io.BytesIO(data), policy="strict"))
    assert (info.value.reason, info.value.item) == ("wrong_type", 4)
    assert info.value.offset is not None and info.value.offset <= len(data)


def test_array_item_with_a_syntax_error_is_rejected_at_its_byte_offset_and_the_array_goes_on():
    head = array(GOOD[:4])[:-3]  # drop "\n]\n"
    data = head + b',\n{"title": "x" "content": "y"}' + array(GOOD[4:6]).replace(b"[", b",", 1)
    error_at = data.index(b'"x" "content"') + 4  # where the comma is missing
    stream = stream_records(io.BytesIO(data))
    assert titles(stream) == CLEAN_TITLES[:6]
    assert stream.stats.rejected == {"malformed_json": 1} and stream.stats.reconciles()
    with pytest.raises(LoadError) as info:
        list(stream_records(io.BytesIO(data), policy="strict"))
    assert (info.value.reason, info.value.item, info.value.offset) == ("malformed_json", 5, error_at)
    assert f"item 5, byte offset {error_at}" in str(info.value)


def test_array_items_without_a_comma_between_them_are_one_bad_item():
    data = array(GOOD[:4])[:-3] + b' {"title": "y"}, {"title": "z"}]'
    stream = stream_records(io.BytesIO(data))
    assert titles(stream) == [*CLEAN_TITLES[:3], "z"]
    assert stream.stats.rejected == {"malformed_json": 1} and stream.stats.reconciles()
    assert stream.stats.examples["malformed_json"][0].startswith("item 4, offset ")


@pytest.mark.parametrize("policy", ["skip", "strict"])
@pytest.mark.parametrize(("tail", "reason"), [
    (b',]', "malformed_array"),  # a trailing comma
    (b',, {"title": "y"}]', "malformed_array"),  # an empty item
    (b'] {"title": "y"}', "malformed_array"),  # content after the array
    (b'}', "malformed_array"),  # the wrong bracket
])
def test_array_broken_between_items_is_an_error_at_its_byte_offset(policy, tail, reason):
    data = array(GOOD[:4])[:-3] + tail
    stream = stream_records(io.BytesIO(data), policy=policy)
    seen = []
    with pytest.raises(LoadError) as info:
        for record in stream:
            seen.append(record.title)
    assert seen == CLEAN_TITLES[:4]
    assert info.value.reason == reason and f"byte offset {info.value.offset}" in str(info.value)
    assert data[info.value.offset:info.value.offset + 1] in (b"{", b"]", b",", b"}")


@pytest.mark.parametrize("policy", ["skip", "strict"])
def test_array_that_ends_early_is_an_error(policy):
    data = array(GOOD[:5])[:-20]
    stream = stream_records(io.BytesIO(data), policy=policy)
    with pytest.raises(LoadError) as info:
        titles(stream)
    assert info.value.reason == "truncated_array"
    assert stream.stats.yielded == 4 and stream.stats.reconciles()


@pytest.mark.parametrize("block", [7, 1000, None])
def test_array_item_too_large_is_rejected_and_the_array_goes_on(monkeypatch, block):
    import emergence.corpus.readers as readers

    if block is not None:
        monkeypatch.setattr(readers, "BLOCK", block)
    big = {"title": "big ] } [ {", "content": "x\\\" ] " * 30_000}
    data = array([*GOOD[:3], big, *GOOD[3:5]])
    stream = stream_records(io.BytesIO(data), max_line_bytes=100_000)
    assert titles(stream) == CLEAN_TITLES[:5]
    assert stream.stats.rejected == {"line_too_long": 1} and stream.stats.reconciles()
    with pytest.raises(LoadError) as info:
        list(stream_records(io.BytesIO(data), policy="strict", max_line_bytes=100_000))
    assert (info.value.reason, info.value.item) == ("line_too_long", 4)
    assert info.value.offset == data.index(b'{"title":"big')


# -- counts, filters, dedupe ---------------------------------------------------------------


def test_drop_empty_and_dedupe_reconcile_exactly():
    dupes = [dict(GOOD[1], uid="other uid"), GOOD[2], dict(GOOD[4], title="Title 4 &amp;  more")]
    data = jsonl(GOOD) + jsonl(dupes) + b"oops\n\n"
    stream = stream_records(io.BytesIO(data), drop_empty=True, dedupe=True)
    records = list(stream)
    stats = stream.stats
    empties = sum(1 for r in GOOD if r["content"] == "")
    assert stats.filtered == {"empty_content": empties, "duplicate": 3}
    assert stats.rejected == {"malformed_json": 1}
    assert stats.read == len(GOOD) + 4 and len(records) == stats.yielded == len(GOOD) - empties
    assert stats.reconciles()


def test_stats_are_current_during_iteration():
    stream = stream_records(io.BytesIO(jsonl(GOOD[:3]) + b"bad\n" + jsonl(GOOD[3:6])))
    for k, _ in enumerate(stream, start=1):
        assert stream.stats.yielded == k and stream.stats.reconciles()
    assert stream.stats.rejected == {"malformed_json": 1}


def test_seen_pairs_is_exact_through_growth_and_warns_at_capacity():
    import random

    rng = random.Random(0)
    keys = [rng.getrandbits(64) - (1 << 63) for _ in range(200_000)]
    seen = SeenPairs(1 << 22)
    assert all(seen.add(k) for k in keys)
    assert not any(seen.add(k) for k in keys[::7])
    assert seen.size == len(set(keys))
    small = SeenPairs(3)
    assert [small.add(k) for k in (1, 2, 3)] == [True, True, True]
    with pytest.warns(RuntimeWarning, match="at most 3"):
        assert small.add(4)
    assert small.add(4)  # not remembered past the capacity
    assert not small.add(1)


# -- shard and skip -----------------------------------------------------------------------


def _mixed():
    # good and bad lines, so each rank sees some of each
    rows = []
    for i in range(40):
        rows.append(b"not json %d" % i if i % 9 == 4 else orjson.dumps({"uid": f"u{i}", "title": f"t{i}"}))
    return b"\n".join(rows) + b"\n"


def test_shards_are_disjoint_cover_the_stream_and_skip_other_ranks_lines():
    data = _mixed()
    whole = stream_records(io.BytesIO(data))
    everything = [r.uid for r in whole]
    world = 3
    shards = []
    for rank in range(world):
        stream = stream_records(io.BytesIO(data), shard=(rank, world))
        shards.append([r.uid for r in stream])
        stats = stream.stats
        assert stats.reconciles() and stats.read == 40
        # other ranks' bad lines are not parsed, so not rejected here
        own_bad = sum(1 for i in range(40) if i % 9 == 4 and i % world == rank)
        assert stats.rejected.get("malformed_json", 0) == own_bad
        assert stats.filtered["shard"] == sum(1 for i in range(40) if i % world != rank)
    assert sorted(sum(shards, [])) == sorted(everything)
    assert sum(len(s) for s in shards) == len(everything)
    assert shards[1][:2] == ["u1", "u7"]  # record index i goes to rank i % world


def test_skip_resumes_exactly_without_parsing_skipped_lines():
    data = _mixed()
    everything = [r.uid for r in stream_records(io.BytesIO(data))]
    first = stream_records(io.BytesIO(data))
    taken = [r.uid for _, r in zip(range(10), first)]
    first.close()
    rest = stream_records(io.BytesIO(data), skip=first.stats.read)
    assert taken + [r.uid for r in rest] == everything
    assert rest.stats.filtered["skipped"] == first.stats.read
    assert "malformed_json" not in rest.stats.rejected or rest.stats.rejected["malformed_json"] == sum(
        1 for i in range(first.stats.read, 40) if i % 9 == 4
    )
    assert rest.stats.reconciles()


def test_skip_with_shard_resumes_a_rank():
    data = _mixed()
    rank_all = [r.uid for r in stream_records(io.BytesIO(data), shard=(1, 2))]
    first = stream_records(io.BytesIO(data), shard=(1, 2))
    taken = [r.uid for _, r in zip(range(5), first)]
    first.close()
    rest = [r.uid for r in stream_records(io.BytesIO(data), shard=(1, 2), skip=first.stats.read)]
    assert taken + rest == rank_all


def test_array_shard_and_skip():
    data = array(GOOD)
    parts = [titles(stream_records(io.BytesIO(data), shard=(r, 4))) for r in range(4)]
    assert sorted(sum(parts, [])) == sorted(CLEAN_TITLES)
    rest = stream_records(io.BytesIO(data), skip=25)
    assert titles(rest) == CLEAN_TITLES[25:] and rest.stats.reconciles()


# -- the stream object -----------------------------------------------------------------


def test_iterable_once_close_and_arguments(tmp_path):
    stream = stream_records(io.BytesIO(jsonl(GOOD)))
    assert isinstance(stream, RecordStream)
    it = iter(stream)
    next(it)
    with pytest.raises(RuntimeError):
        iter(stream)
    path = write(tmp_path, "c.jsonl", jsonl(GOOD))
    with stream_records(path) as s:
        next(iter(s))
    with pytest.raises(StopIteration):
        next(s._iterator)
    with pytest.raises(FileNotFoundError):
        stream_records(tmp_path / "missing.jsonl")
    for bad in ({"policy": "lenient"}, {"shard": (2, 2)}, {"shard": (0, 0)}, {"skip": -1}):
        with pytest.raises(ValueError):
            stream_records(path, **bad)
    with pytest.raises(TypeError):
        list(stream_records(io.StringIO("{}")))


def test_progress_bar_when_asked(tmp_path, capsys):
    path = write(tmp_path, "c.jsonl", jsonl(GOOD))
    stream = stream_records(path, progress=True)
    assert titles(stream) == CLEAN_TITLES
    assert "rec/s" in capsys.readouterr().err


# -- cleaning ------------------------------------------------------------------------------
# stream_records cleans only lines whose bytes say they can need it (and only the steps
# they can need); every title and content must come out exactly as clean_text makes it,
# whatever the block boundaries.

_PIECES = [
    "a", "Bc", "d e", " ", "  ", "   ", "&amp;", "&nbsp;", "&#9;", "&#1;", "&#x20;", "&notit;", "& ", "&", "&amp",
    "\t", "\n", "\r", "\r\n", "\x00", "\x07", "\x08", "\x0b", "\x0c", "\x1c", "\x1f", "\x7f", "\x80", "\x85",
    "\x9f", "\xa0", "\xad", "\u1680", "\u2000", "\u2003", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f",
    "\u3000", "\u200b", "\u2019", "\u201c", "\u2014", "é", "©", "日本", '"', '" ', ' "', "\\", "/", "\\n", "😀",
]


def _fuzz_records(seed: int, n: int) -> list[dict]:
    import random

    rng = random.Random(seed)

    def text(k: int) -> str:
        return "".join(rng.choices(_PIECES, k=rng.randint(0, k)))

    records = []
    for i in range(n):
        record = {"uid": text(3) if i % 7 else None, "title": "T" + text(6) if i % 5 else text(6), "content": text(30)}
        if i % 3:
            record["target_ind"] = [i, i + 1]
            record["category"] = text(4)  # an extra with dirt in it: kept as is
        records.append(record)
    return records


def _encode(records: list[dict], style: str) -> bytes:
    import json

    if style == "orjson":  # compact, raw UTF-8 (as trn.json)
        return b"".join(orjson.dumps(r) + b"\n" for r in records)
    if style == "json":  # json.dumps defaults: ", " and ": ", every non-ASCII character escaped
        return "".join(json.dumps(r) + "\n" for r in records).encode()
    return "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\r\n" for r in records).encode()


def _expected(records: list[dict]) -> list[tuple[str, str]]:
    from emergence.corpus.records import clean_text

    out = [(clean_text(r["title"]), clean_text(r["content"])) for r in records]
    return [pair for pair in out if pair[0]]


@pytest.mark.parametrize("buffer", [7, 64, 1000, None])
@pytest.mark.parametrize("style", ["orjson", "json", "crlf"])
def test_cleaning_equals_clean_text(monkeypatch, buffer, style):
    import emergence.corpus.readers as readers

    if buffer is not None:  # small blocks put block boundaries everywhere
        monkeypatch.setattr(readers, "BLOCK", buffer)
    records = _fuzz_records(seed=len(style) * 10_000 + (buffer or 0), n=600)  # fixed per case
    stream = stream_records(io.BytesIO(_encode(records, style)))
    got = [(r.title, r.content) for r in stream]
    assert got == _expected(records)
    assert stream.stats.read == len(records) and stream.stats.reconciles()
    assert set(stream.stats.rejected) <= {"empty_title"}
    extras = [r for r in records if "category" in r]
    again = stream_records(io.BytesIO(_encode(records, style)))
    kept = [rec.extras["category"] for rec in again if "category" in rec.extras]
    assert kept == [r["category"] for r in extras if _expected([r])]  # extras are never cleaned


@pytest.mark.parametrize("buffer", [64, None])
def test_cleaning_of_gzip_and_long_lines(monkeypatch, buffer):
    import emergence.corpus.readers as readers

    if buffer is not None:
        monkeypatch.setattr(readers, "BLOCK", buffer)
    records = _fuzz_records(seed=7, n=400)
    data = _encode(records, "orjson")
    assert [(r.title, r.content) for r in stream_records(io.BytesIO(gzip.compress(data)))] == _expected(records)
    # lines longer than the bound are rejected, the others cleaned as ever
    limit = 120
    lines = data.splitlines(keepends=True)
    stream = stream_records(io.BytesIO(data), max_line_bytes=limit)
    got = [(r.title, r.content) for r in stream]
    fits = [r for r, line in zip(records, lines) if len(line) <= limit]
    assert got == _expected(fits)
    assert stream.stats.rejected.get("line_too_long", 0) == sum(len(line) > limit for line in lines)
    assert stream.stats.reconciles()


@pytest.mark.parametrize(
    ("line", "reason", "field"),
    [
        (b'{"title": "T  x", "content": ["not", "text"]}', "wrong_type", "content"),
        (b'{"title": "&amp;T", "uid": 42}', "wrong_type", "uid"),
        (b'{"title": 7, "content": "a\\tb"}', "wrong_type", "title"),
        (b'{"title": " &nbsp;\\u3000 ", "content": "x"}', "empty_title", None),
        (b'{"uid": "  x", "content": "no title"}', "missing_title", None),
    ],
)
def test_lines_that_need_cleaning_are_validated_alike(line, reason, field):
    data = jsonl(GOOD[:4]) + line + b"\n" + jsonl(GOOD[4:6])
    stream = stream_records(io.BytesIO(data))
    assert titles(stream) == CLEAN_TITLES[:6]
    assert stream.stats.rejected == {reason: 1} and stream.stats.reconciles()
    with pytest.raises(LoadError) as info:
        list(stream_records(io.BytesIO(data), policy="strict"))
    assert (info.value.reason, info.value.line) == (reason, 5)
    if field:
        assert field in str(info.value)


@pytest.mark.parametrize("buffer", [64, None])
def test_cleaning_with_shards_skip_and_filters(monkeypatch, buffer):
    # the loop for shard/skip/filters is not the plain one: it must clean alike
    import emergence.corpus.readers as readers

    if buffer is not None:
        monkeypatch.setattr(readers, "BLOCK", buffer)
    records = _fuzz_records(seed=11, n=500)
    data = _encode(records, "orjson") + b"\n   \n"
    expected = _expected(records)
    shards = [[(r.title, r.content) for r in stream_records(io.BytesIO(data), shard=(k, 3))] for k in range(3)]
    assert sorted(sum(shards, [])) == sorted(expected)
    rest = stream_records(io.BytesIO(data), skip=123)
    assert [(r.title, r.content) for r in rest] == _expected(records[123:]) and rest.stats.reconciles()
    kept = stream_records(io.BytesIO(data), drop_empty=True, dedupe=True)
    got = [(r.title, r.content) for r in kept]
    assert got == list(dict.fromkeys(pair for pair in expected if pair[1]))
    assert kept.stats.reconciles() and kept.stats.read == len(records)


@pytest.mark.parametrize("buffer", [5, None])
def test_cleaning_at_every_byte_value(monkeypatch, buffer):
    # each byte value raw in a title and a content: the gate must send every control, DEL
    # and non-ASCII byte to cleaning; lines orjson rejects are rejected alike
    import emergence.corpus.readers as readers
    from emergence.corpus.records import clean_text

    if buffer is not None:
        monkeypatch.setattr(readers, "BLOCK", buffer)
    lines = [b'{"title":"a' + bytes([b]) + b'b","content":"' + bytes([b]) + b' x  y"}\n' for b in range(256)]
    expected = []
    for line in lines:
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        expected.append((clean_text(obj["title"]), clean_text(obj["content"])))
    data = b"".join(lines)
    stream = stream_records(io.BytesIO(data))
    assert [(r.title, r.content) for r in stream] == expected
    # a raw newline (0x0A) splits its line in three: 258 lines, none blank
    assert stream.stats.read == data.count(b"\n") == 258 and stream.stats.reconciles()


def test_collapsing_spaces_after_entities_and_breaks_equals_clean_text():
    # runs made by entities or escaped breaks next to spaces, of every length up to 9:
    # the loader's collapsing must leave what clean_text leaves
    from emergence.corpus.records import clean_text

    pieces = [" " * k for k in range(1, 10)] + ["&nbsp;", "&#32;", "&#1;", "\\n", "\\t", "\\r", "w"]
    records = []
    for i, a in enumerate(pieces):
        for b in pieces:
            title = "T" + a + b + a + "t"
            records.append({"title": title, "content": b + a + "x" + a + b + "y" + b})
    data = b"".join(
        b'{"title":"' + r["title"].encode() + b'","content":"' + r["content"].encode() + b'"}\n' for r in records
    )
    expected = []
    for line in data.splitlines():
        obj = orjson.loads(line)
        expected.append((clean_text(obj["title"]), clean_text(obj["content"])))
    stream = stream_records(io.BytesIO(data))
    assert [(r.title, r.content) for r in stream] == [pair for pair in expected if pair[0]]
    assert stream.stats.reconciles()
