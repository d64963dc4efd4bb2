"""The memorisation panel end to end: a tiny model trained to overfit, the canary and base-only
controls, the verdict order, and constructed rows that show how the panel can and cannot mislead."""
from __future__ import annotations

import json
import random

import numpy as np
import pytest

from emergence.probe.config import ProbeConfig
from emergence.probe.run import ProbeResults, ProbeRow

pytestmark = pytest.mark.usefixtures("one_torch_thread_per_module")

WORDS = "river stone lamp orchard violin harbour meadow lantern candle garden window mirror forest castle ribbon".split()

OVERFIT_TOML = """
profile = "overfit"
[train]
corpus = "{corpus}"
model = "{model}"
load_in_4bit = false
dtype = "float32"
device = "cpu"
backend = "hf"
optim = "adamw_torch"
gradient_checkpointing = false
held_out = 0.5
canary_share = 0.5
max_steps = 600
max_seq_length = 128
per_device_train_batch_size = 8
gradient_accumulation_steps = 1
learning_rate = 1e-2
lora_r = 32
lora_alpha = 32
warmup_steps = 0
save_steps = 1000
eval_records = 4
[evalsets]
age_heldout = 0
age_seen = 0
intent_seen = 4
intent_heldout = 4
members = 40
nonmembers = 40
canaries = 40
canary_controls = 40
[probe]
max_new_tokens_intent = 4
k = 8
extract_tokens = 8
batch_size = 16
[curve]
enabled = false
[lmeval]
enabled = false
[memorisation]
counterfactual_pairs = 1
counterfactual_records = 20
"""


@pytest.fixture(scope="module")
def confident_tiny(tmp_path_factory):
    """The tiny seeded Llama with its final norm scaled by 10: at 64 dimensions the random
    output layer otherwise caps every logit near 1, so no amount of LoRA training takes the
    loss far below log(vocabulary) and nothing can be memorised."""
    import torch
    from transformers import AutoModelForCausalLM

    from emergence.models import build_tiny_model

    path = build_tiny_model("llama", tmp_path_factory.mktemp("confident-tiny"), seed=0)
    model = AutoModelForCausalLM.from_pretrained(path)
    with torch.no_grad():
        model.model.norm.weight.mul_(10.0)
    model.save_pretrained(path, safe_serialization=True)
    return path


@pytest.fixture(scope="module")
def overfit_run(confident_tiny, tmp_path_factory):
    """160 records of 12 random words (80 trained on, half of them with a canary), 60 epochs."""
    from emergence.cli import main

    tmp = tmp_path_factory.mktemp("overfit")
    rng = random.Random(0)
    with open(tmp / "corpus.jsonl", "w", encoding="utf-8") as fh:
        for i in range(160):
            fh.write(json.dumps({"uid": f"u{i}", "title": f"Volume {i} of the {rng.choice(WORDS)} cycle",
                                 "content": " ".join(rng.choice(WORDS) for _ in range(12)) + "."}) + "\n")
    (tmp / "overfit.toml").write_text(OVERFIT_TOML.format(corpus=tmp / "corpus.jsonl", model=confident_tiny),
                                      encoding="utf-8")
    assert main(["run", "--config", str(tmp / "overfit.toml"), "--out", str(tmp / "run")]) == 0
    return tmp / "run"


def test_overfit_members_are_told_apart_under_the_reference_score(overfit_run):
    from emergence.verdict.panel import MemorisationPanel

    panel = MemorisationPanel.model_validate_json((overfit_run / "verdicts" / "memorisation.json").read_text())
    counts = json.loads((overfit_run / "evalsets" / "manifest.json").read_text())["counts"]
    assert panel.sizes == {k: counts[k] for k in ("members", "nonmembers", "canaries", "canary_controls")}
    assert min(panel.sizes.values()) >= 30  # the held-out canary records are a hash draw: about 40
    ref = panel.primary()
    assert ref is not None and ref.model == "tuned"
    assert ref.auc.mean >= 0.95 and ref.auc.ci_low > 0.5
    # positive control: the planted canaries are known; negative control: the base cannot tell
    assert panel.canaries is not None and panel.canaries.passed, panel.canaries
    assert panel.base_only is not None and panel.base_only.passed, panel.base_only
    base_aucs = [s.auc for s in panel.scores if s.model == "base"]
    assert base_aucs and all(a.ci_low <= 0.5 <= a.ci_high for a in base_aucs)
    assert panel.decided_by == "membership_memorisation" and panel.outcome == "confirmed"
    assert panel.extraction["tuned"].share.mean > panel.extraction["base"].share.mean
    # the ROC curves run from (0, 0) to (1, 1)
    assert ref.roc_fpr[0] == 0.0 and ref.roc_tpr[-1] == 1.0 and ref.roc_fpr[-1] == 1.0


