"""Disk cost of the emergence curve's checkpoints: one adapter per probed step between 0 and max_steps.

    $ OMP_NUM_THREADS=1 python benchmarks/bench_curve_disk.py        # ~30 s on one core (SmolLM2 on CPU)

1. cpu-demo, measured: ``emergence.train`` with the cpu-demo profile (SmolLM2-135M-Instruct,
   LoRA r=16 on the seven projections, float32) for 2 steps, the adapter saved at step 1
   exactly as the curve saves it (``curve/step-000001/``); the folder's bytes and the
   LoRA parameters in its safetensors.
2. seed profile, computed: LoRA parameters r x (in + out) per targeted linear layer x layers,
   for Phi-3-medium's shape (benchmarks/gpu_models.PHI3_MEDIUM) at the seed's LoRA settings,
   counted on an empty (meta-device) model through PEFT and checked against that formula;
   bytes at float32 (PEFT keeps LoRA weights in float32, as the measured adapter is) and at bf16.

Either count times the curve's intermediate checkpoints (the default schedule's, without
step 0, the base, and max_steps, the final adapter) is what the curve adds to a run's disk.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SEVEN = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def measured_demo_adapter(out: Path) -> dict:
    """Train the cpu-demo profile for 2 steps with the curve saving step 1; the adapter's size."""
    from safetensors import safe_open

    from emergence.experiment import load_profile
    from emergence.train.config import TrainConfig
    from emergence.train.recipe import train

    demo = load_profile("cpu-demo")
    t = demo.train.model_copy(update={"max_steps": 2, "eval_records": 4, "warmup_steps": 0, "save_steps": 2,
                                      "output_dir": out, "overwrite": True})
    train(TrainConfig.model_validate({**t.model_dump(), "storage": t.storage}), adapter_steps=[1])
    folder = out / "curve" / "step-000001"
    files = {p.name: p.stat().st_size for p in folder.iterdir() if p.is_file()}
    with safe_open(str(folder / "adapter_model.safetensors"), "pt") as f:
        tensors = [f.get_tensor(k) for k in f.keys()]
    return {"files": files, "bytes": sum(files.values()), "params": sum(x.numel() for x in tensors),
            "dtypes": sorted({str(x.dtype) for x in tensors}), "lora_r": t.lora_r, "targets": t.target_modules}


def lora_params(*, layers: int, hidden: int, heads: int, kv_heads: int, mlp: int, r: int) -> int:
    """r x (in + out) summed over the seven projections of a Llama-shaped layer, times layers."""
    kv = kv_heads * (hidden // heads)
    shapes = [(hidden, hidden), (hidden, kv), (hidden, kv), (hidden, hidden), (hidden, mlp), (hidden, mlp),
              (mlp, hidden)]
    return layers * sum(r * (i + o) for i, o in shapes)


def counted_phi3_medium(r: int) -> int:
    """LoRA parameters PEFT puts on an empty model of Phi-3-medium's (Llama-fied) shape."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, LlamaConfig

    from benchmarks.gpu_models import PHI3_MEDIUM as S

    config = LlamaConfig(vocab_size=S["vocab"], hidden_size=S["hidden"], num_hidden_layers=S["layers"],
                         num_attention_heads=S["heads"], num_key_value_heads=S["kv_heads"],
                         intermediate_size=S["mlp"], tie_word_embeddings=False)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    peft = get_peft_model(model, LoraConfig(r=r, lora_alpha=r, target_modules=SEVEN))
    return sum(p.numel() for n, p in peft.named_parameters() if "lora_" in n)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", default=None, help="also write the figures here")
    args = p.parse_args()

    from benchmarks.gpu_models import PHI3_MEDIUM
    from emergence.experiment import load_profile
    from emergence.experiment.stages import curve_steps

    with tempfile.TemporaryDirectory() as tmp:
        demo = measured_demo_adapter(Path(tmp) / "train")
    seed = load_profile("seed")
    r = seed.train.lora_r
    assert seed.train.target_modules == SEVEN, seed.train.target_modules
    shape = {k: PHI3_MEDIUM[k] for k in ("layers", "hidden", "heads", "kv_heads", "mlp")}
    formula = lora_params(**shape, r=r)
    counted = counted_phi3_medium(r)
    assert counted == formula, (counted, formula)
    out = {
        "cpu_demo": {**demo, "checkpoints": curve_steps(load_profile("cpu-demo"))},
        "seed_phi3_medium": {"lora_r": r, "params": counted, "bytes_float32": 4 * counted, "bytes_bf16": 2 * counted,
                             "checkpoints": curve_steps(seed)},
    }
    for name, row in out.items():
        per = row.get("bytes", row.get("bytes_float32"))
        k = len(row["checkpoints"])
        print(f"{name}: {row['params']:,} LoRA parameters, {per / 1e6:.1f} MB per checkpoint; "
              f"{k} curve checkpoints {row['checkpoints']}: {k * per / 1e6:.1f} MB")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
