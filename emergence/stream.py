"""Stream a corpus one validated, cleaned `Record` at a time, whatever its size.

    >>> import io
    >>> from emergence.stream import stream_records
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

Each JSON Lines line is parsed with orjson, its title and content cleaned with
`clean_text` (through `clean_field`, which skips the full scan for strings the line's
bytes prove clean), then validated by `Record`'s pydantic schema (its pydantic-core
validator called directly: `model_validate` adds a Python wrapper per call). Lines of
other shards and lines skipped by `skip` are counted but never parsed. Lines are read
with `readline(max_line_bytes)`, so an over-long line is dropped in pieces, never held.

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

from emergence.records import LoadError, LoadStats, Record, clean_field, clean_text

__all__ = ["DEDUPE_CAPACITY", "MAX_LINE_BYTES", "RecordStream", "stream_records"]

MAX_LINE_BYTES = 1 << 20
DEDUPE_CAPACITY = 1 << 22
_BUFFER = 1 << 20  # read-ahead of the source and of the decompressed stream
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
        lineno = 0
        try:
            if self._path is not None:
                opened = f = open(self._path, "rb", buffering=0)  # noqa: SIM115 - closed in finally
            else:
                f = self._file  # type: ignore[assignment]
            head = _read_head(f)
            bar = self._start_progress()
            source = io.BufferedReader(_Source(f, head, self._on_read(bar)), _BUFFER)
            compressed = head[:2] == _GZIP_MAGIC
            stream = io.BufferedReader(_Gunzip(source), _BUFFER) if compressed else source
            suffix = "+gzip" if compressed else ""
            try:
                first, skipped, lineno = _sniff(stream)
            except EOFError as err:
                raise LoadError("truncated_gzip", path=self._name, offset=0, detail=str(err)) from None
            except (gzip.BadGzipFile, zlib.error) as err:
                raise LoadError("bad_gzip", path=self._name, offset=0, detail=str(err)) from None
            if first == b"[":
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
            # caller can only look then) and on the way out.
            filtered = stats.filtered
            readline = stream.readline
            limit = self._max_line_bytes
            loads = orjson.loads
            decode_error = orjson.JSONDecodeError
            validate = Record.__pydantic_validator__.validate_python
            drop_empty = self._drop_empty
            seen = _SeenPairs(self._dedupe_capacity) if self._dedupe else None
            rank, world, skip = self._rank, self._world, self._skip
            indexed = world > 1 or skip > 0
            self._init_filters()
            index = -1
            excerpt = b""
            while True:
                line = readline(limit)
                if not line:
                    break
                lineno += 1
                if line[-1] != 10 and len(line) >= limit and _discard_rest(readline, limit):
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
                if line is None:
                    self._reject("line_too_long", excerpt, f"longer than max_line_bytes={limit}", line=lineno)
                    continue
                try:
                    obj = loads(line)
                except decode_error as err:
                    if line.isspace():  # a blank line is not a record
                        read -= 1
                        continue
                    self._reject(_undecodable_reason(line), line, str(err), line=lineno)
                    continue
                if type(obj) is dict:
                    # clean before validating, so a title empty after cleaning fails
                    # (int membership is a bare memchr; `b"\\" in line` first fails an int conversion)
                    escaped = 92 in line or 127 in line  # a backslash or DEL
                    # clean_field's own test, inlined: most strings need no call and no store
                    text = obj.get("title")
                    if type(text) is str and (
                        escaped or not text.isascii() or "&" in text or "  " in text
                        or text[:1] == " " or text[-1:] == " "
                    ):
                        obj["title"] = clean_field(text, escaped)
                    text = obj.get("content")
                    if type(text) is str and text and (
                        escaped or not text.isascii() or "&" in text or "  " in text
                        or text[0] == " " or text[-1] == " "
                    ):
                        obj["content"] = clean_field(text, escaped)
                try:
                    record = validate(obj)
                except ValidationError as err:
                    reason, detail = _reason_of(err)
                    self._reject(reason, line, detail, line=lineno)
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
        except EOFError as err:
            raise LoadError("truncated_gzip", path=self._name, line=lineno + 1, detail=str(err)) from None
        except (gzip.BadGzipFile, zlib.error) as err:
            raise LoadError("bad_gzip", path=self._name, line=lineno + 1, detail=str(err)) from None
        finally:
            if stats.format is not None and stats.format.startswith("jsonl"):
                state["read"] = read
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
        seen = _SeenPairs(self._dedupe_capacity) if self._dedupe else None
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
    """Decompressed bytes of a gzip stream (all members), as they come.

    `read1` hands over what one step decompressed, so an early end of the stream (an
    EOFError) loses only the incomplete tail, never complete lines before it.
    """

    def __init__(self, raw: io.BufferedReader) -> None:
        super().__init__()
        self._gzip = gzip.GzipFile(fileobj=raw, mode="rb")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = self._gzip.read1(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n


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


class _SeenPairs:
    """Open-addressing set of nonzero 64-bit fingerprints, in 8-byte slots, at most 60% full."""

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
