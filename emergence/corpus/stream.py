"""Stream a corpus one validated, cleaned `Record` at a time, whatever its size.

    >>> import io
    >>> from emergence.corpus.stream import stream_records
    >>> data = b'{"uid": "1", "title": "Ages 4&#8211;8", "content": ""}\\nnot json\\n{"title": "B"}\\n'
    >>> stream = stream_records(io.BytesIO(data))
    >>> [r.title for r in stream]
    ['Ages 4–8', 'B']
    >>> stream.stats.rejected, stream.stats.reconciles()
    ({'malformed_json': 1}, True)

One loop reads, validates, cleans, filters, shards and skips; readers hand it raw records:
the lines of JSON Lines, or the items of one top-level JSON array, as bytes (gzip
either way). The format is sniffed from the bytes, never from the file name. Each raw
record is decoded by `msgspec.json.Decoder(Record)`, which parses and checks types in
one C pass; the array reader only finds where items start and end (strings and
nesting), so an item meets exactly the decoder and checks a line meets and both formats
agree record for record. Cleaning runs where a line's bytes say it can be needed: a
printable-ASCII line without `&` or a backslash can only hold runs of spaces.

Where a problem is reported: line and column (bytes) for JSON Lines; item and byte
offset into the decompressed stream for an array; gzip errors name the member.
"""
from __future__ import annotations

import io
import os
import re
import stat
import sys
import tempfile
import warnings
import zlib
from array import array
from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import Any, BinaryIO, Literal

import msgspec

from emergence.corpus.records import MAX_DEPTH, LoadError, LoadStats, Record, clean_field, collapse_spaces

__all__ = ["DEDUPE_CAPACITY", "MAX_LINE_BYTES", "RecordStream", "SeenPairs", "stream_records"]

