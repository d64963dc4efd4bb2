"""Padded or padding-free batches: the expected padding of random micro-batches and the choice."""
from __future__ import annotations

import random

import pytest

from emergence.train.batching import PADDING_FREE_COST, choose_padding_free, decide_padding_free, padding_waste


def test_full_length_examples_waste_nothing():
    assert padding_waste([2048] * 16, batch_size=2) == 0.0
    assert choose_padding_free([2048] * 16, batch_size=2)[0] is False


def test_two_lengths_exactly():
    # pairs drawn with replacement from {100, 300}: longest is 300 unless both are 100 (1/4)
    assert padding_waste([100, 300], batch_size=2) == pytest.approx(1 - 200 / 250)
    assert padding_waste([100, 300], batch_size=1) == 0.0


def test_matches_a_simulation_of_random_batches():
    rng = random.Random(0)
    lengths = [int(rng.lognormvariate(5, 0.8)) + 20 for _ in range(200)]
    pads = real = 0
    for _ in range(100_000):
        batch = [rng.choice(lengths) for _ in range(4)]
        real += sum(batch)
        pads += 4 * max(batch) - sum(batch)
    assert padding_waste(lengths, batch_size=4) == pytest.approx(pads / (pads + real), abs=0.005)


def test_short_varied_records_go_padding_free():
    lengths = [60, 120, 200, 450, 90, 800, 130, 75]  # like product descriptions
    free, reason = choose_padding_free(lengths, batch_size=2)
    assert free is True and "padding-free" in reason


def test_threshold_is_the_measured_cost():
    # waste just under and just over the cost
    assert choose_padding_free([1000, 1000, 1000, 960], batch_size=2)[0] is False
    assert padding_waste([1000, 1000, 1000, 960], batch_size=2) < PADDING_FREE_COST
    assert choose_padding_free([1000, 700], batch_size=2)[0] is True


def test_batch_of_one_never_pads_and_bad_sizes_fail():
    assert choose_padding_free([10, 2000], batch_size=1)[0] is False
    assert padding_waste([], batch_size=2) == 0.0
    with pytest.raises(ValueError):
        padding_waste([10], batch_size=0)


def test_what_a_run_uses():
    full, short = [2048] * 8, [60, 120, 200, 450, 90, 800, 130, 75]
    assert decide_padding_free(None, "unsloth", full, 2)[0] is False  # the benchmark's data
    assert decide_padding_free(None, "unsloth", short, 2)[0] is True  # a real corpus
    assert decide_padding_free(None, "unsloth", [], 2)[0] is None  # no sample: Unsloth decides
    assert decide_padding_free(None, "hf", short, 2)[0] is False
    assert decide_padding_free(True, "unsloth", full, 2) == (True, "set in the config")
    assert decide_padding_free(False, "hf", short, 2)[0] is False
