"""Stream a corpus one validated, cleaned `Record` at a time, whatever its size.

    >>> import io
    >>> from emergence.corpus.stream import stream_records
    >>> data = b'{"uid": "1", "title": "Ages 4&#8211;8", "content": ""}\\nnot json\\n{"title": "B"}\\n'
    >>> stream = stream_records(io.BytesIO(data))
    >>> [r.title for r in stream]
    ['Ages 4–8', 'B']
    >>> stream.stats.rejected, stream.stats.reconciles()
    ({'malformed_json': 1}, True)

The format is sniffed from the bytes, never from the file name: gzip by its magic bytes
(1f 8b), then JSON Lines when the first significant byte is `{`, one top-level JSON array
of objects (streamed item by item with ijson's fastest backend) when it is `[`. Any other
start is not JSON, which is an error under both policies. Standard input works as a
source (`sys.stdin.buffer`): nothing here seeks.

Each JSON Lines line is parsed with orjson and validated by `Record`'s pydantic schema
(its pydantic-core validator called directly: `model_validate` adds a Python wrapper per
call). Cleaning is where the time would go (a scan of every string for double spaces
alone costs more than orjson's parse of it), so the bytes are scanned first, a block
(4 MiB) at a time (`_Scanner`: one SSE2 pass in C, `emergence.corpus.speedups`, then numpy on
the bytes it found; numpy alone where the C twin was not built): a line in which
nothing can need cleaning, most lines, is parsed and validated and nothing more; in the
others title and content get only the steps the scan named (entities, escaped line
breaks, runs of spaces, edge spaces), or `clean_text` in full for anything rarer
(control characters, Unicode spaces, other escapes), so the result is always
`clean_text`'s. Lines of other shards
and lines skipped by `skip` are counted but never parsed. Lines are read with
`readline(max_line_bytes)`, so an over-long line is dropped in pieces, never held.

Where a problem is reported: JSON Lines give 1-based line numbers; the array form gives
byte offsets into the (decompressed) stream: exact for syntax errors (where yajl
stopped), and for a bad item the position read so far (the item ends before it), with
the item's 1-based position in the array.
"""
from __future__ import annotations

import ast
import gzip
import io
import os
import sys
import warnings
import zlib
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Literal

import ijson  # the package picks its fastest installed backend (yajl2_c when built)
import orjson
from pydantic import ValidationError

from emergence.corpus import speedups
from emergence.corpus.records import LoadError, LoadStats, Record, clean_text, collapse_spaces, unescape

__all__ = ["DEDUPE_CAPACITY", "MAX_LINE_BYTES", "RecordStream", "SeenPairs", "stream_records"]

MAX_LINE_BYTES = 1 << 20
DEDUPE_CAPACITY = 1 << 22
# Read-ahead of the source and of the decompressed stream, and the scan's block: the
# scan's numpy steps cost ~25 calls a block whatever its size (4 MiB against 1 MiB took
# the scan from 0.26 to 0.19 µs a record).
_BUFFER = 1 << 22
_ARRAY_CHUNK = 1 << 16  # ijson's read size
_EXAMPLES = 3  # examples kept per reject reason
_EXCERPT = 80  # bytes of a bad line kept in an example
_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_WHITESPACE = b" \t\r\n"


def stream_records(
    source: str | os.PathLike[str] | BinaryIO,
    *,
    policy: Literal["skip", "strict"] = "skip",
    drop_empty: bool = False,
    dedupe: bool = False,
    shard: tuple[int, int] | None = None,
    skip: int = 0,
    progress: bool | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
    dedupe_capacity: int = DEDUPE_CAPACITY,
) -> RecordStream:
    """Records of a JSON Lines or JSON-array corpus (plain or gzip), one at a time.

    source: a path, or a binary file object (standard input: `sys.stdin.buffer`).
    policy: "skip" counts each bad record in `stats.rejected` (with the first
        examples in `stats.examples`) and goes on; "strict" raises `LoadError` with
        the path, line (or byte offset) and reason at the first bad record. A stream
        that is not JSON, a gzip stream that ends early or is corrupt, and a syntax
        error inside a JSON array raise `LoadError` under both policies, after every
        complete record before them was yielded.
    drop_empty: drop records whose cleaned content is empty (`filtered["empty_content"]`).
    dedupe: drop a record whose cleaned (title, content) pair was already yielded
        (`filtered["duplicate"]`). Memory is bounded: pairs are remembered as 64-bit
        fingerprints (Python's `hash` of the pair) in an open-addressing table of 8-byte
        slots kept at most 60% full, so it holds at most 8 * 2**ceil(log2(capacity /
        0.6)) bytes: 64 MiB for the default `dedupe_capacity` of 4,194,304 distinct
        pairs (while it doubles, the old half-size table briefly coexists). Past the
        capacity new pairs are no longer remembered (a warning says so), so later
        repeats of them pass. Two different pairs are taken for one with probability
        about n**2 / 2**65 over n pairs (1.4e-7 for 2.25M). Duplicates are found
        within this stream (this shard) only.
    shard: (rank, world_size): yield only records whose index i (0-based, over the
        records of the whole input) has i % world_size == rank. The shards of all
        ranks are disjoint and together cover the stream; other ranks' lines are not
        parsed (`filtered["shard"]`).
    skip: pass over the first `skip` records of the input (counted like `stats.read`,
        so across shards) without parsing them (`filtered["skipped"]`). To resume an
        interrupted pass, use the old stream's `stats.read` with the same shard.
    progress: a rich progress bar (MB read, records, records/s) on standard error;
        None shows it when standard error is a terminal.
    max_line_bytes: the longest line (newline included), or JSON-array item, read. A
        longer line is rejected ("line_too_long") without being held in memory; a
        longer array item ends the stream ("item_too_large").
    dedupe_capacity: distinct (title, content) pairs remembered by `dedupe`.
    """
    return RecordStream(
        source,
        policy=policy,
        drop_empty=drop_empty,
        dedupe=dedupe,
        shard=shard,
        skip=skip,
        progress=progress,
        max_line_bytes=max_line_bytes,
        dedupe_capacity=dedupe_capacity,
    )


