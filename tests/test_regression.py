"""Golden regression of probe outcomes: eval sets -> probes -> metrics -> verdicts.

A tiny seeded Llama built in code and a seeded sample corpus go through
``build_eval_sets``, ``run_probes`` (base, and base plus a LoRA trained here for a few
deterministic steps to answer the age question with "Ages 6 to 8."), ``score`` and
``verdicts``; the outcome must reproduce ``tests/golden/probe_tiny_llama.json``:

- eval-set item ids, answer texts and parsed ages: exactly;
- every float (per-item scores, band log-likelihoods, Estimates): within 1e-6 relative or
  absolute (NaN matches NaN); SmolLM2's within 1e-4 (below);
- verdict outcomes, n and McNemar counts: exactly.

The random tiny model answers garbage, so the golden pins its answer texts and the
continuous measures (band log-likelihoods, ROUGE/LCS); the trained adapter's answers
state an age, which drives the parse -> score -> verdict path with real numbers.
``curve_tiny_llama.json`` pins the emergence curve of the cpu-demo profile shrunk to the tiny
model (tests/curve_demo.py): every point of the band metrics and the held-out loss.
The slow test does the same for SmolLM2-135M-Instruct (base only) on 40 ``age_heldout``
and 6 + 6 intent items of the embedded sample (``probe_smollm2_base.json``). Its floats are
compared within 1e-4: a 30-layer float32 network gives different last digits on another CPU
(the CI machine's band expectations differed from this machine's by 1.3e-6 relative); the
tiny model's 2 layers stay within 1e-6 everywhere it has run.

Regenerate the golden files after an intended change (and review the diff)::

    EMERGENCE_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_regression.py -m "slow or not slow"

A missing golden file fails the test; it is never written during a normal run.
"""
from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import pytest

GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE_ENV = "EMERGENCE_UPDATE_GOLDEN"
REL_TOL = ABS_TOL = 1e-6
CROSS_CPU_TOL = 1e-4  # SmolLM2's float32 forward on another CPU: see the docstring
# Keys compared exactly even though they hold floats: a parsed age is a decision, not a
# measurement, and must not drift at all.
EXACT_FLOAT_KEYS = frozenset({"parsed_age"})
TRAINED_ANSWER = "Ages 6 to 8."


# ------------------------------------------------------------------ snapshot and compare


def snapshot(sets: dict[str, list[Any]], results: Any, metrics: Any, verdicts: list[Any]
             ) -> dict[str, Any]:
    """The pinned outcome of one probe run, as plain JSON data (no timings, no prose)."""
    return {
        "eval_sets": {name: [item.id for item in items] for name, items in sets.items()},
        "rows": [
            {"set": r.set, "item_id": r.item_id, "model": r.model, "variant": r.variant,
             "label_age": r.label_age, "answer": r.answer, "parsed_age": r.parsed_age,
             "scores": r.scores, "band_loglikelihoods": r.band_loglikelihoods}
            for r in results.rows
        ],
        "excluded": dict(results.excluded),
        "metrics": metrics.model_dump(mode="json"),
        "verdicts": [
            {"name": v.hypothesis.name, "outcome": v.outcome, "n": v.n,
             "effect": v.effect.model_dump(mode="json"),
             "mcnemar": v.mcnemar.model_dump(mode="json") if v.mcnemar else None}
            for v in verdicts
        ],
    }


def _is_nan(x: Any) -> bool:
    return isinstance(x, float) and math.isnan(x)


def compare(expected: Any, actual: Any, path: str = "$", key: str = "",
            out: list[str] | None = None, tol: float = REL_TOL) -> list[str]:
    """Every difference between two JSON-like trees, as 'path: expected != actual'."""
    out = [] if out is None else out
    if isinstance(expected, dict) and isinstance(actual, dict):
        if set(expected) != set(actual):
            out.append(f"{path}: keys {sorted(expected)} != {sorted(actual)}")
        for k in sorted(set(expected) & set(actual)):
            compare(expected[k], actual[k], f"{path}.{k}", k, out, tol)
    elif isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            out.append(f"{path}: length {len(expected)} != {len(actual)}")
        for i, (e, a) in enumerate(zip(expected, actual)):
            compare(e, a, f"{path}[{i}]", key, out, tol)
    elif (isinstance(expected, (int, float)) and isinstance(actual, (int, float))
          and not isinstance(expected, bool) and not isinstance(actual, bool)
          and key not in EXACT_FLOAT_KEYS):
        e, a = float(expected), float(actual)
        if not ((_is_nan(e) and _is_nan(a))
                or math.isclose(e, a, rel_tol=tol, abs_tol=tol)):
            out.append(f"{path}: {expected!r} != {actual!r}")
    elif not (expected == actual or (_is_nan(expected) and _is_nan(actual))):
        out.append(f"{path}: {expected!r} != {actual!r}")
    return out


