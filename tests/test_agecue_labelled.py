"""Precision and recall of the age-cue finder on labelled sentences (tests/data/*.tsv).

Each row is (class, expected minimum reader age or none, text). A sentence is scored by
``min_age_from_cues``: a true positive states an age and the finder returns that age; a
false positive is a returned age that is wrong or where none is stated; a false negative
a stated age the finder misses or gets wrong (a wrong age is both). The sets were
written from real descriptions' phrasing before the finder was changed.
"""
from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import pytest

from emergence.agecues import min_age_from_cues

DATA = Path(__file__).parent / "data"
FILES = ("agecue_sentences.tsv", "agecue_sentences_holdout.tsv")
TARGET = 0.98


class Row(NamedTuple):
    file: str
    line: int
    cls: str
    age: float | None
    text: str


def load_rows(name: str) -> list[Row]:
    rows = []
    for number, line in enumerate((DATA / name).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        cls, age, text = line.split("\t")
        rows.append(Row(name, number, cls, None if age == "none" else float(age), text))
    return rows


def score(rows: list[Row]) -> dict[str, float]:
    """Counts and precision / recall of ``min_age_from_cues`` over ``rows``."""
    tp = fp = fn = 0
    for row in rows:
        got = min_age_from_cues(row.text)
        right = got is not None and row.age is not None and math.isclose(got, row.age)
        tp += right
        fp += got is not None and not right
        fn += row.age is not None and not right
    return {
        "tp": tp, "fp": fp, "fn": fn,
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
    }


ALL_ROWS = [row for name in FILES for row in load_rows(name)]


def test_the_set_is_large_and_balanced():
    classes = Counter(row.cls for row in ALL_ROWS)
    positives = sum(row.age is not None for row in ALL_ROWS)
    assert len(ALL_ROWS) >= 400
    assert 0.35 <= positives / len(ALL_ROWS) <= 0.65  # many negatives, as in real text
    assert len(classes) >= 15 and min(classes.values()) >= 4


def test_score_counts_a_wrong_age_as_both_errors():
    rows = [
        Row("x", 1, "c", 4.0, "Ages 4-8"),  # right
        Row("x", 2, "c", 5.0, "Ages 4-8"),  # wrong age: a false positive and a false negative
        Row("x", 3, "c", None, "Ages 4-8"),  # a cue where none is stated
        Row("x", 4, "c", 4.0, "no cue here"),  # missed
        Row("x", 5, "c", None, "no cue here"),  # right
    ]
    assert score(rows) == {"tp": 1, "fp": 2, "fn": 2, "precision": 1 / 3, "recall": 1 / 3}


@pytest.mark.parametrize("name", FILES)
def test_precision_and_recall_on_the_labelled_set(name):
    rows = load_rows(name)
    result = score(rows)
    errors = [
        f"{r.file}:{r.line} [{r.cls}] expected {r.age}, got {min_age_from_cues(r.text)}: {r.text}"
        for r in rows
        if not (
            (r.age is None and min_age_from_cues(r.text) is None)
            or (r.age is not None and min_age_from_cues(r.text) is not None
                and math.isclose(min_age_from_cues(r.text), r.age))
        )
    ]
    assert result["precision"] >= TARGET and result["recall"] >= TARGET, "\n".join(errors)
