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
"Resuming a gzip corpus"). The index is built in lockstep with a pass that starts at byte 0
(`advance`, on a handle of its own: the pass itself keeps the loader's own `Gunzip`, its
checks and its errors), saved with a checkpoint (`save`, gzip-compressed, with the
corpus's size and spacing in a header line) and read back by the resumed pass
(`reader(offset)`), which decompresses from the point at or below `offset`: at most one
`spacing` of output before its line. A resumed pass cannot check the CRC of the member it
starts in (nobody can without its start); a pass from byte 0 checks every member.
"""
from __future__ import annotations

import gzip
import io
import json
import os
import threading
from pathlib import Path
from collections.abc import Iterator
from typing import Any

__all__ = ["SPACING", "GzipIndex", "IndexUnavailable", "available", "built_along", "index_blocks", "is_gzip"]

SPACING = 4 << 20  # decompressed bytes between access points: ~19 KB of index each (compressed ~7 KB)
_FORMAT = "emergence-gzindex/1"
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


class _Bytes(io.BytesIO):
    mode = "rb"  # indexed_gzip checks the mode of the file object it imports from


class _Reader:
    """An `_IndexedGzipFile` positioned for a resumed pass (at `at`: less than asked at the end of
    the stream), and the handle it reads through."""

    def __init__(self, igz: Any, handle: Any, at: int) -> None:
        self.igz, self.handle, self.at = igz, handle, at

    @property
    def count(self) -> int:
        return self.handle.count

    def read(self, size: int = -1) -> bytes:
        return self.igz.read(size)

    def close(self) -> None:
        if not self.igz.closed:
            self.igz.close()
        self.handle.close()


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
    Methods are safe to call from several threads (a checkpoint saves while the loader reads).
    """

    def __init__(self, source: Any, *, spacing: int = SPACING, saved: str | os.PathLike[str] | None = None,
                 storage: Any = None) -> None:
        try:
            from indexed_gzip.indexed_gzip import _IndexedGzipFile
        except ImportError as err:
            raise IndexUnavailable("indexed_gzip is not installed (pip install 'emergence[train]')") from err
        header, points = _read(Path(saved)) if saved is not None else ({}, None)
        self._make, self.source, self._storage = _IndexedGzipFile, source, storage
        self.spacing = int(header.get("spacing", spacing))
        self._lock = threading.Lock()
        self._handles: list[Any] = []
        self._builder, _ = self._open(None)
        self.size = self._size()
        self.built_to, self.failed = 0, None  # decompressed bytes the points cover; why building stopped
        self.complete = False  # the points reach the end of the stream
        if points is not None:
            if header.get("size") != self.size:
                self.close()
                raise IndexUnavailable(f"{saved} indexes another file ({header.get('size'):,} bytes; this one "
                                       f"has {self.size:,})")
            try:
                self._builder.import_index(fileobj=_Bytes(points))
            except Exception as err:  # noqa: BLE001 - a damaged index is not used
                self.close()
                raise IndexUnavailable(f"{saved}: {err}") from None
            self.built_to = int(header.get("built_to", 0))

    @property
    def points(self) -> int:
        """Access points held."""
        return self._builder.npoints

    def _open(self, data: bytes | None, reading: bool = False) -> Any:
        """An `_IndexedGzipFile` on a handle of its own (with the points in `data`, an export).
        The builder skips CRC checks (the pass's Gunzip makes them); a reader checks the
        members it reads from their start."""
        from emergence.corpus.remote import RemoteFile, is_url

        if is_url(self.source):
            handle: Any = RemoteFile(self.source, self._storage, ahead=2 if reading else 1)
        elif reading:
            handle = open(self.source, "rb")  # noqa: SIM115 - closed by close()
        else:
            handle = None
        if handle is not None:
            handle = _Counting(handle)
            self._handles.append(handle)
        where = {"fileobj": handle} if handle is not None else {"filename": str(self.source), "drop_handles": False}
        igz = self._make(**where, spacing=self.spacing, readbuf_size=_READBUF, skip_crc_check=not reading)
        if data is not None:
            igz.import_index(fileobj=_Bytes(data))
        return igz, handle

    def _size(self) -> int:
        from emergence.corpus.remote import is_url

        if is_url(self.source):
            return int(self._handles[0].raw.size or 0)
        return os.stat(self.source).st_size

    def advance(self, offset: int) -> None:
        """Build points up to decompressed byte `offset` (a no-op where they exist)."""
        if offset <= self.built_to or self.complete or self.failed is not None:
            return
        with self._lock:
            try:
                reached = self._builder.seek(offset)
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
        with self._lock:
            out = io.BytesIO()
            self._builder.export_index(fileobj=out)
            built_to = self.built_to
        header = {"format": _FORMAT, "size": self.size, "spacing": self.spacing, "built_to": built_to}
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as f:
            f.write(json.dumps(header).encode() + b"\n")
            f.write(gzip.compress(out.getvalue(), 1))
        tmp.replace(path)

    def reader(self, offset: int) -> _Reader:
        """A binary file of the decompressed stream from byte `offset`, entered at the point at or
        below it (its `count`: the compressed bytes it read). The caller closes it."""
        self.advance(offset)
        if self.failed is not None:
            raise IndexUnavailable(f"building the index stopped: {self.failed}")
        with self._lock:
            data = io.BytesIO()
            self._builder.export_index(fileobj=data)
        igz, handle = self._open(data.getvalue(), reading=True)
        self._handles.remove(handle)  # the reader closes it
        return _Reader(igz, handle, igz.seek(offset))

    def close(self) -> None:
        with self._lock:
            self._builder.close()
            for handle in self._handles:
                handle.close()
            self._handles = []


def _read(path: Path) -> tuple[dict[str, Any], bytes]:
    """(header, indexed_gzip export) of an index file written by `GzipIndex.save`."""
    try:
        with path.open("rb") as f:
            header = json.loads(f.readline())
            if not isinstance(header, dict) or header.get("format") != _FORMAT:
                raise IndexUnavailable(f"{path} is not an index written by GzipIndex.save")
            return header, gzip.decompress(f.read())
    except (OSError, ValueError, EOFError) as err:
        raise IndexUnavailable(f"{path}: {err}") from None


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
