"""The corpus audit: exact counts on a hand-made corpus, the sample corpus, bounds, rendering."""
from __future__ import annotations

import doctest
import gzip
import io
import json
import warnings

import pytest
from rich.console import Console

import emergence.corpus.audit as audit_module
from emergence.corpus.audit import AuditReport, LengthSummary, audit_corpus, render_audit
from emergence.corpus.records import LoadError
from emergence.corpus.sample import SAMPLE_N, sample_path
from emergence.corpus.split import split_of
from emergence.corpus.stream import stream_records

BATTLESHIPS = "Jane's Battleships of the 20th Century"
LINES = [
    {"uid": "1", "title": "A", "content": "Ages 4-8. Fun."},
    {"uid": "2", "title": "A", "content": "Ages 4-8. Fun."},  # duplicate pair, duplicate title
    {"uid": "3", "title": "A", "content": ""},  # duplicate title, empty
    "not json at all",  # rejected: malformed_json
    {"uid": "5", "title": "", "content": "x"},  # rejected: empty_title
    {"uid": "6", "title": "B", "content": "From School Library Journal: Grade 3-5--A 12-year-old boy finds a map."},
    {"uid": "7", "title": BATTLESHIPS, "content": "320 pages on ships of the Middle Ages and the 20th century."},
    {"uid": "8", "title": "C &amp; D", "content": "Dark. For ages 18 and up."},
]


def _write(path, lines) -> str:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n",
                    encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def sample_report() -> AuditReport:
    return audit_corpus(sample_path())


def test_module_docstring_runs():
    assert doctest.testmod(audit_module).failed == 0


def test_exact_counts_on_a_hand_made_corpus(tmp_path):
    report = audit_corpus(_write(tmp_path / "c.jsonl", LINES), held_out=0.0)
    load = report.load
    assert (load.read, load.yielded) == (8, 6) and load.reconciles()
    assert load.rejected == {"malformed_json": 1, "empty_title": 1}
    assert load.examples["malformed_json"][0].startswith("line 4")
    assert report.empty_content == 1 and report.empty_share == pytest.approx(1 / 6)
    assert report.duplicate_pairs == 1
    assert report.duplicate_titles == 2
    assert report.duplicates_exact
    # cues in contents of records 1, 2, 6 and 8; none from "12-year-old", pages, eras
    assert report.age_cue_records == 4
    assert report.age_cue_share == pytest.approx(4 / 6)
    assert report.age_cue_share_nonempty == pytest.approx(4 / 5)
    assert report.title_age_cue_records == 0
    assert report.min_age_distribution == {"3-5": 2, "6-8": 1, "18+": 1}
    assert report.min_age_histogram == {4: 2, 8: 1, 18: 1}
    assert sum(report.cue_kinds.values()) == 4 and report.cue_kinds["grade"] == 1
    # held_out=0: everything is train
    assert (report.train_records, report.held_out_records) == (6, 0)
    assert (report.train_nonempty, report.train_age_cue_records) == (5, 4)
    assert report.train_age_cue_share == pytest.approx(4 / 6)
    assert report.train_age_cue_share_nonempty == pytest.approx(4 / 5)
    assert report.held_out_age_cue_share == 0.0 and report.held_out_titles_in_train == 0
    # no true_min_age in this corpus
    assert report.true_age_records == 0 and report.true_age_distribution == {}
    assert report.cue_with_true_age == 0
    # lengths of cleaned text ("C &amp; D" -> "C & D")
    assert report.title_length.n == 6 and report.title_length.max == len(BATTLESHIPS)
    assert report.title_length.p5 == pytest.approx(1.0)
    assert report.content_length.n == 5 and report.content_length.exact


def test_all_held_out_and_split_sizes_follow_split_of(tmp_path):
    path = _write(tmp_path / "c.jsonl", LINES)
    everything = audit_corpus(path, held_out=1.0)
    assert (everything.train_records, everything.held_out_records) == (0, 6)
    assert everything.held_out_age_cue_records == 4 and everything.train_age_cue_share == 0.0

    records = list(stream_records(path))
    for salt in ("a", "b", "c"):
        report = audit_corpus(path, held_out=0.5, salt=salt)
        held = [r for r in records if split_of(r, held_out=0.5, salt=salt) == "held_out"]
        assert report.held_out_records == len(held)
        assert report.train_records == 6 - len(held)
        assert report.held_out_titles_in_train == 0  # the split keys on the normalised title


