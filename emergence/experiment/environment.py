"""What the run ran on: versions, hardware, git commit (written once to env.json).

    >>> from emergence.experiment.environment import cpu_model
    >>> cpu_model() is None or isinstance(cpu_model(), str)
    True
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

__all__ = ["cpu_model", "environment"]


def cpu_model() -> str | None:
    """The CPU's model name from /proc/cpuinfo (None elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def environment(device: str | None) -> dict[str, Any]:
    """Versions of the stack, Python, platform, CPU, memory, GPU and the git commit."""
    import importlib.metadata
    import platform

    from emergence.train.outputs import environment as train_environment

    if device is None:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    env = train_environment(device)
    for name in ("lm_eval", "pydantic", "numpy", "matplotlib", "rich", "msgspec"):
        try:
            env["packages"][name] = importlib.metadata.version(name.replace("_", "-"))
        except importlib.metadata.PackageNotFoundError:
            env["packages"][name] = None
    env["cpu_count"] = os.cpu_count()
    env["cpu_model"] = cpu_model() or platform.processor() or platform.machine()
    try:
        import psutil

        env["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:  # pragma: no cover - psutil comes with the train extra's stack
        env["memory_gb"] = None
    if str(device).startswith("cuda"):
        import torch

        props = torch.cuda.get_device_properties(torch.device(device).index or 0)
        env["gpu_memory_gb"] = round(props.total_memory / 2**30, 1)
        env["gpu_count"] = torch.cuda.device_count()
    env["started_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return env
