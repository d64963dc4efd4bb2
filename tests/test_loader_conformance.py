"""JSONTestSuite (nst/JSONTestSuite, vendored in tests/data/jsontestsuite) through both formats and both policies.

Each case file is put into a corpus four ways: raw (as a line, or as an item of an
array), and as the value of a title, of a content and of an extra (`category`: kept raw,
decoded when read). `y_` cases must never be rejected as bad JSON, `n_` cases always
(or be blank), `i_` cases either way; JSON Lines and the array form must give the same
records and rejections, except where a case that is bad JSON breaks the array apart (the
array then ends in a fatal array error). "strict" must stop at the record, and with the
reason, that "skip" counts.
"""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from emergence.corpus.records import LoadError
from emergence.corpus.stream import stream_records

SUITE = Path(__file__).parent / "data" / "jsontestsuite"
CASES = sorted(SUITE.glob("[yni]_*.json"))
JSON_ERRORS = {"malformed_json", "invalid_utf8", "too_deep"}
BEFORE, AFTER = b'{"title": "before"}', b'{"title": "after"}'
MODES = {
    "raw": lambda raw: raw,
    "title": lambda raw: b'{"title": ' + raw + b"}",
    "content": lambda raw: b'{"title": "t", "content": ' + raw + b"}",
    "extra": lambda raw: b'{"title": "t", "category": ' + raw + b"}",
}


def _load(data: bytes, policy: str) -> tuple[list, dict, tuple | None]:
    stream = stream_records(io.BytesIO(data), policy=policy)
    records, fatal = [], None
    try:
        for record in stream:
            records.append((record.title, record.content, record.category))
    except LoadError as err:
        fatal = (err.reason, err.line if err.line is not None else err.item)
    assert stream.stats.reconciles()
    return records, dict(stream.stats.rejected), fatal


def _run(case: Path, mode: str) -> None:
    raw = case.read_bytes().rstrip(b"\n")
    kind = case.name[0]
    record = MODES[mode](raw)
    blank = mode == "raw" and not raw.strip(b" \t\r")
    for form, data in (("jsonl", BEFORE + b"\n" + record + b"\n" + AFTER + b"\n"),
                       ("array", b"[" + BEFORE + b",\n" + record + b",\n" + AFTER + b"]")):
        skip, strict = _load(data, "skip"), _load(data, "strict")
        if form == "jsonl":
            lines = skip
            records, rejected, fatal = skip
            assert fatal is None and records[0][0] == "before" and records[-1][0] == "after"
            reasons = set(rejected)
            if kind == "y":
                assert not reasons & JSON_ERRORS, (case.name, mode, reasons)
            elif kind == "n":
                assert blank or reasons & JSON_ERRORS, (case.name, mode, reasons)
        elif skip != lines:  # only where a case that is bad JSON breaks the array apart
            assert blank or reasons & JSON_ERRORS, (case.name, mode, lines, skip)
            assert skip[2] is not None and skip[2][0] in ("malformed_array", "truncated_array"), (case.name, skip)
        # strict stops where skip counted the first rejection, with its reason
        if rejected := skip[1]:
            assert strict[2] is not None and strict[2][1] == 2 and strict[2][0] in rejected, (case.name, skip, strict)
        else:
            assert strict[2] == skip[2] and strict[0] == skip[0], (case.name, skip, strict)


@pytest.mark.parametrize("mode", sorted(MODES))
def test_jsontestsuite_cases_through_both_formats_and_policies(mode):
    assert len(CASES) == 318  # the vendored suite is whole
    # a raw newline inside a case splits a JSON Lines record in two: 5 cases compare
    # only where the newline is whitespace between records
    cases = [case for case in CASES if b"\n" not in case.read_bytes().rstrip(b"\n")]
    assert len(cases) == 313
    for case in cases:
        _run(case, mode)


def test_the_suite_classes_reach_the_loader_as_expected():
    # a few cases by name: what the loader does with them is part of its contract
    def reason(name: str, mode: str = "raw") -> set:
        raw = (SUITE / name).read_bytes().rstrip(b"\n")
        return set(_load(BEFORE + b"\n" + MODES[mode](raw) + b"\n", "skip")[1])

    assert reason("n_string_1_surrogate_then_escape_u1.json") == {"malformed_json"}
    assert reason("i_string_lone_second_surrogate.json") == {"malformed_json"}
    assert reason("i_string_UTF-8_invalid_sequence.json", "extra") == {"invalid_utf8"}
    assert reason("n_structure_100000_opening_arrays.json") == {"too_deep"}
    assert reason("i_structure_500_nested_arrays.json") == {"not_object"}
    assert reason("y_string_accepted_surrogate_pair.json", "title") == {"wrong_type"}  # a list, not text
    assert reason("i_number_huge_exp.json", "extra") == set()  # kept; reads as inf
