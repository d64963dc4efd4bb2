"""Eval sets: deterministic, labelled from the right source, disjoint from training where required."""
from __future__ import annotations

import json

import pytest

from emergence.evalsets import (EVAL_SET_NAMES, EvalItem, EvalSetConfig, TrainingConsumption, build_eval_sets,
                                read_eval_set, read_eval_sets, write_eval_sets)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from emergence.corpus.sample import write_sample

    return write_sample(tmp_path_factory.mktemp("corpus") / "sample.jsonl.gz", 1500, seed=3)


SMALL = dict(age_heldout=25, age_seen=20, intent_seen=15, intent_heldout=15, members=15, nonmembers=15, canaries=0,
             canary_controls=0)


def _dump(sets):
    return {name: [item.model_dump() for item in items] for name, items in sets.items()}


def test_deterministic_and_sized(corpus):
    cfg = EvalSetConfig(**SMALL)
    a, b = build_eval_sets(corpus, cfg), build_eval_sets(corpus, cfg)
    assert list(a) == list(EVAL_SET_NAMES)
    assert _dump(a) == _dump(b)
    for name, n in SMALL.items():
        assert len(a[name]) == n, name
        assert len({it.id for it in a[name]}) == n
        # stream order
        assert [it.index for it in a[name]] == sorted(it.index for it in a[name])
    other = build_eval_sets(corpus, EvalSetConfig(**SMALL, seed=1))
    assert [it.id for it in other["age_heldout"]] != [it.id for it in a["age_heldout"]]


def test_labels_and_splits(corpus):
    from emergence.agecues import band_of, min_age_from_cues
    from emergence.corpus.split import split_of

    sets = build_eval_sets(corpus, EvalSetConfig(**SMALL))
    for item in sets["age_heldout"]:
        assert item.split == "held_out"
        assert split_of({"uid": item.uid, "title": item.title}) == "held_out"
        # the sample corpus carries true ages: they win over cues
        assert item.label_source == "sample" and item.label_age is not None
        assert item.label_band == band_of(item.label_age)
    for item in sets["age_seen"]:
        assert item.split == "train"
        assert split_of({"uid": item.uid, "title": item.title}) == "train"
        assert item.label_source == "cue"
        assert item.label_age == min_age_from_cues(item.content)
    for name, split in (("intent_seen", "train"), ("intent_heldout", "held_out")):
        assert all(it.split == split and it.content for it in sets[name])
    seen_titles = {(it.uid, it.title) for it in sets["age_seen"] + sets["intent_seen"]}
    held_titles = {(it.uid, it.title) for it in sets["age_heldout"] + sets["intent_heldout"]}
    assert not seen_titles & held_titles


def test_seen_sets_respect_train_records_limit(corpus):
    from emergence.corpus.split import split_of
    from emergence.corpus.stream import stream_records

    limit = 120
    cfg = EvalSetConfig(**{**SMALL, "age_seen": 500, "intent_seen": 500})
    sets = build_eval_sets(corpus, cfg, consumption=TrainingConsumption(per_shard=limit))
    # the first `limit` non-empty train records in stream order: what training consumed
    consumed = []
    for index, rec in enumerate(stream_records(corpus)):
        if split_of(rec) == "train" and rec.content:
            consumed.append(index)
            if len(consumed) == limit:
                break
    allowed = set(consumed)
    assert sets["intent_seen"] and sets["age_seen"]
    assert {it.index for it in sets["intent_seen"]} == allowed  # all of them: the cap is large
    assert {it.index for it in sets["age_seen"]} <= allowed
    # held-out sets are untouched by the cap
    full = build_eval_sets(corpus, EvalSetConfig(**SMALL))
    assert _dump(sets)["age_heldout"] == _dump(full)["age_heldout"]


def test_cue_labels_when_corpus_has_no_true_ages(tmp_path):
    from emergence.corpus.split import split_of

    rows = []
    i = 0
    while sum(split_of(r) == "held_out" for r in rows) < 6:
        rows.append({"uid": f"u{i}", "title": f"Book number {i}",
                     "content": f"Story {i}, for ages {3 + i % 10} and up." if i % 2 else
                     f"Story {i}, without any reader range."})
        i += 1
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    sets = build_eval_sets(path, EvalSetConfig(age_heldout=100, age_seen=100, intent_seen=100,
                                               intent_heldout=100))
    held_with_cue = [r for r in rows if split_of(r) == "held_out" and "ages" in r["content"]]
    assert len(sets["age_heldout"]) == len(held_with_cue)
    assert all(it.label_source == "cue" for it in sets["age_heldout"])
    assert sorted(it.label_age for it in sets["age_heldout"]) == sorted(
        float(r["content"].split("ages ")[1].split()[0]) for r in held_with_cue)
    assert sets.extra["age_heldout_content_in_train_left_out"] == 0
    assert len(sets["intent_heldout"]) == sum(split_of(r) == "held_out" for r in rows)


