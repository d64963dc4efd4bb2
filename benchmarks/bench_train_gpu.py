"""GPU trainer benchmark: emergence.train (unsloth) against bare Unsloth and plain HF QLoRA.

    $ python benchmarks/bench_train_gpu.py --arch llama --layers 40 --json /tmp/bench.json
    $ python benchmarks/bench_train_gpu.py --cpu-smoke          # the harness itself, on CPU

One run measures, on a random-init model of Unsloth's Phi-3-medium shape
(:mod:`gpu_models`), at sequence length 2048, batch 2 x gradient accumulation 4, LoRA
r16/alpha16/dropout 0 on q,k,v,o,gate,up,down (qkv_proj/gate_up_proj on fused Phi-3),
adamw_8bit, lr 2e-4, bf16:

  (a) ``emergence.train`` with backend "unsloth", fed by the streaming loader from a
      generated JSON Lines corpus whose records are longer than 2048 tokens;
      Its default ``padding_free=None`` decides from the held-out sample's lengths
      (emergence.train.batching): padded batches here, where every example fills the
      sequence. ``a-padded`` / ``a-free`` set ``padding_free`` False / True explicitly
      (a-free measures what padding-free batches cost when there is nothing to save);
  (b) bare Unsloth ``FastLanguageModel`` + TRL ``SFTTrainer`` on pre-tokenised data
      (input_ids of exactly 2048 tokens);
  (c) transformers + peft + bitsandbytes 4-bit NF4 (sdpa attention, gradient
      checkpointing; PEFT's QLoRA recipe, ``prepare_model_for_kbit_training``) + the
      same SFTTrainer on the same pre-tokenised data.

Each config runs in its own subprocess (Unsloth patches transformers/TRL on import), which
prints its own errors in full; the next config runs regardless. Within a subprocess a
TrainerCallback (installed into every Trainer by wrapping ``CallbackHandler.__init__``, so
(a), (b) and (c) are timed by the same code) synchronises CUDA at the end of each
optimiser step: step time = wall time between consecutive step ends (data loading,
logging and the optimiser included); tokens = non-padding tokens the model's forward saw
in that step (``attention_mask.sum()``). Reported: the median over steps after warm-up of
tokens/step-time, peak ``torch.cuda.max_memory_allocated`` / ``max_memory_reserved`` of
the process (model loading included), and the trainable-parameter count, which must
equal LoRA's full-target count r*(in+out) summed over every targeted layer, or the
config is refused (a known trap: Unsloth on a Phi3ForCausalLM checkpoint adapting only
o_proj and down_proj).

MFU = model FLOPs per token x tokens/s / the card's bf16 matmul rate, measured here
(torch.matmul 8192^3 bf16, CUDA events, median of 30). Model FLOPs per token follow PaLM
(Chowdhery et al. 2022, appendix B): 6*N + 12*L*d*T, with N the parameters that do
matmuls (all but the input embedding), L layers, d hidden size, T = sequence length.
Gradient-checkpoint recomputation is not counted (that would be hardware FLOPs
utilisation); LoRA's frozen base skips weight gradients, so the 6N convention overstates
the work a LoRA step needs by up to a third: MFU here is comparable across configs, not
with full fine-tuning figures.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for p in (str(REPO), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)

import gpu_models  # noqa: E402  (benchmarks/ is not a package)

CONFIGS = {
    "a": "emergence.train (unsloth backend, streaming loader)",
    "a-padded": "emergence.train (unsloth backend, streaming loader, padding_free=False)",
    "a-free": "emergence.train (unsloth backend, streaming loader, padding_free=True)",
    "b": "bare Unsloth + TRL SFTTrainer (pre-tokenised)",
    "c": "transformers + peft + bnb nf4 + SFTTrainer (sdpa, grad ckpt)",
}
LLAMA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
PHI3_TARGETS = ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]
WORK = Path("/tmp/emergence-bench")
GiB = 1024**3
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "PYTHONUNBUFFERED": "1",
    # Unsloth compiles patched modules into this folder; keep it out of the repository.
    "UNSLOTH_COMPILE_LOCATION": str(WORK / "unsloth_compiled_cache"),
}


# ---------------------------------------------------------------------------------------
# shapes, parameter counts, FLOPs


def targets_for(arch: str) -> list[str]:
    return PHI3_TARGETS if arch == "phi3" else LLAMA_TARGETS


def expected_lora_params(arch: str, shape: dict[str, int], r: int) -> int:
    """r*(in+out) over every targeted linear layer of the model (the full-target count)."""
    d, h, kv, m, L = shape["hidden"], shape["heads"], shape["kv_heads"], shape["mlp"], shape["layers"]
    hd = d // h
    if arch == "phi3":
        per_layer = (d + (h + 2 * kv) * hd) + (h * hd + d) + (d + 2 * m) + (m + d)
    else:
        per_layer = (d + h * hd) + 2 * (d + kv * hd) + (h * hd + d) + 2 * (d + m) + (m + d)
    return r * L * per_layer


def flops_per_token(arch: str, shape: dict[str, int], seq_len: int) -> float:
    """PaLM's model FLOPs per trained token: 6*N (N without the input embedding) + 12*L*d*T."""
    n = gpu_models.param_count(arch, **shape) - shape["vocab"] * shape["hidden"]
    return 6.0 * n + 12.0 * shape["layers"] * shape["hidden"] * seq_len


