"""The whole experiment in one call, resumable, in one run directory.

    >>> from emergence.experiment import load_profile
    >>> load_profile("cpu-demo").train.model
    'smollm2'

``config`` (ExperimentConfig, profiles) · ``stages`` (the stage table) · ``runner``
(run_experiment) · ``rundir`` (run.json, the lock, what a run may delete) ·
``environment`` (env.json). Names are re-exported lazily so that importing the config
does not import the runner.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "PROFILE_NAMES": "config", "ExperimentConfig": "config", "LmEvalConfig": "config", "ReportConfig": "config",
    "config_diff": "config", "default_profile": "config", "load_experiment_config": "config",
    "load_profile": "config", "profile_path": "config",
    "ConfigChangedError": "runner", "run_experiment": "runner",
    "ForeignDirectoryError": "rundir", "RunLockedError": "rundir",
    "ExperimentResult": "results", "RunPaths": "results", "StageRecord": "results",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'emergence.experiment' has no attribute {name!r}")
    path = "emergence.results" if module == "results" else f"emergence.experiment.{module}"
    value = getattr(importlib.import_module(path), name)
    globals()[name] = value
    return value
