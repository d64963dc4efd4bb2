"""Loader throughput and memory: emergence.stream_records against its peers and the loader it replaced, in one run.

    $ python benchmarks/bench_loader.py                      # 2,248,619 lines, as trn.json
    $ python benchmarks/bench_loader.py --lines 300000 --repeat 5 --methods orjson,stream_records,old_stream_records

Generates (once, cached in benchmarks/out/, which git ignores) a trn.json-shaped JSON
Lines file: `uid`, `title`, `content`, `target_ind`, `target_rel`; realistic title and
content lengths, about 35% empty contents, HTML entities, age cues, runs of spaces,
escaped newlines and non-ASCII text; about 22 labels a record as in LF-Amazon-1.3M. The
same records are also written as one JSON array (and gzipped) for those rows.

Each method runs in its own subprocess, so its peak RSS (`ru_maxrss` of that child) is
its own: the bare `orjson.loads` line loop, stdlib `json`, ijson, Hugging Face `datasets`
streaming JSON, `emergence.stream_records` (validation + cleaning; its label lists stay
raw JSON until read), the same reading `target_ind` of every record, with
`dedupe=True`, with the age-cue audit, on the JSON-array form and gzipped; and
`old_stream_records`: the loader of git ref `--old-ref` (9544d29: pydantic, a numpy/SSE2
byte scan, C twins), extracted into a package of its own under benchmarks/out/ with its
C extension built there. Rounds run every method in turn (`--repeat`), so a slow minute
on a shared machine slows one round of each; the table gives records per CPU-second
(best, median and range over rounds), each round's share of the orjson loop of the same
round, peak RSS and the machine's load average during the run.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

OUT = REPO / "benchmarks" / "out"
FULL_LINES = 2_248_619  # lines of LF-Amazon-1.3M's trn.json
N_LABELS = 1_305_265  # labels of LF-Amazon-1.3M
OLD_REF = "9544d29"  # the last loader with the C twins
METHODS = (
    "orjson",
    "json",
    "ijson",
    "datasets",
    "stream_records",
    "stream_records_extras",
    "stream_records_dedupe",
    "stream_records_agecues",
    "stream_records_array",
    "stream_records_gzip",
    "old_stream_records",
)

_WORDS = (
    "the a of and to in for with on by from at as is are was be this that it its your you our "
    "we they their all more most new one two three first last great little big small best "
    "book books story stories guide history world life love time day night year years family "
    "children kids child baby adult young old school home garden kitchen cooking recipes food "
    "war battle ship ships navy army century empire american british french german modern "
    "classic complete edition collection volume series novel poems art music science nature "
    "animals dog cat horse bear bunny dragon princess magic secret adventure mystery dinosaur "
    "trucks trains cars space planet ocean river mountain city country house stainless steel "
    "set pack inch cotton leather black white red blue green pink yellow gold silver wooden "
    "easy fun learn learning reading writing math words colors shapes numbers letters bedtime "
    "picture board hardcover paperback illustrated author bestselling award winning readers "
    "every page features includes made quality durable perfect gift ideal design style size "
    "fits use using used made easy clean water light power battery digital professional"
).split()
_TITLE_EXTRAS = ("(Paperback)", "(Hardcover)", "Vol. 2", "2nd Edition", "Set of 3", "- Large", "&amp;", "&#39;s")
_ENTITIES = ("&#8211;", "&amp;", "&quot;", "&#39;", "&nbsp;", "&#8217;", "&eacute;")
_CUES = (
    "Ages 4-8.",
    "Ages 3 to 5.",
    "Grade 3-5.",
    "Grades K-2.",
    "For ages 8 and up.",
    "Reading age: 9 - 12 years.",
    "Age Range: 3 - 5 Years.",
    "Ages 6 months-2 years.",
    "Young adult.",
    "Grade 4-6--",
)
_UNICODE = ("’", "“", "”", "é", "—", "…", "ü", "©")


def _sentence(rng: random.Random) -> str:
    words = rng.choices(_WORDS, k=rng.randint(6, 24))
    return " ".join(words).capitalize() + "."


# Shares of non-empty contents with each kind of text the cleaner has to fix (or check
# harder); guesses for Amazon product descriptions, stated so results can be read.
ENTITY_SHARE = 0.08  # HTML entities: &#8211; &amp; &quot; ...
CUE_SHARE = 0.06  # an age cue: "Ages 4-8", "Grade 3-5", ...
UNICODE_SHARE = 0.15  # non-ASCII text: curly quotes, dashes, accents
SPACES_SHARE = 0.10  # runs of two spaces after full stops
NEWLINE_SHARE = 0.05  # escaped newlines (\n in the JSON)


def _content(rng: random.Random) -> str:
    if rng.random() < 0.35:
        return ""
    target = min(12_000, int(rng.lognormvariate(6.1, 0.9)))  # median ~450 chars, mean ~670
    parts: list[str] = []
    size = 0
    while size < target:
        s = _sentence(rng)
        parts.append(s)
        size += len(s) + 1
    if rng.random() < ENTITY_SHARE:
        for _ in range(rng.randint(1, 3)):
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(_ENTITIES))
    if rng.random() < CUE_SHARE:
        parts.insert(rng.randrange(len(parts) + 1), rng.choice(_CUES))
    if rng.random() < UNICODE_SHARE:
        parts.insert(rng.randrange(len(parts) + 1), rng.choice(_UNICODE))
    text = ("  " if rng.random() < SPACES_SHARE else " ").join(parts)
    if rng.random() < NEWLINE_SHARE:
        text = text.replace(". ", ".\n", 2)
    return text


def _title(rng: random.Random) -> str:
    n = max(1, min(40, int(rng.lognormvariate(1.9, 0.5))))  # median ~7 words
    title = " ".join(w.capitalize() for w in rng.choices(_WORDS, k=n))
    if rng.random() < 0.08:  # editions, sizes, and some entities (&amp;) in titles
        title += " " + rng.choice(_TITLE_EXTRAS)
    return title


def _uid(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return "B0" + "".join(rng.choices("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", k=8))
    return "".join(rng.choices("0123456789", k=10))


def generate_corpus(path: Path, n: int, *, seed: int = 0) -> Path:
    """Write `n` trn.json-shaped JSON Lines to `path` (via a temporary file)."""
    import orjson

    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb", buffering=1 << 20) as f:
        for _ in range(n):
            k = max(1, int(rng.lognormvariate(2.8, 0.7)))  # ~22 labels on average
            labels = sorted(rng.sample(range(N_LABELS), k))
            record = {
                "uid": _uid(rng),
                "title": _title(rng),
                "content": _content(rng),
                "target_ind": labels,
                "target_rel": [1.0] * k,
            }
            f.write(orjson.dumps(record))
            f.write(b"\n")
    tmp.replace(path)
    return path


def write_array(jsonl: Path, path: Path) -> Path:
    """The same records as one JSON array, one item a line."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(jsonl, "rb") as src, open(tmp, "wb", buffering=1 << 20) as out:
        out.write(b"[\n")
        first = True
        for line in src:
            if not first:
                out.write(b",\n")
            out.write(line.rstrip(b"\n"))
            first = False
        out.write(b"\n]\n")
    tmp.replace(path)
    return path