# ---------------------------------------------------------------------------------------
# generated data


def _words() -> list[str]:
    from emergence.models import _TINY_TEXT

    # Words the in-code tokenizer was trained on, so most encode to one token each.
    return sorted({w for w in re.findall(r"[a-z]+", _TINY_TEXT.lower()) if len(w) > 1})


def write_corpus(path: Path, n_records: int, *, content_chars: int, seed: int = 0) -> Path:
    """A JSON Lines corpus of long records (title + content of ``content_chars`` characters)."""
    rng = random.Random(seed)
    words = _words()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for i in range(n_records):
            title = " ".join(rng.choice(words) for _ in range(rng.randint(3, 6))).title()
            parts, size = [], 0
            while size < content_chars:
                sentence = " ".join(rng.choice(words) for _ in range(rng.randint(8, 20)))
                sentence = sentence[0].upper() + sentence[1:] + "."
                parts.append(sentence)
                size += len(sentence) + 1
            f.write(json.dumps({"uid": f"bench-{i:06d}", "title": title, "content": " ".join(parts)}) + "\n")
    os.replace(tmp, path)
    return path


def prepare_data(model_dir: Path, *, seq_len: int, n_seqs: int, work: Path) -> dict[str, Any]:
    """The corpus for (a) and the pre-tokenised sequences for (b)/(c), built once per shape.

    Records are made long enough that every chat-rendered example exceeds ``seq_len``
    tokens, so (a)'s truncated examples and (b)/(c)'s sequences are all exactly
    ``seq_len`` tokens with no padding: the three configs do the same work per step.
    """
    import numpy as np
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    words = _words()
    sample = " ".join(random.Random(1).choice(words) for _ in range(2000))
    chars_per_token = len(sample) / len(tok(sample, add_special_tokens=False)["input_ids"])
    content_chars = int(seq_len * chars_per_token * 1.3) + 200
    # (a) holds 10% of records out and may read a few batches ahead: make plenty.
    n_records = max(64, int(n_seqs * 1.5) + 32)
    key = f"s{seq_len}-n{n_records}-c{content_chars}-v{len(tok)}"
    corpus = work / f"corpus-{key}.jsonl"
    seqs_path = work / f"seqs-{key}.npy"
    if not corpus.exists():
        write_corpus(corpus, n_records, content_chars=content_chars)
    if not seqs_path.exists():
        rows, short = [], 0
        with corpus.open(encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                msgs = [{"role": "user", "content": rec["title"]},
                        {"role": "assistant", "content": rec["content"]}]
                text = tok.apply_chat_template(msgs, tokenize=False)
                ids = tok(text, add_special_tokens=False)["input_ids"]
                if len(ids) < seq_len:
                    short += 1
                    continue
                rows.append(ids[:seq_len])
                if len(rows) == n_seqs:
                    break
        if short or len(rows) < n_seqs:
            raise RuntimeError(f"generated records too short: {short} under {seq_len} tokens, "
                               f"{len(rows)}/{n_seqs} sequences")
        np.save(seqs_path.with_suffix(".tmp.npy"), np.asarray(rows, dtype=np.int32))
        os.replace(seqs_path.with_suffix(".tmp.npy"), seqs_path)
    return {"corpus": str(corpus), "seqs": str(seqs_path), "n_records": n_records,
            "content_chars": content_chars}


# ---------------------------------------------------------------------------------------
# worker side: runs in a subprocess, one config each


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("torch", "transformers", "peft", "trl", "accelerate", "bitsandbytes",
                 "unsloth", "unsloth_zoo", "datasets"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "-"
    return out


class Refused(RuntimeError):
    """The adapter is not the full-target one: the config's figures would be meaningless."""


def install_meter(expected_trainable: int, device: str, log_prefix: str,
                  record: dict[str, Any] | None = None) -> dict[str, Any]:
    """Put a step meter into every Trainer built from now on; returns its live record."""
    import torch
    from transformers import TrainerCallback
    from transformers import trainer_callback as tc

    cuda = device.startswith("cuda")
    record = record if record is not None else {}
    record.update(steps=[], trainable=None, adapted=None, pre_train_alloc=0, pre_train_reserved=0)

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    class StepMeter(TrainerCallback):
        def __init__(self) -> None:
            self.masks: list[Any] = []  # attention_mask sums of the top-level forwards
            self.masked = 0  # input_ids elements of top-level forwards without a mask
            self.embedded = 0  # input_ids elements seen by the input embedding (fallback)
            self.micro = 0
            self.t_last = None

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
            adapted = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules()
                              if hasattr(m, "lora_A") and len(getattr(m, "lora_A", {}))})
            record.update(trainable=trainable, adapted=adapted)
            print(f"{log_prefix} trainable parameters {trainable:,} (full-target count "
                  f"{expected_trainable:,}); LoRA on {adapted}", flush=True)
            if trainable != expected_trainable:
                raise Refused(
                    f"trainable parameters {trainable:,} != full-target count "
                    f"{expected_trainable:,} (adapted: {adapted}); refusing to report this config"
                )

            def top_hook(module, args_, kwargs_):
                if not module.training or not torch.is_grad_enabled():
                    return
                self.micro += 1
                mask = kwargs_.get("attention_mask")
                if mask is not None:
                    # Summed on the device and read at the step's end: no sync mid-step.
                    self.masks.append(mask.detach().sum())
                else:
                    ids = kwargs_.get("input_ids", args_[0] if args_ else None)
                    if ids is not None:
                        self.masked += ids.numel()

            def emb_hook(module, args_):
                if torch.is_grad_enabled() and args_:
                    self.embedded += args_[0].numel()

            if cuda:
                # Loading (and (a)'s held-out scoring) peak before training; the steps' own
                # peak is measured from here on. The process peak is the max of both.
                record["pre_train_alloc"] = torch.cuda.max_memory_allocated()
                record["pre_train_reserved"] = torch.cuda.max_memory_reserved()
                torch.cuda.reset_peak_memory_stats()
            model.register_forward_pre_hook(top_hook, with_kwargs=True)
            emb = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
            if emb is not None:
                emb.register_forward_pre_hook(emb_hook)
            sync()
            self.t_last = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            if self.t_last is None:  # the trainable-count check and the clock never ran
                raise RuntimeError("the step meter's on_train_begin was not called by this trainer")
            sync()
            now = time.perf_counter()
            top = self.masked + sum(int(m) for m in self.masks)
            tokens = top or self.embedded
            if tokens == 0:
                raise RuntimeError("the step meter saw no training forward pass in this step")
            row = {"step": state.global_step, "seconds": now - self.t_last, "tokens": tokens,
                   "micro_batches": self.micro, "source": "forward" if top else "embedding"}
            row["tokens_per_s"] = tokens / row["seconds"]
            if cuda:
                row["step_peak_alloc_gib"] = torch.cuda.max_memory_allocated() / GiB
                row["step_peak_reserved_gib"] = torch.cuda.max_memory_reserved() / GiB
            record["steps"].append(row)
            print(f"{log_prefix} step {row['step']}: {row['seconds']:.3f} s, {tokens} tokens, "
                  f"{row['tokens_per_s']:,.0f} tok/s, {self.micro} micro-batches", flush=True)
            self.masks.clear()
            self.masked = self.embedded = self.micro = 0
            self.t_last = now

    meter = StepMeter()
    original = tc.CallbackHandler.__init__

    def patched(self, callbacks, *a, **k):
        original(self, callbacks, *a, **k)
        self.add_callback(meter)

    tc.CallbackHandler.__init__ = patched
    return record


