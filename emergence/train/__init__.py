"""QLoRA fine-tuning of a chat model on title -> content exchanges.

    >>> from emergence.train import TrainConfig
    >>> TrainConfig.cpu().model
    'smollm2'

``train(config) -> TrainResult`` (emergence.train.recipe) reads top to bottom: checks,
load, LoRA, data, SFTTrainer, save. Names are imported lazily: torch, transformers,
peft, trl, datasets and unsloth load only when training starts.
"""
from __future__ import annotations

import importlib
from typing import Any

__all__ = ["TrainConfig", "TrainResult", "TrainSetupError", "train"]

_EXPORTS = {
    "TrainConfig": "emergence.train.config",
    "TrainResult": "emergence.train.recipe",
    "train": "emergence.train.recipe",
    "TrainSetupError": "emergence.train.preflight",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'emergence.train' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
