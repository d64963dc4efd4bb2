"""The never-exposed arm: age cues masked out of training text, a planted control kept, and the proof."""
from __future__ import annotations

import itertools

import pytest

from emergence.agecues import find_age_cues
from emergence.corpus.records import Record
from emergence.corpus.sample import sample_path
from emergence.corpus.stream import stream_records
from emergence.evalsets import EvalSetConfig, TrainingConsumption, build_eval_sets
from emergence.exposure import Exposure, audit_exposure


def test_mask_arm_removes_cues_from_title_and_content_and_keep_arm_keeps_them():
    record = Record(uid="1", title="Dinosaur Facts for Ages 6 and Up", content="Big bones. Ages 6-9. Roar.")
    masked = Exposure(age_cues="mask", control_share=0.0).training_text(record)
    assert masked.removed == 2 and not masked.control
    assert not find_age_cues(masked.title) and not find_age_cues(masked.content)
    assert "Big bones." in masked.content and "Roar." in masked.content and "Dinosaur Facts" in masked.title
    kept = Exposure(age_cues="keep").training_text(record)
    assert (kept.title, kept.content, kept.removed, kept.control) == (record.title, record.content, 0, True)
    plain = Record(uid="2", title="A Cookbook", content="Soups and stews.")
    assert Exposure().training_text(plain).content == "Soups and stews." and not Exposure().is_control(plain)


def test_the_control_draw_is_stable_about_its_share_and_follows_the_title():
    records = [Record(uid=str(i), title=f"Tale {i}", content=f"Story {i}. Ages 4-8.") for i in range(4000)]
    arm = Exposure(control_share=0.25, salt="s")
    drawn = [arm.is_control(r) for r in records]
    assert 0.22 < sum(drawn) / len(drawn) < 0.28
    assert drawn == [arm.is_control(r) for r in records]
    other_edition = [Record(uid="x" + r.uid, title=r.title.upper(), content=r.content) for r in records[:200]]
    assert [arm.is_control(r) for r in other_edition] == drawn[:200]
    assert not Exposure(control_share=0.0).is_control(records[0])


def test_audit_proves_the_mask_arm_on_the_sample_corpus():
    path = sample_path()
    rule = TrainingConsumption(per_shard=400)
    mask = audit_exposure(path, rule, Exposure(control_share=0.25))
    assert mask.records == 400 and mask.records_with_cues > 50
    assert mask.remaining_outside_control == 0 and mask.never_exposed
    assert mask.cues_removed >= mask.records_masked > 0 and 0 < mask.control_records < mask.records_with_cues
    assert "none left" in mask.sentence()
    keep = audit_exposure(path, rule, Exposure(age_cues="keep"))
    assert keep.cues_removed == 0 and keep.records_with_cues == mask.records_with_cues
    assert not keep.never_exposed and "exposed arm" in keep.sentence()


def test_a_leak_is_reported_not_hidden(monkeypatch, tmp_path):
    """If masking ever missed a cue, the re-scan of the training text says so."""
    import emergence.agecues as agecues
    from emergence.agecues.mask import Masked

    monkeypatch.setattr(agecues, "mask_age_cues", lambda text: Masked(text, (), 1))  # a mask that removes nothing
    report = audit_exposure(sample_path(), TrainingConsumption(per_shard=200), Exposure(control_share=0.0))
    assert report.remaining_outside_control > 0 and not report.never_exposed and report.examples
    assert "a leak" in report.sentence()


def test_training_stream_sees_the_masked_text(tmp_path):
    from emergence.models import build_tiny_tokenizer
    from emergence.train.data import TrainStream

    tokenizer = build_tiny_tokenizer()
    arm = Exposure(control_share=0.25)
    stream = TrainStream(sample_path(), tokenizer, max_seq_length=512, exposure=arm)
    examples = list(itertools.islice(stream._examples([(0, 1)]), 300))
    texts = [tokenizer.decode(e["input_ids"]) for e in examples]
    rule = TrainingConsumption()
    consumed = [r for r in stream_records(sample_path(), drop_empty=True) if rule.trainable(r)][:300]
    controls = [arm.is_control(r) for r in consumed]
    assert sum(controls) > 0 and len(texts) == len(consumed)
    for text, control in zip(texts, controls):
        if not control:
            assert not find_age_cues(text), text
    assert any(find_age_cues(t) for t, c in zip(texts, controls) if c)  # the control kept its cue


def test_age_seen_holds_only_the_control_records_in_the_mask_arm():
    rule = TrainingConsumption(per_shard=600)
    arm = Exposure(control_share=0.25)
    sets = build_eval_sets(sample_path(), EvalSetConfig(age_heldout=0, age_seen=500, intent_seen=0, intent_heldout=0),
                           consumption=rule, exposure=arm)
    seen_uids = {it.uid for it in sets["age_seen"]}
    records = {r.uid: r for r in stream_records(sample_path())}
    assert seen_uids and all(arm.is_control(records[u]) for u in seen_uids)
    everyone = build_eval_sets(sample_path(), EvalSetConfig(age_heldout=0, age_seen=500, intent_seen=0,
                                                            intent_heldout=0), consumption=rule)
    assert seen_uids < {it.uid for it in everyone["age_seen"]}


@pytest.mark.parametrize("arm", ["mask", "keep"])
def test_train_config_carries_the_arm(arm):
    from emergence.train.config import TrainConfig

    cfg = TrainConfig(age_cues=arm, age_cue_control=0.1)
    assert Exposure.of(cfg) == Exposure(age_cues=arm, control_share=0.1, canary_share=cfg.canary_share, salt=cfg.salt)
    assert TrainConfig().age_cues == "mask"  # the seed's condition is the default