def _cpu_logprob_fallback() -> None:
    """CPU smoke only: TRL's fused LM head needs Triton, which CPU builds of torch lack.

    Replaces the missing kernel with the same computation in plain torch (full logits),
    so the smoke test runs SFTTrainer's real code path otherwise. Never used on a GPU.
    """
    import torch
    import trl.trainer.utils as tu

    if getattr(tu, "_ChunkedLogProbFunction", True) is not None:
        return

    class TorchLogProb:
        @staticmethod
        def apply(hidden, weight, bias, targets, temperature, chunk_size, softcap, logit_scale,
                  outputs=("log_probs",)):
            logits = torch.nn.functional.linear(hidden, weight, bias) * logit_scale
            if softcap is not None:
                logits = softcap * torch.tanh(logits / softcap)
            logp = (logits / temperature).float().log_softmax(-1)
            log_probs = logp.gather(-1, targets[:, None]).squeeze(-1)
            with torch.no_grad():
                entropy = -(logp.exp() * logp).sum(-1) if "entropy" in outputs else None
                top1 = (logp.argmax(-1) == targets).float() if "is_top1" in outputs else None
            return log_probs, entropy, None, None, top1

    tu._ChunkedLogProbFunction = TorchLogProb
    print("[cpu-smoke] TRL's Triton log-prob kernel is unavailable: using a plain-torch stand-in",
          flush=True)


def _sft_config(w: dict[str, Any], out: Path, *, gradient_checkpointing: bool):
    from trl import SFTConfig

    cpu = w["device"] == "cpu"
    if cpu:
        _cpu_logprob_fallback()
    return SFTConfig(
        output_dir=str(out),
        per_device_train_batch_size=w["batch"],
        gradient_accumulation_steps=w["accum"],
        max_steps=w["max_steps"],
        warmup_steps=w["lr_warmup"],
        learning_rate=w["lr"],
        optim=w["optim"],
        weight_decay=0.001,
        lr_scheduler_type="linear",
        seed=3407,
        bf16=not cpu,
        use_cpu=cpu,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        max_length=w["seq_len"],
        packing=False,
        dataset_kwargs={"skip_prepare_dataset": True},
        gradient_checkpointing=gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False} if gradient_checkpointing else None,
        dataloader_num_workers=0,
    )


def _pretokenised(w: dict[str, Any]):
    import datasets
    import numpy as np

    seqs = np.load(w["seqs"])
    assert seqs.shape[1] == w["seq_len"], seqs.shape
    return datasets.Dataset.from_dict({"input_ids": seqs.tolist()})


