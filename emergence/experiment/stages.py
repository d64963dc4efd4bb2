"""The experiment's stages as one table: name, title, outputs, what its fingerprint covers, function.

    >>> from emergence.experiment.stages import STAGES, stage_order
    >>> from emergence.experiment.config import ExperimentConfig
from emergence.experiment.rundir import write_json_atomic
    >>> stage_order(ExperimentConfig())
    ['audit', 'evalsets', 'probe_base', 'train', 'probe_tuned', 'curve', 'lmeval', 'verdicts', 'report']

Each stage calls its module (``emergence.corpus.audit``, ``evalsets``, ``probe``,
``train``, ``scoring``, ``lmeval``, ``verdict``, ``report``) and writes into the run
directory; nothing here re-implements one. A stage's fingerprint covers the config parts
it reads (``Stage.config``) and the identities of the stages it reads from
(``Stage.reads``), so changing one setting re-runs exactly the stages it can change.
"""
from __future__ import annotations

import importlib.util
import math
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emergence.experiment.config import ExperimentConfig
from emergence.experiment.rundir import write_json_atomic

if TYPE_CHECKING:
    from emergence.experiment.runner import Run

__all__ = ["STAGES", "STAGE_VERSION", "Stage", "stage_order"]

# Bumped when a stage's outputs change for the same config, so old run directories re-run
# that stage (and everything downstream) instead of mixing versions.
STAGE_VERSION = 2


@dataclass(frozen=True)
class Stage:
    """One step of the experiment."""

    name: str
    title: str
    outputs: tuple[str, ...]  # files whose presence shows the stage finished
    reads: tuple[str, ...]  # stages whose outputs it reads
    config: Callable[[ExperimentConfig], Any]  # the config parts that can change its outputs
    run: Callable[["Run"], None]
    all_ranks: bool = False  # under several processes every rank runs it (training, probing); else rank 0