class RecordStream:
    """An iterable-once stream of `Record`; `stats` (a `LoadStats`) is current between records.

    Iterate it once (a second `iter()` raises); make another with `stream_records` for
    another pass. Use it as a context manager, or call `close()`, to release the file
    when stopping early.
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | BinaryIO,
        *,
        policy: Literal["skip", "strict"] = "skip",
        drop_empty: bool = False,
        dedupe: bool = False,
        shard: tuple[int, int] | None = None,
        skip: int = 0,
        progress: bool | None = None,
        max_line_bytes: int = MAX_LINE_BYTES,
        dedupe_capacity: int = DEDUPE_CAPACITY,
    ) -> None:
        if policy not in ("skip", "strict"):
            raise ValueError(f"policy must be 'skip' or 'strict', got {policy!r}")
        if shard is None:
            shard = (0, 1)
        rank, world = shard
        if not (isinstance(rank, int) and isinstance(world, int) and world >= 1 and 0 <= rank < world):
            raise ValueError(f"shard must be (rank, world_size) with 0 <= rank < world_size, got {shard!r}")
        if not isinstance(skip, int) or skip < 0:
            raise ValueError(f"skip must be a non-negative int, got {skip!r}")
        if max_line_bytes < 2:
            raise ValueError(f"max_line_bytes must be at least 2, got {max_line_bytes}")
        if dedupe_capacity < 1:
            raise ValueError(f"dedupe_capacity must be positive, got {dedupe_capacity}")
        self._path: Path | None = None
        self._file: BinaryIO | None = None
        if isinstance(source, (str, os.PathLike)):
            self._path = Path(source)
            if not self._path.is_file():
                raise FileNotFoundError(f"no such corpus file: {self._path}")
            name = str(self._path)
        elif hasattr(source, "read"):
            self._file = source
            raw_name = getattr(source, "name", None)
            name = raw_name if isinstance(raw_name, str) else "<stream>"
        else:
            raise TypeError(f"source must be a path or a binary file object, got {type(source).__name__}")
        self._strict = policy == "strict"
        self._drop_empty = drop_empty
        self._dedupe = dedupe
        self._rank, self._world = rank, world
        self._skip = skip
        self._progress = progress
        self._max_line_bytes = max_line_bytes
        self._dedupe_capacity = dedupe_capacity
        self._name = name
        self._iterator: Iterator[Record] | None = None
        self.stats = LoadStats(source=name)

    def __iter__(self) -> Iterator[Record]:
        if self._iterator is not None:
            raise RuntimeError("a RecordStream is iterable once; call stream_records again for another pass")
        self._iterator = self._records()
        return self._iterator

    def close(self) -> None:
        """Stop the stream and release its file (and progress bar)."""
        if self._iterator is None:
            self._iterator = iter(())
        else:
            self._iterator.close()  # type: ignore[attr-defined]

    def __enter__(self) -> RecordStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the pass ---------------------------------------------------------------------

    def _records(self) -> Iterator[Record]:
        # One generator holds the JSON Lines loop itself (no `yield from` hop per record);
        # the array form, slower anyway, is delegated.
        opened: BinaryIO | None = None
        bar = None
        stats = self.stats
        state = stats.__dict__
        read = yielded = 0
        lineno = unread = 0
        plain = False
        try:
            if self._path is not None:
                opened = f = open(self._path, "rb", buffering=0)  # noqa: SIM115 - closed in finally
            else:
                f = self._file  # type: ignore[assignment]
            head = _read_head(f)
            bar = self._start_progress()
            compressed = head[:2] == _GZIP_MAGIC
            raw: io.RawIOBase = _Source(f, head, self._on_read(bar))
            if compressed:
                raw = _Gunzip(io.BufferedReader(raw, _BUFFER))
            scanner = _Scanner(raw, self._max_line_bytes)
            stream = io.BufferedReader(scanner, _BUFFER)
            suffix = "+gzip" if compressed else ""
            try:
                first, skipped, lineno = _sniff(stream)
            except EOFError as err:
                raise LoadError("truncated_gzip", path=self._name, offset=0, detail=str(err)) from None
            except (gzip.BadGzipFile, zlib.error) as err:
                raise LoadError("bad_gzip", path=self._name, offset=0, detail=str(err)) from None
            if first == b"[":
                scanner.active = False
                stats.format = "array" + suffix
                yield from self._array(stream, skipped)
                return
            if first != b"{":
                if first:
                    raise LoadError(
                        "not_json",
                        path=self._name,
                        line=lineno + 1,
                        offset=skipped,
                        detail=f"the stream starts with {stream.peek(16)[:16]!r}, "
                        "not '{' (JSON Lines) or '[' (a JSON array)",
                    )
                return  # empty, or only whitespace: no records
            stats.format = "jsonl" + suffix

            # The hot loop: locals only; counters go to stats just before each yield (the
            # caller can only look then) and on the way out. A line that the scanner found
            # nothing in needs no cleaning at all: it is parsed and validated, nothing more.
            filtered = stats.filtered
            readline = stream.readline
            limit = self._max_line_bytes
            loads = orjson.loads
            decode_error = orjson.JSONDecodeError
            validate = Record.__pydantic_validator__.validate_python
            drop_empty = self._drop_empty
            seen = SeenPairs(self._dedupe_capacity) if self._dedupe else None
            filtering = drop_empty or seen is not None
            rank, world, skip = self._rank, self._world, self._skip
            indexed = world > 1 or skip > 0
            self._init_filters()
            at = 0  # position in scanner.lines of the next line the scanner found work in
            nxt = 0  # the next line number at which to ask the scanner again
            index = -1
            excerpt = b""
            if not indexed and not filtering:
                # The common pass (no shard, skip or filter) gets a loop of its own: fewer
                # steps per line; `read` is the line count less blank lines.
                plain = True
                unread = lineno
                marked, marks = scanner.lines, scanner.kinds
                while True:
                    line = readline(limit)
                    if not line:
                        break
                    lineno += 1
                    if lineno < nxt:  # nothing to clean: parse and validate, nothing more
                        try:
                            record = validate(loads(line))
                        except decode_error as err:
                            unread += self._bad_json(line, err, lineno)
                            continue
                        except ValidationError as err:
                            self._bad_record(line, err, lineno)
                            continue
                    else:  # _take, inlined
                        kind = 0
                        while at < len(marked) and marked[at] <= lineno:  # passing stale entries
                            if marked[at] == lineno:
                                kind = marks[at]
                            at += 1
                        if lineno >= scanner.known:
                            kind, nxt = _UNSEEN, lineno + 1
                        else:
                            nxt = marked[at] if at < len(marked) else scanner.known
                        if at > 4096:  # keep the lists short
                            del marked[:at], marks[:at]
                            at = 0
                        if kind & _LONG and line[-1] != 10 and len(line) >= limit and _discard_rest(readline, limit):
                            detail = f"longer than max_line_bytes={limit}"
                            self._reject("line_too_long", line[:_EXCERPT], detail, line=lineno)
                            continue
                        try:
                            obj = loads(line)
                        except decode_error as err:
                            unread += self._bad_json(line, err, lineno)
                            continue
                        if kind and type(obj) is dict:  # clean before validating: a title empty after cleaning fails
                            _clean_fields(obj, kind)
                        try:
                            record = validate(obj)
                        except ValidationError as err:
                            self._bad_record(line, err, lineno)
                            continue
                    yielded += 1
                    state["read"] = lineno - unread
                    state["yielded"] = yielded
                    yield record
                return
            while True:
                line = readline(limit)
                if not line:
                    break
                lineno += 1
                if lineno < nxt:
                    kind = 0
                else:
                    kind, at, nxt = _take(scanner, lineno, at)
                    if kind & _LONG and line[-1] != 10 and len(line) >= limit and _discard_rest(readline, limit):
                        excerpt, line = line[:_EXCERPT], None
                if indexed:
                    if line is not None and line.isspace():
                        continue
                    index += 1
                    if index < skip:
                        read += 1
                        filtered["skipped"] += 1
                        continue
                    if index % world != rank:
                        read += 1
                        filtered["shard"] += 1
                        continue
                read += 1
                if kind:
                    if line is None:
                        self._reject("line_too_long", excerpt, f"longer than max_line_bytes={limit}", line=lineno)
                        continue
                    try:
                        obj = loads(line)
                    except decode_error as err:
                        read -= self._bad_json(line, err, lineno)
                        continue
                    if type(obj) is dict:  # clean before validating: a title empty after cleaning fails
                        _clean_fields(obj, kind)
                    try:
                        record = validate(obj)
                    except ValidationError as err:
                        self._bad_record(line, err, lineno)
                        continue
                else:  # the scanner found nothing to clean: parse and validate, nothing more
                    try:
                        record = validate(loads(line))
                    except decode_error as err:
                        read -= self._bad_json(line, err, lineno)
                        continue
                    except ValidationError as err:
                        self._bad_record(line, err, lineno)
                        continue
                if filtering:
                    if drop_empty and not record.content:
                        filtered["empty_content"] += 1
                        continue
                    if seen is not None and not seen.add(hash((record.title, record.content))):
                        filtered["duplicate"] += 1
                        continue
                yielded += 1
                state["read"] = read
                state["yielded"] = yielded
                yield record
        except EOFError as err:
            raise LoadError("truncated_gzip", path=self._name, line=lineno + 1, detail=str(err)) from None
        except (gzip.BadGzipFile, zlib.error) as err:
            raise LoadError("bad_gzip", path=self._name, line=lineno + 1, detail=str(err)) from None
        finally:
            if stats.format is not None and stats.format.startswith("jsonl"):
                state["read"] = lineno - unread if plain else read
                state["yielded"] = yielded
            if bar is not None:
                bar.stop(stats)
            if opened is not None:
                opened.close()

    def _on_read(self, bar: Any):
        stats = self.stats.__dict__
        if bar is None:

            def on_read(total: int) -> None:
                stats["bytes_read"] = total

        else:
            progress, task = bar.progress, bar.task

            def on_read(total: int) -> None:
                stats["bytes_read"] = total
                progress.update(task, completed=total, records=stats["yielded"])

        return on_read

    def _start_progress(self) -> _Bar | None:
        show = self._progress
        if show is None:
            show = sys.stderr.isatty()
        if not show:
            return None
        total = self._path.stat().st_size if self._path is not None else None
        return _Bar(self._name, total)

    # -- reporting bad records ----------------------------------------------------------

    def _reject(self, reason: str, excerpt: bytes, detail: str, **where: int) -> None:
        """Count (and under "strict" raise) one bad record; `where` is line=, or item= and offset=."""
        stats = self.stats
        stats.rejected[reason] = stats.rejected.get(reason, 0) + 1
        if self._strict:
            raise LoadError(reason, path=self._name, detail=detail, **where)
        examples = stats.examples.setdefault(reason, [])
        if len(examples) < _EXAMPLES:
            label = ", ".join(f"{key} {value}" for key, value in where.items())
            examples.append(f"{label}: {_excerpt(excerpt)}")

    def _bad_json(self, line: bytes, err: Exception, lineno: int) -> bool:
        """Reject a line orjson could not parse; True if it was blank (not a record at all)."""
        if line.isspace():
            return True
        self._reject(_undecodable_reason(line), line, str(err), line=lineno)
        return False

    def _bad_record(self, line: bytes, err: ValidationError, lineno: int) -> None:
        reason, detail = _reason_of(err)
        self._reject(reason, line, detail, line=lineno)

    def _init_filters(self) -> None:
        # filters in force start at 0, so a report shows "0 duplicates" rather than nothing
        filtered = self.stats.filtered
        for reason, active in (
            ("empty_content", self._drop_empty),
            ("duplicate", self._dedupe),
            ("shard", self._world > 1),
            ("skipped", self._skip > 0),
        ):
            if active:
                filtered.setdefault(reason, 0)

    # -- one JSON array -----------------------------------------------------------------

    def _array(self, stream: io.BufferedReader, start: int) -> Iterator[Record]:
        stats = self.stats
        state = stats.__dict__
        filtered = stats.filtered
        validate = Record.__pydantic_validator__.validate_python
        drop_empty = self._drop_empty
        seen = SeenPairs(self._dedupe_capacity) if self._dedupe else None
        rank, world, skip = self._rank, self._world, self._skip
        self._init_filters()
        reader = _ItemReader(stream, start, self._max_line_bytes)
        index = -1
        read = yielded = 0
        try:
            for obj in ijson.items(reader, "item", use_float=True, buf_size=_ARRAY_CHUNK):
                reader.mark = reader.pos
                index += 1
                read += 1
                if index < skip:
                    filtered["skipped"] += 1
                    continue
                if index % world != rank:
                    filtered["shard"] += 1
                    continue
                if type(obj) is dict:
                    for key in ("title", "content"):
                        text = obj.get(key)
                        if type(text) is str:
                            obj[key] = clean_text(text)
                try:
                    record = validate(obj)
                except ValidationError as err:
                    reason, detail = _reason_of(err)
                    self._reject(reason, _dump(obj), detail, item=index + 1, offset=reader.pos)
                    continue
                if drop_empty and not record.content:
                    filtered["empty_content"] += 1
                    continue
                if seen is not None and not seen.add(hash((record.title, record.content))):
                    filtered["duplicate"] += 1
                    continue
                yielded += 1
                state["read"] = read
                state["yielded"] = yielded
                yield record
        except _ItemTooLarge:
            raise LoadError(
                "item_too_large",
                path=self._name,
                item=index + 2,
                offset=reader.mark,
                detail=f"an array item runs past max_line_bytes={self._max_line_bytes}",
            ) from None
        except ijson.JSONError as err:
            message = _yajl_message(err)
            reason = "truncated_array" if b"premature EOF" in message else "malformed_array"
            raise LoadError(
                reason,
                path=self._name,
                offset=reader.error_offset(message),
                detail=message.split(b"\n", 1)[0].decode("utf-8", "replace"),
            ) from None
        except EOFError as err:
            raise LoadError("truncated_gzip", path=self._name, offset=reader.pos, detail=str(err)) from None
        except (gzip.BadGzipFile, zlib.error) as err:
            raise LoadError("bad_gzip", path=self._name, offset=reader.pos, detail=str(err)) from None
        finally:
            state["read"] = read
            state["yielded"] = yielded


# -- helpers ------------------------------------------------------------------------------


def _read_head(f: BinaryIO) -> bytes:
    """The first bytes of `f` (at least 2 unless it is shorter), without seeking."""
    read = getattr(f, "read1", None) or f.read
    head = read(1 << 16)
    if isinstance(head, str):
        raise TypeError("source must be a binary file object (for standard input use sys.stdin.buffer)")
    while head is not None and 0 < len(head) < 2:
        more = read(1 << 16)
        if not more:
            break
        head += more
    return head or b""


class _Source(io.RawIOBase):
    """The source's bytes, with the sniffed head put back in front; counts bytes read."""

    def __init__(self, f: BinaryIO, head: bytes, on_read) -> None:
        super().__init__()
        self._f = f
        self._head = head
        self._readinto = getattr(f, "readinto", None)
        self._on_read = on_read
        self._total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
        elif self._readinto is not None:
            n = self._readinto(buffer) or 0
        else:
            data = self._f.read(len(buffer))
            n = len(data)
            buffer[:n] = data
        self._total += n
        self._on_read(self._total)
        return n


