"""Loader throughput and memory: emergence.stream_records against its peers, in one run.

    $ python benchmarks/bench_loader.py                      # 2,248,619 lines, as trn.json
    $ python benchmarks/bench_loader.py --lines 20000 --json benchmarks/out/loader.json

Generates (once, cached in benchmarks/out/, which git ignores) a trn.json-shaped JSON
Lines file: `uid`, `title`, `content`, `target_ind`, `target_rel`; realistic title and
content lengths, about 35% empty contents, HTML entities (`&#8211;`, `&amp;`, ...),
age cues ("Ages 4-8", "Grade 3-5", ...), runs of spaces, escaped newlines and
non-ASCII text; about 22 labels a record as in LF-Amazon-1.3M. The same records are
also written as one JSON array for the array row.

Each method runs in its own subprocess, so its peak RSS (`ru_maxrss` of that child) is
its own: the raw `orjson.loads` line loop, stdlib `json`, ijson (items of JSON Lines
with `multiple_values=True`), Hugging Face `datasets` streaming JSON, and
`emergence.stream_records` (validation + cleaning), the same with the Python twins of
its C pieces (`stream_records_no_c`: as where `emergence._speedups` was not built),
with `dedupe=True`, with the age-cue audit (stream + `emergence.agecues.find_age_cues`
on each content), and on the JSON-array form. Prints a table (records/s, seconds, peak RSS MB, % of the orjson
loop; the same by CPU time, which other processes on a shared machine disturb less)
and, with --json, writes the results. --repeat N runs N rounds of every method in
turn and keeps each method's fastest run (peak RSS: the largest).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
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
METHODS = (
    "orjson",
    "json",
    "ijson",
    "datasets",
    "stream_records",
    "stream_records_no_c",
    "stream_records_dedupe",
    "stream_records_agecues",
    "stream_records_array",
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


def _run_stream(path: str, twins: str = "c", **options):
    import contextlib

    from emergence.corpus import speedups
    from emergence.corpus.stream import stream_records

    def run() -> int:
        stream = stream_records(path, progress=False, **options)
        # "python": as where emergence._speedups could not be built
        with speedups.python_twins() if twins == "python" else contextlib.nullcontext():
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


def child(method: str, path: str) -> dict:
    runners = {
        "orjson": _run_orjson,
        "json": _run_json,
        "ijson": _run_ijson,
        "datasets": _run_datasets,
        "stream_records": _run_stream,
        "stream_records_no_c": lambda p: _run_stream(p, twins="python"),
        "stream_records_dedupe": lambda p: _run_stream(p, dedupe=True),
        "stream_records_agecues": _run_agecues,
        "stream_records_array": _run_stream,
    }
    run = runners[method](path)
    wall, cpu = time.perf_counter(), time.process_time()
    records = run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"method": method, "records": records, "seconds": wall, "cpu_seconds": cpu, "peak_rss_mb": rss_kb / 1024}


def run_child(method: str, path: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", method, str(path)],
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
    return {"cpus": os.cpu_count(), "cpu_model": model, "python": platform.python_version(), "platform": platform.platform()}


def _round_shares(runs_of: dict[str, list[dict]]) -> dict[str, list[float]]:
    """Per method, its records/s as a % of the orjson loop's in the same round (several rounds only)."""
    base = runs_of.get("orjson", [])
    if len(base) < 2:
        return {}
    shares = {}
    for method, runs in runs_of.items():
        if method == "orjson":
            continue
        pairs = [(b, r) for b, r in zip(base, runs) if "error" not in b and "error" not in r]
        shares[method] = [100 * (r["records"] / r["seconds"]) / (b["records"] / b["seconds"]) for b, r in pairs]
    return shares


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=FULL_LINES, help="records in the generated file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of: " + ", ".join(METHODS))
    parser.add_argument("--repeat", type=int, default=1, help="rounds of every method in turn; each method's fastest run is reported")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0

    methods = [m for m in args.methods.split(",") if m]
    unknown = set(methods) - set(METHODS)
    if unknown:
        parser.error(f"unknown methods: {', '.join(sorted(unknown))}")
    jsonl = OUT / f"trn-{args.lines}-s{args.seed}.jsonl"
    array_path = OUT / f"trn-{args.lines}-s{args.seed}.array.json"
    if not jsonl.exists():
        t = time.perf_counter()
        print(f"generating {jsonl} ...", file=sys.stderr, flush=True)
        generate_corpus(jsonl, args.lines, seed=args.seed)
        print(f"  {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    if "stream_records_array" in methods and not array_path.exists():
        write_array(jsonl, array_path)

    # rounds of every method in turn, not each method's runs back to back: on a shared
    # machine a slow minute then slows one round of each method, not all runs of one
    runs_of: dict[str, list[dict]] = {method: [] for method in methods}
    for _ in range(args.repeat):
        for method in methods:
            path = array_path if method == "stream_records_array" else jsonl
            print(f"running {method} ...", file=sys.stderr, flush=True)
            runs_of[method].append(run_child(method, path))
    results = []
    for method, runs in runs_of.items():
        ok = [r for r in runs if "error" not in r]
        best = min(ok, key=lambda r: r["seconds"]) if ok else runs[-1]
        if ok:
            best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in ok)
        results.append(best)

    base = next((r for r in results if r["method"] == "orjson" and "error" not in r), None)
    header = (
        f"{'method':<24} {'records/s':>10} {'seconds':>8} {'peak RSS MB':>11} {'% of orjson':>11}"
        f" {'rec/CPU-s':>10} {'CPU s':>7} {'% (CPU)':>8}"
    )
    info = machine()
    print(f"{args.lines:,} lines, {jsonl.stat().st_size / 1e6:,.0f} MB; {info['cpus']} CPUs: {info['cpu_model']}")
    print(header)
    print("-" * len(header))
    for r in results:
        if "error" in r:
            print(f"{r['method']:<24} error: {r['error']}")
            continue
        r["records_per_s"] = r["records"] / r["seconds"]
        r["records_per_cpu_s"] = r["records"] / r["cpu_seconds"]
        share = f"{100 * r['records_per_s'] / base['records_per_s']:.0f}%" if base else "-"
        share_cpu = f"{100 * r['records_per_cpu_s'] / base['records_per_cpu_s']:.0f}%" if base else "-"
        print(
            f"{r['method']:<24} {r['records_per_s']:>10,.0f} {r['seconds']:>8.2f} {r['peak_rss_mb']:>11.1f}"
            f" {share:>11} {r['records_per_cpu_s']:>10,.0f} {r['cpu_seconds']:>7.2f} {share_cpu:>8}"
        )
    rounds = _round_shares(runs_of)
    if rounds:
        print("% of orjson round by round (each method against the orjson run of its round):")
        for method, shares in rounds.items():
            print(f"  {method:<22} " + " ".join(f"{share:.0f}%" for share in shares))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "lines": args.lines,
            "file_bytes": jsonl.stat().st_size,
            "machine": machine(),
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "results": results,
            "rounds": {"runs": runs_of, "pct_of_orjson": rounds},
        }
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
