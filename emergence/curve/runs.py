"""The emergence curve of a run: per-item metric values at every probed step, from the probe rows.

    >>> from emergence.curve.runs import step_of
    >>> step_of("base", 40), step_of("step-10", 40), step_of("tuned", 40)
    (0, 10, 40)

Step 0 is the base model's rows, the last step the tuned model's, the steps between the
curve stage's checkpoint rows (``step-<k>``). Every age and age-choice metric of the
registry is followed on the judged age set; a metric that needs generated answers has a
value only at the steps probed in full. Each metric's smallest effect that counts is its
hypothesis's on that set, else 0 (any change); its direction is the registry's "better".
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from emergence.curve.build import EmergenceCurve, MetricSeries, emergence_curve

__all__ = ["build_curve", "step_of"]


def step_of(model: str, max_steps: int) -> int:
    """The training step a probe row's model name stands for."""
    if model == "base":
        return 0
    if model == "tuned":
        return max_steps
    return int(model.split("-", 1)[1])


def build_curve(results: Sequence[Any], *, max_steps: int, set_name: str = "age_heldout",
                hypotheses: Sequence[Any] = (), families: Sequence[str] = ("age", "age_choice"),
                n_boot: int = 2000, seed: int = 0) -> EmergenceCurve | None:
    """The curve of every metric of ``families`` on ``set_name`` from scored ProbeResults
    (base, tuned, and the curve stage's checkpoints); None with fewer than two steps."""
    from emergence.metrics import METRICS

    verdict_variant = results[0].config.verdict_variant if results else "seed"
    # step -> item -> metric -> value, from the rows that carry each metric's family
    values: dict[int, dict[str, dict[str, float]]] = {}
    for res in results:
        for row in res.rows:
            if row.set != set_name or row.variant not in (verdict_variant, "bands"):
                continue
            scores = values.setdefault(step_of(row.model, max_steps), {}).setdefault(row.item_id, {})
            scores.update(row.metric_scores())
    steps = sorted(values)
    if len(steps) < 2 or 0 not in values:
        return None
    items = list(values[0])
    thresholds = {h.metric: h.min_effect for h in hypotheses if h.eval_sets[:1] == (set_name,)
                  and h.comparison == "paired_base_tuned"}
    series = []
    for metric in METRICS.values():
        if metric.family not in families:
            continue
        present = [k for k in steps if any(metric.key in values[k].get(i, {}) for i in items)]
        if len(present) < 2 or present[0] != 0:
            continue
        matrix = [[values[k].get(i, {}).get(metric.key, math.nan) for i in items] for k in present]
        series.append(MetricSeries(metric.key, matrix, present, metric.kind,
                                   "increase" if metric.better == "higher" else "decrease",
                                   thresholds.get(metric.key, 0.0), discrete=metric.kind == "binary",
                                   label=metric.label))
    if not series:
        return None
    return emergence_curve(series, n_boot=n_boot, seed=seed)
