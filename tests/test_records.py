"""Record validation, text cleaning, LoadStats reconciliation and LoadError."""
from __future__ import annotations

import html
import pickle
import random
import re

import orjson
import pytest
from pydantic import ValidationError

from emergence.corpus.records import LoadError, LoadStats, Record, clean_field, clean_text

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
    rec = Record.model_validate(
        {"uid": "B00X", "title": "T", "content": "c", "target_ind": [1, 2], "target_rel": [1.0, 1.0]}
    )
    assert rec.uid == "B00X" and rec.title == "T" and rec.content == "c"
    assert rec.model_extra == {"target_ind": [1, 2], "target_rel": [1.0, 1.0]}
    assert Record.model_validate({"title": "T"}).uid is None
    assert Record.model_validate({"title": "T"}).content == ""


@pytest.mark.parametrize(
    "data",
    [
        {"title": 3},
        {"title": ["a"]},
        {"title": "T", "uid": 7},
        {"title": "T", "content": ["x"]},
        {"title": "T", "content": None},
        {"title": b"bytes"},
        {"title": ""},
        {"content": "no title"},
    ],
)
def test_record_rejects_wrong_types_missing_and_empty_titles(data):
    with pytest.raises(ValidationError):
        Record.model_validate(data)


def test_record_from_raw_cleans_before_validating():
    rec = Record.from_raw({"uid": "1", "title": " War &amp;  Peace ", "content": "a\tb", "x": 1})
    assert (rec.title, rec.content, rec.model_extra) == ("War & Peace", "a b", {"x": 1})
    with pytest.raises(ValidationError):
        Record.from_raw({"title": " &nbsp; "})


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
    err = LoadError("malformed_array", path="a.json", offset=1234, item=5)
    assert "byte offset 1234" in str(err) and "item 5" in str(err) and "malformed_array" in str(err)
    again = pickle.loads(pickle.dumps(err))
    assert (again.reason, again.path, again.offset, again.item, str(again)) == (
        err.reason, err.path, err.offset, err.item, str(err)
    )