def test_strict_policy_raises_at_the_first_bad_record(tmp_path):
    path = _write(tmp_path / "c.jsonl", LINES)
    with pytest.raises(LoadError) as info:
        audit_corpus(path, policy="strict")
    assert info.value.line == 4 and info.value.reason == "malformed_json"


def test_not_json_is_an_error_under_skip(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("uid,title\n1,A\n")
    with pytest.raises(LoadError):
        audit_corpus(path)


def test_bad_held_out():
    with pytest.raises(ValueError):
        audit_corpus(sample_path(), held_out=1.5)


def test_file_object_gzip_and_array_forms_agree(tmp_path):
    plain = _write(tmp_path / "c.jsonl", [x for x in LINES if not isinstance(x, str)])
    ref = audit_corpus(plain).model_dump(exclude={"source", "load"})
    gz = tmp_path / "c.jsonl.gz"
    gz.write_bytes(gzip.compress(open(plain, "rb").read()))
    array = tmp_path / "c.json"
    array.write_text(json.dumps([x for x in LINES if not isinstance(x, str)]))
    with open(plain, "rb") as fh:
        from_handle = audit_corpus(fh)
    for other in (audit_corpus(gz), audit_corpus(array), from_handle):
        assert other.model_dump(exclude={"source", "load"}) == ref
    assert audit_corpus(gz).load.format == "jsonl+gzip"
    assert audit_corpus(array).load.format == "array"


def test_percentiles_exact_below_the_reservoir(tmp_path):
    lines = [{"uid": str(k), "title": "t" * k, "content": "c" * k} for k in range(1, 102)]
    report = audit_corpus(_write(tmp_path / "c.jsonl", lines))
    for s in (report.title_length, report.content_length):
        assert (s.n, s.p5, s.p50, s.p95, s.max, s.exact) == (101, 6.0, 51.0, 96.0, 101, True)


def test_percentiles_from_a_bounded_reservoir_above_it(tmp_path, monkeypatch):
    monkeypatch.setattr(audit_module, "RESERVOIR_SIZE", 100)
    lines = [{"uid": str(k), "title": "t" * (1 + k % 50), "content": "c" * k} for k in range(1, 1001)]
    report = audit_corpus(_write(tmp_path / "c.jsonl", lines))
    s = report.content_length
    assert s.n == 1000 and not s.exact and s.max == 1000  # the maximum stays exact
    assert 300 < s.p50 < 700 and s.p5 < 200 and s.p95 > 800  # a uniform sample of 1..1000
    assert report.reservoir_size == 100
    # same input, same (seeded) sample
    again = audit_corpus(_write(tmp_path / "c.jsonl", lines))
    assert again.content_length == s


def test_reservoir_keeps_at_most_its_size():
    res = audit_module._Reservoir(10, seed=0)
    for v in range(1000):
        res.add(v)
    assert len(res.values) == 10 and res.seen == 1000 and res.max == 999
    empty = audit_module._Reservoir(10, seed=0).summary()
    assert empty.n == 0 and empty.p50 is None and empty.max is None


def test_duplicate_counts_become_lower_bounds_past_the_capacity(tmp_path, monkeypatch):
    import emergence.corpus.stream

    monkeypatch.setattr(emergence.corpus.stream, "DEDUPE_CAPACITY", 3)
    lines = [{"uid": str(k), "title": f"T{k}", "content": "x"} for k in range(10)] * 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        report = audit_corpus(_write(tmp_path / "c.jsonl", lines))
    assert not report.duplicates_exact
    assert report.duplicate_pairs < 10  # only repeats of the 3 remembered pairs are seen


def test_sample_corpus_report(sample_report):
    r = sample_report
    assert r.load.read == r.load.yielded == SAMPLE_N and r.load.reconciles()
    assert r.train_records + r.held_out_records == SAMPLE_N and r.held_out_records >= 300
    assert 0.27 < r.age_cue_share_nonempty < 0.33
    assert 0.15 < r.empty_share < 0.25
    assert r.true_age_records == SAMPLE_N
    assert r.cue_with_true_age == r.age_cue_records == r.cue_agrees_with_true_age
    assert sum(r.min_age_distribution.values()) == r.age_cue_records
    assert sum(r.min_age_histogram.values()) == r.age_cue_records
    assert sum(r.true_age_distribution.values()) == SAMPLE_N
    assert set(r.true_age_distribution) == {"0-2", "3-5", "6-8", "9-12", "13-17", "18+"}
    assert r.title_age_cue_records == 0
    assert r.train_age_cue_records + r.held_out_age_cue_records == r.age_cue_records
    assert r.held_out_titles_in_train < 0.15 * r.held_out_records


def test_sample_counts_agree_with_the_loader_filters(sample_report):
    dedupe = stream_records(sample_path(), dedupe=True)
    list(dedupe)
    assert sample_report.duplicate_pairs == dedupe.stats.filtered.get("duplicate", 0) > 0
    drop = stream_records(sample_path(), drop_empty=True)
    list(drop)
    assert sample_report.empty_content == drop.stats.filtered.get("empty_content", 0) > 0


def test_json_round_trip(sample_report):
    text = sample_report.model_dump_json(indent=2)
    assert AuditReport.model_validate_json(text) == sample_report
    assert json.loads(text)["min_age_histogram"]


def test_every_field_is_described():
    for model in (AuditReport, LengthSummary):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name}"


