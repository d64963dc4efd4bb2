"""Resuming a pass where it stopped: JSON Lines by byte offset, gzip by an access-point index.

A resumed pass must yield exactly the records an uninterrupted pass yields after that
point, account for those before it (filtered "skipped"), and not read the file from its
start: the bytes it reads say so.
"""
from __future__ import annotations

import gzip
import itertools
import json
import shutil
from pathlib import Path

import pytest

from emergence.corpus.gzindex import GzipIndex, IndexUnavailable
from emergence.corpus.records import LoadError
from emergence.corpus.stream import StreamPosition, stream_records
from servers import FileServer, write_corpus

pytest.importorskip("indexed_gzip")
pytestmark = pytest.mark.timeout(120)
SPACING = 256 << 10


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("resume")
    plain = write_corpus(folder / "c.jsonl", 20_000)  # ~3.7 MB: blank lines and rejects among the records
    gz = folder / "c.jsonl.gz"
    with plain.open("rb") as src, gzip.open(gz, "wb", compresslevel=6) as out:
        shutil.copyfileobj(src, out)
    return {"c.jsonl": plain, "c.jsonl.gz": gz}


def _pass(source, **kw):
    """[(uid, title, position after it)], stats of a whole pass with positions kept."""
    out = []
    with stream_records(source, progress=False, positions=True, **kw) as stream:
        for r in stream:
            out.append((r.uid, r.title, stream.position()))
    return out, stream.stats


def _resumed(source, position, **kw):
    with stream_records(source, progress=False, resume=position, **kw) as stream:
        records = [(r.uid, r.title) for r in stream]
    return records, stream.stats, stream.resumed_by


@pytest.mark.parametrize("cut", [0.0001, 0.37, 0.92, 1.0])
def test_plain_resumes_by_offset_and_reads_only_the_rest(files, cut):
    whole, stats = _pass(files["c.jsonl"])
    k = max(1, int(cut * len(whole)))
    position = whole[k - 1][2]
    records, resumed, how = _resumed(files["c.jsonl"], position)
    assert how == "offset" and records == [(u, t) for u, t, _ in whole[k:]]
    assert resumed.read == stats.read and resumed.filtered == {"skipped": position.read}
    assert resumed.rejected == {r: n for r, n in stats.rejected.items() if n} or resumed.reconciles()
    assert resumed.reconciles()
    assert resumed.bytes_read == files["c.jsonl"].stat().st_size - position.offset + 1


def test_gzip_resumes_at_an_access_point_within_one_span(files, tmp_path):
    gz = files["c.jsonl.gz"]
    index = GzipIndex(gz, spacing=SPACING)
    whole, stats = _pass(gz, gzip_index=index)  # the first pass builds the index as it goes
    assert index.complete and index.points > 5
    index.save(tmp_path / "i.gzidx")
    k = int(0.8 * len(whole))
    position = whole[k - 1][2]
    later = GzipIndex(gz, saved=tmp_path / "i.gzidx")  # a new process: the index read back
    records, resumed, how = _resumed(gz, position, gzip_index=later)
    assert how == "index" and records == [(u, t) for u, t, _ in whole[k:]]
    assert resumed.read == stats.read and resumed.filtered == {"skipped": position.read} and resumed.reconciles()
    uncompressed, compressed = max(p for p in later._igz.seek_points() if p[0] <= position.offset - 1)
    assert position.offset - 1 - uncompressed <= 2 * SPACING  # entered within one span of its line
    assert resumed.bytes_read <= gz.stat().st_size - compressed + 1  # read from that point, not from byte 0