class _Gunzip(io.RawIOBase):
    """Decompressed bytes of a gzip stream (all members), in blocks as large as asked for.

    zlib parses each member's header and checks its CRC and length itself (``wbits=31``),
    in C; ``gzip.GzipFile`` does those in Python around a raw inflate, and its ``read1``
    hands over one small step at a time, so the scanner above got ~32 KiB blocks and
    paid numpy's per-call cost on each: 14 µs a record against 4.4 for the plain file
    (300,000 lines, measured). As ``GzipFile`` does, members follow one another and
    zero bytes after a member are padding. A stream that ends early (EOFError) or is
    corrupt (zlib.error) raises only after the complete data before it was handed over.
    """

    _INPUT = 1 << 18  # compressed bytes read at a time

    def __init__(self, raw: io.BufferedReader) -> None:
        super().__init__()
        self._raw = raw
        self._read = getattr(raw, "read1", raw.read)  # a pipe: what is there, not a full block
        self._inflate = zlib.decompressobj(wbits=31)
        self._error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        out = memoryview(buffer).cast("B")
        got = 0
        while got < len(out):
            try:
                data = self._next(len(out) - got)
            except (EOFError, zlib.error) as err:
                if not got:
                    raise
                self._error = err  # hand over what came before it first
                break
            if data is None:
                break
            out[got:got + len(data)] = data
            got += len(data)
        return got

    def _next(self, limit: int) -> bytes | None:
        """Up to ``limit`` decompressed bytes (never b''), or None at the end of the stream."""
        inflate = self._inflate
        while True:
            if inflate.unconsumed_tail:
                data = inflate.decompress(inflate.unconsumed_tail, limit)
            elif inflate.eof:
                rest = inflate.unused_data.lstrip(b"\0")
                while not rest:  # after a member: padding, another member or the end
                    more = self._read(self._INPUT)
                    if not more:
                        return None
                    rest = more.lstrip(b"\0")
                self._inflate = inflate = zlib.decompressobj(wbits=31)
                data = inflate.decompress(rest, limit)
            else:
                more = self._read(self._INPUT)
                if not more:
                    raise EOFError("Compressed file ended before the end-of-stream marker was reached")
                data = inflate.decompress(more, limit)
            if data:
                return data


