"""The memorisation panel of a scored run: every membership score's AUC and TPR at 1% FPR for
both models, the ROC curves, the canary and base-only controls, the k-extractable share, and
which measure decided the memorisation question.

    >>> from emergence.verdict.panel import memorisation_panel
    >>> from emergence.probe.run import ProbeResults
    >>> from emergence.probe.config import ProbeConfig
    >>> memorisation_panel(ProbeResults(model="m", models=["base"], config=ProbeConfig()), []) is None
    True

The panel reads the rows of variant ``membership`` (one forward pass per record over its
training exchange, :mod:`emergence.probe.membership`) and the ``extract`` rows of the
``members`` set; the statistics are those of :mod:`emergence.memorisation`. The decision
is the verdicts': the first hypothesis of ``order`` (default
:data:`emergence.verdict.hypothesis.MEMORISATION_ORDER`: the reference-calibrated AUC, then
the author-intent difference in differences, then extraction) whose outcome is not
inconclusive decides, and the panel says which one. The membership AUC cannot decide when
the base-only control fails: members and non-members then differ before training, and
the AUC would read that difference.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from emergence.memorisation import (ControlResult, ExtractionShare, TprAtFpr, canary_detection, extraction_share,
                                    negative_control, roc_curve, tpr_at_fpr)
from emergence.memorisation import auc as auc_of
from emergence.probe.run import ProbeResults
from emergence.stats import Estimate
from emergence.verdict.hypothesis import MEMORISATION_ORDER, Verdict

__all__ = ["MemorisationPanel", "ScoreResult", "memorisation_panel"]

ROC_POINTS = 200  # points kept per ROC curve in the run's JSON (the figure needs no more)
NEGATIVE_CONTROL_SCORE = "neg_loss"  # the base model's per-token log-likelihood: what the reference score subtracts


class ScoreResult(BaseModel):
    """One membership score of one model on members vs non-members."""

    model_config = ConfigDict(ser_json_inf_nan="constants")

    key: str = Field(description="Score key (emergence.metrics, family 'membership').")
    label: str = Field(description="The score in words.")
    model: str = Field(description="Whose scores: 'base' or 'tuned' (the reference score is the tuned model's).")
    auc: Estimate = Field(description="AUC of members over non-members with its score interval.")
    tpr: TprAtFpr = Field(description="TPR at the target FPR with its bootstrap interval.")
    roc_fpr: list[float] = Field(description="ROC curve, false-positive rates (thinned to at most 200 points).")
    roc_tpr: list[float] = Field(description="ROC curve, true-positive rates.")


class MemorisationPanel(BaseModel):
    """Everything the report's memorisation panel shows, and which measure decided."""

    model_config = ConfigDict(ser_json_inf_nan="constants")

    scores: list[ScoreResult] = Field(description="Per score and model, members vs non-members.")
    canaries: ControlResult | None = Field(None, description="Positive control: planted canaries vs never-planted "
                                           "ones under the reference score (None: the run planted none).")
    base_only: ControlResult | None = Field(None, description="Negative control: the base model's per-token log-likelihood "
                                            "on members vs non-members must give an AUC interval covering 0.5.")
    extraction: dict[str, ExtractionShare] = Field(
        default_factory=dict, description="model -> k-extractable share among members long enough to test.")
    sizes: dict[str, int] = Field(default_factory=dict, description="Items scored per membership set (tuned model).")
    decided_by: str | None = Field(None, description="The hypothesis that decided the memorisation question "
                                   "(None: none of them was decisive).")
    outcome: str = Field("inconclusive", description="The memorisation question's outcome: that hypothesis's.")
    text: str = Field("", description="Which measure decided, and why the ones before it did not, in words.")

    def primary(self) -> ScoreResult | None:
        """The reference-calibrated score's result (the panel's primary number)."""
        return next((s for s in self.scores if s.key == "reference"), None)


def _values(results: ProbeResults, set_name: str, model: str, key: str) -> np.ndarray:
    vals = [r.metric_scores().get(key, float("nan"))
            for r in results.select(set=set_name, model=model, variant="membership")]
    arr = np.asarray(vals, dtype=float)
    return arr[~np.isnan(arr)]


