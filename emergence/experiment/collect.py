"""Read a run directory's outputs back as one typed ExperimentResult (what the report renders).

    >>> from emergence.experiment.collect import read_probes   # doctest: +SKIP
    >>> read_probes(run_dir).models                            # doctest: +SKIP
    ['base', 'tuned']
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emergence.experiment.rundir import CONFIG_FILE, ENV_FILE
from emergence.results import ExperimentResult, RunPaths

if TYPE_CHECKING:
    from emergence.experiment.runner import Run

__all__ = ["collect", "read_probes"]


def read_probes(run_dir: Path) -> Any:
    """The base and tuned probe runs of a run directory (those it has) as one result."""
    from emergence.probe.run import ProbeResults
    from emergence.scoring import add_reference_scores

    # the stages score each model's rows alone; the reference score needs both
    return add_reference_scores(ProbeResults.combine([ProbeResults.read(run_dir / name)
                                                      for name in ("probe_base", "probe_tuned")
                                                      if (run_dir / name / "probe_run.json").is_file()]))



def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def collect(run: "Run") -> ExperimentResult:
    """The run's outputs as one typed result (the report is rendered from it)."""
    from emergence.corpus.audit import AuditReport
    from emergence.counterfactual import CounterfactualResult
    from emergence.curve.build import EmergenceCurve
    from emergence.exposure import ExposureReport
    from emergence.scoring import ProbeMetrics
    from emergence.train.callbacks import read_metrics
    from emergence.train.recipe import TrainResult
    from emergence.verdict.controls import Controls
    from emergence.verdict.hypothesis import Verdict
    from emergence.verdict.panel import MemorisationPanel

    d = run.dir
    manifest = _read_json(run.path("evalsets", "manifest.json")) or {}
    done = _read_json(run.path("lmeval", "done.json")) or {}
    lmeval = ({which: _read_json(run.path("lmeval", which, "results.json")) or {} for which in done.get("models", [])}
              if done.get("enabled") else None)
    report_md, report_html = d / "report.md", d / "report.html"
    paths = RunPaths(
        run_dir=d, config=d / CONFIG_FILE, env=d / ENV_FILE, evalsets=d / "evalsets", train_dir=d / "train",
        adapter=d / "train" / "adapter", answers=d / "answers.jsonl", metrics=d / "verdicts" / "metrics.json",
        verdicts=d / "verdicts" / "verdicts.json", report_md=report_md if report_md.is_file() else None,
        report_html=report_html if report_html.is_file() else None)
    timings = {name: float(rec.get("seconds", 0.0)) for name, rec in run.state.stages.items()
               if rec.get("fingerprint")}
    timings["total"] = round(sum(timings.values()), 3)
    timings["this_invocation"] = round(time.perf_counter() - run.started, 3)
    return ExperimentResult(
        run_dir=d, config=run.config, env=_read_json(run.path(ENV_FILE)) or {},
        audit=AuditReport.model_validate_json(run.path("audit", "audit.json").read_text(encoding="utf-8")),
        eval_set_sizes=dict(manifest.get("counts") or {}),
        eval_set_selection=dict(manifest.get("selection") or {}),
        train=TrainResult.model_validate_json(run.path("train", "summary.json").read_text(encoding="utf-8")),
        exposure=(ExposureReport.model_validate_json(run.path("train", "exposure.json").read_text(encoding="utf-8"))
                  if run.path("train", "exposure.json").is_file() else None),
        loss_curve=read_metrics(run.path("train", "metrics.jsonl")), probes=read_probes(d),
        metrics=ProbeMetrics.model_validate_json(run.path("verdicts", "metrics.json").read_text(encoding="utf-8")),
        verdicts=[Verdict.model_validate(v) for v in _read_json(run.path("verdicts", "verdicts.json")) or []],
        controls=Controls.model_validate_json(run.path("verdicts", "controls.json").read_text(encoding="utf-8")),
        memorisation=(MemorisationPanel.model_validate_json(
            run.path("verdicts", "memorisation.json").read_text(encoding="utf-8"))
            if run.path("verdicts", "memorisation.json").is_file() else None),
        counterfactual=(CounterfactualResult.model_validate_json(
            run.path("counterfactual", "result.json").read_text(encoding="utf-8"))
            if run.path("counterfactual", "result.json").is_file() else None),
        curve=(EmergenceCurve.model_validate_json(run.path("verdicts", "curve.json").read_text(encoding="utf-8"))
               if run.path("verdicts", "curve.json").is_file() else None),
        lmeval=lmeval, paths=paths, stages=list(run.records), timings=timings)