# What cleaning a line needs, as the scanner finds it in the line's bytes (bits).
_AMP = 1  # an '&' that may start an HTML entity
_BREAK = 2  # an escaped line break or tab (backslash n, t or r): whitespace that becomes a space
_RUN = 4  # two spaces in a row
_EDGE = 16  # a space beside a quote: a string may start or end with a space
_FULL = 32  # anything else (other escapes, DEL, C1 controls, Unicode spaces): clean_text in full
_LONG = 64  # the line is longer than max_line_bytes
_UNSEEN = 127  # the scanner has not seen the whole line yet: assume everything
_NEWLINE = 100  # a newline, in the first-level table (not a kind)
# Second-level codes of the first-level table: the kind depends on one more byte.
_S_QUOTE, _S_U, _S_E1, _S_E2_80, _S_E2_81, _S_E3 = range(128, 134)
_TABLES: tuple[Any, Any] | None = None


def _tables():
    """The scanner's lookup tables: kind by (byte, next byte), then by (code, third byte)."""
    global _TABLES
    if _TABLES is not None:
        return _TABLES
    import numpy as np

    pairs = np.zeros(1 << 16, np.uint8)

    def after(byte: int):
        return pairs[byte << 8 : (byte + 1) << 8]

    after(10)[:] = _NEWLINE
    row = after(ord("&"))
    row[:] = _AMP
    row[ord(" ")] = row[ord('"')] = 0  # "& " and a final '&' are never entities
    row = after(ord("\\"))
    row[:] = _FULL  # backslash b, f, another backslash (and invalid escapes, which orjson rejects)
    row[ord("n")] = row[ord("t")] = row[ord("r")] = _BREAK
    row[ord('"')] = row[ord("/")] = 0  # an escaped quote or slash needs nothing
    row[ord("u")] = _S_U
    after(0x7F)[:] = _FULL  # DEL
    for byte in (0xC0, 0xC1, *range(0xF5, 0x100)):  # never in UTF-8: orjson rejects the line
        after(byte)[:] = _FULL
    after(0xC2)[0x80:0xA1] = _FULL  # U+0080-U+00A0: C1 controls, NEL, no-break space
    after(0xE1)[0x9A] = _S_E1  # U+1680
    after(0xE2)[0x80] = _S_E2_80  # U+2000-U+200A, U+2028, U+2029, U+202F
    after(0xE2)[0x81] = _S_E2_81  # U+205F
    after(0xE3)[0x80] = _S_E3  # U+3000
    after(ord(" "))[ord(" ")] = _RUN
    after(ord(" "))[ord('"')] = _EDGE
    after(ord('"'))[ord(" ")] = _S_QUOTE
    # the second byte after a code; for _S_QUOTE the byte before the quote instead
    third = np.zeros((_S_E3 - 127) << 8, np.uint8)

    def code(c: int):
        return third[(c - 128) << 8 : (c - 127) << 8]

    code(_S_QUOTE)[:] = _EDGE
    code(_S_QUOTE)[ord("\\")] = 0  # an escaped quote, or a closing one: never a string's start
    code(_S_U)[:] = _FULL  # refined from the four hex digits in _Scanner._unicode
    code(_S_E1)[0x80] = _FULL
    row = code(_S_E2_80)
    row[0x80:0x8B] = row[0xA8] = row[0xA9] = row[0xAF] = _FULL
    code(_S_E2_81)[0x9F] = _FULL
    code(_S_E3)[0x80] = _FULL
    _TABLES = (pairs, third)
    return _TABLES