def _thin(fpr: np.ndarray, tpr: np.ndarray) -> tuple[list[float], list[float]]:
    if fpr.size > ROC_POINTS:
        keep = np.unique(np.r_[np.linspace(0, fpr.size - 1, ROC_POINTS).round().astype(int), fpr.size - 1])
        fpr, tpr = fpr[keep], tpr[keep]
    return [float(x) for x in fpr], [float(y) for y in tpr]


def _score_results(results: ProbeResults, target_fpr: float, n_boot: int, seed: int) -> list[ScoreResult]:
    from emergence.metrics import family

    out = []
    for model in results.models:
        for metric in family("membership"):
            members = _values(results, "members", model, metric.key)
            nonmembers = _values(results, "nonmembers", model, metric.key)
            if members.size == 0 or nonmembers.size == 0:
                continue
            fpr, tpr = roc_curve(members, nonmembers)
            rf, rt = _thin(fpr, tpr)
            out.append(ScoreResult(key=metric.key, label=metric.label, model=model, auc=auc_of(members, nonmembers),
                                   tpr=tpr_at_fpr(members, nonmembers, target_fpr, n_boot=n_boot, seed=seed),
                                   roc_fpr=rf, roc_tpr=rt))
    return out


def _extraction(results: ProbeResults) -> dict[str, ExtractionShare]:
    config = results.config
    out = {}
    for model in results.models:
        rows = results.select(set="members", model=model, variant="extract")
        if not rows:
            continue
        outcomes = [r.scores["k_extractable"] for r in rows if r.scores.get("k_extractable") is not None]
        out[model] = extraction_share(outcomes, too_short=int(results.excluded.get("members", 0)),
                                      prefix=config.k, suffix=config.extract_tokens)
    return out


def _decision(verdicts: Sequence[Verdict], order: Sequence[str], base_only: ControlResult | None
              ) -> tuple[str | None, str, str]:
    by_name = {v.hypothesis.name: v for v in verdicts}
    skipped = []
    for name in order:
        v = by_name.get(name)
        if v is None:
            skipped.append(f"{name} was not judged (its sets were not probed)")
            continue
        if v.hypothesis.comparison == "membership_auc" and base_only is not None and not base_only.passed:
            skipped.append(f"{name} cannot decide: the base-only control failed ({base_only.text})")
            continue
        if v.outcome == "inconclusive":
            skipped.append(f"{name} was inconclusive ({v.decision.reason.replace('_', ' ')})")
            continue
        why = f"; before it, {'; '.join(skipped)}" if skipped else ""
        return name, v.outcome, f"Decided by {name}: {v.outcome}{why}."
    return None, "inconclusive", ("No memorisation measure was decisive: " + "; ".join(skipped) + "."
                                  if skipped else "No memorisation measure was judged.")


def memorisation_panel(results: ProbeResults, verdicts: Sequence[Verdict], *, order: Sequence[str] = MEMORISATION_ORDER,
                       target_fpr: float = 0.01, n_boot: int = 2000, seed: int = 0) -> MemorisationPanel | None:
    """The panel of a scored run (:func:`emergence.scoring.score_rows`), or None when the run
    probed no membership set."""
    if not any(r.variant == "membership" for r in results.rows):
        return None
    scores = _score_results(results, target_fpr, n_boot, seed)
    tuned = "tuned" if "tuned" in results.models else None
    canaries = None
    if tuned is not None:
        planted = _values(results, "canaries", tuned, "reference")
        controls = _values(results, "canary_controls", tuned, "reference")
        if planted.size or controls.size:
            canaries = canary_detection(planted, controls)
    base_only = None
    if "base" in results.models:
        members = _values(results, "members", "base", NEGATIVE_CONTROL_SCORE)
        nonmembers = _values(results, "nonmembers", "base", NEGATIVE_CONTROL_SCORE)
        if members.size and nonmembers.size:
            base_only = negative_control(members, nonmembers)
    decided_by, outcome, text = _decision(verdicts, order, base_only)
    which = tuned or results.models[0]
    sizes = {name: len(results.select(set=name, model=which, variant="membership"))
             for name in ("members", "nonmembers", "canaries", "canary_controls")}
    return MemorisationPanel(scores=scores, canaries=canaries, base_only=base_only, extraction=_extraction(results),
                             sizes=sizes, decided_by=decided_by, outcome=outcome, text=text)
