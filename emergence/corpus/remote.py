"""Corpora at URLs (s3://, gs://, hf://, https://, file://, fsspec chains) read like a local file.

    >>> from emergence.corpus.remote import CorpusURL, StorageOptions, corpus_source, display_url, is_url
    >>> is_url("s3://bucket/trn.json.gz"), is_url("simplecache::s3://b/k"), is_url("trn.json"), is_url("C:\\\\trn.json")
    (True, True, False, False)
    >>> display_url("https://user:secret@host/trn.json?X-Amz-Signature=abc")
    'https://host/trn.json?…'
    >>> url = corpus_source("s3://bucket/trn.json.gz", StorageOptions(profile="lab", anonymous=False))
    >>> url, type(url).__name__, url.storage
    ('s3://bucket/trn.json.gz', 'CorpusURL', StorageOptions(***))

`RemoteFile` is what `stream_records` reads a URL through: a seekable binary file whose
bytes come from `fsspec` range requests (`cat_file(path, start, end)`, CHUNK bytes each),
fetched a few chunks ahead by a thread so the network overlaps the parse. A request that
fails (a dropped connection, a timeout, 429/5xx) is asked again from the same byte, half
as long, after an exponential back-off (longer on 429/503, or what Retry-After says): the
stream goes on at the byte where it stopped, so nothing is yielded twice or skipped. After `Retry.tries`
failures in a row it raises `LoadError("read_failed")` naming the URL and byte offset. A
retry first checks that the object is the one it started reading (size, ETag, mtime).
Gzip and the format are sniffed from the bytes, as for a local file (a leading `gzip::`
is accepted and dropped). Storage options (`StorageOptions`) come from the config, go
to fsspec, and are never shown: their values are masked in every message.
"""
from __future__ import annotations

import asyncio
import collections
import io
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic_core import core_schema

from emergence.corpus.records import LoadError
from emergence.corpus.retry import Retry, status_of, transient
from emergence.corpus.storage import BACKENDS, StorageOptions
from emergence.corpus.urls import display_url, is_url
from emergence.handoff import put_unless_stopped

__all__ = ["CHUNK", "MIN_CHUNK", "CorpusURL", "RemoteFile", "Retry", "StorageOptions", "corpus_source", "display_url",
           "identity", "is_url"]

CHUNK = 2 << 20  # bytes a range request asks for (why not more: benchmarks/README.md, "Corpora at URLs")
MIN_CHUNK = 64 << 10  # the shortest request after failures (each halves it)
_COMPRESSION = re.compile(r"^(gzip|gz|bz2|xz|lzma|zstd|zip)(?:://[^:]*)?::", re.I)


class CorpusURL(str):
    """A corpus URL together with the `StorageOptions` to open it. `str()` and `repr()` are the URL."""

    storage: StorageOptions | None

    def __new__(cls, url: str, storage: StorageOptions | None = None) -> CorpusURL:
        if not is_url(url):
            raise ValueError(f"not a URL: {url!r}")
        self = super().__new__(cls, str(url))
        self.storage = storage
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return CorpusURL, (str(self), self.storage)

    @property
    def name(self) -> str:
        """The last part of the URL's path (as `Path.name`)."""
        return display_url(self).rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]

    def is_file(self) -> bool:
        """True when the URL names an object, False when there is none (as `Path.is_file`)."""
        try:
            RemoteFile(self, self.storage).close()
        except (FileNotFoundError, IsADirectoryError):
            return False
        return True

    def is_dir(self) -> bool:
        """True when the URL names a folder (a prefix) rather than an object (as `Path.is_dir`)."""
        try:
            RemoteFile(self, self.storage).close()
        except IsADirectoryError:
            return True
        except FileNotFoundError:
            return False
        return False

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> core_schema.CoreSchema:
        def validate(value: Any) -> CorpusURL:
            if isinstance(value, CorpusURL):
                return value
            if is_url(value):
                return CorpusURL(value)
            raise ValueError("not a URL")

        return core_schema.no_info_plain_validator_function(validate, serialization=core_schema.to_string_ser_schema())


def corpus_source(value: str | Path, storage: StorageOptions | None = None) -> Path | CorpusURL:
    """A `CorpusURL` carrying `storage` for a URL, else the path (user home expanded)."""
    if is_url(value):
        return CorpusURL(str(value), storage if storage is not None else getattr(value, "storage", None))
    return Path(value).expanduser()