def test_render_audit_prints_the_tables(tmp_path, sample_report):
    buf = io.StringIO()
    render_audit(sample_report, Console(file=buf, width=140, color_system=None))
    text = buf.getvalue()
    for needle in ("records read", "4,000", "train (leakage)", "held-out", "13-17",
                   "true (sample)", "content (non-empty)", "counts reconcile"):
        assert needle in text, needle

    report = audit_corpus(_write(tmp_path / "c.jsonl", LINES))
    buf = io.StringIO()
    render_audit(report, Console(file=buf, width=140, color_system=None))
    text = buf.getvalue()
    assert "Rejected records" in text and "malformed_json" in text and "line 4" in text
    assert "true (sample)" not in text


def test_true_age_only_from_numeric_non_negative_values(tmp_path):
    lines = [
        {"title": "a", "content": "", "true_min_age": "5"},
        {"title": "b", "content": "", "true_min_age": True},
        {"title": "c", "content": "", "true_min_age": 2.5},
        {"title": "d", "content": "", "true_min_age": -1},
        {"title": "e", "content": "Ages 3-5.", "true_min_age": 4},
        {"title": "f", "content": "Ages 3-5.", "true_min_age": 3.0},
    ]
    report = audit_corpus(_write(tmp_path / "c.jsonl", lines))
    assert report.true_age_records == 3
    assert report.true_age_distribution == {"0-2": 1, "3-5": 2}
    assert report.true_age_histogram == {2: 1, 3: 1, 4: 1}
    assert (report.cue_with_true_age, report.cue_agrees_with_true_age) == (2, 1)


def test_title_twins_are_counted_exactly_and_never_cross_the_split(tmp_path):
    """Product variants (other uids, case and punctuation) of one title land on one side; the
    audit counts titles with several records, and held-out contents that train records carry
    under another title. Held-out duplicates must not count as twins of each other."""
    from emergence.corpus.split import split_key

    rows = []
    for i in range(60):
        title = f"Book Number {i}"
        rows.append({"uid": f"a{i}", "title": title, "content": f"Story {i}."})
        if i % 3 == 0:  # another edition: same title, other case and punctuation, same or other content
            rows.append({"uid": f"b{i}", "title": title.upper() + "!", "content": f"Story {i}." if i % 2 else ""})
        if i % 10 == 0:  # the same description under another title (a box set, say)
            rows.append({"uid": f"c{i}", "title": f"Box Set {i}", "content": f"Story {i}."})
    path = _write(tmp_path / "twins.jsonl", rows)
    report = audit_corpus(path, held_out=0.5, salt="s")
    records = list(stream_records(path))
    side = {r.uid: split_of(r, held_out=0.5, salt="s") for r in records}
    by_key: dict[str, set] = {}
    for r in records:
        by_key.setdefault(split_key(r), set()).add(side[r.uid])
    assert all(len(sides) == 1 for sides in by_key.values())
    assert report.held_out_titles_in_train == 0
    assert report.titles_with_several_records == sum(1 for i in range(60) if i % 3 == 0) == 20
    train_contents = {r.content for r in records if side[r.uid] == "train" and r.content}
    expected = sum(1 for r in records if side[r.uid] == "held_out" and r.content in train_contents)
    assert report.held_out_contents_in_train == expected > 0
