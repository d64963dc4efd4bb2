"""Judge a scored probe run: every hypothesis it can decide, and the controls beside them.

    >>> from emergence.verdict.judge import judge_run
    >>> from emergence.probe.run import ProbeResults
    >>> from emergence.probe.config import ProbeConfig
    >>> verdicts, controls = judge_run(ProbeResults(model="m", models=["base"], config=ProbeConfig()))
    >>> verdicts, controls.item_level
    ([], {})

Hypotheses are routed by their comparison kind (:mod:`emergence.verdict.route`); the
controls follow from each hypothesis's fields (``item_level``, ``role``), never from its
name.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from emergence.probe.run import ProbeResults
from emergence.verdict.controls import Controls, item_level_control
from emergence.verdict.hypothesis import BUILTIN_HYPOTHESES, Hypothesis, Verdict

__all__ = ["VerdictConfig", "judge_run"]


class VerdictConfig(BaseModel):
    """The hypotheses judged on the probe answers, and the controls' randomness."""

    model_config = ConfigDict(extra="forbid")

    hypotheses: list[Hypothesis] = Field(
        default_factory=lambda: list(BUILTIN_HYPOTHESES),
        description="Hypotheses judged on the probe answers (default: emergence.verdict.hypothesis."
        "BUILTIN_HYPOTHESES).")
    control_seed: int = Field(0, description="Seed of the label permutations of the shuffled-label and "
                              "item-level controls.")
    control_rounds: int = Field(20, ge=1, description="Label permutations averaged per item by the "
                                "item-level control (round 0 is the shuffled-label control's permutation).")


def judge_run(results: ProbeResults, config: VerdictConfig | None = None) -> tuple[list[Verdict], Controls]:
    """Verdicts of ``config.hypotheses`` (default: the built-in ones) and this run's controls."""
    from emergence.scoring import variant_of
    from emergence.verdict.route import judge_all, paired_rows

    config = config or VerdictConfig()
    judged = judge_all(results, config.hypotheses)
    controls = Controls()
    for h in config.hypotheses:
        if not h.item_level or h.comparison != "paired_base_tuned" or not {"base", "tuned"} <= set(results.models):
            continue
        pairs = [(b, t) for b, t in paired_rows(results, h.eval_sets[0],
                                                variant_of("age", results.config.verdict_variant))
                 if b.label_age is not None]
        if len(pairs) >= 2:
            controls.item_level[h.name] = item_level_control(
                h, [b.parsed_age for b, _ in pairs], [t.parsed_age for _, t in pairs],
                [float(b.label_age) for b, _ in pairs], seed=config.control_seed, rounds=config.control_rounds,
                eval_set=h.eval_sets[0])
    controls.positive = next((v for v in judged if v.hypothesis.role == "positive_control"), None)
    return judged, controls
