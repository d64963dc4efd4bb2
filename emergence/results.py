"""What a run produced, typed: ExperimentResult (the report is rendered from it) and RunPaths.

    >>> from emergence.results import StageRecord
    >>> StageRecord(name="audit", fingerprint="ab", status="ran", seconds=1.5, finished_utc="t").status
    'ran'

Kept apart from the runner and the report so that both import it and neither imports the other.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from emergence.corpus.audit import AuditReport
from emergence.counterfactual import CounterfactualResult
from emergence.curve.build import EmergenceCurve
from emergence.experiment.config import ExperimentConfig
from emergence.exposure import ExposureReport
from emergence.probe.run import ProbeResults
from emergence.scoring import ProbeMetrics
from emergence.train.recipe import TrainResult
from emergence.verdict.controls import Controls
from emergence.verdict.hypothesis import Verdict
from emergence.verdict.panel import MemorisationPanel

__all__ = ["ExperimentResult", "RunPaths", "StageRecord"]


class StageRecord(BaseModel):
    """What happened to one stage in this invocation."""

    name: str = Field(description="Stage name.")
    fingerprint: str = Field(description="Hash of the config parts the stage depends on and of the "
                             "identities of the outputs it reads.")
    status: Literal["ran", "skipped"] = Field(description="'skipped': outputs with this fingerprint existed.")
    seconds: float = Field(description="Wall time of the stage when it ran (the earlier run's, if skipped).")
    finished_utc: str = Field(description="When the stage's outputs were written.")


class RunPaths(BaseModel):
    """Where the run's files are."""

    run_dir: Path = Field(description="The run directory.")
    config: Path = Field(description="config.toml: the ExperimentConfig as run.")
    env: Path = Field(description="env.json: versions, hardware, git commit.")
    evalsets: Path = Field(description="The eval sets (one JSONL per set + manifest.json).")
    train_dir: Path = Field(description="The training run directory.")
    adapter: Path = Field(description="The PEFT adapter.")
    answers: Path = Field(description="answers.jsonl: every probe answer, base and tuned.")
    metrics: Path = Field(description="verdicts/metrics.json: every aggregate with its interval.")
    verdicts: Path = Field(description="verdicts/verdicts.json.")
    report_md: Path | None = Field(None, description="report.md.")
    report_html: Path | None = Field(None, description="report.html (self-contained).")


class ExperimentResult(BaseModel):
    """Everything a run produced, typed; also what the report is rendered from."""

    run_dir: Path = Field(description="The run directory.")
    config: ExperimentConfig = Field(description="The config as run.")
    env: dict[str, Any] = Field(description="Versions, hardware, git commit (env.json).")
    audit: AuditReport = Field(description="The corpus audit, with the split and what training consumes.")
    eval_set_sizes: dict[str, int] = Field(description="Items per eval set.")
    eval_set_selection: dict[str, Any] = Field(description="Candidates per set and label counts (manifest).")
    train: TrainResult = Field(description="The training run's summary.")
    exposure: ExposureReport | None = Field(
        None, description="The exposure arm and its proof (train/exposure.json; None in runs made before it).")
    loss_curve: list[dict[str, Any]] = Field(description="metrics.jsonl rows: step, loss, learning rate, ...")
    probes: ProbeResults = Field(description="Every probe answer of base and tuned, scored.")
    metrics: ProbeMetrics = Field(description="Aggregates with intervals, baselines, memorisation gaps.")
    verdicts: list[Verdict] = Field(description="One verdict per hypothesis the answers can decide.")
    controls: Controls = Field(description="Item-level and positive controls.")
    memorisation: MemorisationPanel | None = Field(
        None, description="The memorisation panel (verdicts/memorisation.json; None without membership sets).")
    counterfactual: CounterfactualResult | None = Field(
        None, description="Counterfactual memorisation (counterfactual/result.json; None when it was off).")
    curve: EmergenceCurve | None = Field(None, description="The emergence curve (verdicts/curve.json; None without "
                                         "checkpoints).")
    lmeval: dict[str, dict[str, Any]] | None = Field(
        None, description="Per model ('base', 'tuned'): lm-eval's results.json (None when the stage is off).")
    paths: RunPaths = Field(description="Where the files are.")
    stages: list[StageRecord] = Field(description="Each stage, run or skipped, with its time.")
    timings: dict[str, float] = Field(description="Seconds per stage (when it ran), plus 'total' and 'this_invocation'.")

    def verdict(self, name: str) -> Verdict | None:
        """The verdict of the hypothesis named ``name``, if judged."""
        return next((v for v in self.verdicts if v.hypothesis.name == name), None)
