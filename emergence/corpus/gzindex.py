"""An access-point index of a gzip corpus (`indexed_gzip`), so that a resumed pass starts near its line.

    >>> import gzip, tempfile, pathlib
    >>> from emergence.corpus.gzindex import GzipIndex
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> data = b"".join(b'{"title": "%d"}\\n' % i for i in range(200_000))
    >>> _ = (folder / "c.jsonl.gz").write_bytes(gzip.compress(data))
    >>> index = GzipIndex(folder / "c.jsonl.gz", spacing=1 << 20)
    >>> index.advance(len(data)); index.save(folder / "c.gzidx")
    >>> later = GzipIndex(folder / "c.jsonl.gz", saved=folder / "c.gzidx")
    >>> reader = later.reader(2_000_000)
    >>> reader.read(16) == data[2_000_000:2_000_016], later.points > 1
    (True, True)

A deflate stream cannot be entered mid-way: an access point keeps the 32 KiB of output
before it and the bit where it stands, so decompression can start there. `indexed_gzip`
(zran) builds them; it was measured against `rapidgzip` side by side (benchmarks/README.md,
"Resuming a gzip corpus"). The index is built in step with a pass that starts at byte 0
(`advance`, reading the file a second time: the pass itself keeps the loader's own
`Gunzip`, its checks and its errors), saved with a checkpoint (`save`: gzip-compressed,
the corpus's size and the spacing in a header line) and read back by the resumed pass
(`reader(offset)`), which decompresses from the point at or below `offset`: at most about
one `spacing` of output before its line. A resumed pass checks no CRC (the member it starts
in cannot be checked without its start); the next pass from byte 0 checks every member.
"""
from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["SPACING", "GzipIndex", "IndexUnavailable", "available", "built_along", "index_blocks", "is_gzip"]

SPACING = 4 << 20  # decompressed bytes between access points (32 KiB of window each; ~12 KB saved)
_FORMAT = "emergence-gzindex/1"
_READ = 8 << 20  # decompressed bytes a resumed pass asks zran for at a time
_READBUF = 128 << 10  # compressed bytes zran reads at a time: points are built no further ahead than this


class IndexUnavailable(Exception):
    """The index cannot be used (not installed, for another file, damaged): resume by skipping."""


def available() -> bool:
    """True when indexed_gzip is installed."""
    try:
        import indexed_gzip  # noqa: F401
    except ImportError:
        return False
    return True