# -- one method, run in a child process ---------------------------------------------------


# Each runner imports what it needs, then returns the pass to time: imports stay out of
# the timing (they are in the peak RSS, which is the process's).


def _run_orjson(path: str):
    import orjson

    def run() -> int:
        n = 0
        loads = orjson.loads
        with open(path, "rb") as f:
            for line in f:
                loads(line)
                n += 1
        return n

    return run


def _run_json(path: str):
    def run() -> int:
        n = 0
        loads = json.loads
        with open(path, "rb") as f:
            for line in f:
                loads(line)
                n += 1
        return n

    return run


def _run_ijson(path: str):
    import ijson

    def run() -> int:
        n = 0
        with open(path, "rb") as f:
            for _ in ijson.items(f, "", multiple_values=True, use_float=True):
                n += 1
        return n

    return run


def _run_datasets(path: str):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    from datasets import load_dataset

    def run() -> int:
        n = 0
        for _ in load_dataset("json", data_files=path, split="train", streaming=True):
            n += 1
        return n

    return run


def _run_stream(path: str, extras: bool = False, **options):
    from emergence.corpus.stream import stream_records

    def run() -> int:
        stream = stream_records(path, progress=False, **options)
        for record in stream:
            if extras:
                record.target_ind  # noqa: B018 - decodes the raw label list
        assert stream.stats.reconciles(), stream.stats
        return stream.stats.read

    return run