def _filesystem(url: str, storage: StorageOptions | None) -> tuple[Any, str]:
    """(fsspec filesystem, path) for `url`; LoadError for an unknown scheme or a missing backend."""
    import fsspec.core

    name = display_url(url)
    match = _COMPRESSION.match(url)
    if match:
        if match[1].lower() not in ("gzip", "gz"):
            raise LoadError("bad_url", path=name, detail=f"{match[1]} compression is not read: gzip only (sniffed "
                            "from the bytes), or decompress it first")
        url = url[match.end():]
    protocol = url.split("::")[-1].split("://", 1)[0].lower() if "://" in url else "file"
    try:
        options = storage.fsspec_options(protocol) if storage is not None else {}
        if "::" in url and options:  # a chain: the options are the innermost (storage) filesystem's
            options = {protocol: options}
        return fsspec.core.url_to_fs(url, **options)
    except ImportError as err:
        extra = {"s3": "s3", "gcs": "gcs", "hf": "hf", "http": "http"}.get(BACKENDS.get(protocol, ""), None)
        hint = f"pip install 'emergence[{extra}]'" if extra else "install the fsspec backend it names"
        raise LoadError("missing_backend", path=name, detail=f"{protocol}:// needs a package that is not "
                        f"installed ({_redact(str(err), storage)}): {hint}") from None
    except ValueError as err:
        raise LoadError("bad_url", path=name, detail=_redact(str(err), storage)) from None


def _redact(text: str, storage: StorageOptions | None) -> str:
    for secret in storage.secrets() if storage is not None else ():
        text = text.replace(secret, "***")
    return text


def _tag(info: dict[str, Any]) -> tuple[Any, ...]:
    """What identifies one version of an object: size, ETag (or checksum), modification time."""
    keys = ("size", "ETag", "etag", "md5Hash", "crc32c", "LastModified", "mtime", "updated", "last_commit")
    return tuple(str(info.get(k)) for k in keys)


def identity(url: str, storage: StorageOptions | None = None, *, missing_ok: bool = False) -> dict[str, Any]:
    """What identifies the object at `url` cheaply (the stage table's corpus fingerprint): the URL
    (as shown), size, ETag and modification time from fsspec's `info()`; never the storage options.
    With `missing_ok`, an object that is not there is {"url": ..., "missing": True}."""
    try:
        f = RemoteFile(url, storage if storage is not None else getattr(url, "storage", None))
    except FileNotFoundError:
        if missing_ok:
            return {"url": display_url(url), "missing": True}
        raise
    f.close()
    info = f.info
    etag = next((info[k] for k in ("ETag", "etag", "md5Hash", "crc32c") if info.get(k)), None)
    mtime = next((info[k] for k in ("LastModified", "mtime", "updated", "last_modified") if info.get(k)), None)
    return {"url": display_url(url), "bytes": info.get("size"), "etag": None if etag is None else str(etag),
            "mtime": None if mtime is None else str(mtime)}


_END = object()