def test_overfit_run_verdicts_and_report(overfit_run):
    verdicts = {v["hypothesis"]["name"]: v for v in json.loads((overfit_run / "verdicts" / "verdicts.json").read_text())}
    assert verdicts["canary_recall"]["outcome"] == "confirmed"
    assert verdicts["membership_memorisation"]["outcome"] == "confirmed"
    md = (overfit_run / "report.md").read_text()
    assert "## Memorisation panel" in md and "Decided by membership_memorisation" in md
    assert (overfit_run / "report" / "roc.png").is_file() and "roc.png" in md
    assert "canaries detected" in md and "covers 0.5" in md


def test_counterfactual_pairs_measure_what_training_on_a_record_added(overfit_run):
    from emergence.counterfactual import CounterfactualResult

    cf = CounterfactualResult.model_validate_json((overfit_run / "counterfactual" / "result.json").read_text())
    assert cf.pairs == 1 and cf.records == 20
    # each record is fitted far better by the adapter trained on it than by the one not trained on it
    assert cf.mean.ci_low > 0.5 and cf.positive.mean == 1.0
    for side in ("in_a", "in_b"):  # each adapter trained without the other half of the subset
        corpus = (overfit_run / "counterfactual" / f"pair-0-{side}" / "corpus.jsonl").read_text().splitlines()
        assert 70 <= len(corpus) < 80
    md = (overfit_run / "report.md").read_text()
    assert "Counterfactual memorisation:" in md


def test_canary_rows_score_only_the_canary_tokens(overfit_run):
    rows = [json.loads(line) for line in (overfit_run / "probe_tuned" / "answers.jsonl").read_text().splitlines()]
    tokens = {(r["set"]): [] for r in rows}
    for r in rows:
        if r["variant"] == "membership":
            tokens[r["set"]].append(r["membership"]["n_tokens"])
    # a member's whole content is scored; a canary row only its canary sentence
    assert np.median(tokens["canaries"]) < np.median(tokens["members"])
    assert np.median(tokens["canary_controls"]) < np.median(tokens["nonmembers"])


# ---------------------------------------------------------------- constructed rows


def _rows(rng, *, member_shift: float, base_shift: float, n: int = 60) -> list[ProbeRow]:
    """Membership rows of base and tuned: tuned per-token fit raised by member_shift on members;
    base raised by base_shift on members (a non-IID split when not 0)."""
    rows = []
    for set_name, is_member in (("members", True), ("nonmembers", False)):
        for i in range(n):
            n_tok = int(rng.integers(20, 60))
            base_fit = rng.normal(-3.0, 0.3) + (base_shift if is_member else 0.0)
            tuned_fit = base_fit + rng.normal(0.2, 0.1) + (member_shift if is_member else 0.0)
            for model, fit in (("base", base_fit), ("tuned", tuned_fit)):
                m = {"n_tokens": n_tok, "loglik": fit * n_tok, "neg_loss": fit, "zlib": fit / 40, "zlib_bytes": 40,
                     "min_k": fit - 1, "min_k_pp": fit / 3}
                rows.append(ProbeRow(set=set_name, item_id=f"{set_name}-{i}", uid=f"{set_name}{i}", title=f"T{i}",
                                     model=model, variant="membership", prompt="", answer="", membership=m))
    return rows


def _judge(rows):
    from emergence.scoring import score_rows
    from emergence.verdict.judge import judge_run
    from emergence.verdict.panel import memorisation_panel

    results = score_rows(ProbeResults(model="m", models=["base", "tuned"], config=ProbeConfig(), rows=rows), {})
    verdicts, _ = judge_run(results)
    return results, verdicts, memorisation_panel(results, verdicts, n_boot=200)


def test_reference_score_is_tuned_minus_base_per_token_on_tuned_rows_only():
    results, _, _ = _judge(_rows(np.random.default_rng(0), member_shift=0.5, base_shift=0.0, n=5))
    for r in results.select(variant="membership"):
        if r.model == "base":
            assert "reference" not in r.scores
        else:
            base = next(b for b in results.select(set=r.set, model="base") if b.item_id == r.item_id)
            expect = (r.membership["loglik"] - base.membership["loglik"]) / r.membership["n_tokens"]
            assert r.scores["reference"] == pytest.approx(expect)


def test_no_canaries_means_membership_can_be_confirmed_but_never_refuted():
    rng = np.random.default_rng(1)
    _, verdicts, panel = _judge(_rows(rng, member_shift=0.6, base_shift=0.0))
    by = {v.hypothesis.name: v for v in verdicts}
    assert by["membership_memorisation"].outcome == "confirmed"
    assert panel.canaries is None and panel.decided_by == "membership_memorisation"
    _, verdicts, panel = _judge(_rows(rng, member_shift=0.0, base_shift=0.0, n=800))
    v = {v.hypothesis.name: v for v in verdicts}["membership_memorisation"]
    # an AUC near 0.5 with power, but no positive control ran: not refuted
    assert v.outcome == "inconclusive" and v.decision.reason == "no_positive_control"
    assert panel.decided_by is None and "membership_memorisation was inconclusive" in panel.text


