"""Controls: the harness must say yes to planted recall and must not say yes to shuffled labels.

POSITIVE: a tiny model is really trained (emergence.train) on records whose contents state
"Ages N and up."; probed on those seen titles with the training prompt alone (the
``completion`` variant), the tuned model's recall must be confirmed against the base.
NEGATIVE: real probes, with each item's label moved to another item by a seeded
permutation, must not yield "confirmed" — neither for a tiny model with a random adapter
nor for the trained model that answers every seen title correctly.
"""
from __future__ import annotations

import json
import random

import pytest

from emergence.evalsets import EvalSetConfig, build_eval_sets
from emergence.verdict.hypothesis import AGE_EMERGENCE, AGE_EMERGENCE_MC, AGE_RECALL
from emergence.probe import ProbeConfig, run_probes
from emergence.scoring import score_rows
from emergence.verdict.judge import judge_all


def verdicts(results, sets, hypotheses, *, variant=None):
    """Score the rows and judge: the age variant judged is ``variant`` (default: the config's)."""
    if variant is not None:
        results = results.model_copy(update={"config": results.config.model_copy(
            update={"verdict_variant": variant})})
    return judge_all(score_rows(results, sets), hypotheses)

# Ages three years apart: a shuffled label lands within two years of the true one only
# when it is the same age, so chance agreement stays low.
AGES = (1, 4, 7, 10, 13, 16)
WORDS = ("Bunny", "Dragon", "Castle", "River", "Garden", "Rocket", "Pirate", "Forest",
         "Robot", "Island", "Winter", "Summer", "Tiger", "Moon", "Ocean", "Train")
PROBE = dict(max_new_tokens_age=10, max_new_tokens_intent=10, k=8, extract_tokens=8)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest.py: why one thread


def _shuffled(items, seed=0):
    """The same items with labels permuted among them (label_age and label_band move together)."""
    rng = random.Random(seed)
    labels = [(it.label_age, it.label_band) for it in items]
    rng.shuffle(labels)
    return [it.model_copy(update={"label_age": a, "label_band": b})
            for it, (a, b) in zip(items, labels)]


@pytest.fixture(scope="module")
def planted(tmp_path_factory, tiny_llama, one_torch_thread_per_module):
    """A corpus of 16 train-split records stating their age, and an adapter trained on it."""
    from emergence.corpus.split import split_of
    from emergence.train.config import TrainConfig
    from emergence.train.recipe import train

    root = tmp_path_factory.mktemp("positive")
    rows, i = [], 0
    while len(rows) < len(WORDS):
        n = len(rows)
        row = {"uid": f"pc{i}", "title": f"The {WORDS[n]} Book {i}",
               "content": f"Ages {AGES[n % len(AGES)]} and up."}
        i += 1
        if split_of(row) == "train":
            rows.append(row)
    corpus = root / "planted.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = train(TrainConfig.cpu(
        model=str(tiny_llama), corpus=corpus, output_dir=root / "run", overwrite=True,
        max_steps=80, learning_rate=1e-2, lr_scheduler_type="constant", warmup_steps=0,
        per_device_train_batch_size=16, gradient_accumulation_steps=1, max_seq_length=64,
        eval_records=0, save_steps=10_000, age_cues="keep"))  # the exposed arm: every cue is trained on
    sets = build_eval_sets(corpus, EvalSetConfig(age_seen=100))
    assert len(sets["age_seen"]) == len(WORDS)  # every record carries a cue
    return sets, result.adapter_dir


def test_positive_control_detects_planted_recall(tiny_llama, planted):
    sets, adapter = planted
    res = run_probes(tiny_llama, sets, ProbeConfig(**PROBE, completion_variant=True,
                                                   sets=["age_seen"], band_loglik=False),
                     adapter=adapter)
    inferred = AGE_RECALL.model_copy(update={"name": "age_recall_inferred", "metric": "inferred"})
    judged = {v.hypothesis.name: v for v in verdicts(res, sets, [AGE_RECALL, inferred],
                                                     variant="completion")}
    for name in ("age_recall", "age_recall_inferred"):
        v = judged[name]
        assert v.outcome == "confirmed", v.explanation
        assert v.n == len(WORDS)
        assert v.treated.mean > v.control.mean
        assert v.mcnemar is not None and v.mcnemar.p_value < 0.05
    # recall means the planted number, not just any age
    tuned = score_rows(res, sets).select(model="tuned", variant="completion")
    assert sum(r.parsed_age == r.label_age for r in tuned) >= len(WORDS) - 2


def test_negative_control_trained_model_shuffled_labels(tiny_llama, planted):
    sets, adapter = planted
    shuffled = {"age_seen": _shuffled(sets["age_seen"], seed=0)}
    moved = sum(a.label_age != b.label_age for a, b in zip(sets["age_seen"],
                                                         shuffled["age_seen"]))
    assert moved >= len(WORDS) // 2
    res = run_probes(tiny_llama, shuffled, ProbeConfig(**PROBE, completion_variant=True,
                                                       sets=["age_seen"], band_loglik=False),
                     adapter=adapter)
    judged = verdicts(res, shuffled, [AGE_RECALL], variant="completion")
    assert len(judged) == 1
    assert judged[0].outcome != "confirmed", judged[0].explanation


def test_negative_control_random_adapter_shuffled_labels(tiny_llama, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from emergence.corpus.sample import write_sample

    torch.manual_seed(3)
    peft_model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_llama),
                                LoraConfig(r=8, lora_alpha=64, init_lora_weights=False,
                                           target_modules=["q_proj", "v_proj", "o_proj"]))
    peft_model.save_pretrained(tmp_path / "adapter")
    corpus = write_sample(tmp_path / "c.jsonl", 300, seed=11)
    sets = build_eval_sets(corpus, EvalSetConfig(age_heldout=24, age_seen=0, intent_seen=0,
                                                 intent_heldout=0))
    assert len(sets["age_heldout"]) == 24
    shuffled = {"age_heldout": _shuffled(sets["age_heldout"], seed=1)}
    res = run_probes(tiny_llama, shuffled, ProbeConfig(**PROBE, sets=["age_heldout"]),
                     adapter=tmp_path / "adapter")
    judged = {v.hypothesis.name: v for v in verdicts(res, shuffled, [AGE_EMERGENCE, AGE_EMERGENCE_MC])}
    assert set(judged) == {"age_emergence", "age_emergence_mc"}
    for v in judged.values():
        assert v.n > 0
        assert v.outcome != "confirmed", v.explanation
