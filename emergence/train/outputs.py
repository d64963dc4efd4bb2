"""What a run directory holds besides the adapter: env.json, loss.png, summary numbers.

    >>> from emergence.train.outputs import weighted_mean_loss
    >>> round(weighted_mean_loss([{"loss": 3.0, "steps_in_interval": 2}, {"loss": 1.0, "steps_in_interval": 1}]), 4)
    2.3333

``environment()`` records package versions, Python, the device and the git commit;
``plot_metrics()`` draws the loss curve from metrics.jsonl with matplotlib's Agg backend.
"""
from __future__ import annotations

import importlib.metadata
import json
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable

__all__ = ["environment", "plot_metrics", "weighted_mean_loss", "write_json"]

_PACKAGES = (
    "emergence", "torch", "transformers", "trl", "peft", "datasets", "accelerate",
    "bitsandbytes", "unsloth", "unsloth_zoo", "safetensors", "tokenizers",
)


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git(*args: str, cwd: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def environment(device: str) -> dict[str, Any]:
    """Versions, Python, platform, device name and the git commit of the code that ran."""
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        index = torch.device(device).index or 0
        device_name = torch.cuda.get_device_name(index)
        cuda = torch.version.cuda
    else:
        device_name = platform.processor() or platform.machine()
        cuda = None
    # The commit of the emergence source tree, when it is a git checkout (editable installs).
    source = Path(__file__).resolve().parents[2]
    commit = _git("rev-parse", "HEAD", cwd=source)
    dirty = None
    if commit is not None:
        status = _git("status", "--porcelain", "--untracked-files=no", cwd=source)
        dirty = bool(status) if status is not None else None
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "device": device,
        "device_name": device_name,
        "cuda": cuda,
        "cpu_threads": torch.get_num_threads(),
        "packages": {name: _version(name) for name in _PACKAGES},
        "git_commit": commit,
        "git_dirty": dirty,
    }


def weighted_mean_loss(rows: Iterable[dict[str, Any]]) -> float | None:
    """Mean loss per optimiser step from logged rows (each row averages its interval)."""
    total = steps = 0.0
    for row in rows:
        if "loss" not in row:
            continue
        n = row.get("steps_in_interval") or 1
        total += row["loss"] * n
        steps += n
    return total / steps if steps else None


def plot_metrics(
    rows: list[dict[str, Any]],
    path: Path,
    *,
    title: str = "",
    heldout_before: float | None = None,
    heldout_after: float | None = None,
) -> Path:
    """loss.png: training loss per step, held-out loss points (before training at step 0,
    every ``eval_steps``, after training at the last step), learning rate on a twin axis."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    train = [r for r in rows if "loss" in r]
    heldout = [(r["step"], r["heldout_loss"]) for r in rows if "heldout_loss" in r]
    if heldout_before is not None:
        heldout.insert(0, (0, heldout_before))
    if heldout_after is not None and train:
        heldout.append((train[-1]["step"], heldout_after))
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    ax.plot([r["step"] for r in train], [r["loss"] for r in train], label="train loss", color="tab:blue")
    if heldout:
        ax.plot([x for x, _ in heldout], [y for _, y in heldout], "o--", label="held-out loss", color="tab:orange")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    lrs = [(r["step"], r["learning_rate"]) for r in train if r.get("learning_rate") is not None]
    if lrs:
        ax2 = ax.twinx()
        ax2.plot([s for s, _ in lrs], [v for _, v in lrs], color="tab:gray", alpha=0.4, label="learning rate")
        ax2.set_ylabel("learning rate")
    ax.legend(loc="upper right")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
