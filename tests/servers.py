"""Real servers on 127.0.0.1 for the URL tests and benchmarks/bench_remote.py (no mocks of fsspec).

`FileServer`: http.server serving files with Range requests (206), an ETag and keep-alive;
it can drop the connection every `drop_every` body bytes served (the response in flight is
cut there) and answer given statuses (503, 429) to given requests, so a client's retries
are exercised against real sockets. `moto_s3`: moto's ThreadedMotoServer with a bucket
holding files, read through s3fs with an endpoint override.
"""
from __future__ import annotations

import contextlib
import hashlib
import http.server
import os
import re
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

_PIECE = 64 << 10


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        server: FileServer = self.server.owner  # type: ignore[attr-defined]
        ranged = body and "Range" in self.headers
        status = server._next_fault(ranged)
        if status is not None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.send_header("Retry-After", "0")
            self.end_headers()
            return
        path = server.files.get(self.path.split("?", 1)[0].lstrip("/"))
        if path is None:
            self.send_error(404)
            return
        size = path.stat().st_size
        start, end = 0, size - 1
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range") or "")
        if match and server.ranges:
            start, end = int(match[1]), min(int(match[2]) if match[2] else size - 1, size - 1)
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes" if server.ranges else "none")
        self.send_header("ETag", server.etag(path))
        self.end_headers()
        if body:
            self._body(server, path, start, end - start + 1)

    def _body(self, server: FileServer, path: Path, start: int, length: int) -> None:
        with path.open("rb") as f:
            if server.drop_every is None:
                self.wfile.flush()
                self.connection.sendfile(f, start, length)
                server._count(length)
                return
            f.seek(start)
            while length > 0:
                allowed, cut = server._allowance(min(_PIECE, length), length)
                if cut:  # a drop falls inside this piece (or at its end): send up to it, then cut
                    server._failed(self.headers.get("Range") is not None)
                    self.wfile.write(f.read(allowed))
                    self.wfile.flush()
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(f.read(allowed))
                length -= allowed


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        # a reader that has what it needs (or a test that stops early) closes the connection
        # mid-body: expected here, so no traceback in the test log; anything else is printed
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


class FileServer:
    """Serve `files` ({name: path}) on 127.0.0.1; `url(name)` is where. A context manager.

    drop_every: cut the connection each time this many body bytes have been served in all.
    faults: {request number (1-based, HEADs included): status} answered instead of the file.
    ranges: honour Range headers (False: always the whole file, 200).
    """

    def __init__(self, files: dict[str, Path], *, drop_every: int | None = None,
                 faults: dict[int, int] | None = None, ranges: bool = True) -> None:
        self.files = {name: Path(p) for name, p in files.items()}
        self.drop_every, self.faults, self.ranges = drop_every, dict(faults or {}), ranges
        self.requests = self.drops = self.served = self.faulted = 0
        self.failed_ranges = 0  # range requests cut or answered with a fault status: what a reader retries
        self._next_drop = drop_every
        self._lock = threading.Lock()
        self._etags: dict[Path, str] = {}
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, name: str) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/{name}"

    def etag(self, path: Path) -> str:
        st = path.stat()
        key = f"{st.st_size}-{st.st_mtime_ns}"
        return '"' + hashlib.md5(key.encode()).hexdigest() + '"'

    def _next_fault(self, ranged: bool) -> int | None:
        with self._lock:
            self.requests += 1
            status = self.faults.pop(self.requests, None)
            self.faulted += status is not None
            self.failed_ranges += status is not None and ranged
            return status

    def _failed(self, ranged: bool) -> None:
        with self._lock:
            self.failed_ranges += ranged

    def _allowance(self, want: int, remaining: int) -> tuple[int, bool]:
        """(bytes of the next `want` that may be sent, whether the connection is cut after them).
        A drop that would fall at the very end of a response cuts the next one instead (after
        its headers), so that every drop cuts a response."""
        with self._lock:
            allowed = self._next_drop - self.served
            if want < allowed or remaining <= allowed:
                self.served += want
                return want, False
            self.served, self._next_drop = self._next_drop, self._next_drop + self.drop_every
            self.drops += 1
            return allowed, True

    def _count(self, n: int) -> None:
        with self._lock:
            self.served += n

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> FileServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def moto_s3(files: dict[str, Path], bucket: str = "corpora") -> Iterator[dict[str, str]]:
    """A moto S3 server on 127.0.0.1 with `bucket` holding `files` ({key: path}); yields the
    environment a client needs (endpoint and dummy credentials), which the caller applies."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    try:
        client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], aws_access_key_id="testing",
                              aws_secret_access_key="testing", region_name="us-east-1")
        client.create_bucket(Bucket=bucket)
        for key, path in files.items():
            client.upload_file(str(path), bucket, key)
        yield env
    finally:
        server.stop()


def write_corpus(path: Path, n: int, *, seed: int = 0) -> Path:
    """`n` small trn.json-shaped JSON Lines (varied lengths, some blank lines, some rejects)."""
    import json
    import random

    rng = random.Random(seed)
    words = "the a book story of war family garden night ship ages picture dragon cook".split()
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            if i % 9973 == 5:
                f.write("not json\n")
                continue
            if i % 7919 == 3:
                f.write("\n")
            content = " ".join(rng.choices(words, k=rng.randrange(0, 40)))
            f.write(json.dumps({"uid": str(i), "title": f"Book {i} " + rng.choice(words),
                                "content": content, "target_ind": [i % 97, i % 13]}) + "\n")
    return path


def corpus_and_gzip(folder: Path, name: str, n: int) -> dict[str, Path]:
    """`write_corpus` into folder/name and the same file gzipped (level 1) beside it:
    {name: plain, name + ".gz": gzipped}."""
    import gzip
    import shutil

    plain = write_corpus(folder / name, n)
    gz = folder / f"{name}.gz"
    with plain.open("rb") as src, gzip.open(gz, "wb", compresslevel=1) as out:
        shutil.copyfileobj(src, out)
    return {name: plain, gz.name: gz}


def read_all(source, **kw):
    """Every record of `source` as (uid, title, content, raw target_ind), and the load stats."""
    from emergence import stream_records

    with stream_records(source, progress=False, **kw) as stream:
        return [(r.uid, r.title, r.content, r.raw_target_ind) for r in stream], stream.stats


def env_applied(env: dict[str, str]):
    """Set `env` in os.environ for the duration (a context manager)."""

    @contextlib.contextmanager
    def applied() -> Iterator[None]:
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            yield
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    return applied()
