"""The one place that turns scored answer rows into the two sides of each hypothesis's comparison.

    >>> from emergence.verdict.route import COMPARISONS
    >>> sorted(COMPARISONS)
    ['diff_in_diff', 'membership_auc', 'paired_base_tuned', 'seen_minus_heldout']

A hypothesis names a metric, eval sets and a comparison kind; the rows it reads follow
from those alone (the metric's family says which answer variant holds it:
:func:`emergence.scoring.variant_of`). Nothing here looks at a hypothesis's name, so a new
hypothesis over an existing comparison is a config entry.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from emergence.probe.run import ProbeResults, ProbeRow
from emergence.scoring import paired_rows

__all__ = ["COMPARISONS", "Sides", "paired_rows", "sides", "values"]


@dataclass(frozen=True)
class Sides:
    """The values a hypothesis compares: control and treated, paired item by item or not."""

    control: list[float]
    treated: list[float]
    paired: bool


def _variant(results: ProbeResults, metric: str) -> str:
    from emergence.metrics import METRICS
    from emergence.scoring import variant_of

    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}: register it in emergence.metrics.METRICS")
    return variant_of(METRICS[metric].family, results.config.verdict_variant)


def _paired(h: Any, results: ProbeResults) -> Sides | None:
    if not {"base", "tuned"} <= set(results.models):
        return None
    pairs = paired_rows(results, h.eval_sets[0], _variant(results, h.metric))
    if not pairs or not any(h.metric in b.scores for b, _ in pairs):
        return None
    return Sides([b.metric_scores().get(h.metric, float("nan")) for b, _ in pairs],
                 [t.metric_scores().get(h.metric, float("nan")) for _, t in pairs], paired=True)


def _gap(h: Any, results: ProbeResults) -> Sides | None:
    if h.model not in results.models:
        return None
    seen_set, held_set = h.eval_sets
    variant = _variant(results, h.metric)
    seen = [r.metric_scores().get(h.metric, float("nan"))
            for r in results.select(set=seen_set, model=h.model, variant=variant)]
    held = [r.metric_scores().get(h.metric, float("nan"))
            for r in results.select(set=held_set, model=h.model, variant=variant)]
    if not seen or not held:
        return None
    return Sides(control=held, treated=seen, paired=False)


def _diff_in_diff(h: Any, results: ProbeResults) -> Sides | None:
    """Per item, tuned minus base (items both answered); the sides are the seen and held-out
    sets' differences. The base model saw neither set, so its own seen-vs-held-out gap (how
    alike a set's titles and contents are) cancels: what is left is what tuning added."""
    if not {"base", "tuned"} <= set(results.models):
        return None
    variant = _variant(results, h.metric)
    diffs = []
    for set_name in h.eval_sets:  # (seen, held-out)
        pairs = paired_rows(results, set_name, variant)
        diffs.append([t.metric_scores().get(h.metric, float("nan")) - b.metric_scores().get(h.metric, float("nan"))
                      for b, t in pairs])
    if not diffs[0] or not diffs[1]:
        return None
    return Sides(control=diffs[1], treated=diffs[0], paired=False)


# comparison kind -> how its two sides are read from the rows
COMPARISONS: dict[str, Callable[[Any, ProbeResults], Sides | None]] = {
    "paired_base_tuned": _paired,
    "seen_minus_heldout": _gap,
    "diff_in_diff": _diff_in_diff,
    # one model's score on members (treated) vs non-members (control): the two sides of the AUC
    "membership_auc": _gap,
}


def sides(h: Any, results: ProbeResults) -> Sides | None:
    """The two sides of ``h``'s comparison, or None when this run's answers cannot decide it."""
    return COMPARISONS[h.comparison](h, results)


def values(rows: Sequence[ProbeRow], metric: str) -> list[float]:
    """One metric's per-item values of rows (NaN where a row lacks it)."""
    return [r.metric_scores().get(metric, float("nan")) for r in rows]