class RemoteFile(io.RawIOBase):
    """A read-only, seekable binary file over a URL: range requests of `chunk` bytes, up to
    `ahead` of them fetched by a thread ahead of the reader, each retried under `retry`.

    `retries` counts the failed requests that were asked again; `retry_log` keeps the first
    few ("byte N: error"). `info` is fsspec's `info()` of the object.
    """

    def __init__(self, url: str, storage: StorageOptions | None = None, *, retry: Retry | None = None,
                 chunk: int = CHUNK, ahead: int = 2, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__()
        self.url, self.name = str(url), display_url(url)
        self._storage = storage if storage is not None else getattr(url, "storage", None)
        self._retry, self._chunk, self._ahead, self._sleep = retry or Retry(), chunk, ahead, sleep
        self.retries, self.retry_log = 0, []
        self._lock, self._tag = threading.Lock(), ()
        self._fs, self._path = _filesystem(self.url, self._storage)
        self.info = self._retrying(0, self._info)
        if self.info.get("type") == "directory":
            raise IsADirectoryError(f"{self.name} is a directory, not a corpus file")
        self.size: int | None = self.info.get("size")
        self._tag = _tag(self.info)
        self._pos = 0  # the offset of the next byte read() returns
        self._buf, self._buf_at = b"", 0  # the chunk being read and where it starts
        self._queue: queue.Queue | None = None
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None
        # an async filesystem (http, s3, gcs) fetches ahead on its own event loop: requests in flight
        self._async = bool(getattr(self._fs, "async_impl", False)) and self.size is not None
        self._inflight: collections.deque = collections.deque()  # (start, end, future)
        self._next_at = 0  # where the next request in flight starts

    # -- requests ---------------------------------------------------------------------------
    def _info(self) -> dict[str, Any]:
        try:
            return self._fs.info(self._path)
        except FileNotFoundError:
            raise FileNotFoundError(f"no such corpus file: {self.name}") from None

    def _retrying(self, offset: int, request: Callable[[], Any], stop: threading.Event | None = None,
                  failed: Callable[[], None] | None = None, error: BaseException | None = None) -> Any:
        """`request()`, asked again after transient failures (`failed()` called before each
        retry; `error`: a first failure already met); LoadError when the tries run out."""
        attempt, started = 0, time.monotonic()
        while True:
            try:
                if error is not None:
                    error, pending = None, error
                    raise pending
                return request()
            except FileNotFoundError:
                raise
            except LoadError:
                raise
            except PermissionError as err:
                raise LoadError("access_denied", path=self.name, detail=_redact(
                    f"{err}; check the storage options (profile, anonymous) or the credentials", self._storage)) from None
            except Exception as err:  # noqa: BLE001 - sorted by transient(); the rest are re-raised as LoadError
                attempt += 1
                summary = _redact(f"{type(err).__name__}: {err}".strip()[:300], self._storage)
                if not transient(err):
                    raise LoadError("read_failed", path=self.name, offset=offset,
                                    detail=f"at byte {offset:,} of the file: {summary}") from None
                if attempt >= self._retry.tries:
                    raise LoadError("read_failed", path=self.name, offset=offset, detail=(
                        f"at byte {offset:,} of the file, {attempt} tries in {time.monotonic() - started:.1f} s "
                        f"failed; the last: {summary}")) from None
                with self._lock:
                    self.retries += 1
                    if len(self.retry_log) < 10:
                        self.retry_log.append(f"byte {offset:,}: {summary[:160]}")
                status, after = status_of(err)
                self._sleep(self._retry.wait(attempt, status, after))
                if stop is not None and stop.is_set():
                    return None
                self._check_unchanged(offset)
                if failed is not None:
                    failed()

    def _check_unchanged(self, offset: int) -> None:
        """Before a retry: the object must still be the version the read started on."""
        if not self._tag or self._tag[0] == "None":
            return
        try:
            self._fs.invalidate_cache(self._path)
            now = _tag(self._fs.info(self._path))
        except Exception:  # noqa: BLE001 - the retried request will tell
            return
        if now != self._tag:
            raise LoadError("source_changed", path=self.name, offset=offset, detail=(
                f"the object changed while it was read (at byte {offset:,}; size/ETag/mtime differ): "
                "read it again from the start"))

    def _get(self, start: int, stop: threading.Event | None = None, error: BaseException | None = None) -> bytes | None:
        """The next chunk from `start`. After a failure (`error`: one already met) the request
        is halved (down to MIN_CHUNK) until one succeeds: a connection that breaks every N
        bytes still lets requests shorter than N through."""
        want = [self._chunk if self.size is None else min(self._chunk, self.size - start)]
        if error is not None:
            want[0] = max(want[0] // 2, min(MIN_CHUNK, self._chunk))

        def request() -> bytes:
            end = start + want[0] if self.size is None else min(start + want[0], self.size)
            if end <= start:
                return b""
            return self._checked(start, end, self._fs.cat_file(self._path, start=start, end=end))

        def halve() -> None:
            want[0] = max(want[0] // 2, min(MIN_CHUNK, self._chunk))

        return self._retrying(start, request, stop, halve, error)

    def _checked(self, start: int, end: int, data: bytes) -> bytes:
        if not data and self.size is not None:  # nothing before the known end: asked again, never taken for EOF
            raise ConnectionError(f"an empty answer for bytes {start:,}-{end - 1:,} of {self.size:,}")
        if len(data) > end - start:  # a server that ignored the Range header
            raise LoadError("no_range_support", path=self.name, offset=start, detail=(
                f"asked for bytes {start:,}-{end - 1:,}, got {len(data):,}: the server does not answer "
                "range requests, which reading a URL needs (download the file first)"))
        return data

    # -- fetching ahead on an async filesystem's loop -----------------------------------------
    def _fill(self) -> None:
        while len(self._inflight) <= self._ahead and self._next_at < self.size:
            start, end = self._next_at, min(self._next_at + self._chunk, self.size)
            future = asyncio.run_coroutine_threadsafe(self._fs._cat_file(self._path, start=start, end=end),
                                                      self._fs.loop)
            self._inflight.append((start, end, future))
            self._next_at = end

    def _cancel(self) -> None:
        while self._inflight:
            self._inflight.popleft()[2].cancel()

    def _next_async(self) -> bytes:
        if not self._inflight or self._inflight[0][0] != self._pos:
            self._cancel()
            self._next_at = self._pos
        self._fill()
        start, end, future = self._inflight.popleft()
        try:
            data = self._checked(start, end, future.result())
        except LoadError:
            self._cancel()
            raise
        except Exception as err:  # noqa: BLE001 - asked again from this byte, as _retrying decides
            self._cancel()
            data = self._get(start, error=err)
        if start + len(data) != (self._inflight[0][0] if self._inflight else self._next_at):
            self._cancel()  # a short answer: what is in flight no longer follows it
            self._next_at = start + len(data)
        self._fill()
        return data

    def head(self, n: int) -> bytes:
        """The first `n` bytes (one request; the read position does not move)."""
        end = n if self.size is None else min(n, self.size)
        return self._retrying(0, lambda: self._fs.cat_file(self._path, start=0, end=end))[:n] if end > 0 else b""

    # -- the read-ahead thread ----------------------------------------------------------------
    def _start(self, at: int) -> None:
        self._halt()
        q: queue.Queue = queue.Queue(maxsize=self._ahead)
        stop = threading.Event()

        def put(item: Any) -> bool:
            return put_unless_stopped(q, item, stop)

        def work() -> None:
            pos = at
            try:
                while not stop.is_set():
                    data = self._get(pos, stop)
                    if data is None or not put(data or _END) or not data:
                        return
                    pos += len(data)
                    if self.size is not None and pos >= self.size:
                        put(_END)
                        return
            except BaseException as err:  # handed to the reader, which raises it
                put(err)

        self._queue, self._stop = q, stop
        self._thread = threading.Thread(target=work, name="emergence-remote-read", daemon=True)
        self._thread.start()

    def _halt(self) -> None:
        if self._stop is not None:
            self._stop.set()
            self._thread.join()
        self._queue = self._stop = self._thread = None

    def _next_chunk(self) -> bytes:
        if self.size is not None and self._pos >= self.size:
            return b""
        if self._ahead <= 0:
            return self._get(self._pos) or b""
        if self._async:
            return self._next_async()
        if self._queue is None:
            self._start(self._pos)
        item = self._queue.get()
        if isinstance(item, BaseException):
            self._halt()
            raise item
        if item is _END:
            self._halt()
            return b""
        return item

    # -- the file interface -------------------------------------------------------------------
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._pos
        elif whence == io.SEEK_END:
            if self.size is None:
                raise OSError(f"{self.name}: the size is unknown, cannot seek from the end")
            offset += self.size
        if offset < 0:
            raise ValueError(f"negative seek position {offset}")
        if offset != self._pos:
            if self._buf_at <= offset <= self._buf_at + len(self._buf):
                self._pos = offset  # within the chunk held
            else:
                self._halt()
                self._buf, self._buf_at, self._pos = b"", offset, offset
        return self._pos

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(self._chunk), b""))
        start = self._pos - self._buf_at
        if start >= len(self._buf):
            data = self._next_chunk()
            if not data:
                return b""
            self._buf, self._buf_at, start = data, self._pos, 0
        out = self._buf[start:start + size] if start or size < len(self._buf) else self._buf
        self._pos += len(out)
        return out

    def chunks(self) -> Iterator[bytes]:
        """The rest of the file, a response at a time (no copies: what `blocks()` would slice)."""
        while True:
            start = self._pos - self._buf_at
            if start < len(self._buf):
                data = self._buf[start:] if start else self._buf
            else:
                data = self._next_chunk()
                if not data:
                    return
                self._buf, self._buf_at = data, self._pos
            self._pos += len(data)
            yield data

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._halt()
        self._cancel()
        self._buf = b""
        super().close()