class _Scanner(io.RawIOBase):
    """The decompressed bytes, as they come, with each block scanned for what cleaning needs.

    Most lines need no cleaning at all, and proving that string by string costs more
    than parsing them (a search for double spaces alone is ~1.5 ns a character). Here it
    is done for a whole block: every byte that may need work ('&', '\\', DEL and
    non-ASCII bytes, two spaces, a space beside a quote) is found (`speedups.events`, one
    SSE2 pass in C, or its twin `_numpy_events`, ten numpy passes), classified by the
    bytes around it (an escaped quote, a curly quote or a '& ' need nothing; a C1
    control or an ideographic space does), and the kinds are gathered per line. The
    reader looks here only at lines listed here.

    Every doubt goes the safe way: bytes whose neighbours lie in another block, a pair
    that straddles two blocks, and a line not seen whole count as needing everything,
    which `clean_text` then does in full. `lines` and `kinds` hold only lines not yet
    taken (plus at most a few thousand taken ones), so memory stays bounded.
    """

    def __init__(self, raw: io.RawIOBase, limit: int) -> None:
        super().__init__()
        import numpy as np

        self._np = np
        self._pairs, self._third = _tables()
        self._raw = raw
        self._limit = limit
        self.active = True  # off for the JSON-array form
        self.lines: list[int] = []  # 1-based numbers of complete lines that need work, ascending
        self.kinds: list[int] = []  # what each needs
        self.known = 1  # the number of the first line not yet seen whole
        self._carry = 0  # kinds found so far in that line
        self._start = 0  # its byte offset
        self._total = 0  # bytes scanned
        self._prev = 10  # the last byte of the previous block
        self._masks = None  # numpy's two scratch masks
        self._out = None  # the C scan's event positions

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        n = self._raw.readinto(buffer) or 0
        if self.active:
            if n:
                self._scan(buffer, n)
            else:
                self._finish()
        return n

    def _scan(self, buffer, n: int) -> None:
        np = self._np
        a = np.frombuffer(buffer, np.uint8, n)
        base = self._total
        self._total = base + n
        if speedups.events is not None:
            # room for one event in 64 bytes (text has one in ~370: a newline or a non-ASCII
            # byte); a block with more is scanned again into a big enough array
            out = self._out
            if out is None:
                out = self._out = np.empty(_BUFFER >> 6, np.int64)
            count = speedups.events(buffer, n, out)
            if count > out.size:
                out = self._out = np.empty(count, np.int64)
                count = speedups.events(buffer, n, out)
            events = out[:count]
        else:
            events = self._numpy_events(a, n)
        after = events + 1
        after[-1:] = np.minimum(after[-1:], n - 1)
        kinds = self._pairs[(a[events].astype(np.intp) << 8) | a[after]]
        special = np.flatnonzero(kinds >= 128)
        if special.size:
            pos = events[special]
            code = kinds[special].astype(np.intp) - 128
            third = a[np.minimum(pos + 2, n - 1)]
            before = a[pos - 1]
            if pos[0] == 0:
                before[0] = self._prev
            third = np.where(code == _S_QUOTE - 128, before, third)
            kinds[special] = self._third[(code << 8) | third]
            unicode = code == _S_U - 128
            if unicode.any():
                kinds[special[unicode]] = self._unicode(a, pos[unicode], n)
        # bytes whose classification looked past the block's end (clamped): everything
        near = int(np.searchsorted(events, n - 6))
        tail = kinds[near:]
        tail[tail != _NEWLINE] |= _FULL
        carry = self._carry
        prev = self._prev
        if prev in (0x20, 0x22, 0x26, 0x5C) or prev >= 0xC0:  # a pair or an escape across the boundary
            carry |= _FULL
        self._prev = int(a[-1])
        newline = kinds == _NEWLINE
        ends = events[newline]
        count = ends.size
        keep = (kinds != 0) & ~newline
        line_of = np.cumsum(newline)[keep]  # block-local: 0 is the line carried in
        kinds = kinds[keep]
        found: list[int] = []
        found_kinds: list[int] = []
        if line_of.size:
            first = np.flatnonzero(np.concatenate(([True], line_of[1:] != line_of[:-1])))
            found = (line_of[first] + self.known).tolist()  # line numbers
            found_kinds = np.bitwise_or.reduceat(kinds, first).tolist()
        if not count:
            for kind in found_kinds:
                carry |= kind
            self._carry = carry
            return
        first_line = self.known  # the line carried in, which this block's first newline ends
        if found and found[0] == first_line:
            carry |= found_kinds[0]
            del found[0], found_kinds[0]
        self._carry = 0
        if found and found[-1] == first_line + count:  # the line this block leaves unfinished
            self._carry = found_kinds.pop()
            found.pop()
        ends += base + 1
        starts = np.empty_like(ends)
        starts[0] = self._start
        starts[1:] = ends[:-1]
        self._start = int(ends[-1])
        long = np.flatnonzero(ends - starts > self._limit).tolist()
        if long and long[0] == 0:
            carry |= _LONG
        lines = [first_line] if carry else []
        kinds_out = [carry] if carry else []
        lines += found
        kinds_out += found_kinds
        if long:
            merged = dict(zip(lines, kinds_out))
            for i in long:
                merged[first_line + i] = merged.get(first_line + i, 0) | _LONG
            lines = sorted(merged)
            kinds_out = [merged[line] for line in lines]
        self.lines += lines
        self.kinds += kinds_out
        self.known = first_line + count

    def _numpy_events(self, a, n: int):
        """Positions of the bytes the scan looks at: the Python twin of `speedups.events`."""
        np = self._np
        masks = self._masks
        if masks is None or masks[0].size < n:
            size = max(n, _BUFFER)
            masks = self._masks = (np.empty(size, bool), np.empty(size, bool))
        # two persistent masks: a fresh megabyte each block costs page faults, not just passes
        m, t = masks[0][:n], masks[1][:n]
        np.bitwise_or(a, 2, out=t.view(np.uint8))
        np.equal(t.view(np.uint8), 0x22, out=t)  # a space or a quote
        np.logical_and(t[:-1], t[1:], out=m[:-1])  # two of them in a row
        m[-1] = False
        # controls (the newline among them: events also give line boundaries), DEL and
        # non-ASCII bytes in one range test, 0x00-0x1F and 0x7F-0xFF being 0xE0-0xFF and
        # 0x5F-0xDF once 0x20 is taken away (modulo 256); `>=` because numpy's uint8
        # `<=` against a scalar runs at two thirds of its speed (numpy 2.4, measured)
        np.subtract(a, 0x20, out=t.view(np.uint8))
        m |= np.greater_equal(t.view(np.uint8), 0x5F, out=t)
        m |= np.equal(a, 0x26, out=t)  # &
        m |= np.equal(a, 0x5C, out=t)  # backslash
        # flatnonzero(m), in half the time: 8-byte words first, then the bytes of those hit
        whole = n & ~7
        hit = np.flatnonzero(m[:whole].view(np.uint64) != 0)
        inside = np.flatnonzero(m[:whole].view(np.uint64)[hit].view(bool))
        events = (hit[inside >> 3] << 3) + (inside & 7)
        if whole < n:
            events = np.concatenate((events, np.flatnonzero(m[whole:]) + whole))
        return events

    def _unicode(self, a, pos, n: int):
        """Kinds of \\uXXXX escapes: only code points that cleaning changes (or '&', ' ') count."""
        np = self._np
        digits = a[np.minimum(pos[:, None] + np.arange(2, 6), n - 1)].astype(np.int32)
        value = np.where(digits <= 0x39, digits - 0x30, (digits | 0x20) - 0x57)  # invalid hex: orjson rejects
        cp = (value[:, 0] << 12) | (value[:, 1] << 8) | (value[:, 2] << 4) | value[:, 3]
        changed = (
            (cp < 0x20)
            | ((cp >= 0x7F) & (cp <= 0xA0))
            | (cp == 0x1680)
            | ((cp >= 0x2000) & (cp <= 0x200A))
            | (cp == 0x2028)
            | (cp == 0x2029)
            | (cp == 0x202F)
            | (cp == 0x205F)
            | (cp == 0x3000)
        )
        kinds = np.where(changed, _FULL, 0)
        kinds = np.where(cp == 0x26, _AMP, kinds)
        kinds = np.where(cp == 0x20, _RUN | _EDGE, kinds)
        return kinds.astype(np.uint8)

    def _finish(self) -> None:
        """At the end of the stream: the last line, if it has no newline, is whole now."""
        if self._total > self._start:
            kind = self._carry
            if self._total - self._start > self._limit:
                kind |= _LONG
            if kind:
                self.lines.append(self.known)
                self.kinds.append(kind)
            self.known += 1
            self._start = self._total
            self._carry = 0