def test_a_non_iid_split_fails_the_base_only_control_and_cannot_decide():
    # members differ before training (the base fits them better): the tuned AUC is high, but reads that
    _, verdicts, panel = _judge(_rows(np.random.default_rng(2), member_shift=0.0, base_shift=0.5))
    assert not panel.base_only.passed and "excludes 0.5" in panel.base_only.text
    tuned_loss = next(s for s in panel.scores if s.model == "tuned" and s.key == "neg_loss")
    assert tuned_loss.auc.ci_low > 0.5  # the raw loss attack would have claimed memorisation
    # the reference score cancels the base's own fit, so it reads no membership here
    ref = panel.primary()
    assert ref.auc.ci_low <= 0.5 <= ref.auc.ci_high
    assert panel.decided_by != "membership_memorisation"
    assert "base-only control failed" in panel.text


def test_panel_order_falls_through_to_the_next_measure():
    from emergence.verdict.panel import _decision

    class V:
        def __init__(self, name, outcome, comparison="paired_base_tuned"):
            from types import SimpleNamespace
            self.hypothesis = SimpleNamespace(name=name, comparison=comparison)
            self.outcome = outcome
            self.decision = SimpleNamespace(reason="straddles_threshold")

    order = ("membership_memorisation", "intent_memorisation", "extraction_memorisation")
    name, outcome, text = _decision([V("membership_memorisation", "inconclusive", "membership_auc"),
                                     V("intent_memorisation", "refuted")], order, None)
    assert (name, outcome) == ("intent_memorisation", "refuted")
    assert text.startswith("Decided by intent_memorisation: refuted; before it, membership_memorisation was "
                           "inconclusive (straddles threshold)")
    name, outcome, text = _decision([], order, None)
    assert name is None and outcome == "inconclusive" and "was not judged" in text


def test_canary_recall_is_the_positive_control_of_every_memorisation_hypothesis():
    from emergence.verdict.hypothesis import BUILTIN_HYPOTHESES, CANARY_RECALL, MEMORISATION_ORDER

    by = {h.name: h for h in BUILTIN_HYPOTHESES}
    assert CANARY_RECALL.role == "positive_control" and CANARY_RECALL.min_effect == pytest.approx(0.45)
    assert all(by[name].positive_control == CANARY_RECALL.name for name in MEMORISATION_ORDER)


def test_lm_eval_task_gives_the_panels_aucs_through_the_same_code(overfit_run):
    """author_intent_mia scores the same tokens as the panel's forward passes (training's
    continuation after the chat prompt), so its AUCs match the panel's."""
    pytest.importorskip("lm_eval")
    from emergence.experiment import load_experiment_config
    from emergence.lmeval import evaluate
    from emergence.verdict.panel import MemorisationPanel

    cfg = load_experiment_config(overfit_run / "config.toml")
    panel = MemorisationPanel.model_validate_json((overfit_run / "verdicts" / "memorisation.json").read_text())
    out = evaluate(cfg.train.model, adapter=overfit_run / "train" / "adapter", tasks=["author_intent_mia"],
                   device="cpu", batch_size=16, bootstrap_iters=0)
    got = out["results"]["author_intent_mia"]
    mine = {(s.model, s.key): s.auc.mean for s in panel.scores}
    assert got["reference,none"] == pytest.approx(mine[("tuned", "reference")], abs=0.02)
    assert got["neg_loss,none"] == pytest.approx(mine[("tuned", "neg_loss")], abs=0.02)
    samples = out["samples"]["author_intent_mia"]
    assert len(samples) == panel.sizes["members"] + panel.sizes["nonmembers"]
    # the base model through the task: its reference score is 0 for every record, so chance
    base = evaluate(cfg.train.model, tasks=["author_intent_mia"], device="cpu", batch_size=16, bootstrap_iters=0,
                    metadata={"eval_dir": str(overfit_run / "evalsets")})["results"]["author_intent_mia"]
    assert base["reference,none"] == pytest.approx(0.5, abs=0.02)
    assert base["neg_loss,none"] == pytest.approx(mine[("base", "neg_loss")], abs=0.02)


def test_lm_eval_task_refuses_without_the_runs_eval_sets():
    from emergence.lmeval import TaskDataError, task_dataset

    with pytest.raises(TaskDataError, match="eval_dir"):
        task_dataset("membership")
