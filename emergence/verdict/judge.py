"""Judge a scored probe run: positive controls, the primary hypothesis, the rest by Holm, and the controls.

    >>> from emergence.verdict.judge import judge_run
    >>> from emergence.probe.run import ProbeResults
    >>> from emergence.probe.config import ProbeConfig
    >>> verdicts, controls = judge_run(ProbeResults(model="m", models=["base"], config=ProbeConfig()))
    >>> verdicts, controls.item_level
    ([], {})

Order: every positive control is judged first at its alpha (a hypothesis may be refuted
only when its control was detected); the one primary hypothesis at its alpha; the other
hypotheses share the family alpha by Holm's step-down (:func:`emergence.verdict.decision.holm`).
A hypothesis with ``item_level`` is confirmed only when the item-level part of its gain is
confirmed too (an intersection test: no alpha is spent on it). Hypotheses are routed by
their comparison kind (:mod:`emergence.verdict.route`) and controls follow from their
fields (``role``, ``positive_control``, ``item_level``), never from their names.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from emergence.probe.run import ProbeResults
from emergence.verdict.controls import Controls, item_level_control, item_level_decision
from emergence.verdict.decision import Claim, holm
from emergence.verdict.hypothesis import (BUILTIN_HYPOTHESES, MEMORISATION_ORDER, Hypothesis, Verdict, effect_interval,
                                         verdict)

__all__ = ["VerdictConfig", "judge_all", "judge_run"]


class VerdictConfig(BaseModel):
    """The hypotheses judged on the probe answers, and the controls' randomness."""

    model_config = ConfigDict(extra="forbid")

    hypotheses: list[Hypothesis] = Field(
        default_factory=lambda: list(BUILTIN_HYPOTHESES),
        description="Hypotheses judged on the probe answers (default: emergence.verdict.hypothesis."
        "BUILTIN_HYPOTHESES); at most one with role 'primary'.")
    control_seed: int = Field(0, description="Seed of the label permutations of the shuffled-label and "
                              "item-level controls.")
    control_rounds: int = Field(20, ge=1, description="Label permutations averaged per item by the "
                                "item-level control (round 0 is the shuffled-label control's permutation).")
    memorisation_order: list[str] = Field(
        default_factory=lambda: list(MEMORISATION_ORDER),
        description="Hypotheses that answer the memorisation question, most direct first: the first whose "
        "outcome is not inconclusive decides it (emergence.verdict.panel); the report says which one.")


def _clean(h: Hypothesis, control: list[float], treated: list[float]) -> tuple[list[float], list[float]]:
    if h.design != "paired":
        return control, treated
    keep = [(a, b) for a, b in zip(control, treated) if not (math.isnan(a) or math.isnan(b))]
    return [a for a, _ in keep], [b for _, b in keep]


def _labelled_pairs(results: ProbeResults, h: Hypothesis) -> list[tuple[Any, Any]]:
    from emergence.scoring import paired_rows, variant_of

    return [(b, t) for b, t in paired_rows(results, h.eval_sets[0], variant_of("age", results.config.verdict_variant))
            if b.label_age is not None]


def judge_run(results: ProbeResults, config: VerdictConfig | None = None) -> tuple[list[Verdict], Controls]:
    """Verdicts of ``config.hypotheses`` (default: the built-in ones) and this run's controls."""
    from emergence.verdict.route import sides

    config = config or VerdictConfig()
    primaries = [h.name for h in config.hypotheses if h.role == "primary"]
    if len(primaries) > 1:
        raise ValueError(f"one primary hypothesis per run, got {primaries}")
    judgeable = {h.name: (h, s) for h in config.hypotheses if (s := sides(h, results)) is not None}
    controls = Controls()
    out: dict[str, Verdict] = {}
    for h, s in judgeable.values():
        if h.role == "positive_control":
            out[h.name] = verdict(h, s.control, s.treated)
            controls.positive[h.name] = out[h.name]

    def detected(h: Hypothesis) -> bool | None:
        if h.positive_control is None or h.positive_control not in out:
            return None
        return out[h.positive_control].outcome == "confirmed"

    def item_part(h: Hypothesis, alpha: float) -> Any:
        if not h.item_level or h.comparison != "paired_base_tuned":
            return None
        pairs = _labelled_pairs(results, h)
        if len(pairs) < 2:
            return None
        at = h.model_copy(update={"alpha": alpha})
        return item_level_decision(at, [b.parsed_age for b, _ in pairs], [t.parsed_age for _, t in pairs],
                                   [float(b.label_age) for b, _ in pairs], seed=config.control_seed,
                                   rounds=config.control_rounds, control_detected=detected(h))

    rest = {name: hs for name, hs in judgeable.items() if hs[0].role != "positive_control"}
    for name, (h, s) in rest.items():
        if h.role == "primary":
            out[name] = verdict(h, s.control, s.treated, control_detected=detected(h), item_level=item_part(h, h.alpha))
    secondary = {name: hs for name, hs in rest.items() if hs[0].role == "secondary"}
    if secondary:
        alpha = min(h.alpha for h, _ in secondary.values())
        claims = {}
        for name, (h, s) in secondary.items():
            control, treated = _clean(h, s.control, s.treated)
            claims[name] = Claim(
                build=lambda a, h=h, c=control, t=treated: effect_interval(h, c, t, alpha=a),
                direction=h.direction, min_effect=h.min_effect, min_n=h.min_n, control_detected=detected(h),
                n=None if h.design == "paired" else min(len(control), len(treated)))
        for name, step in holm(claims, alpha).items():
            h, s = secondary[name]
            out[name] = verdict(h, s.control, s.treated, alpha=step.alpha, control_detected=detected(h),
                                item_level=item_part(h, step.alpha), holm_step=step.step)
    for name, (h, _) in rest.items():
        if h.item_level and h.comparison == "paired_base_tuned":
            pairs = _labelled_pairs(results, h)
            if len(pairs) >= 2:
                controls.item_level[name] = item_level_control(
                    h, [b.parsed_age for b, _ in pairs], [t.parsed_age for _, t in pairs],
                    [float(b.label_age) for b, _ in pairs], seed=config.control_seed, rounds=config.control_rounds,
                    eval_set=h.eval_sets[0], control_detected=detected(h))
    return [out[h.name] for h in config.hypotheses if h.name in out], controls


def judge_all(results: ProbeResults, hypotheses: Iterable[Hypothesis] | None = None) -> list[Verdict]:
    """The verdicts of :func:`judge_run` alone, for these hypotheses (default: the built-in ones)."""
    config = VerdictConfig() if hypotheses is None else VerdictConfig(hypotheses=list(hypotheses))
    return judge_run(results, config)[0]