def is_gzip(source: Any, storage: Any = None) -> bool:
    """Whether the file at `source` (a path or URL) starts like gzip (its first two bytes)."""
    from emergence.corpus.remote import RemoteFile, is_url

    if is_url(source):
        with RemoteFile(source, storage) as f:
            return f.head(2) == b"\x1f\x8b"
    with open(source, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


class _Reader:
    """The index's decompressor, positioned for a resumed pass (at `at`: less than asked at the
    end of the stream); `count`: the compressed bytes read since."""

    def __init__(self, index: GzipIndex, at: int) -> None:
        self.index, self.at, self._start = index, at, index._handle.count
        self._buf, self._used = b"", 0

    @property
    def count(self) -> int:
        return self.index._handle.count - self._start

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes. zran reads best in long runs inside its points (a short read, or one
        past the last point, inflates from the point again): _READ bytes at a time, the points
        built ahead of them first."""
        if self._used >= len(self._buf):
            index = self.index
            with index._lock:
                at = index._igz.tell()
            index.advance(at + 2 * _READ)
            with index._lock:
                self._buf, self._used = index._igz.read(_READ), 0
        size = len(self._buf) if size is None or size < 0 else size
        out = self._buf[self._used:self._used + size]
        self._used += len(out)
        return out

    def close(self) -> None:
        self.index._reading = False


class _Counting(io.RawIOBase):
    """A binary file that counts the bytes read through it (`count`)."""

    def __init__(self, raw: Any) -> None:
        super().__init__()
        self.raw, self.count = raw, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = self.raw.readinto(b)
        self.count += n or 0
        return n

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.count += len(data)
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()

    def close(self) -> None:
        self.raw.close()
        super().close()


class GzipIndex:
    """The access points of one gzip file, shared by the passes of a training stream.

    source: a path, or a URL read through a `RemoteFile` of its own (with `storage`).
    spacing: decompressed bytes between points. saved: an index file written by `save` (its
    spacing wins); IndexUnavailable when it cannot be read or is of another file.
    One `indexed_gzip` object holds the points and, for a resumed pass, decompresses: the
    points are in memory once (about 32 KiB each). Safe to call from several threads (a
    checkpoint saves while the loader reads).
    """

    def __init__(self, source: Any, *, spacing: int = SPACING, saved: str | os.PathLike[str] | None = None,
                 storage: Any = None) -> None:
        try:
            from indexed_gzip.indexed_gzip import _IndexedGzipFile
        except ImportError as err:
            raise IndexUnavailable("indexed_gzip is not installed (pip install 'emergence[train]')") from err
        from emergence.corpus.remote import RemoteFile, is_url

        header = _header(Path(saved)) if saved is not None else {}
        self.source, self.spacing = source, int(header.get("spacing", spacing))
        self._lock = threading.Lock()
        raw = RemoteFile(source, storage, ahead=1) if is_url(source) else open(source, "rb")  # noqa: SIM115
        self.size = int(raw.size or 0) if is_url(source) else os.fstat(raw.fileno()).st_size
        self._handle = _Counting(raw)
        # no CRC checks: a pass from byte 0 makes them (Gunzip); a resumed pass cannot for its first member
        self._igz = _IndexedGzipFile(fileobj=self._handle, spacing=self.spacing, readbuf_size=_READBUF,
                                     skip_crc_check=True)
        self.built_to, self.failed = 0, None  # decompressed bytes the points cover; why building stopped
        self.complete = False  # the points reach the end of the stream
        self._reading = False  # a resumed pass reads through the points' decompressor
        if saved is not None:
            if header.get("size") != self.size:
                self.close()
                raise IndexUnavailable(f"{saved} indexes another file ({header.get('size'):,} bytes; this one "
                                       f"has {self.size:,})")
            try:
                _import(self._igz, Path(saved))
            except Exception as err:  # noqa: BLE001 - a damaged index is not used
                self.close()
                raise IndexUnavailable(f"{saved}: {err}") from None
            self.built_to = int(header.get("built_to", 0))

    @property
    def points(self) -> int:
        """Access points held."""
        return self._igz.npoints

    def advance(self, offset: int) -> None:
        """Build points up to decompressed byte `offset` (a no-op where they exist)."""
        if offset <= self.built_to or self.complete or self.failed is not None:
            return
        with self._lock:
            at = self._igz.tell() if self._reading else None
            try:
                reached = self._igz.seek(offset)
                if at is not None:  # back to where the resumed pass reads
                    self._igz.seek(at)
            except Exception as err:  # noqa: BLE001 - the pass's own Gunzip reports a damaged stream
                self.failed = f"{type(err).__name__}: {err}"
                return
            self.built_to, self.complete = max(self.built_to, reached), reached < offset

    def save(self, path: str | os.PathLike[str], upto: int | None = None) -> None:
        """Write the index (covering at least `upto` decompressed bytes) to `path`, atomically."""
        if upto is not None:
            self.advance(upto)
        if self.failed is not None:
            raise IndexUnavailable(f"building the index stopped: {self.failed}")
        path = Path(path)
        raw, tmp = path.with_name(path.name + ".raw.tmp"), path.with_name(path.name + ".tmp")
        with self._lock:
            self._igz.export_index(filename=str(raw))
            header = {"format": _FORMAT, "size": self.size, "spacing": self.spacing, "built_to": self.built_to}
        try:
            with tmp.open("wb") as f:
                f.write(json.dumps(header).encode() + b"\n")
                with raw.open("rb") as src, gzip.GzipFile(fileobj=f, mode="wb", compresslevel=1) as out:
                    shutil.copyfileobj(src, out, 1 << 20)
            tmp.replace(path)
        finally:
            raw.unlink(missing_ok=True)

    def reader(self, offset: int) -> _Reader:
        """The decompressed stream from byte `offset`, entered at the point at or below it; one at
        a time (a resumed pass). Its `count`: the compressed bytes it read."""
        self.advance(offset)
        if self.failed is not None:
            raise IndexUnavailable(f"building the index stopped: {self.failed}")
        with self._lock:
            at = self._igz.seek(offset)
            self._reading = True
        return _Reader(self, at)

    def close(self) -> None:
        with self._lock:
            self._igz.close()
            self._handle.close()


def _header(path: Path) -> dict[str, Any]:
    """The header line of an index file written by `GzipIndex.save`."""
    try:
        with path.open("rb") as f:
            header = json.loads(f.readline())
    except (OSError, ValueError) as err:
        raise IndexUnavailable(f"{path}: {err}") from None
    if not isinstance(header, dict) or header.get("format") != _FORMAT:
        raise IndexUnavailable(f"{path} is not an index written by GzipIndex.save")
    return header


def _import(igz: Any, path: Path) -> None:
    """Import the points saved in `path` into `igz` (through a temporary file: never twice in memory)."""
    fd, raw = tempfile.mkstemp(suffix=".gzidx")
    try:
        with path.open("rb") as f, os.fdopen(fd, "wb") as out:
            f.readline()
            with gzip.GzipFile(fileobj=f, mode="rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
        igz.import_index(filename=raw)
    finally:
        os.unlink(raw)


def built_along(data: Iterator[bytes], index: Any) -> Iterator[bytes]:
    """The decompressed blocks of a pass from byte 0, with `index` built up to them as they pass."""
    at = 0
    for block in data:
        at += len(block)
        if at - index.built_to > index.spacing:
            index.advance(at)
        yield block
    index.advance(at + 1)  # to the end: the index is complete


def index_blocks(chunks: Iterator[bytes], handle: Any, stats: Any) -> Iterator[bytes]:
    """indexed_gzip's blocks, its errors as the loader's (Fatal bad_gzip), the compressed bytes
    its `handle` read into `stats.bytes_read`."""
    try:
        for chunk in chunks:
            stats.bytes_read = handle.count
            yield chunk
        stats.bytes_read = handle.count
    except Exception as err:  # noqa: BLE001 - ZranError, CrcError, ... from the C reader
        from emergence.corpus.readers import Fatal
        from emergence.corpus.records import LoadError

        if isinstance(err, (LoadError, Fatal)):
            raise
        raise Fatal("bad_gzip", f"{type(err).__name__}: {err}") from None
