"""The report: escaping, embedded images, sections, and the headline's words.

``make_result`` builds an ExperimentResult from real stage code (corpus audit, eval sets,
metrics, verdicts, controls) around scripted answers, so the report can be tested without
a model; tests/test_experiment.py checks the report of a real end-to-end run.
"""
from __future__ import annotations

import math
import random
import re
from pathlib import Path

import pytest

# a model answer that would run script / load an image if it ever reached the page unescaped
HOSTILE = ('<img src="x" onerror="document.title=1"> </td></tr></table>'
           '<script>throw new Error("injected")</script> | **bold** `tick`')


def _clean(scores: dict) -> dict:
    return {k: (None if isinstance(v, float) and math.isnan(v) else float(v)) for k, v in scores.items()}


def make_result(tmp_path: Path, *, tuned_mode: str = "item"):
    """An ExperimentResult whose answers are scripted (one base answer is hostile markup).

    'item': base always says 18, tuned states each item's true age. 'distribution': base
    never states an age, tuned states a random age drawn from the labels (the right
    distribution, no item-level information)."""
    from emergence.corpus.audit import audit_corpus
    from emergence.corpus.sample import write_sample
    from emergence.evalsets import EvalSetConfig, build_eval_sets
    from emergence.experiment.config import ExperimentConfig, ReportConfig
    from emergence.metrics import band_names
    from emergence.probe import ProbeConfig, ProbeResults, ProbeRow
    from emergence.results import ExperimentResult, RunPaths
    from emergence.scoring import score, score_rows
    from emergence.train.config import TrainConfig
    from emergence.train.outputs import plot_metrics
    from emergence.train.recipe import TrainResult
    from emergence.verdict.judge import VerdictConfig, judge_run

    corpus = write_sample(tmp_path / "corpus.jsonl", 600, seed=3)
    config = ExperimentConfig(
        profile="report-test", train=TrainConfig.cpu(model="tiny-llama", max_steps=40, corpus=corpus),
        evalsets=EvalSetConfig(age_heldout=40, age_seen=20, intent_seen=12, intent_heldout=12),
        verdict=VerdictConfig(control_rounds=5), report=ReportConfig(answers_in_report=10))
    audit = audit_corpus(corpus)
    sets = build_eval_sets(corpus, config.evalsets)
    rng = random.Random(0)
    labels = [it.label_age for it in sets["age_heldout"]]
    rows = []
    for name, items in sets.items():
        for which in ("base", "tuned"):
            for i, it in enumerate(items):
                band_ll = None
                if name.startswith("age"):
                    if which == "base":
                        answer = (HOSTILE if i == 0 and name == "age_heldout" else
                                  "Suitable for readers 18 and up." if tuned_mode == "item" else
                                  "I cannot tell from the title.")
                    elif tuned_mode == "item":
                        answer = f"Ages {it.label_age:g} and up, because of the themes."
                    else:
                        answer = f"Ages {rng.choice(labels):g} and up."
                    band_ll = {b: rng.uniform(-9, -1) for b in band_names()}
                    variant = "seed"
                else:
                    answer = (it.content[:120] if which == "tuned" and name == "intent_seen"
                              else "The author wanted to share a story.")
                    variant = "intent"
                rows.append(ProbeRow(set=name, item_id=it.id, uid=it.uid, title=it.title, label_age=it.label_age,
                                     label_band=it.label_band, label_source=it.label_source, model=which,
                                     variant=variant, prompt=f"about {it.title}", answer=answer,
                                     band_loglikelihoods=band_ll))
    probes = ProbeResults(model="tiny-llama", adapter=str(tmp_path / "adapter"), models=["base", "tuned"],
                          config=ProbeConfig(extractable=False, band_normalise="sum"), rows=rows,
                          set_sizes={k: len(v) for k, v in sets.items()},
                          train_band_counts=sets.extra["train_band_counts"])
    probes = score_rows(probes, sets)
    metrics = score(probes)
    judged, controls = judge_run(probes, config.verdict)
    curve = [{"step": s, "loss": 3.0 - s / 30, "learning_rate": 2e-4 * (1 - s / 40)} for s in range(1, 41)]
    plot = plot_metrics(curve, tmp_path / "loss.png", title="test")
    train = TrainResult(
        run_dir=tmp_path, adapter_dir=tmp_path / "adapter", base_model="tiny", final_loss=1.7, train_loss_avg=2.3,
        heldout_loss_before=3.1, heldout_loss_after=2.6, heldout_records=8, metrics_path=tmp_path / "metrics.jsonl",
        plot_path=plot, trainable_params=1000, total_params=100_000, backend="hf", device="cpu", steps=40,
        resumed_from_step=0, tokens_seen=9000, tokens_per_s=150.0, wall_time_s=70.0, train_time_s=60.0,
        dropped_examples=0, train_records_used=160, data_state={})
    (tmp_path / "config.toml").write_text('profile = "report-test"\n')
    paths = RunPaths(run_dir=tmp_path, config=tmp_path / "config.toml", env=tmp_path / "env.json",
                     evalsets=tmp_path / "evalsets", train_dir=tmp_path / "train", adapter=tmp_path / "adapter",
                     answers=tmp_path / "answers.jsonl", metrics=tmp_path / "metrics.json",
                     verdicts=tmp_path / "verdicts.json")
    return ExperimentResult(
        run_dir=tmp_path, config=config, env={"device": "cpu", "packages": {"torch": "2.13.0"}, "cpu_count": 2},
        audit=audit, eval_set_sizes={k: len(v) for k, v in sets.items()},
        eval_set_selection=dict(sets.extra), train=train, loss_curve=curve, probes=probes, metrics=metrics,
        verdicts=judged, controls=controls, lmeval=None, paths=paths, stages=[], timings={"total": 75.0})


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    from emergence.report import write_report

    tmp = tmp_path_factory.mktemp("report")
    result = make_result(tmp)
    md, page = write_report(result, tmp)
    return result, md.read_text(encoding="utf-8"), page.read_text(encoding="utf-8"), tmp