def run_a(w: dict[str, Any], out: Path) -> dict[str, Any]:
    from emergence.train.config import TrainConfig
    from emergence.train.recipe import train

    cpu = w["device"] == "cpu"
    config = TrainConfig(
        model=w["model"],
        backend="hf" if cpu else "unsloth",
        device=w["device"],
        load_in_4bit=not cpu,
        dtype="float32" if cpu else "bfloat16",
        max_seq_length=w["seq_len"],
        corpus=Path(w["corpus"]),
        per_device_train_batch_size=w["batch"],
        gradient_accumulation_steps=w["accum"],
        max_steps=w["max_steps"],
        warmup_steps=w["lr_warmup"],
        learning_rate=w["lr"],
        optim=w["optim"],
        lora_r=16, lora_alpha=16, lora_dropout=0.0,
        # The seed's seven names: the recipe must map them onto fused Phi-3 itself.
        target_modules=w["targets_a"],
        output_dir=out / "run",
        overwrite=True,
        save_steps=w["max_steps"] + 1,  # no checkpoint inside the timed steps
        eval_records=w["eval_records"],
        eval_batch_size=w["eval_batch_size"],
        eval_steps=None,
        logging_steps=1,
        padding_free=w.get("padding_free"),  # None: decided from the held-out sample's lengths
    )
    result = train(config)
    info: dict[str, Any] = {"backend": getattr(result, "backend", None),
                            "trainable_reported": getattr(result, "trainable_params", None),
                            "padding_free_used": getattr(result, "padding_free", None)}
    want = "hf" if cpu else "unsloth"
    if info["backend"] != want:
        raise Refused(f"emergence.train ran backend {info['backend']!r}, not {want!r}")
    metrics_path = getattr(result, "metrics_path", None)
    if metrics_path and Path(metrics_path).exists():
        rows = [json.loads(x) for x in Path(metrics_path).read_text().splitlines() if x.strip()]
        tps = [r["tokens_per_s"] for r in rows if r.get("tokens_per_s")][w["warmup"]:]
        info["metrics_jsonl_tokens_per_s_median"] = statistics.median(tps) if tps else None
    return info


def run_b(w: dict[str, Any], out: Path) -> dict[str, Any]:
    from unsloth import FastLanguageModel  # first: it patches transformers and TRL
    import torch
    from trl import SFTTrainer

    model, tok = FastLanguageModel.from_pretrained(
        model_name=w["model"], max_seq_length=w["seq_len"], dtype=torch.bfloat16,
        load_in_4bit=True,
    )
    model = FastLanguageModel.get_peft_model(
        model, r=16, lora_alpha=16, lora_dropout=0.0, bias="none",
        target_modules=w["targets"], use_gradient_checkpointing="unsloth",
        random_state=3407,
    )
    trainer = SFTTrainer(model=model, processing_class=tok, train_dataset=_pretokenised(w),
                         args=_sft_config(w, out, gradient_checkpointing=False))
    trainer.train()
    return {}


def run_c(w: dict[str, Any], out: Path) -> dict[str, Any]:
    import peft
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
    from trl import SFTTrainer

    cpu = w["device"] == "cpu"
    tok = AutoTokenizer.from_pretrained(w["model"])
    if cpu:  # the smoke test: no 4-bit on CPU, fp32 LoRA, same recipe otherwise
        model = AutoModelForCausalLM.from_pretrained(w["model"], dtype=torch.float32,
                                                     attn_implementation="sdpa")
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    else:
        bnb = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
        model = AutoModelForCausalLM.from_pretrained(
            w["model"], quantization_config=bnb, dtype=torch.bfloat16,
            attn_implementation="sdpa", device_map={"": 0},
        )
        model = peft.prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=True,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    lora = peft.LoraConfig(r=16, lora_alpha=16, lora_dropout=0.0, bias="none",
                           target_modules=w["targets"], task_type="CAUSAL_LM")
    model = peft.get_peft_model(model, lora)
    trainer = SFTTrainer(model=model, processing_class=tok, train_dataset=_pretokenised(w),
                         args=_sft_config(w, out, gradient_checkpointing=True))
    trainer.train()
    return {"attn_implementation": getattr(model.config, "_attn_implementation", None)}


