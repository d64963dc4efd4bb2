"""Corpora at URLs: throughput against the local file, resuming a 1 GB gzip, indexed_gzip against rapidgzip.

    $ python benchmarks/bench_remote.py throughput --lines 300000 --repeat 5
    $ python benchmarks/bench_remote.py resume --gzip-gb 1.0 --repeat 3
    $ python benchmarks/bench_remote.py gziplibs

throughput: `stream_records` over the same trn.json-shaped file (bench_loader's generator,
cached in benchmarks/out/) read locally, over HTTP from a server on 127.0.0.1 (tests/servers.py:
sendfile, Range requests, keep-alive), from moto's S3 server on 127.0.0.1 through s3fs, and
through fsspec's own buffered file object (`fsspec.open(url)`: the library path, no retries)
handed to `stream_records`; plain and gzip; and the transfer alone (`*_bytes`: RemoteFile's
reads, nothing parsed). Every method runs in its own subprocess (its peak RSS is its own)
while the parent serves; rounds run every method in turn, and each round's local read is
the baseline of that round's others (records per wall-second: the network and the server
are part of what is measured; the imports of fsspec's backends, ~0.2 CPU-s once, are not).

resume: a gzip of about `--gzip-gb` GB (the generated file repeated, gzip -1; written once to
benchmarks/out/, git-ignored). A first pass builds the access-point index
(`emergence.corpus.gzindex.GzipIndex`) and notes the position of the record at `--at` of
the file; then, in fresh processes, the time to the first record after that position:
entering at the index's point (from the saved index file), and re-reading from the start
(`skip=`) as before. The first pass is timed with and without building the index.

gziplibs: indexed_gzip and rapidgzip side by side on the same gzip: sequential read
(through a Python file object, as a URL is read), index build, index size, seek after
import, peak RSS, and the bytes each pulls from the file object and how often it jumps back.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for extra in (REPO, REPO / "tests", REPO / "benchmarks"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

OUT = REPO / "benchmarks" / "out"
THROUGHPUT = ("local", "http", "fsspec_file", "s3", "local_gz", "http_gz", "fsspec_file_gz", "s3_gz",
              "http_bytes", "s3_bytes")


def _rss_mb() -> float:
    """Peak RSS of this process (VmHWM: ru_maxrss would carry the serving parent's over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- children -------------------------------------------------------------------------------
def child(kind: str, args: dict) -> dict:
    from emergence.corpus.stream import stream_records

    if kind == "read":
        source = args["source"]
        if source.startswith("http"):  # imports outside the timing, as the loader's own (~0.2 CPU-s once)
            import fsspec.implementations.http  # noqa: F401
        elif source.startswith("s3"):
            import s3fs  # noqa: F401
        wall, cpu = time.perf_counter(), time.process_time()
        if args.get("bytes_only"):  # the transfer alone: RemoteFile's reads, nothing parsed
            from emergence.corpus.remote import RemoteFile

            with RemoteFile(source) as f:
                size = sum(len(b) for b in iter(lambda: f.read(1 << 20), b""))
            return {"records": None, "bytes": size, "seconds": time.perf_counter() - wall,
                    "cpu_seconds": time.process_time() - cpu, "peak_rss_mb": _rss_mb()}
        elif args.get("fsspec_file"):
            import fsspec

            with fsspec.open(source, "rb", block_size=4 << 20) as f:
                n = sum(1 for _ in stream_records(f, progress=False))
        else:
            with stream_records(source, progress=False) as stream:
                n = sum(1 for _ in stream)
        return {"records": n, "seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu,
                "peak_rss_mb": _rss_mb()}
    if kind == "first_pass":
        from emergence.corpus.gzindex import GzipIndex

        wall = time.perf_counter()
        index = GzipIndex(args["gz"]) if args["index"] else None
        position = None
        with stream_records(args["gz"], progress=False, positions=True, gzip_index=index) as stream:
            for n, _ in enumerate(stream, 1):
                if n == args["at"]:
                    position = stream.position()
        seconds = time.perf_counter() - wall
        out = {"records": n, "seconds": seconds, "peak_rss_mb": _rss_mb(), "position": position}
        if index is not None:
            index.save(args["index_file"])
            out.update(points=index.points, index_bytes=os.path.getsize(args["index_file"]))
        return out
    if kind in ("resume_index", "resume_skip"):
        from emergence.corpus.gzindex import GzipIndex
        from emergence.corpus.stream import StreamPosition

        position = StreamPosition(*args["position"])
        wall = time.perf_counter()
        if kind == "resume_index":
            index = GzipIndex(args["gz"], saved=args["index_file"])
            stream = stream_records(args["gz"], progress=False, resume=position, gzip_index=index)
        else:
            stream = stream_records(args["gz"], progress=False, skip=position.read)
        with stream:
            first = next(iter(stream))
            seconds = time.perf_counter() - wall
            how, read = stream.resumed_by, stream.stats.bytes_read
        return {"seconds": seconds, "uid": first.uid, "resumed_by": how, "compressed_bytes_read": read,
                "peak_rss_mb": _rss_mb()}
    if kind == "gziplib":
        return _gziplib(args)
    raise ValueError(kind)


class _Spy(io.RawIOBase):
    """A file object that counts the bytes read through it and the backward jumps."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.f, self.bytes, self.jumps, self.end = open(path, "rb", buffering=0), 0, 0, 0  # noqa: SIM115

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        at = self.f.tell()
        self.jumps += at < self.end
        n = self.f.readinto(b)
        self.bytes, self.end = self.bytes + n, max(self.end, at + n)
        return n

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.f.seek(offset, whence)

    def tell(self) -> int:
        return self.f.tell()


def _gziplib(args: dict) -> dict:
    lib, what, gz = args["lib"], args["what"], args["gz"]
    spy = _Spy(gz)
    wall, cpu = time.perf_counter(), time.process_time()
    out: dict = {}
    if lib == "zlib":  # the loader's own Gunzip, for reference
        from emergence.corpus.readers import Gunzip, blocks

        out["bytes_out"] = sum(len(b) for b in Gunzip(blocks(spy)))
    elif lib == "indexed_gzip":
        from indexed_gzip.indexed_gzip import _IndexedGzipFile

        igz = _IndexedGzipFile(fileobj=spy, spacing=4 << 20, readbuf_size=128 << 10)
        if what == "read":  # 8 MiB reads, as GzipIndex's reader (1 MiB reads re-read the file 4-6 times)
            out["bytes_out"] = sum(len(b) for b in iter(lambda: igz.read(8 << 20), b""))
        else:  # build: what GzipIndex.advance does
            out["bytes_out"] = igz.seek(1 << 62)
        data = io.BytesIO()
        igz.export_index(fileobj=data)
        out.update(points=igz.npoints, index_bytes=len(data.getvalue()))
    else:
        import rapidgzip

        f = rapidgzip.RapidgzipFile(spy, parallelization=args.get("threads", 1))
        out["bytes_out"] = sum(len(b) for b in iter(lambda: f.read(1 << 20), b""))
        data = io.BytesIO()
        f.export_index(data)
        out["index_bytes"] = len(data.getvalue())
        f.close()
    out.update(seconds=time.perf_counter() - wall, cpu_seconds=time.process_time() - cpu, peak_rss_mb=_rss_mb(),
               compressed_read=spy.bytes, backward_jumps=spy.jumps)
    return out


def run_child(kind: str, args: dict, env: dict | None = None) -> dict:
    proc = subprocess.run([sys.executable, __file__, "_child", kind, json.dumps(args)], capture_output=True,
                          text=True, env={**os.environ, **(env or {}), "OMP_NUM_THREADS": "1",
                                          "PYTHONPATH": str(REPO)})
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- throughput ------------------------------------------------------------------------------
def throughput(args: argparse.Namespace) -> None:
    import logging

    from bench_loader import generate_corpus
    from servers import FileServer, moto_s3

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    jsonl = OUT / f"trn-{args.lines}-s0.jsonl"
    gz = OUT / f"trn-{args.lines}-s0.jsonl.gz"
    if not jsonl.exists():
        generate_corpus(jsonl, args.lines)
    if not gz.exists():
        subprocess.run(f"gzip -6 -c {jsonl} > {gz}", shell=True, check=True)
    methods = [m for m in args.methods.split(",") if m]
    files = {jsonl.name: jsonl, gz.name: gz}
    runs: dict[str, list[dict]] = {m: [] for m in methods}
    loads = [os.getloadavg()[0]]
    with FileServer(files) as http, moto_s3(files) if any(m.startswith("s3") for m in methods) \
            else contextlib.nullcontext({}) as s3env:
        for _ in range(args.repeat):
            for method in methods:
                base, gzipped = method.removesuffix("_gz").removesuffix("_bytes"), method.endswith("_gz")
                name = (gz if gzipped else jsonl).name
                source = {"local": str(files[name]), "http": http.url(name), "fsspec_file": http.url(name),
                          "s3": f"s3://corpora/{name}"}[base]
                print(f"running {method} ...", file=sys.stderr, flush=True)
                runs[method].append(run_child("read", {"source": source, "fsspec_file": base == "fsspec_file",
                                                       "bytes_only": method.endswith("_bytes")},
                                              env=s3env if base == "s3" else None))
                loads.append(os.getloadavg()[0])
    print(f"{args.lines:,} lines ({jsonl.stat().st_size / 1e6:,.0f} MB; gzip {gz.stat().st_size / 1e6:,.0f} MB), "
          f"{args.repeat} rounds, load average (1 min) {min(loads):.1f}-{max(loads):.1f}")
    print(f"{'method':<16} {'rec/s best':>11} {'median':>9} {'x local (round), median (range)':>32} "
          f"{'rec/CPU-s median':>16} {'MB/s median':>11} {'peak RSS MB':>11}")
    for method, rs in runs.items():
        ok = [r for r in rs if "error" not in r]
        if not ok:
            print(f"{method:<16} error: {rs[-1]['error']}")
            continue
        size = (gz if method.endswith("_gz") else jsonl).stat().st_size
        mbs = statistics.median(size / 1e6 / r["seconds"] for r in ok)
        if ok[0]["records"] is None:  # the transfer alone
            print(f"{method:<16} {'-':>11} {'-':>9} {'-':>32} {'-':>16} {mbs:>11,.0f} "
                  f"{max(r['peak_rss_mb'] for r in ok):>11.1f}")
            continue
        rate = [r["records"] / r["seconds"] for r in ok]
        base = runs["local_gz" if method.endswith("_gz") else "local"] if ("local_gz" if method.endswith("_gz")
                                                                             else "local") in runs else []
        ratios = [(r["records"] / r["seconds"]) / (b["records"] / b["seconds"])
                  for r, b in zip(rs, base) if "error" not in r and "error" not in b]
        ratio = f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})" if ratios else "-"
        cpu = statistics.median(r["records"] / r["cpu_seconds"] for r in ok)
        print(f"{method:<16} {max(rate):>11,.0f} {statistics.median(rate):>9,.0f} {ratio:>32} {cpu:>16,.0f} "
              f"{mbs:>11,.0f} {max(r['peak_rss_mb'] for r in ok):>11.1f}")


# -- resume ------------------------------------------------------------------------------------
def big_gzip(target_gb: float) -> Path:
    """A gzip of about `target_gb` GB: the 300,000-line file repeated (each copy gzip -1)."""
    from bench_loader import generate_corpus

    src = OUT / "trn-300000-s0.jsonl"
    if not src.exists():
        generate_corpus(src, 300_000)
    out = OUT / f"trn-{target_gb:g}GB.jsonl.gz"
    if not out.exists():
        tmp = out.with_suffix(".tmp")
        with tmp.open("wb") as f:
            while f.tell() < target_gb * 1e9:
                subprocess.run(["gzip", "-1", "-c", str(src)], stdout=f, check=True)
        tmp.replace(out)
    return out


def resume(args: argparse.Namespace) -> None:
    gz = big_gzip(args.gzip_gb)
    index_file = OUT / (gz.name + ".gzidx")
    lines = 300_000 * _copies(gz)
    at = int(args.at * lines)
    loads = [os.getloadavg()[0]]
    print(f"{gz.name}: {gz.stat().st_size / 1e9:.2f} GB, {lines:,} lines; resume after record {at:,}", flush=True)
    plain = run_child("first_pass", {"gz": str(gz), "index": False, "at": at})
    built = run_child("first_pass", {"gz": str(gz), "index": True, "at": at, "index_file": str(index_file)})
    loads.append(os.getloadavg()[0])
    for name, r in (("first pass, no index", plain), ("first pass, building the index", built)):
        extra = f", {r['points']} points, index file {r['index_bytes'] / 1e6:.1f} MB" if "points" in r else ""
        print(f"{name:<34} {r.get('seconds', float('nan')):8.1f} s  peak RSS {r.get('peak_rss_mb', 0):.0f} MB"
              f"{extra}{r.get('error', '')}")
    position = built["position"]
    rows: dict[str, list[dict]] = {"resume_index": [], "resume_skip": []}
    for _ in range(args.repeat):
        for kind in rows:
            rows[kind].append(run_child(kind, {"gz": str(gz), "index_file": str(index_file), "position": position}))
            loads.append(os.getloadavg()[0])
    for kind, rs in rows.items():
        ok = [r for r in rs if "error" not in r]
        if not ok:
            print(f"{kind}: error {rs[-1]['error']}")
            continue
        secs = [r["seconds"] for r in ok]
        print(f"{kind:<34} first record after {statistics.median(secs):8.3f} s median ({min(secs):.3f}-{max(secs):.3f}), "
              f"compressed bytes read {ok[0]['compressed_bytes_read'] / 1e6:,.1f} MB, by {ok[0]['resumed_by'] or 'skip'}, "
              f"peak RSS {max(r['peak_rss_mb'] for r in ok):.0f} MB, first uid {ok[0]['uid']}")
    print(f"load average (1 min) {min(loads):.1f}-{max(loads):.1f}")


def _copies(gz: Path) -> int:
    """How many gzip members (copies of the 300,000-line file) `gz` holds: counted by decompressing
    once (cached beside it)."""
    cache = gz.with_suffix(".copies")
    if cache.exists():
        return int(cache.read_text())
    from emergence.corpus.readers import Gunzip, blocks

    with gz.open("rb") as f:
        g = Gunzip(blocks(f))
        for _ in g:
            pass
    cache.write_text(str(g.member))
    return g.member


# -- gzip libraries ----------------------------------------------------------------------------
def gziplibs(args: argparse.Namespace) -> None:
    gz = big_gzip(args.gzip_gb) if args.gzip_gb else OUT / "trn-300000-s0.jsonl.gz"
    cases = [("zlib", "read", {}), ("indexed_gzip", "read", {}), ("indexed_gzip", "build", {}),
             ("rapidgzip", "read", {"threads": 1}), ("rapidgzip", "read", {"threads": 2})]
    loads = [os.getloadavg()[0]]
    print(f"{gz.name}: {gz.stat().st_size / 1e6:,.0f} MB compressed; {args.repeat} rounds", flush=True)
    results: dict[str, list[dict]] = {}
    for _ in range(args.repeat):
        for lib, what, extra in cases:
            key = f"{lib} {what}" + (f" ({extra['threads']} threads)" if "threads" in extra else "")
            results.setdefault(key, []).append(run_child("gziplib", {"lib": lib, "what": what, "gz": str(gz),
                                                                     **extra}))
            loads.append(os.getloadavg()[0])
    print(f"{'case':<28} {'MB/s out (best)':>15} {'CPU s':>7} {'RSS MB':>7} {'index MB':>9} "
          f"{'read / file':>11} {'jumps back':>10}")
    size = gz.stat().st_size
    for key, rs in results.items():
        ok = [r for r in rs if "error" not in r]
        if not ok:
            print(f"{key:<28} error: {rs[-1]['error']}")
            continue
        best = max(ok, key=lambda r: r["bytes_out"] / r["seconds"])
        idx = f"{best['index_bytes'] / 1e6:.1f}" if "index_bytes" in best else "-"
        print(f"{key:<28} {best['bytes_out'] / 1e6 / best['seconds']:>15,.0f} {best['cpu_seconds']:>7.1f} "
              f"{max(r['peak_rss_mb'] for r in ok):>7.0f} {idx:>9} {best['compressed_read'] / size:>11.2f} "
              f"{best['backward_jumps']:>10,}")
    print(f"load average (1 min) {min(loads):.1f}-{max(loads):.1f}")


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "_child":
        print(json.dumps(child(argv[1], json.loads(argv[2]))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("throughput")
    p.add_argument("--lines", type=int, default=300_000)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--methods", default=",".join(THROUGHPUT), help="comma-separated: " + ", ".join(THROUGHPUT))
    p = sub.add_parser("resume")
    p.add_argument("--gzip-gb", type=float, default=1.0)
    p.add_argument("--at", type=float, default=0.9, help="where the resume point lies (share of the records)")
    p.add_argument("--repeat", type=int, default=3)
    p = sub.add_parser("gziplibs")
    p.add_argument("--gzip-gb", type=float, default=0, help="0: the 300,000-line gzip; else the big one")
    p.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    {"throughput": throughput, "resume": resume, "gziplibs": gziplibs}[args.what](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