MAX_LINE_BYTES = 1 << 20
DEDUPE_CAPACITY = 1 << 22
_BLOCK = 1 << 22  # bytes read (and decompressed) at a time
_SPOOL = 1 << 26  # strict gzip from a pipe: compressed bytes held in memory before spilling to disk
_EXAMPLES = 3  # examples kept per reject reason
_EXCERPT = 80  # bytes of a bad record kept in an example
_WS = b" \t\r\n"  # JSON's whitespace: a line of only these is blank
_DECODE = msgspec.json.Decoder(Record).decode
_SYNTAX = msgspec.json.Decoder(msgspec.Raw).decode  # checks JSON syntax (not the UTF-8 of strings) only
_GZIP = b"\x1f\x8b"
_BOMS = ((b"\xff\xfe\0\0", "UTF-32-LE"), (b"\0\0\xfe\xff", "UTF-32-BE"), (b"\xff\xfe", "UTF-16-LE"),
         (b"\xfe\xff", "UTF-16-BE"))


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

    source: a path (a FIFO too), or a binary file object (standard input: `sys.stdin.buffer`).
    policy: "skip" counts each bad record in `stats.rejected` (the first examples in
        `stats.examples`) and goes on; "strict" raises `LoadError` at the first one. A
        stream that is not UTF-8 JSON, corrupt or truncated gzip, and a broken array
        raise `LoadError` under both policies, after the records before them. Under
        "strict" no record of a gzip member whose check fails is yielded: the whole
        gzip stream is checked first (a second decompression; a pipe is held in a
        temporary file, `_SPOOL` bytes of it in memory). Under "skip" the error says how
        many records came from the damaged member.
    drop_empty: drop records whose cleaned content is empty (`filtered["empty_content"]`).
    dedupe: drop a record whose cleaned (title, content) was already yielded
        (`filtered["duplicate"]`), remembered as 64-bit fingerprints in a `SeenPairs`
        of `dedupe_capacity` pairs (64 MiB for the default); past it, later repeats pass
        (with a warning). Within this stream (this shard) only.
    shard: (rank, world_size): yield only records whose index i (0-based, over the
        records of the whole input) has i % world_size == rank; other ranks' records
        are not parsed (`filtered["shard"]`).
    skip: pass over the first `skip` records of the input, unparsed (`filtered["skipped"]`).
        To resume a pass, use the old stream's `stats.read` with the same shard.
    progress: a rich progress bar on standard error; None shows it on a terminal.
    max_line_bytes: the longest line (newline included) or array item read; a longer
        one is rejected ("line_too_long") without being held.
    """
    return RecordStream(source, policy=policy, drop_empty=drop_empty, dedupe=dedupe, shard=shard, skip=skip,
                        progress=progress, max_line_bytes=max_line_bytes, dedupe_capacity=dedupe_capacity)


class RecordStream:
    """An iterable-once stream of `Record`; `stats` (a `LoadStats`) is current whenever it is read.

    Read `stream.stats` again for current counts (the object is brought up to date when
    read, and at the end of the pass). Use it as a context manager, or call `close()`, to
    release the file when stopping early.
    """

    def __init__(self, source, *, policy="skip", drop_empty=False, dedupe=False, shard=None, skip=0,
                 progress=None, max_line_bytes=MAX_LINE_BYTES, dedupe_capacity=DEDUPE_CAPACITY) -> None:
        if policy not in ("skip", "strict"):
            raise ValueError(f"policy must be 'skip' or 'strict', got {policy!r}")
        rank, world = shard or (0, 1)
        if not (isinstance(rank, int) and isinstance(world, int) and 0 <= rank < world):
            raise ValueError(f"shard must be (rank, world_size) with 0 <= rank < world_size, got {shard!r}")
        if not isinstance(skip, int) or skip < 0:
            raise ValueError(f"skip must be a non-negative int, got {skip!r}")
        if max_line_bytes < 2 or dedupe_capacity < 1:
            raise ValueError("max_line_bytes must be at least 2 and dedupe_capacity positive")
        self._path: Path | None = None
        self._file = None
        if isinstance(source, (str, os.PathLike)):
            self._path = Path(source)
            try:
                mode = self._path.stat().st_mode
            except FileNotFoundError:
                raise FileNotFoundError(f"no such corpus file: {self._path}") from None
            if stat.S_ISDIR(mode):
                raise IsADirectoryError(f"{self._path} is a directory, not a corpus file")
            name = str(self._path)
        elif hasattr(source, "read"):
            self._file = source
            name = getattr(source, "name", None)
            name = name if isinstance(name, str) else "<stream>"
        else:
            raise TypeError(f"source must be a path or a binary file object, got {type(source).__name__}")
        self._strict, self._drop_empty, self._dedupe = policy == "strict", drop_empty, dedupe
        self._rank, self._world, self._skip = rank, world, skip
        self._progress, self._limit, self._capacity = progress, max_line_bytes, dedupe_capacity
        self._name = name
        self._iterator: Iterator[Record] | None = None
        self._stats = LoadStats(source=name)
        self._read = self._yielded = 0  # the loop's counts, copied into _stats when it is read

    @property
    def stats(self) -> LoadStats:
        stats = self._stats
        if stats.read != self._read or stats.yielded != self._yielded:
            stats.read, stats.yielded = self._read, self._yielded
        return stats

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

    # -- the one loop -----------------------------------------------------------------

    def _records(self) -> Iterator[Record]:
        stats, filtered = self._stats, self._stats.filtered
        for reason, active in (("empty_content", self._drop_empty), ("duplicate", self._dedupe),
                               ("shard", self._world > 1), ("skipped", self._skip > 0)):
            if active:  # filters in force start at 0: a report shows "0 duplicates"
                filtered[reason] = 0
        seen = SeenPairs(self._capacity) if self._dedupe else None
        drop_empty, filtering = self._drop_empty, self._drop_empty or self._dedupe
        rank, world, skip = self._rank, self._world, self._skip
        indexed = world > 1 or skip > 0
        # the decoder stops at Python's recursion limit (RecursionError, see _failed): lines
        # are measured only where that limit can pass MAX_DEPTH (Python >= 3.12: a C limit)
        deep = 2 * MAX_DEPTH if sys.version_info >= (3, 12) or sys.getrecursionlimit() > MAX_DEPTH else sys.maxsize
        n = blank = yielded = 0  # n: the line (JSON Lines) or item (array) number; read = n - blank
        index = -1
        member = member_n = member_yielded = 0
        decode, collapse, failed = _DECODE, collapse_spaces, self._failed
        bar = reader = gz = None
        files: list[Any] = []
        try:
            reader, gz, bar = self._open(files)
            for batch in reader:
                if gz is not None and gz.member != member:
                    member, member_n, member_yielded = gz.member, n + 1, yielded
                for line in batch:
                    n += 1
                    if indexed:
                        if type(line) is bytes and not line.strip(_WS):
                            blank += 1
                            continue
                        index += 1
                        if index < skip or index % world != rank:
                            filtered["skipped" if index < skip else "shard"] += 1
                            continue
                    try:
                        record = decode(line)
                    except Exception as err:  # noqa: BLE001 - _failed sorts them, re-raising the unexpected
                        failed(reader, line, err, n)
                        if type(line) is bytes and not line.strip(_WS):
                            blank += 1
                        continue
                    title = record.title
                    # ints, not b"&": `bytes in bytes` first tries the needle as an int (raising, clearing a TypeError)
                    if line.isascii() and 0x26 not in line and 0x5C not in line and 0x7F not in line:
                        # its strings are printable ASCII: only runs of spaces and the ends can need work
                        text = title.strip(" ")
                        if "  " in text:
                            text = collapse(text)
                        if text is not title:
                            record.title = title = text
                        content = record.content
                        if content:
                            text = content.strip(" ")
                            if "  " in text:
                                text = collapse(text)
                            if text is not content:
                                record.content = text
                    else:
                        if not self._utf8(reader, line, n):  # the raw extras are not decoded yet
                            continue
                        escaped = 0x5C in line or 0x7F in line
                        record.title = title = clean_field(title, escaped)
                        record.content = clean_field(record.content, escaped)
                    if not title:
                        self._reject(reader, "empty_title", line, n, None, "the title is empty after cleaning")
                        continue
                    if len(line) > deep and _depth(line) > MAX_DEPTH:
                        self._reject(reader, "too_deep", line, n, None, f"nested deeper than {MAX_DEPTH} levels")
                        continue
                    if filtering:
                        if drop_empty and not record.content:
                            filtered["empty_content"] += 1
                            continue
                        if seen is not None and not seen.add(hash((title, record.content))):
                            filtered["duplicate"] += 1
                            continue
                    yielded += 1
                    self._read, self._yielded = n - blank, yielded
                    yield record
            if gz is not None and gz.trailing:
                stats.trailing_bytes = gz.trailing
                warnings.warn(f"{self._name}: {gz.trailing} bytes after the last gzip member are not gzip; "
                              "ignored, as gzip -d does", RuntimeWarning, stacklevel=2)
        except _Fatal as err:
            detail = err.detail
            if gz is not None and err.reason.endswith("gzip"):
                unit = "items" if isinstance(reader, _Items) else "lines"
                detail += (f"; {yielded - member_yielded} records from {unit} {member_n}-{n} of this member were "
                           "yielded" if member_n <= n and not self._strict else "; none of its records were yielded")
            where = {"item" if isinstance(reader, _Items) else "line": n + 1}
            if err.offset is not None:
                where = {"offset": err.offset}
            raise LoadError(err.reason, path=self._name, detail=detail, **where) from None
        finally:
            self._read, self._yielded = n - blank, yielded
            self.stats  # noqa: B018 - brings the LoadStats up to date
            if bar is not None:
                bar.stop(stats)
            for f in files:
                f.close()

    def _failed(self, reader, line, err: Exception, n: int) -> None:
        """Reject a record the decoder refused (a blank line is none)."""
        if type(line) is _TooLong:
            self._reject(reader, "line_too_long", line.excerpt, n, None, f"longer than max_line_bytes={self._limit}")
            return
        if isinstance(err, msgspec.ValidationError):
            try:  # the decoder stops at the first field that does not fit: is the rest JSON?
                _SYNTAX(line)
            except (msgspec.DecodeError, RecursionError) as bad:
                err = bad
        if isinstance(err, RecursionError):  # Python's recursion limit, about 1,000 levels by default
            self._reject(reader, "too_deep", line, n, None, f"nested deeper than the decoder goes ({MAX_DEPTH} at most)")
        elif not isinstance(err, msgspec.DecodeError):
            raise err
        elif not line.strip(_WS) or not self._utf8(reader, line, n):
            return
        elif isinstance(err, msgspec.ValidationError):
            reason, detail = _invalid(str(err))
            self._reject(reader, reason, line, n, None, detail)
        else:
            text = str(err)  # "...: invalid character (byte 11)", or "Input data was truncated"
            match = re.search(r" \(byte (\d+)\)$", text)
            self._reject(reader, "malformed_json", line, n, int(match[1]) + 1 if match else len(line) + 1,
                         text[: match.start()] if match else text)

    def _utf8(self, reader, line: bytes, n: int) -> bool:
        """True if `line` is UTF-8; else it is rejected ("invalid_utf8")."""
        try:
            line.isascii() or line.decode()
        except UnicodeDecodeError as err:
            self._reject(reader, "invalid_utf8", line, n, err.start + 1, str(err))
            return False
        return True

    def _reject(self, reader, reason: str, line: bytes, n: int, column: int | None, detail: str) -> None:
        """Count (and under "strict" raise) one bad record."""
        rejected = self._stats.rejected
        rejected[reason] = rejected.get(reason, 0) + 1
        if isinstance(reader, _Items):
            where = {"item": n, "offset": reader.offset(n) + (column - 1 if column else 0)}
        else:
            where = {"line": n, "column": column} if column else {"line": n}
        if self._strict:
            raise LoadError(reason, path=self._name, detail=detail, **where)
        examples = self._stats.examples.setdefault(reason, [])
        if len(examples) < _EXAMPLES:
            text = line[:_EXCERPT].decode("utf-8", "replace").replace("\r", "\\r").replace("\n", "\\n")
            label = ", ".join(f"{key} {value}" for key, value in where.items())
            examples.append(f"{label}: {text}{'…' if len(line) > _EXCERPT else ''}")

    # -- reading ----------------------------------------------------------------------

    def _open(self, files: list[Any]):
        """(the reader's batches of raw records, the gzip reader or None, the progress bar or None)."""
        if self._path is not None:
            f = open(self._path, "rb", buffering=0)  # noqa: SIM115 - closed by _records
            files.append(f)
        else:
            f = self._file
        start = f.tell() if _seekable(f) else None
        bar = None
        if self._progress or (self._progress is None and sys.stderr.isatty()):
            size = self._path.stat().st_size if self._path is not None else 0
            bar = _Bar(self._name, size or None)
        stats = self._stats

        def counted(blocks: Iterable[bytes]) -> Iterator[bytes]:
            for block in blocks:
                stats.bytes_read += len(block)
                if bar is not None:
                    bar.update(stats.bytes_read, self._yielded)
                yield block

        head, raw = _peek(_blocks(f), lambda head: len(head) >= 2)
        gz = None
        if head[:2] == _GZIP:
            stop = None
            if self._strict:  # check every member first; then read from the start again
                if start is not None:
                    stop = _Gunzip(raw).check()
                    f.seek(start)
                    raw = _blocks(f)
                else:  # a pipe: what was read is kept for the second reading
                    files.append(spool := tempfile.SpooledTemporaryFile(_SPOOL))
                    stop = _Gunzip(_copy(raw, spool)).check()
                    spool.seek(0)
                    raw = _blocks(spool)
            gz = _Gunzip(counted(raw), stop)
            data: Iterator[bytes] = iter(gz)
        else:
            data = counted(raw)
        head, data = _peek(data, lambda head: len(head) >= 4 and head.lstrip(_WS + b"\f\v"))
        if head.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark: dropped
            next(data)
            head = head[3:]
            data = chain([head], data)
        encoding = _encoding(head)
        first = head.lstrip(_WS + b"\f\v")[:1]
        if encoding or first not in (b"{", b"[", b""):
            at = len(head) - len(head.lstrip(_WS + b"\f\v"))
            detail = (f"the stream is {encoding}, not UTF-8: convert it first (iconv -f {encoding.split()[0]} -t UTF-8)"
                      if encoding else f"the stream starts with {head[at:at + 16]!r}, not '{{' (JSON Lines) or '[' "
                      "(a JSON array)")
            raise LoadError("not_json", path=self._name, line=head.count(b"\n", 0, at) + 1, offset=at, detail=detail)
        if first:
            stats.format = ("array" if first == b"[" else "jsonl") + ("+gzip" if gz is not None else "")
        reader = _Items(data, self._limit) if first == b"[" else _lines(data, self._limit)
        return reader, gz, bar


class _Fatal(Exception):
    def __init__(self, reason: str, detail: str, offset: int | None = None) -> None:
        super().__init__(reason, detail, offset)
        self.reason, self.detail, self.offset = reason, detail, offset


class _TooLong:
    """A line or item longer than max_line_bytes: only its first bytes are kept. The decoder
    refuses it (TypeError), so the loop's one except clause finds it."""

    __slots__ = ("excerpt",)

    def __init__(self, excerpt: bytes) -> None:
        self.excerpt = excerpt[:_EXCERPT]


def _seekable(f: Any) -> bool:
    try:
        return bool(f.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _blocks(f: Any) -> Iterator[bytes]:
    """The bytes of `f`, a block at a time: what a read returns (on a pipe, what is there)."""
    read = getattr(f, "read1", None) or f.read
    while True:
        block = read(_BLOCK)
        if isinstance(block, str):
            raise TypeError("source must be a binary file object (for standard input use sys.stdin.buffer)")
        if not block:
            return
        yield block


def _copy(blocks: Iterable[bytes], out: Any) -> Iterator[bytes]:
    for block in blocks:
        out.write(block)
        yield block


def _peek(blocks: Iterator[bytes], enough) -> tuple[bytes, Iterator[bytes]]:
    """The first bytes of `blocks` (joined until `enough(head)` or the end) and all of them again."""
    head = b""
    for block in blocks:
        head += block
        if enough(head):
            break
    return head, chain([head], blocks)


def _encoding(head: bytes) -> str | None:
    """UTF-16 or UTF-32 by a byte-order mark, or by NUL bytes among the first four (RFC 4627, 3)."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return f"{name} (byte-order mark {bom.hex(' ')})"
    four = head[:4]
    if b"\0" not in four:
        return None
    if four.startswith(b"\0\0\0") or four[1:] == b"\0\0\0":
        return ("UTF-32-BE" if four[0] == 0 else "UTF-32-LE") + " (no byte-order mark)"
    if four[:1] == b"\0" or four[1:2] == b"\0":
        return ("UTF-16-BE" if four[0] == 0 else "UTF-16-LE") + " (no byte-order mark)"
    return None


class _Gunzip:
    """Decompressed blocks of a gzip stream, member after member, as `gzip -d` reads it.

    zlib checks each member's CRC and length (`wbits=31`); zero bytes after a member are
    padding; other bytes that do not start a member are counted (`trailing`) and
    ignored. `stop`: the (member, error) that `check()` found: raised when that member
    would start, so nothing of it is yielded.
    """

    def __init__(self, blocks: Iterable[bytes], stop: tuple[int, _Fatal] | None = None) -> None:
        self._blocks, self._stop = iter(blocks), stop
        self.member = self.trailing = 0

    def check(self) -> tuple[int, _Fatal] | None:
        """Read the whole stream; the first member whose check fails, with its error, or None."""
        try:
            for _ in self:
                pass
        except _Fatal as err:
            return self.member, err
        return None

    def __iter__(self) -> Iterator[bytes]:
        blocks = self._blocks
        data, fed = b"", 0  # compressed bytes not yet used; bytes taken from `blocks`
        while True:
            while True:  # between members: padding, another member, trailing bytes or the end
                data = data.lstrip(b"\0")
                if len(data) >= 2 or (more := next(blocks, None)) is None:
                    break
                data += more
                fed += len(more)
            if not data:
                return
            if data[:2] != _GZIP:
                self.trailing = len(data) + sum(len(block) for block in blocks)
                return
            self.member += 1
            where = f"gzip member {self.member} (from compressed byte {fed - len(data)})"
            if self._stop is not None and self._stop[0] == self.member:
                raise self._stop[1]
            inflate = zlib.decompressobj(31)
            try:
                while not inflate.eof:
                    if not data:
                        data = next(blocks, b"")
                        fed += len(data)
                        if not data:
                            if tail := inflate.flush():
                                yield tail
                            if inflate.eof:
                                break
                            raise _Fatal("truncated_gzip", f"{where}: the stream ends before the member's end")
                    out = inflate.decompress(data, _BLOCK)
                    data = inflate.unconsumed_tail
                    if out:
                        yield out
            except zlib.error as err:
                raise _Fatal("bad_gzip", f"{where}: {err}") from None
            data = inflate.unused_data


def _lines(blocks: Iterable[bytes], limit: int) -> Iterator[list]:
    """The lines (newline removed) of the stream, a batch per block; a line longer than
    `limit` with its newline comes as a `_TooLong`, its bytes dropped as they pass."""
    rest, long = b"", None  # the unfinished line, or (once too long) its _TooLong
    for block in blocks:
        lines = block.split(b"\n")
        last = lines.pop()
        if not lines:  # no newline: the line goes on
            if long is None:
                rest += last
                if len(rest) > limit:
                    rest, long = b"", _TooLong(rest)
            continue
        if len(block) > limit and max(map(len, lines)) >= limit:
            lines = [_TooLong(line) if len(line) >= limit else line for line in lines]
        if long is not None:  # the block's first piece ends the long line
            lines[0], long = long, None
        elif rest:
            first = lines[0]
            first = rest + first if type(first) is bytes else rest
            lines[0] = _TooLong(first) if len(first) >= limit or type(lines[0]) is _TooLong else first
        rest = last
        if len(rest) > limit:
            rest, long = b"", _TooLong(rest)
        yield lines
    if long is not None or rest:
        yield [long or rest]


# Inside an item, the bytes up to the next bracket or string that does not end in the
# block (complete strings are passed whole: a bracket in a string is not a bracket).
_INSIDE = re.compile(rb'[^"\[\]{}]*(?:"[^"\\]*(?:\\.[^"\\]*)*"[^"\[\]{}]*)*', re.S)
_STRING = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*', re.S)  # the rest of a string, up to its quote
_TOKEN = re.compile(rb'[^ \t\r\n,\[\]{}"]*')  # a number or a literal
_SPACE = re.compile(rb"[ \t\r\n]*")
_OPENERS, _CLOSERS = re.compile(rb"[\[{]+"), re.compile(rb"[\]}]+")


class _Items:
    """The items of one top-level JSON array, as raw bytes, a batch per block.

    Only strings, nesting and the commas between items are followed; whether an item is
    valid JSON is the decoder's to say, as for a line, so a bad item is rejected and the
    array goes on. A break between items (no comma, content after the array) or the end
    inside the array is fatal. An item longer than `limit` comes as a `_TooLong`.
    """

    def __init__(self, blocks: Iterable[bytes], limit: int) -> None:
        self._blocks, self._limit = blocks, limit
        self._first, self._offsets = 1, []  # the current batch's first item number, and each item's offset

    def offset(self, n: int) -> int:
        return self._offsets[n - self._first]

    def __iter__(self) -> Iterator[list]:
        depth, string, escape, token = 0, False, False, False
        state = "start"  # start, first (after '['), next (after ','), after (an item), done (after ']')
        pieces: list[bytes] = []  # bytes of the open item from earlier blocks
        excerpt = None  # its first bytes, once it is longer than the limit (and pieces are dropped)
        size = start = base = count = 0
        error = None
        for buf in self._blocks:
            end, pos, mark = len(buf), 0, 0
            batch, offsets = [], []
            while pos < end:
                if depth or string or token:  # inside an item
                    if string:
                        if escape:
                            pos, escape = pos + 1, False
                            continue
                        pos = _STRING.match(buf, pos).end()
                        if pos == end:
                            break
                        if buf[pos] == 0x5C:  # a backslash ending the block
                            pos, escape = pos + 1, True
                            continue
                        pos, string = pos + 1, False
                        if depth:
                            continue
                    elif token:
                        pos = _TOKEN.match(buf, pos).end()
                        if pos == end:
                            break
                        token = False
                    else:
                        pos = _INSIDE.match(buf, pos).end()
                        if pos == end:
                            break
                        c = buf[pos]
                        if c == 0x22:
                            string, pos = True, pos + 1
                            continue
                        if c in b"[{":  # a run of brackets at once: deep nesting costs one step
                            stop = _OPENERS.match(buf, pos).end()
                            depth, pos = depth + stop - pos, stop
                            continue
                        stop = _CLOSERS.match(buf, pos).end()
                        if stop - pos < depth:
                            depth, pos = depth - (stop - pos), stop
                            continue
                        pos, depth = pos + depth, 0  # the item ends at its depth-th closer
                    item = buf[mark:pos]
                    if pieces:
                        item = b"".join(pieces) + item
                    if excerpt is not None or len(item) > self._limit:
                        item = _TooLong(item if excerpt is None else excerpt)
                    count += 1
                    batch.append(item)
                    offsets.append(start)
                    state = "after"
                    continue
                pos = _SPACE.match(buf, pos).end()
                if pos == end:
                    break
                c = buf[pos]
                if state == "start" and c == 0x5B:
                    state, pos = "first", pos + 1
                elif state == "after" and c in b",]":
                    state, pos = "next" if c == 0x2C else "done", pos + 1
                elif state == "first" and c == 0x5D:
                    state, pos = "done", pos + 1
                elif state in ("first", "next") and c not in b",]":  # an item starts
                    start, mark, pieces, size, excerpt = base + pos, pos, [], 0, None
                    string, depth, token = c == 0x22, int(c in b"[{"), c not in b'"[{'
                    if not token:
                        pos += 1
                else:
                    what = {"start": "'['", "after": "',' or ']'", "done": "the end after ']'"}.get(state, "an item")
                    error = _Fatal("malformed_array", f"expected {what}, found {buf[pos:pos + 16]!r}", base + pos)
                    break
            if depth or string or token:  # the open item goes on in the next block
                if excerpt is None:
                    pieces.append(buf[mark:])
                    size += end - mark
                    if size > self._limit:
                        excerpt, pieces = b"".join(pieces)[:_EXCERPT], []
                mark = 0
            base += end
            if batch:
                self._first, self._offsets = count - len(batch) + 1, offsets
                yield batch
            if error is not None:  # after the items before it
                raise error
        if state != "done":
            raise _Fatal("truncated_array", "the stream ends inside the JSON array", base)


def _depth(line: bytes) -> int:
    """How deep `line` nests (0 when it has too few brackets to pass MAX_DEPTH: the common, quick answer)."""
    if line.count(b"[") + line.count(b"{") <= MAX_DEPTH:
        return 0
    depth = deepest = 0
    for match in re.finditer(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', line, re.S):
        c = match[0][0]
        if c in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c != 0x22:
            depth -= 1
    return deepest


def _invalid(message: str) -> tuple[str, str]:
    """(reason, detail) of a record the decoder parsed but whose fields do not fit `Record`."""
    field = message.rsplit(" - at `$.", 1)[1].rstrip("`") if " - at `$." in message else None
    text = message.split(" - at `", 1)[0]
    if field is None and text.startswith("Expected `object`"):
        got = text.rsplit("`", 2)[1]
        return "not_object", f"a JSON {_JSON_TYPES.get(got, got)}, not an object"
    if "missing required field `title`" in text or (field == "title" and "got `null`" in text):
        return "missing_title", "no title"
    return "wrong_type", f"{field}: {text}"


_JSON_TYPES = {"str": "string", "int": "number", "float": "number", "bool": "boolean"}


class SeenPairs:
    """Open-addressing set of nonzero 64-bit fingerprints, in 8-byte slots, at most 60% full.

        >>> seen = SeenPairs(1000)
        >>> seen.add(hash(("Title", "Content"))), seen.add(hash(("Title", "Content")))
        (True, False)

    ``add`` says whether the fingerprint is new. Memory: 8 bytes a slot, the slots a power
    of two above ``size / 0.6`` (doubling as it fills). Past ``capacity`` new fingerprints
    are not remembered (a warning says so). Two pairs share a fingerprint with probability
    about n**2 / 2**65 over n pairs. Used by ``dedupe`` and the audit.
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
                warnings.warn(f"dedupe remembers at most {self.capacity:,} distinct pairs; later ones are not "
                              "deduplicated", RuntimeWarning, stacklevel=3)
            return True
        table[i] = key
        self.size += 1
        if self.size > self._grow_at and len(table) < self._max_slots:
            old = table
            self._alloc(len(table) * 2)
            table, mask = self._table, self._mask
            for key in old:
                if key:
                    i = key & mask
                    while table[i]:
                        i = (i + 1) & mask
                    table[i] = key
        return True


class _Bar:
    """A rich progress bar on standard error: MB read (of the file size when known), records, records/s, time."""

    def __init__(self, name: str, total: int | None) -> None:
        from rich.console import Console
        from rich.progress import (BarColumn, DownloadColumn, Progress, ProgressColumn, TaskProgressColumn,
                                   TextColumn, TimeElapsedColumn)
        from rich.text import Text

        class Records(ProgressColumn):
            def render(self, task) -> Text:
                records = task.fields.get("records", 0)
                rate = records / task.elapsed if task.elapsed else 0.0
                return Text(f"{records:,} rec {rate:,.0f} rec/s", style="progress.data.speed")

        columns = [TextColumn("[bold]{task.description}")]
        if total:
            columns += [BarColumn(bar_width=20), TaskProgressColumn()]
        columns += [DownloadColumn(), Records(), TimeElapsedColumn()]
        self.progress = Progress(*columns, console=Console(stderr=True))
        self.task = self.progress.add_task(Path(name).name or name, total=total, records=0)
        self.progress.start()

    def update(self, done: int, records: int) -> None:
        self.progress.update(self.task, completed=done, records=records)

    def stop(self, stats: LoadStats) -> None:
        self.update(stats.bytes_read, stats.yielded)
        self.progress.stop()
