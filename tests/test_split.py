"""split_of: golden values, the documented hash, stability across processes, title variants together."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from emergence.corpus.stream import record_from
from emergence.corpus.split import normalise_title, split_key, split_of, split_point

UIDS = ["0000031909", "0000032034", "B00004T8R2", "B0MHMU8Q47", "9576100835", "0439139597", "1", "2", "abc", "x"]
TITLES = ["The Very Hungry Caterpillar", "Jane's Battleships of the 20th Century", "Goodnight Moon", "War &amp; Peace"]
# Golden values: a change here re-draws every split and invalidates earlier runs' held-out sets.
GOLDEN_TITLES_HALF = ["held_out", "train", "held_out", "held_out"]
GOLDEN_POINTS = [0.432821834314, 0.790310904707, 0.250652595789, 0.225035938455]
# records whose title has no letter or digit are split by uid
GOLDEN_UIDS_HALF = ["train", "train", "train", "train", "train", "train", "held_out", "train", "train", "held_out"]


def test_golden_values():
    assert [split_of({"title": t}, held_out=0.5) for t in TITLES] == GOLDEN_TITLES_HALF
    assert [round(split_point(split_key({"title": t})), 12) for t in TITLES] == GOLDEN_POINTS
    assert [split_of({"uid": u, "title": "?!"}, held_out=0.5) for u in UIDS] == GOLDEN_UIDS_HALF


def test_split_point_is_the_documented_blake2b():
    for title in TITLES:
        key = split_key({"title": title})
        digest = hashlib.blake2b(b"emergence\x00" + key.encode(), digest_size=8).digest()
        assert split_point(key) == int.from_bytes(digest, "big") / 2**64
    assert split_point("x", salt="other") != split_point("x")


def test_the_key_is_the_normalised_title_then_the_uid():
    raw = {"uid": "u9", "title": "  War &amp; Peace "}
    record = record_from(raw)
    assert split_key(raw) == split_key(record) == "t:war peace"
    assert normalise_title("The  Hobbit: Or, There and Back Again!") == "the hobbit or there and back again"
    assert normalise_title("ＧＯＯＤＮＩＧＨＴ Moon") == "goodnight moon"  # NFKC: full-width letters
    assert split_key({"uid": "u1", "title": "---"}) == "u:u1"
    for held_out in (0.1, 0.5, 0.9):
        assert split_of(raw, held_out=held_out) == split_of(record, held_out=held_out)
    with pytest.raises(ValueError):
        split_key({"uid": None, "title": " "})
    with pytest.raises(ValueError):
        split_key({"uid": "", "title": "!?"})


def test_every_variant_of_a_title_lands_on_one_side():
    """Editions of one book (other uids, other case, punctuation and spacing) are never split."""
    import random

    rng = random.Random(0)
    variants = ["{t}", "{T}", "{t}!", " {t} ", "{t}.", "{t} -", "{t}  ", "{t}?"]
    for i in range(400):
        title = f"The Book of Things Number {i}: A Tale"
        sides = {split_of({"uid": f"{i}-{j}", "title": rng.choice(variants).format(t=title, T=title.upper())},
                          held_out=0.5) for j in range(6)}
        assert len(sides) == 1, title


def test_share_edges_and_monotonicity():
    titles = [f"title {i}" for i in range(20_000)]
    held = [t for t in titles if split_of({"title": t}) == "held_out"]
    # 10% of 20,000 is 2,000 with a binomial standard deviation of ~42
    assert 1800 < len(held) < 2200
    wider = {t for t in titles if split_of({"title": t}, held_out=0.2) == "held_out"}
    assert set(held) <= wider
    assert all(split_of({"title": t}, held_out=0.0) == "train" for t in titles[:100])
    assert all(split_of({"title": t}, held_out=1.0) == "held_out" for t in titles[:100])
    with pytest.raises(ValueError):
        split_of({"title": "1"}, held_out=1.5)


def test_identical_in_another_process_with_another_hash_seed():
    code = (
        "import json, sys\n"
        "from emergence.corpus.split import split_of\n"
        "uids = json.loads(sys.argv[1])\n"
        "print(json.dumps([split_of({'title': u}, held_out=0.5) for u in uids]))\n"
    )
    uids = UIDS + [f"u{i}" for i in range(200)]
    here = [split_of({"title": u}, held_out=0.5) for u in uids]
    for seed in ("1", "12345"):
        out = subprocess.run(
            [sys.executable, "-c", code, json.dumps(uids)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert json.loads(out.stdout) == here