def old_loader(ref: str = OLD_REF) -> Path:
    """The loader of git ref `ref` as the package `oldloader` (its C extension built), under benchmarks/out."""
    root = OUT / f"oldloader-{ref}"
    package = root / "oldloader"
    if list(package.glob("_speedups*.so")):
        return root
    shutil.rmtree(root, ignore_errors=True)
    package.mkdir(parents=True)
    renames = {"from emergence.corpus import speedups": "from oldloader import speedups",
               "from emergence.corpus.records import": "from oldloader.records import",
               "from emergence._speedups import": "from oldloader._speedups import",
               '"emergence._speedups"': '"oldloader._speedups"'}
    files = {"records.py": "emergence/corpus/records.py", "stream.py": "emergence/corpus/stream.py",
             "speedups.py": "emergence/corpus/speedups.py", "_speedups.c": "emergence/_speedups.c"}
    for name, source in files.items():
        text = subprocess.run(["git", "-C", str(REPO), "show", f"{ref}:{source}"], capture_output=True, text=True,
                              check=True).stdout
        for old, new in renames.items():
            text = text.replace(old, new)
        (package / name).write_text(text)
    (package / "__init__.py").write_text("")
    (root / "setup.py").write_text(
        "from setuptools import Extension, setup\n"
        "setup(name='oldloader', ext_modules=[Extension('oldloader._speedups', ['oldloader/_speedups.c'], "
        "extra_compile_args=['-O3'])])\n"
    )
    subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=root, check=True,
                   capture_output=True)
    return root


def _run_old(path: str, ref: str):
    sys.path.insert(0, str(old_loader(ref)))
    from oldloader import speedups
    from oldloader.stream import stream_records

    assert speedups.AVAILABLE, "the old loader's C extension did not build"

    def run() -> int:
        stream = stream_records(path, progress=False)
        for _ in stream:
            pass
        assert stream.stats.reconciles(), stream.stats
        return stream.stats.read

    return run


def _run_agecues(path: str):
    from emergence.agecues import find_age_cues
    from emergence.corpus.stream import stream_records

    def run() -> int:
        stream = stream_records(path, progress=False)
        with_cues = 0
        for record in stream:
            if record.content and find_age_cues(record.content):
                with_cues += 1
        return stream.stats.read

    return run


def child(method: str, path: str, ref: str) -> dict:
    runners = {
        "orjson": _run_orjson,
        "json": _run_json,
        "ijson": _run_ijson,
        "datasets": _run_datasets,
        "stream_records": _run_stream,
        "stream_records_extras": lambda p: _run_stream(p, extras=True),
        "stream_records_dedupe": lambda p: _run_stream(p, dedupe=True),
        "stream_records_agecues": _run_agecues,
        "stream_records_array": _run_stream,
        "stream_records_gzip": _run_stream,
        "old_stream_records": lambda p: _run_old(p, ref),
    }
    run = runners[method](path)
    wall, cpu = time.perf_counter(), time.process_time()
    records = run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"method": method, "records": records, "seconds": wall, "cpu_seconds": cpu, "peak_rss_mb": rss_kb / 1024}


