"""emergence: does a chat model gain an ability it was never trained on?

    >>> import emergence
    >>> rec = next(iter(emergence.stream_records(emergence.sample_path())))
    >>> emergence.split_of(rec) in {"train", "held_out"}
    True

Public names are re-exported lazily: ``import emergence`` stays fast because torch,
transformers, unsloth and lm_eval are imported only by the functions that need them.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # data
    "Record": "emergence.corpus.records",
    "LoadStats": "emergence.corpus.records",
    "LoadError": "emergence.corpus.records",
    "clean_text": "emergence.corpus.records",
    "stream_records": "emergence.corpus.stream",
    "split_of": "emergence.corpus.split",
    "AgeCue": "emergence.agecues",
    "find_age_cues": "emergence.agecues",
    "mask_age_cues": "emergence.agecues",
    "Masked": "emergence.agecues",
    "parse_age_answer": "emergence.agecues",
    "AGE_BANDS": "emergence.agecues",
    "band_of": "emergence.agecues",
    "sample_path": "emergence.corpus.sample",
    "generate_sample": "emergence.corpus.sample",
    "write_sample": "emergence.corpus.sample",
    "audit_corpus": "emergence.corpus.audit",
    "AuditReport": "emergence.corpus.audit",
    # models and training
    "resolve_model": "emergence.models",
    "build_tiny_model": "emergence.models",
    "TrainConfig": "emergence.train.config",
    "TrainResult": "emergence.train.recipe",
    "train": "emergence.train.recipe",
    # evaluation
    "EvalSetConfig": "emergence.evalsets",
    "EvalItem": "emergence.evalsets",
    "build_eval_sets": "emergence.evalsets",
    "ProbeConfig": "emergence.probe.config",
    "run_probes": "emergence.probe.run",
    "score_rows": "emergence.scoring",
    "METRICS": "emergence.metrics",
    "Metric": "emergence.metrics",
    "Estimate": "emergence.stats",
    "score_age": "emergence.metrics",
    "score_intent": "emergence.metrics",
    "Hypothesis": "emergence.verdict.hypothesis",
    "judge_gap": "emergence.verdict.hypothesis",
    "AGE_EMERGENCE": "emergence.verdict.hypothesis",
    "INTENT_MEMORISATION": "emergence.verdict.hypothesis",
    "render_audit": "emergence.corpus.audit",
    "Verdict": "emergence.verdict.hypothesis",
    "judge": "emergence.verdict.hypothesis",
    "judge_run": "emergence.verdict.judge",
    "evaluate": "emergence.lmeval",
    # the whole experiment
    "ExperimentConfig": "emergence.experiment.config",
    "ExperimentResult": "emergence.results",
    "run_experiment": "emergence.experiment.runner",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'emergence' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
