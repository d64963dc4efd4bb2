"""Extending the experiment: a metric is one registry entry plus its per-item function; a
hypothesis over an existing comparison is a config entry. Nothing else is touched."""
from __future__ import annotations

import json
import re

import pytest
import yaml

from test_report import make_result


def _within_1y(x) -> float:
    return 0.0 if x.parsed_age is None else float(abs(x.parsed_age - x.label_age) <= 1.0)


WITHIN_1Y = dict(key="within_1y", label="within-1-year accuracy", column="within ±1 year",
                 family="age", kind="binary", better="higher", fn=_within_1y)


def test_a_registered_metric_reaches_scores_tables_report_and_cli(tmp_path):
    from rich.console import Console

    from emergence.cli.run import render_summary
    from emergence.metrics import METRICS, Metric, registered, score_age
    from emergence.report import write_report

    with registered(Metric(**WITHIN_1Y)):
        assert score_age("Ages 6 and up.", 7.0)["within_1y"] == 1.0
        assert score_age("Ages 6 and up.", 8.0)["within_1y"] == 0.0
        result = make_result(tmp_path)  # scores rows, aggregates and judges with the metric registered
        est = result.metrics.tables["age_heldout"]["tuned"]["seed"]["within_1y"]
        assert est["n"] == 40 and est["method"] == "wilson"
        md, _ = write_report(result, tmp_path)
        text = md.read_text()
        header = next(line for line in text.splitlines() if line.startswith("| model | n |"))
        assert "within ±1 year (%)" in header
        console = Console(record=True, width=400)
        render_summary(result, console)
        assert "within ±1 year" in console.export_text()
        # a hypothesis over the new metric is a config entry
        from emergence.verdict.hypothesis import AGE_EMERGENCE
        from emergence.verdict.judge import VerdictConfig, judge_run

        h = AGE_EMERGENCE.model_copy(update={"name": "age_within_1y", "metric": "within_1y", "role": "secondary",
                                             "item_level": False})
        verdicts, _ = judge_run(result.probes, VerdictConfig(hypotheses=[h]))
        assert [v.hypothesis.name for v in verdicts] == ["age_within_1y"]
        assert verdicts[0].treated.mean == 1.0  # the scripted tuned model states each true age
    assert "within_1y" not in METRICS


def test_registering_a_key_twice_is_refused():
    from emergence.metrics import Metric, register

    with pytest.raises(ValueError, match="registered already"):
        register(Metric(**{**WITHIN_1Y, "key": "within_2y"}))


def test_a_new_hypothesis_over_an_existing_comparison_is_a_config_entry(tmp_path):
    """A seen-minus-held-out hypothesis on another metric, and one for the base model,
    from a TOML file: routed by comparison kind, never by name."""
    from emergence.configio import load_config
    from emergence.verdict.judge import VerdictConfig, judge_run

    result = make_result(tmp_path)
    (tmp_path / "v.toml").write_text('''
[[hypotheses]]
name = "any_name_at_all"
statement = "Seen answers share more 8-grams with their training text."
metric = "ngram8_overlap"
direction = "increase"
min_effect = 0.01
comparison = "seen_minus_heldout"
eval_sets = ["intent_seen", "intent_heldout"]

[[hypotheses]]
name = "another"
statement = "The base model's band accuracy improves (it cannot: base vs tuned)."
metric = "band_correct"
direction = "increase"
min_effect = 0.05
comparison = "paired_base_tuned"
eval_sets = ["age_heldout"]
''')
    config = load_config(VerdictConfig, tmp_path / "v.toml")
    verdicts, _ = judge_run(result.probes, config)
    by_name = {v.hypothesis.name: v for v in verdicts}
    assert set(by_name) == {"any_name_at_all", "another"}
    gap = by_name["any_name_at_all"]
    assert gap.treated_label == "seen" and gap.n == 24  # 12 seen + 12 held-out intent answers
    paired = by_name["another"]
    assert paired.control_label == "base" and paired.n == 40


def test_task_yaml_metrics_agree_with_the_registry():
    """Every metric an lm-eval task lists is registered (or lm-eval's own `acc`), with the
    registry's direction."""
    from emergence.lmeval import tasks_path
    from emergence.metrics import METRICS

    checked = 0
    for path in sorted(tasks_path().glob("*.yaml")):
        text = re.sub(r"!function\s+\S+", "fn", path.read_text())
        doc = yaml.safe_load(text) or {}
        for entry in doc.get("metric_list", []):
            key = entry["metric"]
            if key == "acc":
                continue
            assert key in METRICS, f"{path.name}: {key} is not a registered metric"
            # lm-eval's higher_is_better describes the score; for the memorisation tasks a higher
            # overlap is not "better", so they mark every metric False: direction only where it is
            if "higher_is_better" in entry and path.stem.startswith("age_rating"):
                assert entry["higher_is_better"] == (METRICS[key].better == "higher"), (path.name, key)
            checked += 1
    assert checked >= 10


def test_metrics_json_round_trips_with_a_registered_metric(tmp_path):
    from emergence.metrics import Metric, registered
    from emergence.scoring import ProbeMetrics

    with registered(Metric(**WITHIN_1Y)):
        result = make_result(tmp_path)
    dumped = result.metrics.model_dump_json()
    assert ProbeMetrics.model_validate_json(dumped).model_dump_json() == dumped  # NaN != NaN: compare the dumps
    assert "within_1y" in json.loads(dumped)["tables"]["age_heldout"]["base"]["seed"]