def run_peft_check(w: dict[str, Any]) -> dict[str, Any]:
    """(a)'s saved adapter through plain transformers + peft (Unsloth never imported here).

    Loads the base in 4-bit NF4 (CPU: fp32), applies the adapter with
    ``PeftModel.from_pretrained`` and checks that LoRA sits on every targeted layer (no
    silent subset), that its size is the trainable count (a) reported, that its B
    matrices were trained (they start at zero) and that a forward pass is finite.
    """
    import peft
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    if "unsloth" in sys.modules:
        raise RuntimeError("unsloth was imported: this check must use plain peft")
    cpu = w["device"] == "cpu"
    kwargs: dict[str, Any] = {"dtype": torch.float32} if cpu else {
        "dtype": torch.bfloat16, "device_map": {"": 0},
        "quantization_config": BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                  bnb_4bit_compute_dtype=torch.bfloat16),
    }
    base = AutoModelForCausalLM.from_pretrained(w["model"], **kwargs)
    want = {n for n, _ in base.named_modules() if n.rsplit(".", 1)[-1] in w["targets"]}
    model = peft.PeftModel.from_pretrained(base, w["adapter"]).eval()
    adapted = {n.removeprefix("base_model.model.") for n, m in model.named_modules() if hasattr(m, "lora_A")}
    lora = sum(p.numel() for n, p in model.named_parameters() if "lora_" in n)
    b_max = max(p.detach().abs().max().item() for n, p in model.named_parameters() if "lora_B" in n)
    with torch.no_grad():
        ids = torch.arange(1, 65, device=model.device)[None]
        logits = model(input_ids=ids).logits
        with model.disable_adapter():
            base_logits = model(input_ids=ids).logits
    out = {"adapted_layers": len(adapted), "targeted_layers": len(want), "lora_params": lora,
           "trainable_reported": w.get("trainable"), "lora_B_max_abs": b_max,
           "logits_finite": bool(torch.isfinite(logits).all()),
           "adapter_changes_logits": float((logits.float() - base_logits.float()).abs().max())}
    print(f"[peft/{w.get('arch')}] {out}", flush=True)
    if adapted != want or lora != w.get("trainable") or b_max == 0 or not out["logits_finite"]:
        raise RuntimeError(f"plain peft check failed: {out}; missing layers {sorted(want - adapted)[:5]}")
    return out


def run_matmul(n: int = 8192, reps: int = 30) -> dict[str, Any]:
    import torch

    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    for _ in range(5):
        a @ b
    torch.cuda.synchronize()
    ms = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        a @ b
        end.record()
        end.synchronize()
        ms.append(start.elapsed_time(end))
    med = statistics.median(ms)
    return {"n": n, "reps": reps, "median_ms": med, "tflops": 2 * n**3 / (med / 1e3) / 1e12,
            "device_name": torch.cuda.get_device_name(0)}


def worker_main(spec_path: Path) -> int:
    w = json.loads(spec_path.read_text())
    result: dict[str, Any] = {"config": w["config"], "arch": w.get("arch"), "layers": w.get("layers"),
                              "status": "error"}
    prefix = f"[{w['config']}/{w.get('arch')}]"
    t0 = time.perf_counter()
    record: dict[str, Any] = {}
    result["spec"] = {k: v for k, v in w.items() if k not in ("result",)}
    try:
        if w["config"] == "matmul":
            result.update(run_matmul(), status="ok")
            return 0
        import torch

        cuda = w["device"].startswith("cuda")
        if cuda and not torch.cuda.is_available():
            raise RuntimeError("this config needs a CUDA GPU and torch sees none")
        if w["config"] == "peft":
            result.update(run_peft_check(w), status="ok")
            return 0
        if cuda and (w["config"].startswith("a") or w["config"] == "b"):
            # Unsloth patches transformers / TRL / peft on import and must come before
            # them; the meter below imports transformers.
            import unsloth  # noqa: F401
        install_meter(w["expected_trainable"], w["device"], prefix, record)
        out = Path(w["out"])
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        runner = {"a": run_a, "a-padded": run_a, "a-free": run_a, "b": run_b, "c": run_c}[w["config"]]
        extra = runner(w, out)
        steps = record["steps"]
        if len(steps) < w["max_steps"]:
            raise RuntimeError(f"only {len(steps)} of {w['max_steps']} optimiser steps were metered")
        timed = steps[w["warmup"]:]
        result.update(
            extra,
            status="ok",
            trainable=record["trainable"],
            adapted=record["adapted"],
            steps=steps,
            tokens_per_s=statistics.median(s["tokens_per_s"] for s in timed),
            step_seconds=statistics.median(s["seconds"] for s in timed),
            tokens_per_step=statistics.median(s["tokens"] for s in timed),
        )
        if cuda:
            last = steps[-1]
            result.update(
                # the whole process: loading, training and anything after (what must fit the card)
                peak_alloc_gib=max(record["pre_train_alloc"], torch.cuda.max_memory_allocated()) / GiB,
                peak_reserved_gib=max(record["pre_train_reserved"], torch.cuda.max_memory_reserved()) / GiB,
                # the optimiser steps alone
                steps_peak_alloc_gib=last["step_peak_alloc_gib"],
                steps_peak_reserved_gib=last["step_peak_reserved_gib"],
                pre_train_peak_alloc_gib=record["pre_train_alloc"] / GiB,
                device_name=torch.cuda.get_device_name(0),
            )
        return 0
    except Refused as exc:
        traceback.print_exc()
        result.update(status="refused", error=str(exc), trainable=record.get("trainable"),
                      adapted=record.get("adapted"))
        return 3
    except BaseException as exc:  # noqa: BLE001 - report every failure, then exit non-zero
        traceback.print_exc()
        # emergence.train's own full-target check (targets.TargetError) is a refusal too
        status = "refused" if type(exc).__name__ == "TargetError" else "error"
        result.update(status=status, error=f"{type(exc).__name__}: {exc}",
                      trainable=record.get("trainable"), adapted=record.get("adapted"))
        return 1
    finally:
        result["wall_s"] = time.perf_counter() - t0
        result["versions"] = _versions()
        Path(w["result"]).write_text(json.dumps(result, indent=1, default=str))