def _take(scanner: _Scanner, lineno: int, at: int) -> tuple[int, int, int]:
    """(what line `lineno` needs, where its entry in scanner.lines ended, the next line number
    to ask about); called only at lines the scanner listed, or at the first line it has not
    seen whole."""
    lines = scanner.lines
    end = len(lines)
    while at < end and lines[at] < lineno:  # lines taken before they were seen whole
        at += 1
    kind = 0
    if at < end and lines[at] == lineno:
        kind = scanner.kinds[at]
        at += 1
    if lineno >= scanner.known:
        return _UNSEEN, at, lineno + 1
    nxt = lines[at] if at < end else scanner.known
    if at > 4096:  # keep the lists short
        del lines[:at], scanner.kinds[:at]
        at = 0
    return kind, at, nxt


def _clean_fields(obj: dict, kind: int) -> None:
    """Clean title and content of a parsed line in place, as `clean_text` does, given that
    the line holds nothing that needs cleaning but what `kind` names (one call a line)."""
    for key in ("title", "content"):
        text = obj.get(key)
        if type(text) is not str or not text:
            continue
        if kind & _FULL:
            new = clean_text(text)
        else:  # only the steps the scan named; collapsing runs and ends in any case
            new = unescape(text) if kind & _AMP else text
            if kind & _BREAK:
                for ch in "\n\t\r":
                    if ch in new:
                        new = new.replace(ch, " ")
            new = collapse_spaces(new)
        if new is not text:
            obj[key] = new