def test_html_is_self_contained_with_every_chart_embedded(written):
    _, _, page, tmp = written
    images = re.findall(r'<img [^>]*src="([^"]*)"', page)
    # loss curve, age bars (held-out, seen), stated-vs-true scatter, memorisation gap
    assert len(images) == 5
    assert all(src.startswith("data:image/png;base64,") and len(src) > 5000 for src in images)
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert not re.search(r"<link\b", page)
    for png in ("loss.png", "age_heldout.png", "age_seen.png", "stated_vs_true.png", "memorisation.png"):
        assert (tmp / "report" / png).stat().st_size > 5000


def test_model_text_is_escaped_everywhere(written):
    _, md, page, _ = written
    assert "<script>throw" not in page and 'onerror="document' not in page
    assert "&lt;script&gt;throw new Error(&quot;injected&quot;)&lt;/script&gt;" in page
    assert "<script>throw" not in md and "<img src=" not in md
    assert "&lt;script>throw" in md
    # the table row keeps its columns: the answer's pipe is escaped in Markdown
    row = next(line for line in md.splitlines() if "&lt;script>throw" in line)
    assert row.count(" | ") == 5 and "\\|" in row


def test_sections_numbers_and_links(written):
    result, md, page, _ = written
    for heading in ("## Question and hypotheses", "## Setup", "## Corpus audit", "## Training",
                    "## Age metrics: base, tuned and baselines", "## Memorisation", "## Verdicts",
                    "## Probe answers", "## Caveats", "## lm-eval"):
        assert heading in md
    assert "[answers.jsonl](answers.jsonl)" in md and 'href="answers.jsonl"' in page
    # the training cue share (leakage) and the losses are quoted
    assert f"{100 * result.audit.train_age_cue_share:.1f}%" in md
    assert "3.1000 → 2.6000" in md and "2.3000" in md
    # baselines beside base and tuned, with intervals
    assert "majority baseline (band" in md and "rule baseline (title words)" in md
    v = result.verdict("age_emergence")
    assert v.explanation in md
    assert "Item-level or distributional?" in md and "negative control: labels shuffled" in md
    assert "first 10 of 40 items" in md  # answers_in_report=10 of age_heldout


def test_headline_names_item_level_gain(written):
    from emergence.report.sections import headline

    result = written[0]
    outcome, text = headline(result)
    assert outcome == "confirmed" == result.verdict("age_emergence").outcome
    assert result.controls.item_level["age_emergence"].kind.startswith("item-level")
    assert text.startswith("Yes") and "item-level" in text


def test_headline_says_distributional_when_gain_survives_shuffling(tmp_path):
    from emergence.report.sections import caveats, headline

    result = make_result(tmp_path, tuned_mode="distribution")
    il = result.controls.item_level["age_emergence"]
    outcome, text = headline(result)
    assert il.distributional.outcome == "confirmed"  # the distribution-level gain is real ...
    assert il.item_gain_outcome != "confirmed"       # ... the item-level part is not
    assert il.kind == "distributional only"
    assert outcome != "confirmed"  # so the main question is not answered "yes"
    assert text.startswith("Not as inference") or "distributional only" in text
    words = " ".join(str(part) for c in caveats(result) for part in (c if isinstance(c, list) else [c]))
    assert "Synthetic labels." in words and "Age cues in training text." in words


def test_fmt_est_and_markdown_table():
    from emergence.report.document import Table, render_markdown
    from emergence.report.fmt import fmt_est

    est = {"mean": 0.25, "ci_low": 0.1, "ci_high": 0.4, "n": 20}
    assert fmt_est(est, pct=True) == "25% [10, 40]"
    assert fmt_est(est, 2, signed=True) == "+0.25 [+0.10, +0.40]"
    assert fmt_est({"mean": float("nan"), "n": 0}) == "–"
    md = render_markdown([Table(["a", "n"], [["x\ny", "1"]], numeric=(1,))])
    assert md.splitlines() == ["| a | n |", "| --- | ---: |", "| x y | 1 |"]


def test_a_corpus_url_credentials_and_query_stay_out_of_the_report(tmp_path):
    # a presigned URL's query string is a credential; reports are passed around. The run's
    # config.toml keeps the URL whole (the run resumes from it), the report shows it without
    from emergence.corpus.remote import CorpusURL
    from emergence.report import write_report

    result = make_result(tmp_path)
    url = "https://reader:pa55word@books.example/trn.json?X-Amz-Signature=S3CR3T&X-Amz-Credential=AKIA"
    cfg = result.config.model_copy(update={"train": result.config.train.model_copy(update={"corpus": CorpusURL(url)})})
    result = result.model_copy(update={"config": cfg})
    result.paths.config.write_text(f'profile = "report-test"\n[train]\ncorpus = "{url}"\n', encoding="utf-8")
    md, page = write_report(result, tmp_path)
    for text in (md.read_text(encoding="utf-8"), page.read_text(encoding="utf-8")):
        assert "S3CR3T" not in text and "AKIA" not in text and "pa55word" not in text
        assert "https://books.example/trn.json?…" in text
    assert "S3CR3T" in result.paths.config.read_text(encoding="utf-8")