def check_golden(name: str, snap: dict[str, Any], tol: float = REL_TOL) -> None:
    """Compare with tests/golden/<name>, or rewrite it when EMERGENCE_UPDATE_GOLDEN=1."""
    # a JSON round trip first, so floats and NaN compare as they will be stored
    snap = json.loads(json.dumps(snap))
    path = GOLDEN_DIR / name
    if os.environ.get(UPDATE_ENV) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(snap, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        pytest.skip(f"rewrote {path} ({UPDATE_ENV}=1): review and commit the diff")
    if not path.is_file():
        pytest.fail(f"golden file {path} is missing: generate it with {UPDATE_ENV}=1 "
                    "(see this module's docstring), review it and commit it")
    diffs = compare(json.loads(path.read_text(encoding="utf-8")), snap, tol=tol)
    assert not diffs, (f"{len(diffs)} differences from {path} (first 25):\n"
                       + "\n".join(diffs[:25]))


def test_compare_catches_differences():
    base = {"a": [1.0, "x", None], "parsed_age": 6.0, "n": 3, "f": math.nan}
    assert compare(base, json.loads(json.dumps(base))) == []
    assert compare(base, {**base, "a": [1.0 + 1e-9, "x", None]}) == []  # within tolerance
    assert compare(base, {**base, "a": [1.001, "x", None]})
    assert compare(base, {**base, "a": [1.0 + 1e-5, "x", None]})
    assert compare(base, {**base, "a": [1.0 + 1e-5, "x", None]}, tol=CROSS_CPU_TOL) == []
    assert compare(base, {**base, "a": [1.001, "x", None]}, tol=CROSS_CPU_TOL)
    assert compare(base, {**base, "parsed_age": 6.0 + 1e-9})  # exact key
    assert compare(base, {**base, "n": 4})
    assert compare(base, {**base, "f": 0.0})
    assert compare(base, {**base, "extra": 1})


def test_missing_golden_fails(monkeypatch, tmp_path):
    import _pytest.outcomes

    monkeypatch.delenv(UPDATE_ENV, raising=False)
    monkeypatch.setattr(sys.modules[__name__], "GOLDEN_DIR", tmp_path)
    with pytest.raises(_pytest.outcomes.Failed, match="missing"):
        check_golden("nope.json", {"a": 1})
    assert not (tmp_path / "nope.json").exists()


# ------------------------------------------------------------------ tiny seeded model


def train_age_adapter(base: Path, out: Path, titles: list[str], *, steps: int = 20,
                      seed: int = 0) -> Path:
    """A LoRA taught, in a few seeded full-batch steps, to answer the age question with
    TRAINED_ANSWER: a deterministic stand-in for a tuned model that states ages."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from emergence.probe.config import ProbeConfig

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0,
                                             target_modules="all-linear"))
    template = ProbeConfig().age_prompt
    answer = tokenizer(TRAINED_ANSWER, add_special_tokens=False)["input_ids"] + [
        tokenizer.eos_token_id]
    examples = []
    for title in titles:
        prompt = tokenizer.apply_chat_template(
            [{"role": "user", "content": template.format(title=title)}],
            add_generation_prompt=True, tokenize=False)
        ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        examples.append((ids + answer, [-100] * len(ids) + answer))
    width = max(len(ids) for ids, _ in examples)
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids, _ in examples])
    labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in examples])
    mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in examples])
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    for _ in range(steps):
        loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(out)
    return out


def test_probe_outcomes_tiny_llama_match_golden(tiny_llama, tmp_path, one_torch_thread):
    from emergence.evalsets import EvalSetConfig, build_eval_sets
    from emergence.corpus.sample import write_sample
    from emergence.probe import ProbeConfig, run_probes
    from emergence.scoring import score, score_rows
    from emergence.verdict.judge import judge_all

    corpus = write_sample(tmp_path / "corpus.jsonl", 600, seed=3)
    sets = build_eval_sets(corpus, EvalSetConfig(age_heldout=12, age_seen=10,
                                                 intent_seen=10, intent_heldout=10))
    config = ProbeConfig(max_new_tokens_age=12, max_new_tokens_intent=12, k=8,
                         extract_tokens=8, batch_size=8, device="cpu", dtype="float32",
                         progress=False)
    # the adapter learns the answer on training-split titles only
    adapter = train_age_adapter(tiny_llama, tmp_path / "adapter", [it.title for it in sets["intent_seen"]])
    results = score_rows(run_probes(str(tiny_llama), sets, config, adapter=adapter), sets)  # one thread
    tuned_age = results.select(set="age_heldout", model="tuned", variant="seed")
    # the pinned run must exercise age parsing, or the golden pins nothing about it
    assert sum(r.parsed_age is not None for r in tuned_age) >= len(tuned_age) // 2
    snap = snapshot(dict(sets), results, score(results), judge_all(results))
    assert {v["name"] for v in snap["verdicts"]} == {
        "age_emergence", "age_emergence_mc", "age_recall", "intent_memorisation", "membership_memorisation",
        "extraction_memorisation"}
    check_golden("probe_tiny_llama.json", snap)


# ------------------------------------------------------------------ the demo's emergence curve


def curve_snapshot(run_dir: Path) -> dict[str, Any]:
    """The pinned points of a run's emergence curve: each band metric (mc_*) at every probed step,
    its change from base with the pointwise interval and the simultaneous band, and the held-out
    loss measured at the same steps (before training, at each checkpoint, after training)."""
    from emergence.curve.build import EmergenceCurve
    from emergence.metrics import keys
    from emergence.train.callbacks import read_metrics

    curve = EmergenceCurve.model_validate_json((run_dir / "verdicts" / "curve.json").read_text(encoding="utf-8"))
    metrics = {}
    for m in curve.metrics:
        if m.metric in keys("age_choice"):
            metrics[m.metric] = [
                {"step": p.step, "value": p.value.mean,
                 "change": None if p.change is None else [p.change.mean, p.change.ci_low, p.change.ci_high],
                 "band": None if p.change is None else [p.band_low, p.band_high]} for p in m.points]
    summary = json.loads((run_dir / "train" / "summary.json").read_text(encoding="utf-8"))
    held = [{"step": r["step"], "loss": r["heldout_loss"]}
            for r in read_metrics(run_dir / "train" / "metrics.jsonl") if r.get("curve")]
    loss = ([{"step": 0, "loss": summary["heldout_loss_before"]}] + held
            + [{"step": summary["steps"], "loss": summary["heldout_loss_after"]}])
    return {"metrics": metrics, "heldout_loss": loss}


def test_demo_curve_tiny_llama_matches_golden(tmp_path, one_torch_thread):
    """The cpu-demo profile's curve, shrunk to the tiny seeded model (tests/curve_demo.py): a
    change in any point of any band metric, or of the held-out loss, fails here."""
    from curve_demo import CURVE_STEPS, run_curve_demo

    snap = curve_snapshot(run_curve_demo(tmp_path / "demo"))
    assert sorted(snap["metrics"]) == sorted(["mc_correct", "mc_label_prob", "mc_expected_abs_error", "mc_rps",
                                              "mc_brier"])
    assert all([p["step"] for p in points] == CURVE_STEPS for points in snap["metrics"].values())
    assert [p["step"] for p in snap["heldout_loss"]] == CURVE_STEPS
    # the points move: a golden of a flat curve would pin little
    assert len({round(p["value"], 6) for p in snap["metrics"]["mc_expected_abs_error"]}) == len(CURVE_STEPS)
    check_golden("curve_tiny_llama.json", snap)


# ------------------------------------------------------------------ SmolLM2 (slow)


@pytest.mark.slow
def test_probe_outcomes_smollm2_base_match_golden(one_torch_thread):
    from emergence.evalsets import EvalSetConfig, build_eval_sets
    from emergence.verdict.hypothesis import INTENT_MEMORISATION, MEMBERSHIP_MEMORISATION
    from emergence.models import resolve_model
    from emergence.corpus.sample import sample_path
    from emergence.probe import ProbeConfig, run_probes
    from emergence.scoring import score, score_rows
    from emergence.verdict.judge import judge_all

    sets = build_eval_sets(sample_path(), EvalSetConfig(age_heldout=40, age_seen=0, intent_seen=6, intent_heldout=6,
                                                        members=40, nonmembers=40))
    # k-extractable is pinned by the tiny test; here it would double the run time
    config = ProbeConfig(device="cpu", dtype="float32", progress=False, extractable=False)
    results = score_rows(run_probes(resolve_model("smollm2"), sets, config), sets)  # one thread: conftest.py
    # base only: the paired and difference-in-differences hypotheses need a tuned model. The
    # base model never saw the training split, so its seen-vs-held-out intent gap and its
    # members-vs-nonmembers AUC are the verdicts it can give (the panel's negative controls)
    no_control = {"model": "base", "positive_control": None}
    base_gap = INTENT_MEMORISATION.model_copy(update={**no_control, "comparison": "seen_minus_heldout"})
    base_membership = MEMBERSHIP_MEMORISATION.model_copy(update={**no_control, "metric": "neg_loss"})
    verdicts = judge_all(results, [base_gap, base_membership])
    assert [v.hypothesis.name for v in verdicts] == ["intent_memorisation", "membership_memorisation"]
    snap = snapshot(dict(sets), results, score(results), verdicts)
    assert len(snap["eval_sets"]["age_heldout"]) == 40
    check_golden("probe_smollm2_base.json", snap, tol=CROSS_CPU_TOL)