def _sniff(stream: io.BufferedReader) -> tuple[bytes, int, int]:
    """(first significant byte or b"", bytes consumed before it, newlines among them).

    Consumes a UTF-8 byte-order mark and leading whitespace; peeks at the byte after.
    """
    consumed = newlines = 0
    buf = stream.peek(len(_BOM))
    if buf.startswith(_BOM):
        consumed += len(stream.read(len(_BOM)))
    while True:
        buf = stream.peek(1)
        if not buf:
            return b"", consumed, newlines
        rest = buf.lstrip(_WHITESPACE)
        n = len(buf) - len(rest)
        if n:
            newlines += buf.count(b"\n", 0, n)
            consumed += len(stream.read(n))
        if rest:
            return rest[:1], consumed, newlines


def _discard_rest(readline, limit: int) -> bool:
    """Drop the rest of a line that filled `limit` bytes; False if it ended right there (EOF)."""
    chunk = readline(limit)
    if not chunk:
        return False
    while chunk and chunk[-1] != 10:
        chunk = readline(limit)
    return True


def _undecodable_reason(line: bytes) -> str:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return "invalid_utf8"
    return "malformed_json"


def _reason_of(err: ValidationError) -> tuple[str, str]:
    """The reject reason of a record that failed validation, and a short detail."""
    errors = err.errors(include_url=False, include_context=False)
    for error in errors:
        if error["type"] == "model_type" or not error["loc"]:
            return "not_object", f"a JSON {_json_type(error.get('input'))}, not an object"
    for error in errors:
        if error["loc"][0] == "title":
            if error["type"] == "missing" or error.get("input", "") is None:
                return "missing_title", "no title"
            if error["type"] == "string_too_short":
                return "empty_title", "title is empty after cleaning"
    error = errors[0]
    field = ".".join(str(part) for part in error["loc"])
    return "wrong_type", f"{field}: {error['msg']} (got a JSON {_json_type(error.get('input'))})"


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}.get(
        type(value), type(value).__name__
    )