def run_child(method: str, path: Path, ref: str) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", method, str(path), ref],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"},
    )
    if proc.returncode != 0:
        return {"method": method, "error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- the whole run ------------------------------------------------------------------------


def machine() -> dict:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "python": platform.python_version(),
            "platform": platform.platform()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=FULL_LINES, help="records in the generated file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of: " + ", ".join(METHODS))
    parser.add_argument("--repeat", type=int, default=3, help="rounds of every method in turn")
    parser.add_argument("--old-ref", default=OLD_REF, help="git ref of the loader old_stream_records runs")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--child", nargs=3, metavar=("METHOD", "PATH", "REF"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0

    methods = [m for m in args.methods.split(",") if m]
    unknown = set(methods) - set(METHODS)
    if unknown:
        parser.error(f"unknown methods: {', '.join(sorted(unknown))}")
    jsonl = OUT / f"trn-{args.lines}-s{args.seed}.jsonl"
    paths = {"stream_records_array": OUT / f"trn-{args.lines}-s{args.seed}.array.json",
             "stream_records_gzip": OUT / f"trn-{args.lines}-s{args.seed}.jsonl.gz"}
    if not jsonl.exists():
        print(f"generating {jsonl} ...", file=sys.stderr, flush=True)
        generate_corpus(jsonl, args.lines, seed=args.seed)
    if "stream_records_array" in methods and not paths["stream_records_array"].exists():
        write_array(jsonl, paths["stream_records_array"])
    if "stream_records_gzip" in methods and not paths["stream_records_gzip"].exists():
        subprocess.run(f"gzip -6 -c {jsonl} > {paths['stream_records_gzip']}", shell=True, check=True)
    if "old_stream_records" in methods:
        old_loader(args.old_ref)  # built once, outside the timings

    runs_of: dict[str, list[dict]] = {method: [] for method in methods}
    loads = [os.getloadavg()[0]]
    for _ in range(args.repeat):
        for method in methods:
            print(f"running {method} ...", file=sys.stderr, flush=True)
            runs_of[method].append(run_child(method, paths.get(method, jsonl), args.old_ref))
            loads.append(os.getloadavg()[0])
    info = machine()
    print(f"{args.lines:,} lines, {jsonl.stat().st_size / 1e6:,.0f} MB; {info['cpus']} CPUs: {info['cpu_model']}; "
          f"{args.repeat} rounds; load average (1 min) {min(loads):.1f}-{max(loads):.1f}")
    header = (f"{'method':<24} {'rec/CPU-s best':>14} {'median':>9} {'range':>17} {'% orjson/round':>16}"
              f" {'rec/s best':>10} {'peak RSS MB':>11}")
    print(header)
    print("-" * len(header))
    base = runs_of.get("orjson", [])
    results = []
    for method, runs in runs_of.items():
        ok = [r for r in runs if "error" not in r]
        if not ok:
            print(f"{method:<24} error: {runs[-1]['error']}")
            results.append({"method": method, "error": runs[-1]["error"]})
            continue
        rates = [r["records"] / r["cpu_seconds"] for r in ok]
        shares = [100 * (r["records"] / r["cpu_seconds"]) / (b["records"] / b["cpu_seconds"])
                  for b, r in zip(base, runs) if "error" not in b and "error" not in r]
        share = f"{statistics.median(shares):.0f}% ({min(shares):.0f}-{max(shares):.0f})" if shares else "-"
        row = {"method": method, "records": ok[0]["records"], "rec_per_cpu_s": rates,
               "rec_per_s_best": max(r["records"] / r["seconds"] for r in ok),
               "peak_rss_mb": max(r["peak_rss_mb"] for r in ok), "pct_of_orjson_by_round": shares}
        results.append(row)
        print(f"{method:<24} {max(rates):>14,.0f} {statistics.median(rates):>9,.0f} "
              f"{min(rates):>8,.0f}-{max(rates):<8,.0f} {share:>16} {row['rec_per_s_best']:>10,.0f} "
              f"{row['peak_rss_mb']:>11.1f}")
    old = runs_of.get("old_stream_records", [])
    if "stream_records" in runs_of and old:
        ratios = [(n["records"] / n["cpu_seconds"]) / (o["records"] / o["cpu_seconds"])
                  for n, o in zip(runs_of["stream_records"], old) if "error" not in n and "error" not in o]
        print("stream_records / old_stream_records, records per CPU-second, round by round: "
              + " ".join(f"{ratio:.2f}" for ratio in ratios))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"lines": args.lines, "file_bytes": jsonl.stat().st_size, "machine": info, "load_average": loads,
                   "command": " ".join([Path(sys.executable).name, *sys.argv]), "results": results,
                   "runs": runs_of}
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