def test_an_index_saved_mid_pass_resumes_and_goes_on_building(files, tmp_path):
    gz = files["c.jsonl.gz"]
    whole, _ = _pass(gz)
    index = GzipIndex(gz, spacing=SPACING)
    with stream_records(gz, progress=False, positions=True, gzip_index=index) as stream:
        taken = list(itertools.islice(stream, len(whole) // 3))
        position = stream.position()
    index.save(tmp_path / "part.gzidx", upto=position.offset)  # what a checkpoint does mid-pass
    later = GzipIndex(gz, saved=tmp_path / "part.gzidx")
    assert not later.complete and later.built_to >= position.offset
    records, _, how = _resumed(gz, position, gzip_index=later)
    assert how == "index" and len(taken) + len(records) == len(whole)
    assert records == [(u, t) for u, t, _ in whole[len(taken):]]
    later.advance(10**12)
    assert later.complete and later.built_to > position.offset


def test_resume_over_http_by_offset_and_by_index(files, tmp_path):
    with FileServer(files) as server:
        for name in ("c.jsonl", "c.jsonl.gz"):
            url = server.url(name)
            index = GzipIndex(url, spacing=SPACING) if name.endswith(".gz") else None
            whole, _ = _pass(url, gzip_index=index)
            position = whole[int(0.9 * len(whole))][2]
            before = server.served
            records, stats, how = _resumed(url, position, gzip_index=index)
            assert how == ("index" if index else "offset") and records == [(u, t) for u, t, _ in whole[-len(records):]]
            assert len(records) == len(whole) - int(0.9 * len(whole)) - 1
            assert server.served - before < 0.5 * files[name].stat().st_size  # the rest, not the whole file
            if index:
                index.close()


def test_without_an_index_gzip_and_arrays_resume_by_skipping(files, tmp_path):
    array = tmp_path / "c.json"
    lines = [line for line in files["c.jsonl"].read_bytes().splitlines() if line.strip()]
    array.write_bytes(b"[" + b",\n".join(lines) + b"]")
    for source in (files["c.jsonl.gz"], array):
        whole, _ = _pass(source)
        position = whole[100][2]
        records, stats, how = _resumed(source, position)
        assert how == "skip" and records == [(u, t) for u, t, _ in whole[101:]]
        assert stats.filtered["skipped"] == position.read and stats.reconciles()
    assert whole[100][2].offset is None  # an array's position has no byte offset


def test_a_changed_file_is_refused_not_misread(files, tmp_path):
    path = tmp_path / "c.jsonl"
    shutil.copy(files["c.jsonl"], path)
    whole, _ = _pass(path)
    position = whole[500][2]
    path.write_bytes(b'{"title": "inserted"}\n' + path.read_bytes())
    with pytest.raises(LoadError) as err:
        _resumed(path, position)
    assert err.value.reason == "resume_mismatch" and str(path) in str(err.value)
    other = tmp_path / "o.jsonl.gz"
    other.write_bytes(gzip.compress(path.read_bytes()))
    GzipIndex(files["c.jsonl.gz"], spacing=SPACING).save(tmp_path / "i.gzidx", upto=1 << 20)
    with pytest.raises(IndexUnavailable, match="another file"):
        GzipIndex(other, saved=tmp_path / "i.gzidx")


def test_offsets_count_long_lines_blank_lines_crlf_and_a_bom(tmp_path):
    path = tmp_path / "odd.jsonl"
    rows = [b'{"title": "a"}', b"", b'{"title": "' + b"x" * 5000 + b'"}', b'  ', b'{"title": "b"}\r',
            b"not json", b'{"title": "c"}', b'{"title": "' + b"y" * 9000 + b'"}', b'{"title": "d"}']
    path.write_bytes(b"\xef\xbb\xbf" + b"\n".join(rows))  # no newline at the end
    whole, stats = _pass(path, max_line_bytes=1000)
    assert [t for _, t, _ in whole] == ["a", "b", "c", "d"] and stats.rejected["line_too_long"] == 2
    for k in range(len(whole)):
        records, resumed, _ = _resumed(path, whole[k][2], max_line_bytes=1000)
        assert [t for _, t in records] == [t for _, t, _ in whole[k + 1:]] and resumed.reconciles()
        assert resumed.read == stats.read


def test_a_shard_resumes_its_own_records(files):
    whole, _ = _pass(files["c.jsonl"], shard=(1, 3))
    position = whole[999][2]
    records, stats, how = _resumed(files["c.jsonl"], position, shard=(1, 3))
    assert how == "offset" and records == [(u, t) for u, t, _ in whole[1000:]]
    assert stats.filtered["skipped"] == position.read and stats.reconciles()


def test_resume_and_skip_must_agree():
    with pytest.raises(ValueError, match="contradicts"):
        stream_records("x.jsonl", skip=3, resume=StreamPosition(5, 5, 100))


# -- the training stream ----------------------------------------------------------------------
def test_train_stream_saves_the_index_with_its_state_and_resumes_from_it(tmp_path):
    from emergence.models import build_tiny_tokenizer
    from emergence.train.data import TrainStream

    # most of the file before the resume point, in records training drops unread (empty contents)
    gz = tmp_path / "t.jsonl.gz"
    with gzip.open(gz, "wt", encoding="utf-8", compresslevel=6) as f:
        for i in range(60_000):
            f.write(json.dumps({"uid": f"e{i}", "title": f"empty {i} {'x' * (i % 50)}", "content": ""}) + "\n")
        for i in range(3000):
            f.write(json.dumps({"uid": f"u{i}", "title": f"Title {i}", "content": f"a story {i} of a family"}) + "\n")
    tokenizer = build_tiny_tokenizer()
    with FileServer({"t.jsonl.gz": gz}) as server:
        url = server.url("t.jsonl.gz")
        stream = TrainStream(url, tokenizer, max_seq_length=64, prefetch=0)
        reference = list(itertools.islice(iter(stream.dataset()), 1200))
        state = stream.state_after(0, 1000, folder=tmp_path)
        assert state.offset and state.line >= state.stream_skip > 60_000
        assert state.gzip_index and (tmp_path / state.gzip_index).is_file()
        state.gzip_index = str(tmp_path / state.gzip_index)  # as the recipe reads it back
        before = server.served
        resumed = TrainStream(url, tokenizer, max_seq_length=64, prefetch=0, start={0: state})
        again = list(itertools.islice(iter(resumed.dataset()), 200))
        served = server.served - before
    assert again == reference[1000:1200]
    assert served < 0.5 * gz.stat().st_size  # entered near its line, not read from byte 0
    assert json.loads(state.model_dump_json())["offset"] == state.offset