def _dump(obj: object) -> bytes:
    try:
        return orjson.dumps(obj)
    except TypeError:
        return repr(obj).encode()


def _excerpt(data: bytes) -> str:
    text = data[:_EXCERPT].decode("utf-8", "replace").rstrip("\r\n")
    text = text.replace("\n", "\\n").replace("\r", "\\r")
    return text + ("…" if len(data) > _EXCERPT else "")


class _ItemTooLarge(Exception):
    pass


class _ItemReader:
    """What ijson reads: counts decompressed bytes, bounds an item's size, keeps the last chunk.

    `mark` is set by the consumer when an item arrives. Items are queued by ijson per
    chunk, so once `pos - mark` exceeds the limit the item being built has too: it is
    stopped there, with at most limit + 2 chunks of it in memory.
    """

    def __init__(self, stream: io.BufferedReader, start: int, limit: int) -> None:
        # read1: what is there, so a gzip stream that ends early loses only its incomplete tail
        self._read = stream.read1
        self._limit = limit
        self.pos = self.mark = start
        self.last_start = start
        self.last = b""

    def read(self, n: int = -1) -> bytes:
        if n == 0:
            return b""
        if self.pos - self.mark > self._limit:
            raise _ItemTooLarge
        data = self._read(n)
        self.last_start, self.last = self.pos, data
        self.pos += len(data)
        return data

    def error_offset(self, message: bytes) -> int:
        """The byte offset of a yajl syntax error (where yajl stopped: at, or a few bytes
        into, the offending token), found by its context in the last chunk.

        yajl's verbose message shows up to 30 bytes either side of the error (newlines as
        spaces) over a caret; the error lies in the chunk parsed last. Falls back to the
        chunk's start when the context cannot be found (or to the end, past the data).
        """
        lines = message.split(b"\n")
        if len(lines) >= 3 and b"^" in lines[2]:
            caret = lines[2].index(b"^")
            before, after = lines[1][:caret].lstrip(b" "), lines[1][caret:]
            if before or after:
                chunk = self.last.replace(b"\n", b" ").replace(b"\r", b" ")
                found = chunk.find(before + after)
                if found >= 0:
                    return self.last_start + found + len(before)
            else:
                return self.pos
        return self.last_start


def _yajl_message(err: Exception) -> bytes:
    text = err.args[0] if err.args else b""
    if isinstance(text, str):
        if text.startswith(("b'", 'b"')):  # ijson gives repr(bytes) when the context is not UTF-8
            try:
                return ast.literal_eval(text)
            except (ValueError, SyntaxError):
                pass
        return text.encode("utf-8", "replace")
    return bytes(text)


class SeenPairs:
    """Open-addressing set of nonzero 64-bit fingerprints, in 8-byte slots, at most 60% full.

        >>> seen = SeenPairs(1000)
        >>> seen.add(hash(("Title", "Content"))), seen.add(hash(("Title", "Content")))
        (True, False)

    ``add`` says whether the fingerprint is new. Memory: 8 bytes a slot, the slots a power
    of two above ``size / 0.6`` (doubling as it fills). Used by ``dedupe`` and the audit.
    """

    _MAX_LOAD = 0.6

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.size = 0
        self._max_slots = 1 << max(4, (int(capacity / self._MAX_LOAD) - 1).bit_length())
        self._alloc(min(1 << 16, self._max_slots))
        self._warned = False

    def _alloc(self, slots: int) -> None:
        self._table = array("Q", bytes(8 * slots))
        self._mask = slots - 1
        self._grow_at = int(slots * self._MAX_LOAD)

    def add(self, fingerprint: int) -> bool:
        """True if the fingerprint is new (and remembered, while there is room)."""
        key = (fingerprint & 0xFFFFFFFFFFFFFFFF) or 1  # 0 marks an empty slot
        table, mask = self._table, self._mask
        i = key & mask
        while True:
            slot = table[i]
            if slot == 0:
                break
            if slot == key:
                return False
            i = (i + 1) & mask
        if self.size >= self.capacity:
            if not self._warned:
                self._warned = True
                warnings.warn(
                    f"dedupe remembers at most {self.capacity:,} distinct pairs; later ones are not deduplicated",
                    RuntimeWarning,
                    stacklevel=3,
                )
            return True
        table[i] = key
        self.size += 1
        if self.size > self._grow_at and len(table) < self._max_slots:
            self._rehash(len(table) * 2)
        return True

    def _rehash(self, slots: int) -> None:
        old = self._table
        self._alloc(slots)
        table, mask = self._table, self._mask
        for key in old:
            if key:
                i = key & mask
                while table[i]:
                    i = (i + 1) & mask
                table[i] = key


class _Bar:
    """A rich progress bar on standard error: MB read (of the file size when known), records, records/s, time."""

    def __init__(self, name: str, total: int | None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            ProgressColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.table import Column
        from rich.text import Text

        class RecordsColumn(ProgressColumn):
            def render(self, task) -> Text:
                records = task.fields.get("records", 0)
                rate = records / task.elapsed if task.elapsed else 0.0
                return Text(f"{records:,} rec {rate:,.0f} rec/s", style="progress.data.speed")

        columns = [TextColumn("[bold]{task.description}")]
        if total:
            columns += [BarColumn(bar_width=20), TaskProgressColumn()]
        columns += [DownloadColumn(), RecordsColumn(table_column=Column(no_wrap=True)), TimeElapsedColumn()]
        self.progress = Progress(*columns, console=Console(stderr=True))
        self.task = self.progress.add_task(Path(name).name or name, total=total, records=0)
        self.progress.start()

    def stop(self, stats: LoadStats) -> None:
        self.progress.update(self.task, completed=stats.bytes_read, records=stats.yielded)
        self.progress.stop()