# ---------------------------------------------------------------------------------------
# parent side: models, data, one subprocess per config, the table


def _spawn(spec: dict[str, Any], work: Path, timeout: float | None) -> dict[str, Any]:
    spec_path = work / f"spec-{spec['config']}-{spec.get('arch')}.json"
    result_path = work / f"result-{spec['config']}-{spec.get('arch')}.json"
    result_path.unlink(missing_ok=True)
    spec = {**spec, "result": str(result_path)}
    spec_path.write_text(json.dumps(spec, indent=1))
    env = {**os.environ, **OFFLINE_ENV}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    label = f"{spec['config']}/{spec.get('arch')}"
    print(f"\n=== {label}: {CONFIGS.get(spec['config'], spec['config'])} ===", flush=True)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, __file__, "--worker", str(spec_path)], env=env,
                              timeout=timeout)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        rc = None
    if result_path.exists():
        result = json.loads(result_path.read_text())
    else:
        why = f"timed out after {timeout:.0f} s" if rc is None else f"exited {rc} without a result"
        result = {"config": spec["config"], "arch": spec.get("arch"), "layers": spec.get("layers"),
                  "status": "error", "error": f"worker {why} (killed? out of memory?)"}
    result["process_wall_s"] = time.perf_counter() - t0
    print(f"=== {label}: {result['status']}"
          + (f" - {result.get('error')}" if result["status"] != "ok" else "")
          + f" ({result['process_wall_s']:.0f} s) ===", flush=True)
    return result


def _ensure_model(arch: str, shape: dict[str, int], *, device: str, dtype: str, env_timeout: float | None) -> Path:
    root = gpu_models.DEFAULT_ROOT
    name = gpu_models.model_name(arch, seed=0, **shape)
    target = root / name
    if not (target / ".complete").exists():
        root.mkdir(parents=True, exist_ok=True)
        need = gpu_models.param_count(arch, **shape) * (2 if dtype == "bfloat16" else 4)
        free = shutil.disk_usage(root).free
        if free < need * 1.05 + 3 * GiB:
            # Two 28 GB models do not fit a 64 GB disk beside everything else: drop the
            # other cached benchmark models (this script's own, by their name pattern).
            for other in sorted(root.iterdir()):
                if other.name != name and re.match(r"^(llama|phi3)-L\d+-d\d+", other.name) and other.is_dir():
                    print(f"[models] removing {other} to make room ({free / GiB:.1f} GiB free, "
                          f"{need / GiB:.1f} GiB needed)", flush=True)
                    shutil.rmtree(other, ignore_errors=True)
            free = shutil.disk_usage(root).free
            if free < need * 1.05 + 1 * GiB:
                raise RuntimeError(f"not enough disk under {root}: {free / GiB:.1f} GiB free, "
                                   f"{need / GiB:.1f} GiB needed for {name}")
        # Built in a subprocess so the parent never holds a CUDA context.
        cmd = [sys.executable, str(HERE / "gpu_models.py"), "--arch", arch, "--out", str(target),
               "--device", device, "--dtype", dtype]
        for k, v in shape.items():
            cmd += [f"--{k.replace('_', '-')}", str(v)]
        t0 = time.perf_counter()
        env = {**os.environ, **OFFLINE_ENV}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
        subprocess.run(cmd, check=True, env=env, timeout=env_timeout)
        print(f"[models] built {target} in {time.perf_counter() - t0:.0f} s", flush=True)
    else:
        print(f"[models] reusing {target}", flush=True)
    return target


def _fmt(x: Any, spec: str = ",.0f") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return format(x, spec)


def summarise(results: list[dict[str, Any]], matmul: dict[str, Any] | None, seq_len: int) -> list[dict[str, Any]]:
    """Add MFU and the a/b, a/c ratios to the rows (same arch and depth)."""
    rate = matmul.get("tflops") if matmul and matmul.get("status") == "ok" else None
    for r in results:
        if r.get("status") == "ok" and r.get("shape") and rate:
            r["flops_per_token"] = flops_per_token(r["arch"], r["shape"], seq_len)
            r["mfu"] = r["flops_per_token"] * r["tokens_per_s"] / (rate * 1e12)
    ok = {(r["config"], r["arch"], r["layers"]): r for r in results if r.get("status") == "ok"}
    for (cfg, arch, layers), r in ok.items():
        if not cfg.startswith("a"):
            continue
        b, c = ok.get(("b", arch, layers)), ok.get(("c", arch, layers))
        if b:
            r["ratio_a_b"] = r["tokens_per_s"] / b["tokens_per_s"]
        if c:
            r["ratio_a_c"] = r["tokens_per_s"] / c["tokens_per_s"]
            if r.get("peak_alloc_gib") and c.get("peak_alloc_gib"):
                r["mem_a_c"] = r["peak_alloc_gib"] / c["peak_alloc_gib"]
                r["mem_reserved_a_c"] = r["peak_reserved_gib"] / c["peak_reserved_gib"]
                r["mem_steps_a_c"] = r["steps_peak_alloc_gib"] / c["steps_peak_alloc_gib"]
    return results


