"""``emergence data``: audit a corpus, write a sample corpus.

    $ emergence data audit "$(python -c 'import emergence; print(emergence.sample_path())')"
    $ emergence data audit trn.json.gz --json > audit.json
    $ zcat trn.json.gz | emergence data audit - --held-out 0.1
    $ emergence data sample /tmp/sample.jsonl.gz --n 20000 --seed 1

``audit`` streams the corpus once (``emergence.corpus.audit.audit_corpus``) and prints rich
tables, or the report as JSON with ``--json``; ``PATH`` may be ``-`` for standard input.
It exits 1 with the loader's message when the corpus cannot be read (not JSON, a
truncated gzip, or the first bad record under ``--strict``). ``sample`` writes
``emergence.corpus.sample.write_sample(OUT, N, seed=S)`` (gzip when OUT ends in .gz).
"""
from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    from emergence.corpus.sample import SAMPLE_N, SAMPLE_SEED

    data = subparsers.add_parser(
        "data", help="audit a corpus or write a sample corpus",
        description="Corpus tools: 'audit' reports counts, duplicates, age cues (leakage), "
        "lengths and split sizes in one streaming pass; 'sample' writes a seeded sample "
        "corpus with known reading ages.",
    )
    sub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    audit = sub.add_parser(
        "audit", help="stream a corpus once and report on it",
        description="Stream a corpus (JSON Lines or one JSON array, plain or gzip, sniffed "
        "from the bytes) once and report records read / yielded / rejected, empty "
        "contents, duplicates, age cues overall and in the train split, minimum-age "
        "distribution, length percentiles and train / held-out sizes.",
    )
    audit.add_argument("path", metavar="PATH", help="corpus file, or '-' for standard input")
    audit.add_argument("--json", action="store_true", help="print the report as JSON instead of tables")
    audit.add_argument("--held-out", type=float, default=0.1, metavar="F",
                       help="held-out share of the split (default 0.1)")
    audit.add_argument("--salt", default="emergence", metavar="S",
                       help="salt of the split hash (default 'emergence')")
    audit.add_argument("--strict", action="store_true",
                       help="stop at the first bad record instead of skipping and counting it")
    audit.set_defaults(handler=_audit)

    sample = sub.add_parser(
        "sample", help="write a seeded sample corpus with known reading ages",
        description="Write the embedded sample generator's records (trn.json schema plus "
        "true_min_age and category) as JSON Lines; gzip when OUT ends in .gz.",
    )
    sample.add_argument("out", metavar="OUT", help="output file (.jsonl or .jsonl.gz)")
    sample.add_argument("--n", type=int, default=SAMPLE_N, metavar="N",
                        help=f"number of records (default {SAMPLE_N}, the packaged sample's)")
    sample.add_argument("--seed", type=int, default=SAMPLE_SEED, metavar="S",
                        help=f"random seed (default {SAMPLE_SEED}, the packaged sample's)")
    sample.set_defaults(handler=_sample)


def _audit(args: argparse.Namespace) -> int:
    from emergence.corpus.audit import audit_corpus, render_audit
    from emergence.corpus.records import LoadError

    if not 0.0 <= args.held_out <= 1.0:
        print(f"error: --held-out must be in [0, 1], got {args.held_out}", file=sys.stderr)
        return 2
    source = sys.stdin.buffer if args.path == "-" else args.path
    try:
        report = audit_corpus(source, held_out=args.held_out, salt=args.salt,
                              policy="strict" if args.strict else "skip")
    except (LoadError, FileNotFoundError, IsADirectoryError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        render_audit(report)
    return 0


def _sample(args: argparse.Namespace) -> int:
    from emergence.corpus.sample import write_sample

    if args.n < 0:
        print(f"error: --n must be non-negative, got {args.n}", file=sys.stderr)
        return 2
    path = write_sample(args.out, args.n, seed=args.seed)
    print(f"wrote {args.n:,} records (seed {args.seed}) to {path}")
    return 0
