"""Age-cue finder and masker speed, per description, on the embedded sample corpus.

    $ python benchmarks/bench_agecues.py            # best of 5 rounds
    $ python benchmarks/bench_agecues.py --rounds 9 --json benchmarks/out/agecues.json

Reads every non-empty `content` of `emergence.corpus.sample.sample_path()` (cleaned as the
loader cleans it), then times, by CPU time of this process (best round), each of:
`find_age_cues` (the scan the audit and the eval sets run), `mask_age_cues` (what
training runs on every record: one scan, and a removal plus a second scan where cues were
found) and `mask_age_cues` on the descriptions that carry a cue only. Prints microseconds
per description.
"""
from __future__ import annotations

import argparse
import gzip
import json
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))


def _texts() -> list[str]:
    from emergence.corpus.records import clean_text
    from emergence.corpus.sample import sample_path

    with gzip.open(sample_path(), "rt", encoding="utf-8") as f:
        return [t for t in (clean_text(json.loads(line)["content"]) for line in f) if t]


def _best(fn, texts: list[str], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.process_time()
        for text in texts:
            fn(text)
        best = min(best, time.process_time() - t0)
    return best / len(texts) * 1e6


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    from emergence.agecues import find_age_cues, mask_age_cues

    texts = _texts()
    with_cue = [t for t in texts if find_age_cues(t)]
    rows = {
        "find_age_cues": _best(find_age_cues, texts, args.rounds),
        "mask_age_cues": _best(mask_age_cues, texts, args.rounds),
        "mask_age_cues (descriptions with a cue)": _best(mask_age_cues, with_cue, args.rounds),
    }
    result = {
        "descriptions": len(texts),
        "with_cue": len(with_cue),
        "mean_chars": sum(map(len, texts)) / len(texts),
        "us_per_description": rows,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor(),
    }
    print(f"{len(texts)} descriptions ({len(with_cue)} with a cue), "
          f"mean {result['mean_chars']:.0f} characters; best of {args.rounds} rounds, CPU time")
    for name, us in rows.items():
        print(f"  {name:42s} {us:7.1f} us/description")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