def print_table(results: list[dict[str, Any]], matmul: dict[str, Any] | None) -> None:
    if matmul:
        if matmul.get("status") == "ok":
            print(f"\nbf16 matmul {matmul['n']}^3 on {matmul['device_name']}: "
                  f"{matmul['tflops']:.0f} TFLOP/s (median of {matmul['reps']})")
        else:
            print(f"\nbf16 matmul: {matmul.get('status')} {matmul.get('error', '')}")
    head = ["config", "arch", "layers", "trainable", "tokens/s", "peak alloc GiB",
            "peak reserved GiB", "steps alloc GiB", "MFU", "a/b", "a/c", "mem a/c", "status"]
    rows = []
    for r in results:
        rows.append([
            r["config"], str(r.get("arch")), str(r.get("layers")), _fmt(r.get("trainable")),
            _fmt(r.get("tokens_per_s")), _fmt(r.get("peak_alloc_gib"), ".2f"),
            _fmt(r.get("peak_reserved_gib"), ".2f"), _fmt(r.get("steps_peak_alloc_gib"), ".2f"),
            _fmt(r.get("mfu"), ".1%"),
            _fmt(r.get("ratio_a_b"), ".2f"), _fmt(r.get("ratio_a_c"), ".2f"),
            _fmt(r.get("mem_a_c"), ".2f"),
            r.get("status", "?") if r.get("status") == "ok" else f"{r.get('status')}: {str(r.get('error', ''))[:60]}",
        ])
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)]
    line = lambda cells: "| " + " | ".join(c.ljust(wd) for c, wd in zip(cells, widths)) + " |"  # noqa: E731
    print()
    print(line(head))
    print("|" + "|".join("-" * (wd + 2) for wd in widths) + "|")
    for row in rows:
        print(line(row))
    for r in results:
        if not r["config"].startswith("a") or r.get("status") != "ok":
            continue
        checks = []
        if "ratio_a_b" in r:
            checks.append(f"a/b tokens/s {r['ratio_a_b']:.2f} (target >= 0.95: "
                          f"{'met' if r['ratio_a_b'] >= 0.95 else 'NOT met'})")
        if "ratio_a_c" in r:
            checks.append(f"a/c tokens/s {r['ratio_a_c']:.2f} (target >= 1.7: "
                          f"{'met' if r['ratio_a_c'] >= 1.7 else 'NOT met'})")
        if "mem_a_c" in r:
            checks.append(f"a/c peak alloc {r['mem_a_c']:.2f} (reserved {r['mem_reserved_a_c']:.2f}, "
                          f"steps only {r['mem_steps_a_c']:.2f}; target <= 0.7: "
                          f"{'met' if r['mem_a_c'] <= 0.7 else 'NOT met'})")
        if r.get("layers") == 40 and r.get("peak_reserved_gib") is not None:
            checks.append(f"40-layer peak reserved {r['peak_reserved_gib']:.2f} GiB (target <= 15: "
                          f"{'met' if r['peak_reserved_gib'] <= 15 else 'NOT met'})")
        if checks:
            print(f"targets {r['config']} {r['arch']} L{r['layers']}: " + "; ".join(checks))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="GPU trainer benchmark: (a) emergence.train/unsloth, (b) bare Unsloth, "
        "(c) transformers+peft+bnb; one subprocess per config.",
        epilog="Each config runs in its own process; a failing config prints its traceback "
        "and the next one runs.",
    )
    p.add_argument("--arch", choices=["llama", "phi3", "both"], default="llama")
    p.add_argument("--layers", type=int, default=40, help="decoder layers of the Phi-3-medium shape (default 40)")
    p.add_argument("--steps", type=int, default=12, help="timed optimiser steps after warm-up (default 12)")
    p.add_argument("--warmup", type=int, default=3, help="untimed optimiser steps first (default 3)")
    p.add_argument("--configs", default="a,b,c", help="comma-separated subset of a,b,c")
    p.add_argument("--json", type=Path, default=None, help="write the results here")
    p.add_argument("--merge", action="store_true",
                   help="keep other rows already in --json (to run configs in several commands)")
    p.add_argument("--seq-len", type=int, default=2048)
    p.add_argument("--timeout", type=float, default=1800, help="seconds per config subprocess")
    p.add_argument("--no-matmul", action="store_true", help="skip the bf16 matmul rate (no MFU)")
    p.add_argument("--eval-records", type=int, default=8,
                   help="held-out records (a) scores before/after training (outside the timed steps)")
    p.add_argument("--eval-batch-size", type=int, default=2,
                   help="batch of (a)'s held-out scoring (its logits can set the process peak)")
    p.add_argument("--work", type=Path, default=WORK, help=f"scratch folder (default {WORK})")
    p.add_argument("--cpu-smoke", action="store_true",
                   help="check the harness on CPU: a 1-layer tiny model, seq 128, 3 steps, fp32, "
                   "configs a (hf backend) and c (no 4-bit); (b) needs a GPU")
    p.add_argument("--targets", default=None,
                   help="override the LoRA target names of every config (comma-separated), e.g. "
                   "the seven Llama names on --arch phi3 to see the trainable-count refusal")
    p.add_argument("--verify-peft", action="store_true",
                   help="after each (a) config, load its adapter onto the 4-bit base with plain "
                   "transformers + peft (no Unsloth) in a fresh process and check it")
    p.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    a.configs = [c.strip() for c in a.configs.split(",") if c.strip()]
    if a.targets:
        a.targets = [t.strip() for t in a.targets.split(",") if t.strip()]
    bad = [c for c in a.configs if c not in CONFIGS]
    if bad:
        p.error(f"unknown config(s) {bad}: choose from {','.join(CONFIGS)}")
    return a


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker is not None:
        return worker_main(args.worker)
    archs = ["llama", "phi3"] if args.arch == "both" else [args.arch]
    if args.cpu_smoke:
        shape = dict(layers=1, hidden=64, heads=4, kv_heads=2, mlp=128, vocab=1024)
        device, dtype, optim = "cpu", "float32", "adamw_torch"
        if "--seq-len" not in (argv or sys.argv):
            args.seq_len = 128
        if "--steps" not in (argv or sys.argv):
            args.steps, args.warmup = 3, 1
        args.configs = [c for c in args.configs if c != "b"]
        args.no_matmul = True
        args.work = args.work / "cpu-smoke"
    else:
        shape = {**{k: v for k, v in gpu_models.PHI3_MEDIUM.items()}, "layers": args.layers}
        device, dtype, optim = "cuda", "bfloat16", "adamw_8bit"
    args.work.mkdir(parents=True, exist_ok=True)
    batch, accum = 2, 4
    max_steps = args.warmup + args.steps
    print(f"bench_train_gpu: archs {archs}, configs {args.configs}, layers {shape['layers']}, "
          f"seq {args.seq_len}, batch {batch} x accum {accum}, {args.warmup} warm-up + "
          f"{args.steps} timed steps, device {device}", flush=True)

    old_results: list[dict[str, Any]] = []
    old_matmul = None
    if args.json and args.merge and args.json.exists():
        old = json.loads(args.json.read_text())
        old_results, old_matmul = old.get("results", []), old.get("matmul")
    results: list[dict[str, Any]] = []
    matmul = None

    def merged() -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        keys = {(r["config"], r["arch"], r["layers"]) for r in results}
        rows = [r for r in old_results if (r["config"], r["arch"], r["layers"]) not in keys] + results
        return summarise(rows, matmul or old_matmul, args.seq_len), matmul or old_matmul

    def save() -> None:  # after every config, so a run cut short keeps what it measured
        if not args.json:
            return
        rows, mm = merged()
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"seq_len": args.seq_len, "batch": batch, "accum": accum,
                                         "steps": args.steps, "warmup": args.warmup,
                                         "matmul": mm, "results": rows}, indent=1, default=str))

    if not args.no_matmul:
        matmul = _spawn({"config": "matmul", "device": device}, args.work, args.timeout)
        save()
    for arch in archs:
        try:
            model_dir = _ensure_model(arch, shape, device=device, dtype=dtype, env_timeout=args.timeout)
            data = prepare_data(model_dir, seq_len=args.seq_len,
                                n_seqs=max_steps * batch * accum, work=args.work)
        except Exception as exc:  # noqa: BLE001 - report, go on with the next arch
            traceback.print_exc()
            for cfg in args.configs:
                results.append({"config": cfg, "arch": arch, "layers": shape["layers"],
                                "status": "error", "error": f"setup: {type(exc).__name__}: {exc}"})
            save()
            continue
        for cfg in args.configs:
            spec = {
                "config": cfg, "arch": arch, "layers": shape["layers"], "shape": shape,
                "model": str(model_dir), "device": device, "seq_len": args.seq_len,
                "batch": batch, "accum": accum, "max_steps": max_steps, "warmup": args.warmup,
                "lr_warmup": 5, "lr": 2e-4, "optim": optim, "eval_records": args.eval_records,
                "eval_batch_size": args.eval_batch_size,
                "expected_trainable": expected_lora_params(arch, shape, 16),
                "targets": args.targets or targets_for(arch),
                "targets_a": args.targets or list(LLAMA_TARGETS),
                "out": str(args.work / f"out-{cfg}-{arch}"), **data,
                "padding_free": {"a-padded": False, "a-free": True}.get(cfg),
            }
            result = _spawn(spec, args.work, args.timeout)
            result["shape"] = shape
            if args.verify_peft and cfg.startswith("a") and result.get("status") == "ok":
                check = _spawn({"config": "peft", "arch": arch, "device": device, "model": str(model_dir),
                                "adapter": str(Path(spec["out"]) / "run" / "adapter"),
                                "targets": targets_for(arch), "trainable": result.get("trainable")},
                               args.work, args.timeout)
                result["peft_check"] = {k: v for k, v in check.items() if k not in ("spec", "versions")}
            results.append(result)
            save()

    save()
    rows, mm = merged()
    print_table(rows, mm)
    if args.json:
        print(f"\nresults: {args.json}")
    return 0 if all(r.get("status") == "ok" for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
