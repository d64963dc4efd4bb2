"""Canaries, the canary and base-only controls, the k-extractable share.

Defects pinned: a canary that changes between runs or machines; two records sharing a
canary; a canary the age-cue mask or the loader's cleaning would alter (so what was
planted is not what training saw); canaries "detected" from a high AUC on too few items,
or from an interval that does not exist; a base-only control passing on an undefined
interval; untestable (too short) members counted as not extractable.
"""
from __future__ import annotations

import doctest
import importlib
import math
import re

import numpy as np
import pytest

from emergence.agecues import find_age_cues, mask_age_cues
from emergence.corpus.records import clean_text
from emergence.memorisation import (CANARY_WORDS, canary_detection, canary_sentence, covers_chance,
                                    extraction_share, negative_control)


def test_canary_is_a_pinned_function_of_key_and_salt():
    # pinned literally: the same key and salt must give this sentence on any machine, forever
    assert canary_sentence("uid-42", "seed-0") == "Beacon silver canoe rain prairie 7931 cabin poplar jasmine arch ocean."
    assert canary_sentence("uid-42", "seed-1") != canary_sentence("uid-42", "seed-0")
    assert canary_sentence("uid-4", "2seed-0") != canary_sentence("uid-42", "seed-0")  # separator


def test_canaries_are_unique_sentences_of_8_to_12_words_and_a_number():
    sentences = [canary_sentence(f"B{i:07d}", "salt") for i in range(5000)]
    assert len(set(sentences)) == len(sentences)
    lengths = set()
    for s in sentences:
        tokens = s.rstrip(".").split()
        numbers = [t for t in tokens if t.isdigit()]
        assert len(numbers) == 1 and 1000 <= int(numbers[0]) <= 9999 and not tokens[0].isdigit(), s
        words = [t.lower() for t in tokens if not t.isdigit()]
        assert all(w in CANARY_WORDS for w in words), s
        lengths.add(len(words))
        assert s[0].isupper() and s.endswith(".")
    assert lengths == set(range(8, 13))


def test_canary_word_list_is_plain_distinct_words():
    assert 250 <= len(CANARY_WORDS) == len(set(CANARY_WORDS))
    assert all(re.fullmatch(r"[a-z]+", w) for w in CANARY_WORDS)


def test_canaries_carry_no_age_cue_and_survive_cleaning():
    # a canary the training mask cut, or the loader cleaned, would not be what was planted
    for w in CANARY_WORDS:
        for probe in (f"Ages {w} 1234.", f"{w} 1234 and up.", f"For {w} readers 1234."):
            assert find_age_cues(probe) == [], (w, probe)
    for i in range(3000):
        s = canary_sentence(f"uid{i}", "run-7")
        assert find_age_cues(s) == [], s
        assert clean_text(s) == s
        content = "A quiet story about a lighthouse. " + s
        assert mask_age_cues(content).text == content


def test_canaries_detected_only_with_their_whole_interval_above_095():
    rng = np.random.default_rng(0)
    seen, unseen = rng.normal(6, 1, 60), rng.normal(0, 1, 60)
    hit = canary_detection(seen, unseen)
    assert hit.passed and hit.auc.ci_low > 0.95
    assert "canaries detected" in hit.text and "(60 canaries, 60 controls)" in hit.text
    few = canary_detection(rng.normal(6, 1, 8), rng.normal(0, 1, 8))  # AUC 1, interval [0.78, 1]
    assert not few.passed and few.auc.mean == 1.0 and "too few canaries" in few.text
    # the rule is the verdict's: the canary_recall hypothesis decides the same on the same scores
    from emergence.verdict.hypothesis import CANARY_RECALL, verdict
    for a, b in ((seen, unseen), (rng.normal(6, 1, 8), rng.normal(0, 1, 8)), (rng.normal(2, 1, 60), unseen)):
        assert canary_detection(a, b).passed == (verdict(CANARY_RECALL, list(b), list(a)).outcome == "confirmed")
    weak = canary_detection(rng.normal(0.8, 1, 50), rng.normal(0, 1, 50))
    assert not weak.passed and "< 0.95" in weak.text
    tiny = canary_detection([9.0, 8.0, 7.0], [1.0, 2.0, 3.0])  # AUC 1 but no interval at 3 a side
    assert not tiny.passed and tiny.auc.mean == 1.0 and "no interval" in tiny.text
    none = canary_detection([], [1.0])
    assert not none.passed


def test_base_only_control_passes_when_the_interval_covers_chance():
    rng = np.random.default_rng(1)
    same = negative_control(rng.normal(0, 1, 200), rng.normal(0, 1, 200))
    assert same.passed == covers_chance(same.auc) and same.control == "base_only"
    shifted = negative_control(rng.normal(1, 1, 200), rng.normal(0, 1, 200))
    assert not shifted.passed and "excludes 0.5" in shifted.text
    undefined = negative_control([0.1, 0.2], [0.3, 0.4])
    assert not undefined.passed and "undefined" in undefined.text
    assert not covers_chance(undefined.auc)  # an interval that does not exist covers nothing


def test_extraction_share_is_wilson_over_tested_members_only():
    r = extraction_share([True, False, False, True] + [False] * 6, too_short=3)
    assert (r.extractable, r.tested, r.too_short) == (2, 10, 3)
    assert r.share.mean == 0.2 and r.share.method == "wilson"
    assert r.share.ci_low == pytest.approx(0.0567, abs=1e-3) and r.share.ci_high == pytest.approx(0.5098, abs=1e-3)
    assert "2 of 10 members" in r.text and "3 too short to test" in r.text
    none = extraction_share([], too_short=5)
    assert math.isnan(none.share.mean) and "no member long enough" in none.text
    with pytest.raises(ValueError):
        extraction_share([0.5], too_short=0)
    with pytest.raises(ValueError):
        extraction_share([1.0], too_short=-1)


@pytest.mark.parametrize("module", ["", ".auc", ".roc", ".scores", ".canaries", ".controls", ".extraction"])
def test_module_doctests(module):
    result = doctest.testmod(importlib.import_module("emergence.memorisation" + module))
    assert result.failed == 0 and result.attempted > 0
