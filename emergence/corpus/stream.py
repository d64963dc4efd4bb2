"""Stream a corpus one validated, cleaned `Record` at a time, whatever its size.

    >>> import io
    >>> from emergence.corpus.stream import stream_records
    >>> data = b'{"uid": "1", "title": "Ages 4&#8211;8", "content": ""}\\nnot json\\n{"title": "B"}\\n'
    >>> stream = stream_records(io.BytesIO(data))
    >>> [r.title for r in stream]
    ['Ages 4–8', 'B']
    >>> stream.stats.rejected, stream.stats.reconciles()
    ({'malformed_json': 1}, True)

One loop decodes, validates, cleans, filters, shards and skips the raw records that a
reader hands it: the lines of JSON Lines, or the items of one JSON array, as bytes,
either gzipped; the format is sniffed from the bytes. A source may be a URL (s3://, gs://,
hf://, https://, fsspec chains: `emergence.corpus.remote`), read through range requests
that are retried where they stopped. `msgspec.json.Decoder(Record)`
parses and checks types in one C pass. The array reader only finds where items end
(following strings and nesting), so an item meets the decoder and checks a line meets:
the formats agree record for record. Cleaning runs where a line's bytes say it can be
needed: in a printable-ASCII line without `&` or a backslash only spaces can need work.
Problems are reported by line and column (bytes), or by array item and byte offset
into the decompressed stream; gzip errors name the member. With `positions=True` the stream
knows the byte offset of each line (`position()`), so a pass can resume there (`resume=`):
a seek for JSON Lines, an access point of a `GzipIndex` for gzip, skipping otherwise.
"""
from __future__ import annotations

import os
import re
import stat
import sys
import tempfile
import warnings
from collections.abc import Iterable, Iterator, Mapping
from itertools import chain
from pathlib import Path
from typing import Any, BinaryIO, Literal, NamedTuple

import msgspec

from emergence.corpus.readers import (EXCERPT, JSON_WS, ArrayItems, Fatal, Gunzip, TooLong, blocks, encoding,
                                      json_lines, peek)
from emergence.corpus.records import MAX_DEPTH, LoadError, LoadStats, Record, clean_field, collapse_spaces
from emergence.corpus.urls import is_url
from emergence.corpus.seen import SeenPairs

__all__ = ["DEDUPE_CAPACITY", "MAX_LINE_BYTES", "RecordStream", "SeenPairs", "StreamPosition", "record_from",
           "stream_records"]

MAX_LINE_BYTES = 1 << 20
DEDUPE_CAPACITY = 1 << 22
_SPOOL = 1 << 26  # strict gzip from a pipe: compressed bytes kept in memory before spilling to disk
_EXAMPLES = 3  # examples kept per reject reason
_DECODE = msgspec.json.Decoder(Record).decode
_SYNTAX = msgspec.json.Decoder(msgspec.Raw).decode  # checks JSON syntax only (not the UTF-8 of strings)


class StreamPosition(NamedTuple):
    """Where a pass stands after a record: enough to resume it there (`stream_records(resume=...)`)."""

    read: int  # records read so far (stats.read): what skip= would pass over
    line: int  # lines (or array items) passed, blank lines included
    offset: int | None  # byte offset of the next line in the (decompressed) stream; None for a JSON array