def corpus_identity(path: Path) -> dict[str, Any]:
    """Size and modification time identify a file cheaply (a content hash of a multi-GB
    corpus would cost a pass of its own); a URL, by its size, ETag and mtime."""
    from emergence.corpus.remote import identity, is_url

    if is_url(path):
        return identity(path, missing_ok=True)
    try:
        st = path.stat()
    except OSError:
        return {"path": str(path), "missing": True}
    return {"path": str(path.resolve()), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


def _corpus(cfg: ExperimentConfig) -> dict[str, Any]:
    t = cfg.train
    return {"corpus": corpus_identity(cfg.corpus_path()), "held_out": t.held_out, "salt": t.salt,
            "policy": t.policy}


def world_size() -> int:
    """Processes training runs on (set by torchrun / accelerate launch)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def consumption(cfg: ExperimentConfig) -> Any:
    """The training run's rule for which records it consumes."""
    from emergence.evalsets import TrainingConsumption

    rule = TrainingConsumption.of(cfg.train, world=world_size())
    return rule if cfg.evalsets.seen_from == "training" else rule.model_copy(update={"per_shard": None})


def _train_settings(cfg: ExperimentConfig) -> dict[str, Any]:
    return {k: v for k, v in cfg.semantic_dump()["train"].items()}


def _probe_settings(cfg: ExperimentConfig) -> dict[str, Any]:
    return {"probe": cfg.semantic_dump()["probe"], "prompt_template": cfg.train.prompt_template}


# ---------------------------------------------------------------------------------------
# stage functions


def _audit(run: "Run") -> None:
    from emergence.corpus.audit import audit_corpus

    t = run.config.train
    report = audit_corpus(run.config.corpus_path(), held_out=t.held_out, salt=t.salt, policy=t.policy,
                          progress=run.progress)
    out = run.fresh_dir("audit")
    (out / "audit.json").write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")


def _evalsets(run: "Run") -> None:
    from emergence.evalsets import build_eval_sets, read_eval_sets, write_eval_sets
    from emergence.exposure import Exposure

    cfg = run.config
    if "evalsets" in run.external:  # sets written earlier: the same items, copied in
        sets = read_eval_sets(run.external["evalsets"])
    else:
        with run.status("building eval sets"):
            sets = build_eval_sets(cfg.corpus_path(), cfg.evalsets, consumption=consumption(cfg),
                                   exposure=Exposure.of(cfg.train), policy=cfg.train.policy)
    write_eval_sets(sets, run.fresh_dir("evalsets"))
    run.say("    eval sets: " + ", ".join(f"{k} {len(v)}" for k, v in sets.items()))


def _probe_config(run: "Run") -> Any:
    cfg = run.config.probe
    update: dict[str, Any] = {"progress": run.progress if cfg.progress is None else cfg.progress}
    if cfg.device is None and run.config.train.device is not None:
        update["device"] = run.config.train.device
    return cfg.model_copy(update=update)


def _probe(run: "Run", models: tuple[str, ...], adapter: Path | None) -> None:
    from emergence.evalsets import read_eval_sets
    from emergence.exposure import Exposure
    from emergence.probe.run import run_probes
    from emergence.scoring import score_rows

    sets = read_eval_sets(run.path("evalsets"))
    results = run_probes(run.config.train.model, sets, _probe_config(run), adapter=adapter, models=models,
                         train_prompt_template=run.config.train.prompt_template,
                         exposure=Exposure.of(run.config.train), max_seq_length=run.config.train.max_seq_length)
    if results is None:  # another rank's share: rank 0 writes the gathered rows
        return
    results = score_rows(results, sets)
    for which in models:
        results.only(which).write(run.fresh_dir(f"probe_{which}"))


def _probe_base(run: "Run") -> None:
    _probe(run, ("base",), None)


def _probe_tuned(run: "Run") -> None:
    _probe(run, ("tuned",), run.adapter)


def _probes(run: "Run") -> None:
    _probe(run, ("base", "tuned"), run.adapter)


def _num(x: float | None, digits: int = 4) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _train(run: "Run") -> None:
    from emergence.train.config import TrainConfig
    from emergence.train.recipe import train

    out = run.path("train")
    if run.is_main:
        run.state.record_written("train")
    record = run.state.stages["train"]
    # an interrupted training run of this very config continues from its checkpoint
    resumable = bool(record.get("resumable")) and any(out.glob("checkpoints/checkpoint-*"))
    config = run.config.train.model_copy(update={"output_dir": out, "resume": resumable,
                                                 "overwrite": not resumable})
    if resumable:
        run.say("    resuming training from its last checkpoint")
    result = train(TrainConfig.model_validate({**config.model_dump(), "storage": config.storage}),
                   adapter_steps=curve_steps(run.config))
    run.say(f"    {result.steps} steps, average loss {_num(result.train_loss_avg)}, held-out loss "
            f"{_num(result.heldout_loss_before)} -> {_num(result.heldout_loss_after)}")


def curve_steps(cfg: ExperimentConfig) -> list[int]:
    """The training steps whose adapters the curve probes (not the base's 0, not the final one)."""
    if not cfg.curve.enabled:
        return []
    return [k for k in cfg.curve.steps(cfg.train.max_steps) if 0 < k < cfg.train.max_steps]


def _curve(run: "Run") -> None:
    from emergence.evalsets import read_eval_sets
    from emergence.exposure import Exposure
    from emergence.probe.config import MEMBERSHIP_SETS
    from emergence.probe.run import probe_checkpoints
    from emergence.scoring import score_rows

    cfg = run.config
    steps = curve_steps(cfg)
    checkpoints = {k: run.path("train", "curve", f"step-{k:06d}") for k in steps}
    missing = [str(p) for p in checkpoints.values() if not (p / "adapter_config.json").is_file()]
    if missing:
        raise FileNotFoundError(f"the curve's checkpoint adapters are missing: {missing}")
    # the membership panel is a base-vs-final measure: its forward passes are not repeated per checkpoint
    sets = {k: v for k, v in read_eval_sets(run.path("evalsets")).items() if k not in MEMBERSHIP_SETS}
    results = probe_checkpoints(cfg.train.model, sets, _probe_config(run), checkpoints,
                                generate_at=cfg.curve.generated(cfg.train.max_steps),
                                train_prompt_template=cfg.train.prompt_template, exposure=Exposure.of(cfg.train),
                                max_seq_length=cfg.train.max_seq_length)
    if results is None:  # another rank's share
        return
    score_rows(results, sets).write(run.fresh_dir("curve"))
    run.say(f"    curve: {len(steps)} checkpoints probed ({', '.join(str(k) for k in steps)})")


def _counterfactual(run: "Run") -> None:
    from emergence.counterfactual import run_counterfactual
    from emergence.evalsets import read_eval_sets

    members = read_eval_sets(run.path("evalsets"))["members"]
    run_counterfactual(run.config, members, run.fresh_dir("counterfactual"), rule=consumption(run.config),
                       say=run.say)


def _lmeval(run: "Run") -> None:
    out = run.fresh_dir("lmeval")
    cfg = run.config.lmeval
    done: dict[str, Any] = {"enabled": cfg.enabled, "models": []}
    if cfg.enabled and importlib.util.find_spec("lm_eval") is None:
        # lm-eval is an extra (emergence[eval]); the probes already measure everything
        done.update(enabled=False, note="lm-eval is not installed (pip install 'emergence[eval]')")
        run.say(f"    skipped: {done['note']}")
    elif cfg.enabled:
        from emergence.lmeval import evaluate

        device = run.config.probe.device or run.config.train.device
        for which in cfg.models:
            run.say(f"    lm-eval: {which} model, tasks {', '.join(cfg.tasks)}"
                    + (f", limit {cfg.limit}" if cfg.limit is not None else ""))
            evaluate(run.config.train.model, adapter=run.adapter if which == "tuned" else None,
                     tasks=cfg.tasks, limit=cfg.limit, out_dir=out / which,
                     metadata={"eval_dir": str(run.path("evalsets").resolve())},
                     batch_size=cfg.batch_size, device=device, apply_chat_template=cfg.apply_chat_template,
                     bootstrap_iters=cfg.bootstrap_iters)
            done["models"].append(which)
    write_json_atomic(out / "done.json", done)


def _verdicts(run: "Run") -> None:
    from emergence.experiment.collect import read_probes
    from emergence.scoring import score
    from emergence.verdict.judge import judge_run
    from emergence.verdict.panel import memorisation_panel

    results = read_probes(run.dir)
    metrics = score(results)
    judged, controls = judge_run(results, run.config.verdict)
    panel = memorisation_panel(results, judged, order=run.config.verdict.memorisation_order)
    import json

    out = run.fresh_dir("verdicts")
    if panel is not None:
        (out / "memorisation.json").write_text(panel.model_dump_json(indent=2) + "\n", encoding="utf-8")
        run.say(f"    memorisation panel: {panel.text}")
    curve = _build_curve(run, results)
    if curve is not None:
        (out / "curve.json").write_text(curve.model_dump_json(indent=2) + "\n", encoding="utf-8")
    (out / "metrics.json").write_text(metrics.model_dump_json(indent=2) + "\n", encoding="utf-8")
    (out / "verdicts.json").write_text(json.dumps([v.model_dump(mode="json") for v in judged], indent=2) + "\n",
                                       encoding="utf-8")
    (out / "controls.json").write_text(controls.model_dump_json(indent=2) + "\n", encoding="utf-8")
    for v in judged:
        run.say(f"    {v.outcome.upper():<12} {v.hypothesis.name}")


def _build_curve(run: "Run", results: Any) -> Any:
    from emergence.curve.runs import build_curve
    from emergence.probe.run import ProbeResults

    parts = [results]
    if run.path("curve", "probe_run.json").is_file():
        parts.append(ProbeResults.read(run.path("curve")))
    return build_curve(parts, max_steps=run.config.train.max_steps, hypotheses=run.config.verdict.hypotheses,
                       seed=run.config.verdict.control_seed)


def _report(run: "Run") -> None:
    from emergence.experiment.collect import collect
    from emergence.report import write_report

    result = collect(run)
    # every answer, base and tuned, beside the report (the report links it)
    with open(run.path("answers.jsonl"), "w", encoding="utf-8") as fh:
        for row in result.probes.rows:
            fh.write(row.model_dump_json() + "\n")
    run.state.record_written("answers.jsonl", "report.md", "report.html", "report", "summary.json")
    write_report(result, run.dir)
    write_json_atomic(run.path("summary.json"), run_summary(result, run.state.stages))


def run_summary(result: Any, stages: dict[str, Any]) -> dict[str, Any]:
    """summary.json: per-stage wall time and peak GPU memory, the engines, the verdicts in one line each."""
    return {
        "profile": result.config.profile,
        "stages": {name: {k: rec.get(k) for k in ("seconds", "peak_gpu_allocated_gib", "peak_gpu_reserved_gib")
                          if rec.get(k) is not None} for name, rec in stages.items() if rec.get("fingerprint")},
        "total_seconds": round(sum(float(rec.get("seconds") or 0) for rec in stages.values()), 3),
        "probe_engines": {name: (p.engine.model_dump(mode="json") if p.engine else None)
                          for name, p in (("probes", result.probes),)},
        "verdicts": {v.hypothesis.name: {"outcome": v.outcome, "reason": v.decision.reason,
                                         "effect": v.effect.short(signed=True), "mde": v.decision.mde, "n": v.n}
                     for v in result.verdicts},
        "exposure": result.exposure.sentence() if result.exposure is not None else None,
    }


STAGES: dict[str, Stage] = {s.name: s for s in (
    Stage("audit", "audit the corpus", ("audit/audit.json",), (), _corpus, _audit),
    Stage("evalsets", "build the eval sets", ("evalsets/manifest.json",), (),
          lambda c: {**_corpus(c), "evalsets": c.evalsets.model_dump(mode="json"),
                     "consumption": consumption(c).model_dump(mode="json"),
                     "exposure": [c.train.age_cues, c.train.age_cue_control, c.train.canary_share]}, _evalsets),
    Stage("probe_base", "probe the base model", ("probe_base/answers.jsonl", "probe_base/probe_run.json"),
          ("evalsets",), lambda c: {"model": c.train.model, "chat_template": c.train.chat_template,
                                    **_probe_settings(c)}, _probe_base, all_ranks=True),
    Stage("train", "train (LoRA)", ("train/summary.json", "train/adapter/adapter_config.json"), (),
          lambda c: {**_corpus(c), "train": _train_settings(c), "adapter_steps": curve_steps(c)}, _train,
          all_ranks=True),
    Stage("probe_tuned", "probe the tuned model", ("probe_tuned/answers.jsonl", "probe_tuned/probe_run.json"),
          ("evalsets", "train"), _probe_settings, _probe_tuned, all_ranks=True),
    Stage("probes", "probe base and tuned (one load)", ("probe_base/answers.jsonl", "probe_tuned/answers.jsonl"),
          ("evalsets", "train"), _probe_settings, _probes, all_ranks=True),
    Stage("curve", "probe the checkpoints (the emergence curve)", ("curve/answers.jsonl", "curve/probe_run.json"),
          ("evalsets", "train"), lambda c: {**_probe_settings(c), "curve": c.curve.model_dump(mode="json"),
                                            "steps": curve_steps(c)}, _curve, all_ranks=True),
    Stage("counterfactual", "counterfactual memorisation (pairs of adapters)", ("counterfactual/result.json",),
          ("evalsets", "train"), lambda c: {**_corpus(c), "train": _train_settings(c),
                                           "memorisation": c.memorisation.model_dump(mode="json"),
                                           "probe": _probe_settings(c)}, _counterfactual),
    Stage("lmeval", "lm-eval tasks", ("lmeval/done.json",), ("evalsets", "train"),
          lambda c: c.lmeval.model_dump(mode="json"), _lmeval),
    Stage("verdicts", "metrics and verdicts", ("verdicts/verdicts.json", "verdicts/metrics.json",
                                               "verdicts/controls.json"),
          ("probe_base", "probe_tuned", "probes", "curve"), lambda c: c.verdict.model_dump(mode="json"), _verdicts),
    Stage("report", "write the report", ("report.md", "report.html", "answers.jsonl", "summary.json"),
          ("audit", "evalsets", "probe_base", "train", "probe_tuned", "probes", "curve", "counterfactual", "lmeval",
           "verdicts"),
          lambda c: c.report.model_dump(mode="json"), _report),
)}


def stage_order(config: ExperimentConfig) -> list[str]:
    """The stages a config runs, in order."""
    probes = ["train", "probes"] if config.base_probe == "with_tuned" else ["probe_base", "train", "probe_tuned"]
    curve = ["curve"] if curve_steps(config) else []
    counterfactual = ["counterfactual"] if config.memorisation.counterfactual_pairs else []
    return ["audit", "evalsets", *probes, *curve, *counterfactual, "lmeval", "verdicts", "report"]


def remove(path: Path) -> None:
    """Remove a stage's earlier output (file or folder) before it runs again."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
