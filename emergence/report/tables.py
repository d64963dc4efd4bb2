"""The report's tables, each built from an ExperimentResult; columns come from the metric registry.

    >>> from emergence.report.tables import metric_columns
    >>> [m.key for m in metric_columns("age")][:2]
    ['inferred', 'abs_error']

A table that lists a metric family shows every registered metric of it, in registration
order, with the metric's own column header and format; a metric registered later appears
without touching this module.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emergence.report.document import Block, Bold, Table, Text
import math

from emergence.report.fmt import age, fmt_metric, isnan, num, truncate

if TYPE_CHECKING:
    from emergence.metrics import Metric
    from emergence.results import ExperimentResult

__all__ = ["age_table", "answers_table", "by_band_table", "curve_table", "lmeval_tables", "memorisation_table",
           "metric_columns", "paired_table"]


def metric_columns(*families: str) -> list["Metric"]:
    """The registered metrics of these families, in order."""
    from emergence.metrics import family

    return [m for f in families for m in family(f)]  # type: ignore[arg-type]


def _n(m: dict[str, Any], cols: list["Metric"]) -> str:
    ns = [int((m.get(c.key) or {}).get("n") or 0) for c in cols if m.get(c.key)]
    return str(max(ns)) if ns else ""


def _cell(m: dict[str, Any], key: str, row_n: str) -> str:
    """The metric's interval, with its own n where it differs from the row's (an error in
    years is over the answered items only)."""
    est = m.get(key)
    text = fmt_metric(est, key)
    n = (est or {}).get("n")
    return f"{text} (n={n})" if est and text != "–" and str(n) != row_n else text


def age_table(result: "ExperimentResult", set_name: str) -> Table | None:
    """Base, tuned and baselines on one age set: every age and age-choice metric with its interval."""
    metrics = result.metrics
    variant = result.probes.config.verdict_variant
    per_model = metrics.tables.get(set_name, {})
    if not per_model:
        return None
    cols = metric_columns("age", "age_choice")
    rows: list[list[Text]] = []
    for which in ("base", "tuned"):
        m = per_model.get(which, {}).get(variant)
        if m:
            n = _n(m, cols)
            rows.append([Bold(which), n] + [_cell(m, c.key, n) for c in cols])
    for kind, per_set in metrics.baselines.items():
        m = per_set.get(set_name)
        if m:
            name = f"{kind} baseline" + (f" (band {metrics.majority_band})" if kind == "majority" else " (title words)")
            n = _n(m, cols)
            rows.append([name, n] + [_cell(m, c.key, n) for c in cols])
    return Table(["model", "n", *[c.column + (" (%)" if c.percent else "") for c in cols]], rows,
                 caption=f"{set_name}: mean [95% interval]; n items (each metric's own n is in metrics.json)",
                 numeric=tuple(range(1, len(cols) + 2)))


def paired_table(result: "ExperimentResult", set_name: str) -> Table | None:
    """Every metric on the items both models have a value for: base, tuned, paired difference."""
    from emergence.metrics import METRICS

    per_metric = result.metrics.paired.get(set_name, {})
    rows: list[list[Text]] = []
    for key, m in per_metric.items():
        metric = METRICS.get(key)
        if metric is None or metric.family not in ("age", "age_choice"):
            continue
        rows.append([metric.label, str(m["n"]), fmt_metric(m["base"], key), fmt_metric(m["tuned"], key),
                     fmt_metric(m["difference"], key, signed=True)])
    if not rows:
        return None
    return Table(["metric", "n (both)", "base", "tuned", "tuned − base"], rows,
                 caption=f"{set_name}: each metric on the items where both models have a value (errors in years on "
                 "the items both answered), paired differences with 95% intervals", numeric=(1, 2, 3, 4))


def curve_table(result: "ExperimentResult") -> Table | None:
    """The curve in numbers: each metric's change from base at every probed step, with its
    simultaneous band, and its onset."""
    curve = result.curve
    if curve is None or not curve.metrics:
        return None
    steps = curve.steps
    rows: list[list[Text]] = []
    for c in curve.metrics:
        at = {p.step: p for p in c.points}
        cells: list[Text] = []
        for k in steps[1:]:
            p = at.get(k)
            if p is None or p.change is None:
                cells.append("–")
                continue
            band = ("" if p.band_low is None or isnan(p.band_low) else
                    f" {{{fmt_metric({'mean': p.band_low, 'ci_low': math.nan, 'ci_high': math.nan, 'n': 1}, c.metric)}, "
                    f"{fmt_metric({'mean': p.band_high, 'ci_low': math.nan, 'ci_high': math.nan, 'n': 1}, c.metric)}}}")
            cells.append(fmt_metric(p.change, c.metric, signed=True) + band)
        rows.append([c.label, *cells, c.onset.words()])
    return Table(["metric", *[f"step {k}" for k in steps[1:]], "onset"], rows,
                 caption="Change from base at each probed step: mean [95% pointwise interval] {95% simultaneous band "
                 "over the steps}; a metric that needs generated answers has values only at the steps probed in "
                 "full. Onset: the first step whose simultaneous band lies wholly beyond the smallest effect that "
                 "counts.", numeric=tuple(range(1, len(steps))))


def by_band_table(result: "ExperimentResult", set_name: str) -> Table | None:
    """Within ±2 years and band accuracy per true band, base and tuned."""
    from emergence.metrics import band_names

    per_model = result.metrics.by_band.get(set_name, {})
    if not per_model:
        return None
    bands = [b for b in band_names() if any(b in per_model.get(m, {}) for m in per_model)]
    rows: list[list[Text]] = []
    for band in bands:
        row: list[Text] = [band]
        n = ""
        for which in ("base", "tuned"):
            m = per_model.get(which, {}).get(band, {})
            n = n or str((m.get("within_2y") or {}).get("n", ""))
            row += [fmt_metric(m.get("within_2y"), "within_2y"), fmt_metric(m.get("band_correct"), "band_correct")]
        rows.append([row[0], n, *row[1:]])
    return Table(["true band", "n", "base within ±2y (%)", "base band correct (%)", "tuned within ±2y (%)",
                  "tuned band correct (%)"], rows, caption=f"{set_name} by true age band", numeric=(1, 2, 3, 4, 5))


def memorisation_table(result: "ExperimentResult") -> Table | None:
    """Answer overlap with the training content and extraction, seen vs held-out, per model."""
    from emergence.scoring import variant_of

    tables = result.metrics.tables
    cols = metric_columns("intent", "extract")
    verdict_variant = result.probes.config.verdict_variant
    rows: list[list[Text]] = []
    for which in ("base", "tuned"):
        for set_name in ("intent_seen", "intent_heldout"):
            per_variant = tables.get(set_name, {}).get(which, {})
            cells = [per_variant.get(variant_of(c.family, verdict_variant), {}).get(c.key) for c in cols]
            if any(cells):
                n = str((per_variant.get("intent", {}).get(cols[0].key) or {}).get("n", ""))
                rows.append([Bold(which), set_name, n] + [fmt_metric(e, c.key) for e, c in zip(cells, cols)])
        gap = result.metrics.memorisation_gap.get(which, {})
        if gap:
            rows.append([Bold(which), "gap: seen − held-out", ""]
                        + [fmt_metric(gap.get(c.key), c.key, signed=True) for c in cols])
    if not rows:
        return None
    return Table(["model", "set", "n", *[c.column + (" (%)" if c.percent else "") for c in cols]], rows,
                 caption="Author-intent answers against the record's training content: mean [95% interval]",
                 numeric=tuple(range(2, len(cols) + 3)))


def answers_table(result: "ExperimentResult", set_name: str, limit: int) -> tuple[Table | None, int]:
    """The first ``limit`` items of a set: base and tuned answers side by side."""
    probes = result.probes
    is_age = set_name.startswith("age")
    variant = probes.config.verdict_variant if is_age else "intent"
    tuned = {r.item_id: r for r in probes.select(set=set_name, model="tuned", variant=variant)}
    base_rows = probes.select(set=set_name, model="base", variant=variant)
    rows: list[list[Text]] = []
    for b in base_rows[:limit]:
        t = tuned.get(b.item_id)
        if is_age:
            rows.append([b.title, age(b.label_age), truncate(b.answer), age(b.parsed_age),
                         truncate(t.answer) if t else "–", age(t.parsed_age) if t else "–"])
        else:
            rows.append([b.title, truncate(b.answer), num((b.scores or {}).get("rouge_l"), 2),
                         truncate(t.answer) if t else "–", num((t.scores or {}).get("rouge_l"), 2) if t else "–"])
    if not rows:
        return None, 0
    if is_age:
        header = ["title", "true age", "base answer", "base age", "tuned answer", "tuned age"]
        numeric: tuple[int, ...] = (1, 3, 5)
    else:
        header = ["title", "base answer", "base ROUGE-L", "tuned answer", "tuned ROUGE-L"]
        numeric = (2, 4)
    caption = f"{set_name}: first {len(rows)} of {len(base_rows)} items (answers cut at 160 characters)"
    return Table(header, rows, caption=caption, numeric=numeric, cls="answers"), len(base_rows)


def lmeval_tables(result: "ExperimentResult") -> list[Block]:
    """lm-eval's own results files as one table."""
    if not result.lmeval:
        return []
    rows: list[list[Text]] = []
    for which, res in result.lmeval.items():
        for task, values in sorted((res.get("results") or {}).items()):
            for key, value in values.items():
                if "," not in key or "_stderr" in key or not isinstance(value, (int, float)):
                    continue
                metric, filt = key.split(",", 1)
                stderr = values.get(f"{metric}_stderr,{filt}")
                rows.append([Bold(which), task, metric, num(float(value), 4),
                             num(float(stderr), 4) if isinstance(stderr, (int, float)) else "–",
                             str((res.get("n-samples") or {}).get(task, {}).get("effective", ""))])
    if not rows:
        return []
    return [Table(["model", "task", "metric", "value", "stderr", "n"], rows,
                  caption="lm-eval (hf model, chat template) on this run's eval sets", numeric=(3, 4, 5))]
