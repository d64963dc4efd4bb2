"""Record validation, text cleaning, LoadStats reconciliation and LoadError."""
from __future__ import annotations

import html
import io
import math
import pickle
import random
import re

import orjson
import pytest

from emergence.corpus.records import LoadError, LoadStats, clean_field, clean_text, true_age
from emergence.corpus.stream import record_from, stream_records

# the specification of cleaning, written the slow obvious way
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")


def reference_clean(text: str) -> str:
    return " ".join(_CONTROLS.sub("", html.unescape(text)).split())


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Ages 4&#8211;8", "Ages 4–8"),
        ("Tom &amp; Jerry", "Tom & Jerry"),
        ("&amp;amp; is unescaped once", "&amp; is unescaped once"),
        ("no\x00 con\x07trol\x7f chars\x9f", "no control chars"),
        ("  tabs\tand\nnew\r\nlines  ", "tabs and new lines"),
        ("non\xa0breaking\u2003spaces\u3000too", "non breaking spaces too"),
        ("escaped&#9;tab&nbsp;and&#10;newline", "escaped tab and newline"),
        ("double  spaces   collapse", "double spaces collapse"),
        ("&#1;&#127; controls from entities go", "controls from entities go"),
        ("", ""),
        ("   ", ""),
        ("&nbsp;", ""),
        ("already clean", "already clean"),
        ("Café – “quotes” …", "Café – “quotes” …"),
    ],
)
def test_clean_text_examples(raw, clean):
    assert clean_text(raw) == clean
    assert clean_text(raw) == reference_clean(raw)


def test_clean_text_matches_the_specification_on_random_text():
    rng = random.Random(0)
    alphabet = [
        *"ab &;#é", "&amp;", "&#8211;", "&nbsp;", "&#9;", "&#x85;", "&#0;", "&#1;", "&notit;", "&amp", "&ensp;",
        "&NewLine;", "\t", "\n", "\r", "\x00", "\x07", "\x1c", "\x7f", "\x85", "\x9f", "\xa0", "\u2003", "\u3000",
        "\u200b", "  ",
    ]
    for _ in range(20_000):
        text = "".join(rng.choices(alphabet, k=rng.randint(0, 16)))
        assert clean_text(text) == reference_clean(text), text


def test_clean_field_agrees_with_clean_text_for_strings_of_json_lines():
    # clean_field skips work when the line has no escapes; the result must not change
    rng = random.Random(1)
    alphabet = [*"ab &;", "&amp;", "&#8211;", "&nbsp;", "\t", "\n", "\x00", "\x7f", "\x85", "\xa0", "é", "  ", '"']
    for _ in range(20_000):
        text = "".join(rng.choices(alphabet, k=rng.randint(0, 16)))
        line = orjson.dumps({"title": text})
        escaped = b"\\" in line or b"\x7f" in line
        assert clean_field(text, escaped) == reference_clean(text), (text, line)


def test_record_keeps_extras_and_validates_strictly():
    rec = record_from(
        {"uid": "B00X", "title": "T", "content": "c", "target_ind": [1, 2], "target_rel": [1.0, 1.0], "other": 1}
    )
    assert rec.uid == "B00X" and rec.title == "T" and rec.content == "c"
    assert (rec.target_ind, rec.target_rel, rec.true_min_age, rec.category) == ([1, 2], [1.0, 1.0], None, None)
    assert rec.extras == {"target_ind": [1, 2], "target_rel": [1.0, 1.0]}  # other fields are not kept
    assert record_from({"title": "T"}).uid is None
    assert record_from({"title": "T"}).content == ""
    sample = record_from({"title": "T", "true_min_age": 7.5, "category": "board &amp;  book"})
    assert (sample.true_min_age, sample.category) == (7.5, "board &amp;  book")  # extras are never cleaned
    assert pickle.loads(pickle.dumps(sample)) == sample


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"title": 3}, "wrong_type"),
        ({"title": ["a"]}, "wrong_type"),
        ({"title": "T", "uid": 7}, "wrong_type"),
        ({"title": "T", "content": ["x"]}, "wrong_type"),
        ({"title": "T", "content": None}, "wrong_type"),
        ({"title": True}, "wrong_type"),
        ({"title": ""}, "empty_title"),
        ({"title": None}, "missing_title"),
        ({"content": "no title"}, "missing_title"),
    ],
)
def test_record_rejects_wrong_types_missing_and_empty_titles(data, reason):
    with pytest.raises(LoadError) as info:
        record_from(data)
    assert info.value.reason == reason


def test_record_from_raw_cleans_before_validating():
    rec = record_from({"uid": "1", "title": " War &amp;  Peace ", "content": "a\tb", "x": 1})
    assert (rec.title, rec.content, rec.extras) == ("War & Peace", "a b", {})
    with pytest.raises(LoadError, match="empty_title"):
        record_from({"title": " &nbsp; "})


@pytest.mark.parametrize(
    ("value", "age"),
    [(4, 4.0), (2.5, 2.5), (0, 0.0), ("4", None), (True, None), (False, None), (-1, None), (None, None),
     (float("nan"), None), (float("inf"), None), (10**400, None), ([4], None)],
)
def test_true_age_is_a_finite_non_negative_number(value, age):
    assert true_age({"true_min_age": value}) == age
    if isinstance(value, (int, float, str, list)) and not (isinstance(value, float) and not math.isfinite(value)):
        assert true_age(record_from({"title": "T", "true_min_age": value})) == age
    assert true_age(record_from({"title": "T"})) is None
    # a number beyond a double in the line reads as infinity: not an age
    line = b'{"title": "T", "true_min_age": 1e400}\n'
    assert true_age(next(iter(stream_records(io.BytesIO(line))))) is None


def test_load_stats_reconcile():
    stats = LoadStats(read=10, yielded=5, rejected={"malformed_json": 2}, filtered={"duplicate": 1, "shard": 2})
    assert stats.reconciles()
    stats.read += 1
    assert not stats.reconciles()


def test_load_error_names_path_line_offset_and_reason():
    err = LoadError("malformed_json", path="trn.json", line=17, detail="unexpected end")
    assert isinstance(err, ValueError)
    assert (err.path, err.line, err.offset, err.reason) == ("trn.json", 17, None, "malformed_json")
    assert "trn.json" in str(err) and "line 17" in str(err) and "malformed_json" in str(err)
    err = LoadError("malformed_json", path="trn.json", line=4, column=2, detail="invalid character")
    assert str(err) == "trn.json, line 4, column 2: malformed_json: invalid character"
    err = LoadError("malformed_array", path="a.json", offset=1234, item=5)
    assert "byte offset 1234" in str(err) and "item 5" in str(err) and "malformed_array" in str(err)
    again = pickle.loads(pickle.dumps(err))
    assert (again.reason, again.path, again.offset, again.item, str(again)) == (
        err.reason, err.path, err.offset, err.item, str(err)
    )
