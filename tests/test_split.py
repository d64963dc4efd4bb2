"""split_of: golden values, the documented hash, stability across processes, title fallback."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from emergence.corpus.records import Record
from emergence.corpus.split import split_key, split_of, split_point

UIDS = ["0000031909", "0000032034", "B00004T8R2", "B0MHMU8Q47", "9576100835", "0439139597", "1", "2", "abc", "x"]
# Golden values: a change here re-draws every split and invalidates earlier runs' held-out sets.
GOLDEN_HALF = ["train", "train", "held_out", "train", "held_out", "train", "train", "held_out", "held_out", "train"]
GOLDEN_POINTS = [0.710622021968, 0.868415907439, 0.394350606484, 0.646838282754]
TITLES = ["The Very Hungry Caterpillar", "Jane's Battleships of the 20th Century", "Goodnight Moon", "War &amp; Peace"]
GOLDEN_TITLES_HALF = ["train", "train", "train", "held_out"]


def test_golden_values():
    assert [split_of({"uid": u}, held_out=0.5) for u in UIDS] == GOLDEN_HALF
    assert [round(split_point(u), 12) for u in UIDS[:4]] == GOLDEN_POINTS
    assert [split_of({"title": t}, held_out=0.5) for t in TITLES] == GOLDEN_TITLES_HALF


def test_split_point_is_the_documented_blake2b():
    for uid in UIDS:
        digest = hashlib.blake2b(b"emergence\x00" + uid.encode(), digest_size=8).digest()
        assert split_point(uid) == int.from_bytes(digest, "big") / 2**64
    assert split_point("x", salt="other") != split_point("x")


def test_title_is_the_key_when_uid_is_missing_or_empty_and_is_cleaned():
    raw = {"title": "  War &amp; Peace "}
    record = Record.from_raw(raw)
    assert split_key(raw) == split_key(record) == "War & Peace"
    assert split_key({"uid": "", "title": "T"}) == split_key({"uid": None, "title": "T"}) == "T"
    assert split_key({"uid": "u1", "title": "T"}) == "u1"
    for held_out in (0.1, 0.5, 0.9):
        assert split_of(raw, held_out=held_out) == split_of(record, held_out=held_out)
    with pytest.raises(ValueError):
        split_key({"uid": None, "title": " "})


def test_share_edges_and_monotonicity():
    uids = [str(i) for i in range(20_000)]
    held = [u for u in uids if split_of({"uid": u}) == "held_out"]
    # 10% of 20,000 is 2,000 with a binomial standard deviation of ~42
    assert 1800 < len(held) < 2200
    wider = {u for u in uids if split_of({"uid": u}, held_out=0.2) == "held_out"}
    assert set(held) <= wider
    assert all(split_of({"uid": u}, held_out=0.0) == "train" for u in uids[:100])
    assert all(split_of({"uid": u}, held_out=1.0) == "held_out" for u in uids[:100])
    with pytest.raises(ValueError):
        split_of({"uid": "1"}, held_out=1.5)


def test_identical_in_another_process_with_another_hash_seed():
    code = (
        "import json, sys\n"
        "from emergence.corpus.split import split_of\n"
        "uids = json.loads(sys.argv[1])\n"
        "print(json.dumps([split_of({'uid': u}, held_out=0.5) for u in uids]))\n"
    )
    uids = UIDS + [f"u{i}" for i in range(200)]
    here = [split_of({"uid": u}, held_out=0.5) for u in uids]
    for seed in ("1", "12345"):
        out = subprocess.run(
            [sys.executable, "-c", code, json.dumps(uids)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert json.loads(out.stdout) == here