class RecordStream:
    """An iterable-once stream of `Record`s; `stats` (a `LoadStats`) is brought up to date
    when read, and at the end of the pass. Use it as a context manager, or call
    `close()`, to release the file when stopping early. Made by `stream_records`."""

    def __init__(self, source: str | os.PathLike[str] | BinaryIO, *, policy: Literal["skip", "strict"] = "skip",
                 drop_empty: bool = False, dedupe: bool = False, shard: tuple[int, int] | None = None, skip: int = 0,
                 progress: bool | None = None, max_line_bytes: int = MAX_LINE_BYTES,
                 dedupe_capacity: int = DEDUPE_CAPACITY, storage: Any = None, retry: Any = None,
                 positions: bool = False, resume: StreamPosition | None = None, gzip_index: Any = None) -> None:
        """Records of a JSON Lines or JSON-array corpus (plain or gzip), one at a time.

        source: a path (a FIFO too), a URL (`emergence.corpus.remote`: s3://, gs://, hf://,
            https://, file://, fsspec chains), or a binary file object (`sys.stdin.buffer`).
        policy: "skip" counts each bad record in `stats.rejected` (the first examples in
            `stats.examples`) and goes on; "strict" raises `LoadError` at the first one. A
            stream that is not UTF-8 JSON, corrupt or truncated gzip and a broken array
            raise under both policies, after the records before them. Under "strict" no
            record of a gzip member whose check fails is yielded (the stream is checked
            first: a second decompression; a pipe is kept in a temporary file); under
            "skip" the error says how many records came from the damaged member.
        drop_empty: drop records whose cleaned content is empty (`filtered["empty_content"]`).
        dedupe: drop a record whose cleaned (title, content) was already yielded
            (`filtered["duplicate"]`), remembered as 64-bit fingerprints in a `SeenPairs` of
            `dedupe_capacity` pairs (64 MiB for the default; later repeats pass, with a
            warning). Within this stream (this shard) only.
        shard: (rank, world_size): yield only records whose index i (over the records of
            the whole input) has i % world_size == rank; others are not parsed (`filtered["shard"]`).
        skip: pass over the first `skip` records, unparsed (`filtered["skipped"]`); to
            resume a pass, use the old stream's `stats.read` with the same shard.
        progress: a rich progress bar on standard error; None shows it on a terminal.
        max_line_bytes: the longest line (newline included) or array item; a longer one is
            rejected ("line_too_long") without being held.
        storage: `StorageOptions` for a URL (default: those a `CorpusURL` carries, else
            fsspec's and the cloud SDK's own configuration); retry: its `Retry` back-off.
        positions: keep each line's byte offset, for `position()`.
        resume: a `position()` of an earlier pass over the same file (same shard): start
            after it. JSON Lines seek to its offset (gzip: through `gzip_index`); otherwise
            the records before it are skipped as `skip` does. Either way they count as
            `filtered["skipped"]`; `resumed_by` says which way was taken.
        gzip_index: a `GzipIndex` of this gzip file: built in step with a pass from byte 0,
            entered at the point below `resume`'s offset.
        """
        rank, world = shard or (0, 1)
        if policy not in ("skip", "strict"):
            raise ValueError(f"policy must be 'skip' or 'strict', got {policy!r}")
        if not (isinstance(rank, int) and isinstance(world, int) and 0 <= rank < world):
            raise ValueError(f"shard must be (rank, world_size) with 0 <= rank < world_size, got {shard!r}")
        if not isinstance(skip, int) or skip < 0:
            raise ValueError(f"skip must be a non-negative int, got {skip!r}")
        if max_line_bytes < 2 or dedupe_capacity < 1:
            raise ValueError("max_line_bytes must be at least 2 and dedupe_capacity positive")
        if resume is not None:
            if skip not in (0, resume.read):
                raise ValueError(f"skip={skip} contradicts resume (at record {resume.read})")
            skip, positions = resume.read, True
        self._path, self._file, self._url = None, None, None
        if is_url(source):
            from emergence.corpus.urls import display_url

            self._url, name = source, display_url(source)
        elif isinstance(source, (str, os.PathLike)):
            self._path = Path(source)
            try:
                mode = self._path.stat().st_mode
            except FileNotFoundError:
                raise FileNotFoundError(f"no such corpus file: {self._path}") from None
            if stat.S_ISDIR(mode):
                raise IsADirectoryError(f"{self._path} is a directory, not a corpus file")
            name = str(self._path)
        elif hasattr(source, "read"):
            self._file, name = source, getattr(source, "name", None)
            name = name if isinstance(name, str) else "<stream>"
        else:
            raise TypeError(f"source must be a path or a binary file object, got {type(source).__name__}")
        self._strict, self._drop_empty, self._dedupe = policy == "strict", drop_empty, dedupe
        self._rank, self._world, self._skip = rank, world, skip
        self._progress, self._limit, self._capacity, self._name = progress, max_line_bytes, dedupe_capacity, name
        self._storage, self._retry, self._index = storage, retry, gzip_index
        self._positions, self._resume = positions, resume
        self.resumed_by: str | None = None  # "offset", "index" or "skip" once a resumed pass has opened
        self._iterator: Iterator[Record] | None = None
        self._stats = LoadStats(source=name)
        self._read = self._yielded = 0  # the loop's counts, copied into _stats when it is read
        self._at: tuple[int, int | None] = (0, 0)  # (line, offset) after the last record yielded
        self._remote: Any = None  # the RemoteFile of a URL (its retries go into stats)
        self._origin = 0  # the byte offset of the first line (3 after a UTF-8 byte-order mark)

    @property
    def stats(self) -> LoadStats:
        stats = self._stats
        if stats.read != self._read or stats.yielded != self._yielded:
            stats.read, stats.yielded = self._read, self._yielded
        if self._remote is not None and stats.retries != self._remote.retries:
            stats.retries, stats.retry_log = self._remote.retries, list(self._remote.retry_log)
        return stats

    def position(self) -> StreamPosition:
        """Where the pass stands after the last record yielded (`positions=True` for the offset)."""
        line, offset = self._at
        return StreamPosition(self._read, line, offset if self._positions else None)

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

    def _records(self) -> Iterator[Record]:
        stats, filtered = self._stats, self._stats.filtered
        for reason, active in (("empty_content", self._drop_empty), ("duplicate", self._dedupe),
                               ("shard", self._world > 1), ("skipped", self._skip > 0)):
            if active:  # filters in force start at 0: a report shows "0 duplicates"
                filtered[reason] = 0
        seen = SeenPairs(self._capacity) if self._dedupe else None
        drop_empty, filtering = self._drop_empty, self._drop_empty or self._dedupe
        rank, world, skip = self._rank, self._world, self._skip
        tracking = keep = self._positions
        indexed = world > 1 or skip > 0 or tracking
        # the decoder stops at Python's recursion limit (see _failed); lines are measured
        # only where that limit can pass MAX_DEPTH (Python >= 3.12 has a C limit of its own)
        deep = 2 * MAX_DEPTH if sys.version_info >= (3, 12) or sys.getrecursionlimit() > MAX_DEPTH else sys.maxsize
        n = blank = yielded = 0  # n: the line (or item) number; read = n - blank
        index, member, member_n, member_yielded = -1, 0, 0, 0
        offset = 0  # with tracking: the byte offset of the next line
        decode, collapse, failed = _DECODE, collapse_spaces, self._failed
        bar = reader = gz = None
        files: list[Any] = []
        try:
            reader, gz, bar, start = self._open(files)
            offset = self._origin
            if start is not None:  # resumed at a line: the records before it are skipped, unread
                n, offset = start.line, start.offset
                blank, index = start.line - start.read, start.read - 1
                filtered["skipped"] += start.read
            if isinstance(reader, ArrayItems):
                tracking = False  # offsets are of lines
            self._at = (n, offset if tracking else None)
            for batch in reader:
                if gz is not None and gz.member != member:  # a new gzip member: its records start here
                    member, member_n, member_yielded = gz.member, n + 1, yielded
                for line in batch:
                    n += 1
                    if indexed:
                        if tracking:
                            offset += (len(line) if type(line) is bytes else line.size) + 1
                        if type(line) is bytes and not line.strip(JSON_WS):
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
                        if type(line) is bytes and not line.strip(JSON_WS):
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
                    if keep:
                        self._at = (n, offset if tracking else None)
                    yield record
            if gz is not None and gz.trailing:
                stats.trailing_bytes = gz.trailing
                warnings.warn(f"{self._name}: {gz.trailing} bytes after the last gzip member are not gzip; "
                              "ignored, as gzip -d does", RuntimeWarning, stacklevel=2)
        except Fatal as err:
            unit = "item" if isinstance(reader, ArrayItems) else "line"
            detail = err.detail
            if err.reason.endswith("gzip"):
                detail += (f"; {yielded - member_yielded} records from {unit}s {member_n}-{n} of this member were "
                           "yielded" if member_n <= n and not self._strict else "; none of its records were yielded")
            where = {"offset": err.offset} if err.offset is not None else {unit: n + 1}
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
        if type(line) is TooLong:
            self._reject(reader, "line_too_long", line.excerpt, n, None, f"longer than max_line_bytes={self._limit}")
            return
        if isinstance(err, msgspec.ValidationError):
            try:  # the decoder stops at the first field that does not fit: is the rest JSON?
                _SYNTAX(line)
            except (msgspec.DecodeError, RecursionError) as bad:
                err = bad
        if isinstance(err, RecursionError):  # Python's recursion limit: about 1,000 levels by default
            self._reject(reader, "too_deep", line, n, None, "nested deeper than the decoder goes")
        elif not isinstance(err, msgspec.DecodeError):
            raise err
        elif not line.strip(JSON_WS) or not self._utf8(reader, line, n):
            return
        elif isinstance(err, msgspec.ValidationError):
            reason, detail = _invalid(str(err))
            self._reject(reader, reason, line, n, None, detail)
        else:
            text = str(err)  # "JSON is malformed: invalid character (byte 11)", or "Input data was truncated"
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
        self._stats.rejected[reason] = self._stats.rejected.get(reason, 0) + 1
        if isinstance(reader, ArrayItems):  # the offset of the column, or of the item's first byte
            at = column - 1 if column else len(line) - len(line.lstrip(JSON_WS))
            where = {"item": n, "offset": reader.offset(n) + at}
        else:
            where = {"line": n, "column": column} if column else {"line": n}
        if self._strict:
            raise LoadError(reason, path=self._name, detail=detail, **where)
        examples = self._stats.examples.setdefault(reason, [])
        if len(examples) < _EXAMPLES:
            text = line[:EXCERPT].decode("utf-8", "replace").replace("\r", "\\r").replace("\n", "\\n")
            label = ", ".join(f"{key} {value}" for key, value in where.items())
            examples.append(f"{label}: {text}{'…' if len(line) > EXCERPT else ''}")

    def _open(self, files: list[Any]):
        """(the reader's batches of raw records, the gzip reader or None, the progress bar or None,
        the StreamPosition the records start after or None)."""
        if self._url is not None:
            from emergence.corpus.remote import RemoteFile

            files.append(f := RemoteFile(self._url, self._storage, retry=self._retry))
            self._remote = f
        elif self._path is not None:
            files.append(f := open(self._path, "rb", buffering=0))  # noqa: SIM115 - closed by _records
        else:
            f = self._file
        try:  # where to come back to for a second reading (strict gzip)
            start = f.tell() if f.seekable() else None
        except (AttributeError, OSError, ValueError):
            start = None
        bar, stats = None, self._stats
        if self._progress or (self._progress is None and sys.stderr.isatty()):
            size = f.size if self._remote is not None else self._path.stat().st_size if self._path is not None else 0
            from emergence.corpus.progress import PassBar

            bar = PassBar(self._name, size or None)

        def counted(raw: Iterable[bytes]) -> Iterator[bytes]:
            for block in raw:
                stats.bytes_read += len(block)
                if bar is not None:
                    bar.update(stats.bytes_read, self._yielded)
                yield block

        resume = self._resume
        if resume is not None and resume.offset is not None and resume.read and start is not None:
            opened = self._resumed(f, files, counted, resume)
            if opened is not None:
                return (*opened, bar, resume)
        head, raw = peek(f.chunks() if self._remote is not None else blocks(f), lambda head: len(head) >= 2)
        gz = None
        if head[:2] == b"\x1f\x8b":
            stop = None
            if self._strict and start is not None:  # check every member first, then read again
                stop = Gunzip(raw).check()
                f.seek(start)
                raw = blocks(f)
            elif self._strict:  # a pipe: what was read is kept for the second reading
                files.append(spool := tempfile.SpooledTemporaryFile(_SPOOL))
                stop = Gunzip(spool.write(block) and block for block in raw).check()
                spool.seek(0)
                raw = blocks(spool)
            data = iter(gz := Gunzip(counted(raw), stop))
            if self._index is not None:
                from emergence.corpus.gzindex import built_along

                data = built_along(data, self._index)
        else:
            data = counted(raw)
        if resume is not None and resume.read:
            self.resumed_by = "skip"
        head, data = peek(data, lambda head: len(head) >= 4 and head.lstrip(JSON_WS + b"\f\v"))
        if head.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark: dropped (line offsets start after it)
            next(data)
            head, self._origin = head[3:], 3
            data = chain([head], data)
        utf, first = encoding(head), head.lstrip(JSON_WS + b"\f\v")[:1]
        if utf or first not in (b"{", b"[", b""):
            at = len(head) - len(head.lstrip(JSON_WS + b"\f\v"))
            detail = (f"the stream is {utf}, not UTF-8: convert it first (iconv -f {utf.split()[0]} -t UTF-8)"
                      if utf else f"it starts with {head[at:at + 16]!r}, not '{{' (JSON Lines) or '[' (an array)")
            raise LoadError("not_json", path=self._name, line=head.count(b"\n", 0, at) + 1, offset=at, detail=detail)
        if first:
            stats.format = ("array" if first == b"[" else "jsonl") + ("+gzip" if gz is not None else "")
        return (ArrayItems(data, self._limit) if first == b"[" else json_lines(data, self._limit)), gz, bar, None

    def _resumed(self, f: Any, files: list[Any], counted, resume: StreamPosition):
        """(JSON Lines from `resume.offset` on, None) when the file can be entered there: a seek, or
        a gzip access point; None when the pass must skip from the start instead."""
        if self._remote is not None:
            magic = f.head(2)
        else:
            magic = f.read(2)
            f.seek(0)
        gzipped = magic == b"\x1f\x8b"
        if gzipped:
            if self._index is None:
                return None
            from emergence.corpus.gzindex import IndexUnavailable, index_blocks

            try:
                reader = self._index.reader(resume.offset - 1)
            except IndexUnavailable as err:
                warnings.warn(f"{self._name}: the gzip index cannot be used ({err}); the records before the "
                              "resume point are read and skipped", RuntimeWarning, stacklevel=3)
                return None
            files.append(reader)
            raw, end = index_blocks(blocks(reader), reader, self._stats), reader.at
        else:
            end = f.seek(0, os.SEEK_END) if self._remote is None else f.size
            f.seek(resume.offset - 1)
            raw = counted(blocks(f))
        first = next(raw, b"")
        if not first and end == resume.offset - 1:  # after a last line without a newline: nothing is left
            pass
        elif first[:1] != b"\n":
            raise LoadError("resume_mismatch", path=self._name, offset=resume.offset, detail=(
                f"the line before byte {resume.offset:,} does not end there: the file is not the one the "
                "position was taken from"))
        self.resumed_by = "index" if gzipped else "offset"
        self._stats.format = "jsonl+gzip" if gzipped else "jsonl"
        return json_lines(chain([first[1:]], raw), self._limit), None