def test_write_read_roundtrip_and_manifest(corpus, tmp_path):
    sets = build_eval_sets(corpus, EvalSetConfig(**SMALL))
    manifest_path = write_eval_sets(sets, tmp_path / "ev")
    manifest = json.loads(manifest_path.read_text())
    assert manifest["counts"] == SMALL
    assert manifest["config"]["age_heldout"] == 25
    assert manifest["corpus"]["path"] == str(corpus)
    assert manifest["corpus"]["stats"]["yielded"] > 0
    assert manifest["label_sources"]["age_heldout"] == {"sample": 25}
    assert manifest["provenance"]["emergence_version"]
    for name in EVAL_SET_NAMES:
        back = read_eval_set(tmp_path / "ev" / f"{name}.jsonl")
        assert all(isinstance(it, EvalItem) for it in back)
        assert [it.model_dump() for it in back] == [it.model_dump() for it in sets[name]]
    again = read_eval_sets(tmp_path / "ev")
    assert _dump(again) == _dump(sets)
    assert again.config == sets.config
    assert again.extra["train_band_counts"] == sets.extra["train_band_counts"]


def test_reads_gzip_file_object(corpus):
    with open(corpus, "rb") as fh:
        sets = build_eval_sets(fh, EvalSetConfig(**SMALL))
    assert _dump(sets) == _dump(build_eval_sets(corpus, EvalSetConfig(**SMALL)))


def test_consumption_of_a_train_config():
    from emergence.train.config import TrainConfig

    tc = TrainConfig.cpu(held_out=0.2, salt="s", max_steps=10)
    rule = TrainingConsumption.of(tc)
    assert (rule.held_out, rule.salt, rule.drop_empty) == (0.2, "s", True)
    assert rule.per_shard == rule.budget == 10 * tc.per_device_train_batch_size * tc.gradient_accumulation_steps
    capped = TrainingConsumption.of(TrainConfig.cpu(max_records=5, drop_empty=False), world=2)
    assert capped.per_shard == 5 and capped.budget == 10 and capped.drop_empty is False


def test_consumption_follows_each_shard_like_the_trainer():
    """Record i belongs to shard i % world; each shard takes its first per_shard trainable records."""
    from emergence.corpus.records import Record

    rule = TrainingConsumption(held_out=0.0, per_shard=2, world=2)
    tracker = rule.tracker()
    records = [Record(uid=f"u{i}", title=f"T{i}", content="" if i == 2 else "x") for i in range(10)]
    taken = [i for i, r in enumerate(records) if tracker.consumed(r, i)]
    # shard 0: 0, (2 is empty), 4; shard 1: 1, 3
    assert taken == [0, 1, 3, 4]


def test_held_out_items_never_repeat_training_content_nor_state_the_age_in_the_title(tmp_path):
    """A held-out record whose description a train record carries under another title was in
    effect trained on; a held-out title that states the age asks the model to read, not infer.
    Both are left out, counted, and the sets keep their size from the reservoir's slack."""
    from emergence.corpus.split import split_of

    rows, i = [], 0
    while sum(split_of(r) == "held_out" for r in rows) < 40:
        rows.append({"uid": f"u{i}", "title": f"Tale {i}", "content": f"Story {i}, ages {3 + i % 9} and up.",
                     "true_min_age": 3 + i % 9})
        i += 1
    held = [r for r in rows if split_of(r) == "held_out"]
    twins = set()
    for r in held:  # descriptions that also reach training, under box-set titles in the train split
        box = {"uid": "x" + r["uid"], "title": "Box set with " + r["title"], "content": r["content"]}
        if split_of(box) == "train" and len(twins) < 3:
            rows.append(box)
            twins.add(r["content"])
    stating = next(t for t in (f"My Book {k} for Ages 4 to 8" for k in range(100)) if split_of({"title": t}) == "held_out")
    rows.append({"uid": "t1", "title": stating, "content": "Unique.", "true_min_age": 4})
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    # every held-out record is a candidate: the three twins must be left out, and counted
    sets = build_eval_sets(path, EvalSetConfig(age_heldout=40, age_seen=0, intent_seen=0, intent_heldout=41))
    assert len(twins) == 3
    for name in ("age_heldout", "intent_heldout"):
        assert len(sets[name]) == 40 - 3 + (name == "intent_heldout")  # intent also takes the title-age record
        assert not {it.content for it in sets[name]} & twins
        assert sets.extra[f"{name}_content_in_train_left_out"] == 3
    assert stating not in {it.title for it in sets["age_heldout"]}
    assert sets.extra["held_out_title_states_age"] == 1
