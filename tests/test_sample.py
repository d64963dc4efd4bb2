"""The embedded sample corpus: schema, determinism, cue share and consistency, realism."""
from __future__ import annotations

import collections
import doctest
import gzip
import json
import math
import re

import pytest

import emergence.corpus.sample as sample
from emergence.agecues import AGE_BANDS, band_of, find_age_cues, min_age_from_cues
from emergence.corpus.records import clean_text
from emergence.corpus.sample import (
    CATEGORIES,
    CUE_SHARE,
    EMPTY_SHARE,
    SAMPLE_N,
    SAMPLE_SEED,
    generate_sample,
    sample_path,
    write_sample,
)

KEYS = ["uid", "title", "content", "target_ind", "target_rel", "true_min_age", "category"]


@pytest.fixture(scope="module")
def packaged() -> list[dict]:
    with gzip.open(sample_path(), "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _isbn10_ok(uid: str) -> bool:
    if not re.fullmatch(r"\d{9}[\dX]", uid):
        return False
    values = [10 if ch == "X" else int(ch) for ch in uid]
    return sum((10 - i) * v for i, v in enumerate(values)) % 11 == 0


def test_module_docstring_runs():
    assert doctest.testmod(sample).failed == 0


def test_packaged_file_is_small_and_has_documented_size(packaged):
    assert sample_path().is_file()
    assert sample_path().stat().st_size <= 2 * 1024 * 1024
    assert len(packaged) == SAMPLE_N


def test_packaged_file_regenerates_exactly(tmp_path, packaged):
    out = write_sample(tmp_path / "again.jsonl.gz", SAMPLE_N, seed=SAMPLE_SEED)
    # decompressed bytes, not the .gz file: compressed bytes may differ between zlib builds
    assert gzip.decompress(out.read_bytes()) == gzip.decompress(sample_path().read_bytes())
    assert [json.loads(line) for line in gzip.decompress(out.read_bytes()).splitlines()] == packaged


def test_schema_of_every_record(packaged):
    ages_of = {c.name: {a for a, _ in c.ages} for c in CATEGORIES}
    for rec in packaged:
        assert list(rec) == KEYS
        assert _isbn10_ok(rec["uid"]), rec["uid"]
        assert isinstance(rec["title"], str) and rec["title"].strip()
        assert isinstance(rec["content"], str)
        ind, rel = rec["target_ind"], rec["target_rel"]
        assert ind and all(isinstance(i, int) and 0 <= i < sample.LABEL_SPACE for i in ind)
        assert ind == sorted(set(ind))
        assert len(rel) == len(ind) and all(isinstance(x, float) for x in rel)
        assert isinstance(rec["true_min_age"], float)
        assert rec["true_min_age"] in ages_of[rec["category"]]


def test_uids_are_unique(packaged):
    uids = [r["uid"] for r in packaged]
    assert len(set(uids)) == len(uids)


def test_uid_check_digit_helper_matches_isbn_rule():
    # 0-306-40615-2 is the textbook ISBN-10 example
    assert sample._isbn10(30640615) == "0306406152"
    assert _isbn10_ok("0306406152") and not _isbn10_ok("0306406153")


def test_same_seed_same_records_other_seed_other_records():
    a = list(generate_sample(300, seed=5))
    assert a == list(generate_sample(300, seed=5))
    b = list(generate_sample(300, seed=6))
    assert [r["uid"] for r in a] != [r["uid"] for r in b]
    assert [r["title"] for r in a] != [r["title"] for r in b]
    # a prefix of a longer run is the shorter run
    assert list(generate_sample(50, seed=5)) == a[:50]


def test_no_global_random_state_used():
    import random

    random.seed(123)
    before = random.random()
    random.seed(123)
    list(generate_sample(200, seed=1))
    assert random.random() == before


def test_bad_n():
    assert list(generate_sample(0)) == []
    with pytest.raises(ValueError):
        next(generate_sample(-1))


def test_expected_cue_share_of_the_rates_is_cue_share():
    rates = sample.cue_rates()
    expected = sum(c.share * rates[c.name] for c in CATEGORIES) / sum(c.share for c in CATEGORIES)
    assert expected == pytest.approx(CUE_SHARE)
    assert rates["adult_nonfiction"] == 0.0
    assert min(rates[c] for c in ("board_book", "picture_book", "middle_grade")) > CUE_SHARE


def test_cue_share_about_thirty_percent_of_nonempty(packaged):
    nonempty = [r for r in packaged if r["content"]]
    with_cue = [r for r in nonempty if find_age_cues(clean_text(r["content"]))]
    share = len(with_cue) / len(nonempty)
    assert abs(share - CUE_SHARE) < 0.03, share


def test_every_cue_agrees_with_the_true_age(packaged):
    checked = 0
    for rec in packaged:
        found = min_age_from_cues(clean_text(rec["content"]))
        if found is not None:
            checked += 1
            assert found == rec["true_min_age"], (rec["content"], rec["true_min_age"])
    assert checked > 500


def test_titles_never_carry_cues_nor_adult_nonfiction_contents(packaged):
    for rec in packaged:
        assert not find_age_cues(clean_text(rec["title"])), rec["title"]
        if rec["category"] == "adult_nonfiction":
            assert not find_age_cues(clean_text(rec["content"])), rec["content"]


def test_cue_free_descriptions_of_every_category_have_no_cue():
    # with cues switched off, no description of any category may read as an age statement
    import random

    rng = random.Random(0)
    writer = sample._Writer(rng)
    writer.cue_rates = {c.name: 0.0 for c in CATEGORIES}
    for category in CATEGORIES:
        for _ in range(150):
            shelf = rng.choice(category.shelves)
            slots = sample._Slots(rng)
            title = writer.title(category, shelf, slots)
            text = writer.description(category, shelf, slots, title, 18.0)
            assert not find_age_cues(clean_text(text)), text


@pytest.mark.parametrize("category", [c for c in CATEGORIES])
def test_age_cue_forms_give_the_true_age(category):
    import random

    rng = random.Random(1)
    forms = collections.Counter()
    for age, _ in category.ages:
        for _ in range(60):
            text, where = sample.age_cue(rng, age, category.name)
            assert where in {"prefix", "suffix", "slj"}
            assert min_age_from_cues(clean_text(sample._entities(text))) == age, text
            forms[re.sub(r"\d+", "N", text)] += 1
    assert len(forms) >= 3  # several phrasings, not one template


def test_empty_share(packaged):
    share = sum(not r["content"] for r in packaged) / len(packaged)
    assert abs(share - EMPTY_SHARE) < 0.03, share


def test_descriptions_are_modest_length(packaged):
    words = [len(r["content"].split()) for r in packaged if r["content"]]
    assert min(words) >= 25 and max(words) <= 160
    assert 40 <= sorted(words)[len(words) // 2] <= 90


def test_every_category_and_band_is_covered(packaged):
    by_cat = collections.Counter(r["category"] for r in packaged)
    assert set(by_cat) == {c.name for c in CATEGORIES}
    assert min(by_cat.values()) >= 150
    bands = collections.Counter(band_of(r["true_min_age"]) for r in packaged)
    assert set(bands) == {name for name, _, _ in AGE_BANDS}
    assert min(bands.values()) >= 100


def test_enough_unseen_held_out_titles_for_the_demo(packaged):
    from emergence.corpus.split import split_of

    held = [r for r in packaged if split_of(r, held_out=0.1) == "held_out"]
    train_titles = {r["title"] for r in packaged if split_of(r, held_out=0.1) == "train"}
    unseen = [r for r in held if r["title"] not in train_titles]
    assert len(held) >= 300
    assert len(unseen) >= 0.85 * len(held)


def test_titles_repeat_across_editions_and_duplicate_pairs_exist(packaged):
    uids_by_title = collections.defaultdict(set)
    for r in packaged:
        uids_by_title[r["title"]].add(r["uid"])
    repeated = [t for t, uids in uids_by_title.items() if len(uids) > 1]
    # a few: mostly the deliberate editions, so held-out titles stay mostly unseen
    assert 50 <= len(repeated) <= 0.08 * len(packaged)
    pairs = collections.Counter((r["title"], r["content"]) for r in packaged if r["content"])
    assert sum(n - 1 for n in pairs.values()) >= 20
    # editions of a book share its true age
    age_by_title = collections.defaultdict(set)
    for r in packaged:
        age_by_title[r["title"]].add((r["category"], r["true_min_age"]))
    variant_titles = [t for t in repeated if len(age_by_title[t]) == 1]
    assert len(variant_titles) >= 30


def test_html_entities_in_raw_text_are_cleaned(packaged):
    raw = [r for r in packaged if re.search(r"&(#\d+|amp|quot);", r["content"])]
    assert len(raw) >= 100
    assert any("&#8212;" in r["content"] or "&#8211;" in r["content"] for r in raw)
    for r in raw[:50]:
        assert not re.search(r"&(#\d+|amp|quot);", clean_text(r["content"]))


def test_distractors_are_present_and_not_cues(packaged):
    phrases = ["20th century", "pages", "Middle Ages", "12-year-old boy", "Grade A"]
    for phrase in phrases:
        hits = [r for r in packaged if phrase in clean_text(r["content"])]
        assert hits, phrase
        # every adult record carrying the distractor has no cue at all (adults get none
        # or an 18+ one, which must still agree with the true age)
        for r in hits:
            found = min_age_from_cues(clean_text(r["content"]))
            assert found is None or found == r["true_min_age"]
    assert any(r["title"].startswith("Jane's") and "20th Century" in r["title"] for r in packaged)


def _tokens(title: str) -> set[str]:
    return set(re.findall(r"[a-z']+", clean_text(title).lower()))


def test_title_words_predict_the_band_imperfectly(packaged):
    # naive Bayes on title words, fitted on the first 3000 records, tested on the rest:
    # far better than the majority band, yet not perfect (noise and shared vocabulary)
    train, test = packaged[:3000], packaged[3000:]
    words: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    prior = collections.Counter()
    for r in train:
        band = band_of(r["true_min_age"])
        prior[band] += 1
        words[band].update(_tokens(r["title"]))
    vocab = set().union(*words.values())

    def predict(title: str) -> str:
        def score(band: str) -> float:
            total = sum(words[band].values()) + len(vocab)
            return math.log(prior[band]) + sum(
                math.log((words[band][w] + 1) / total) for w in _tokens(title))
        return max(prior, key=score)

    accuracy = sum(predict(r["title"]) == band_of(r["true_min_age"]) for r in test) / len(test)
    majority = max(prior.values()) / sum(prior.values())
    assert majority + 0.2 < accuracy < 0.95, (accuracy, majority)


def test_band_words_correlate_with_categories(packaged):
    def share(category: str, word: str) -> float:
        titles = [clean_text(r["title"]) for r in packaged if r["category"] == category]
        return sum(word in t for t in titles) / len(titles)

    assert share("board_book", "Goodnight") > 5 * share("adult_fiction", "Goodnight")
    assert share("middle_grade", "Dragon") > share("picture_book", "Dragon")
    assert share("adult_fiction", "A Novel") > 5 * share("young_adult", "A Novel")
    # overlap: the same word appears in more than one category
    assert share("adult_fiction", "Dragon") > 0 or share("adult_fiction", "Secret") > 0


def test_write_sample_plain_and_gzip(tmp_path):
    plain = write_sample(tmp_path / "s.jsonl", 120, seed=3)
    gz = write_sample(tmp_path / "sub" / "s.jsonl.gz", 120, seed=3)
    assert gz.read_bytes()[:2] == b"\x1f\x8b" and plain.read_bytes()[:1] == b"{"
    assert gzip.decompress(gz.read_bytes()) == plain.read_bytes()
    lines = plain.read_text(encoding="utf-8").splitlines()
    assert [json.loads(x) for x in lines] == list(generate_sample(120, seed=3))
    # same seed, same file bytes (no time stamp or name in the gzip header)
    again = write_sample(tmp_path / "again.jsonl.gz", 120, seed=3)
    assert again.read_bytes() == gz.read_bytes()


def test_packaged_sample_streams_through_the_loader():
    from emergence.corpus.stream import stream_records

    stream = stream_records(sample_path())
    records = list(stream)
    assert len(records) == SAMPLE_N
    assert stream.stats.reconciles() and not stream.stats.rejected
    extras = records[0].extras
    assert {"true_min_age", "category", "target_ind", "target_rel"} <= set(extras)