stream_records = RecordStream  # the public name: stream_records(source, ...) makes a RecordStream


def _depth(line: bytes) -> int:
    """How deep `line` nests (0 when it has too few brackets to pass MAX_DEPTH: the quick, common answer)."""
    if line.count(b"[") + line.count(b"{") <= MAX_DEPTH:
        return 0
    depth = deepest = 0
    for match in re.finditer(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', line, re.S):
        if match[0] in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif match[0] in (b"]", b"}"):
            depth -= 1
    return deepest


def _invalid(message: str) -> tuple[str, str]:
    """(reason, detail) of a record that is JSON but does not fit `Record`, from the decoder's message."""
    field = message.rsplit(" - at `$.", 1)[1].rstrip("`") if " - at `$." in message else None
    text = message.split(" - at `", 1)[0]
    if field is None and text.startswith("Expected `object`"):
        got = text.rsplit("`", 2)[1]
        return "not_object", f"a JSON {dict(str='string', int='number', float='number', bool='boolean').get(got, got)}"
    if "missing required field `title`" in text or (field == "title" and "got `null`" in text):
        return "missing_title", "no title"
    return "wrong_type", f"{field}: {text}"


def record_from(data: Mapping[str, Any]) -> Record:
    """The record the loader makes of a line holding ``data`` (cleaned, validated); LoadError
    if it rejects it.

        >>> record_from({"uid": "7", "title": "War &amp; Peace"}).title
        'War & Peace'
    """
    import io

    line = msgspec.json.encode(dict(data))
    return next(iter(stream_records(io.BytesIO(line), policy="strict", progress=False)))
