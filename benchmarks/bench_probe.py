"""Probe throughput: batched generation (emergence.probe) against one prompt at a time.

    $ python benchmarks/bench_probe.py                       # CPU, SmolLM2-135M-Instruct
    $ python benchmarks/bench_probe.py --prompts 8 --batch-sizes 1,8 --model tiny-llama
    $ python benchmarks/bench_probe.py --device cuda --load-in-4bit --fixed-tokens \\
          --model "$(python benchmarks/gpu_models.py --arch phi3)" --prompts 64

The same prompts (the seed's age question for titles of the embedded sample's age_heldout
set) and the same decoding (greedy, same token cap) go through:

- ``one-at-a-time``: the seed notebook's loop, one ``apply_chat_template`` +
  ``model.generate`` + ``decode`` per prompt;
- ``batched`` at each ``--batch-sizes``: :func:`emergence.probe.generate_tokens`
  (left padding, length-sorted batches).

Random-init models rarely emit eos, and not at the same step in each arm, so
``--fixed-tokens`` forces every answer to exactly ``--max-new-tokens`` tokens
(``min_new_tokens = max_new_tokens``) for a like-for-like comparison. Prints a table
(device, model, mode, batch, answers/s, tokens/s, speed-up against one-at-a-time, and
whether greedy answers agree with one-at-a-time) and writes JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))


def load(model_spec: str, device: str, load_in_4bit: bool):
    """Model and tokenizer; 4-bit NF4 through bitsandbytes on CUDA when asked."""
    if not load_in_4bit:
        from emergence.models import load_model_and_tokenizer

        return load_model_and_tokenizer(model_spec, device=device)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    from emergence.models import resolve_model

    path = resolve_model(model_spec)
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                               bnb_4bit_compute_dtype=torch.bfloat16,
                               bnb_4bit_use_double_quant=True)
    model = AutoModelForCausalLM.from_pretrained(path, quantization_config=quant,
                                                 dtype=torch.bfloat16, device_map={"": device})
    model.eval()
    return model, tokenizer


def prompts_from_sample(n: int) -> list[str]:
    from emergence.evalsets import EvalSetConfig, build_eval_sets
    from emergence.probe.config import SEED_AGE_PROMPT
    from emergence.corpus.sample import sample_path

    items = build_eval_sets(sample_path(), EvalSetConfig(age_heldout=n, age_seen=0,
                                                         intent_seen=0, intent_heldout=0))
    titles = [it.title for it in items["age_heldout"]]
    if len(titles) < n:  # a small sample: repeat titles rather than measure fewer prompts
        titles = (titles * (n // max(len(titles), 1) + 1))[:n]
    return [SEED_AGE_PROMPT.format(title=t) for t in titles]


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def one_at_a_time(model, tokenizer, prompts, gen_config, device):
    """The seed notebook's loop; returns the new token ids of each answer, eos cut off."""
    import torch

    eos = set(gen_config.eos_token_id or [])
    out = []
    with torch.inference_mode():
        for prompt in prompts:
            enc = tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}], add_generation_prompt=True,
                return_tensors="pt", return_dict=True)
            enc = {k: v.to(device) for k, v in enc.items()}
            ids = model.generate(**enc, generation_config=gen_config)
            new = ids[0, enc["input_ids"].shape[1]:].tolist()
            cut = next((j for j, t in enumerate(new) if t in eos), len(new))
            out.append(new[:cut])
    return out


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def timed(fn, device):
    _sync(device)
    start = time.perf_counter()
    result = fn()
    _sync(device)
    return result, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="smollm2", help="model spec (emergence.models.resolve_model)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--load-in-4bit", action="store_true", help="NF4 weights (bitsandbytes, CUDA)")
    p.add_argument("--prompts", type=int, default=32, help="prompts per arm")
    p.add_argument("--batch-sizes", default="1,8,32", help="comma-separated batch sizes")
    p.add_argument("--max-new-tokens", type=int, default=48, help="new-token cap (the age probe's)")
    p.add_argument("--fixed-tokens", action="store_true",
                   help="force exactly --max-new-tokens new tokens per answer (random-init models)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--json", type=Path, default=None, help="output JSON (default "
                   "benchmarks/out/probe-<device>-<model>.json)")
    a = p.parse_args(argv)

    import torch
    from rich.console import Console
    from rich.table import Table

    from emergence.probe.config import ProbeConfig
    from emergence.probe.generate import generate_tokens, generation_config

    if a.threads:
        torch.set_num_threads(a.threads)
    console = Console(width=None if sys.stdout.isatty() else 150)
    load_before = _load_average()
    batch_sizes = [int(x) for x in a.batch_sizes.split(",") if x.strip()]
    prompts = prompts_from_sample(a.prompts)
    t0 = time.perf_counter()
    model, tokenizer = load(a.model, a.device, a.load_in_4bit)
    load_s = time.perf_counter() - t0
    cfg = ProbeConfig(max_new_tokens_age=a.max_new_tokens,
                      min_new_tokens=a.max_new_tokens if a.fixed_tokens else None)
    gen_config = generation_config(model, tokenizer, a.max_new_tokens, cfg)
    model_name = Path(str(a.model)).name or str(a.model)
    console.print(f"[bold]{model_name}[/] on {a.device}"
                  f"{' (4-bit)' if a.load_in_4bit else ''}: {len(prompts)} prompts, "
                  f"max_new_tokens={a.max_new_tokens}{' (fixed)' if a.fixed_tokens else ''}, "
                  f"loaded in {load_s:.1f}s")

    # warm-up: kernels, allocator, caches (not timed)
    generate_tokens(model, tokenizer, prompts[:2], cfg.model_copy(update={"batch_size": 2}),
                    max_new_tokens=4)
    one_at_a_time(model, tokenizer, prompts[:1], generation_config(
        model, tokenizer, 4, cfg.model_copy(update={"min_new_tokens": None})), a.device)

    rows = []
    ref, secs = timed(lambda: one_at_a_time(model, tokenizer, prompts, gen_config, a.device),
                      a.device)
    rows.append(dict(mode="one-at-a-time", batch=1, seconds=secs, answers=len(ref),
                     tokens=sum(map(len, ref)), agree=1.0))
    for bs in batch_sizes:
        run_cfg = cfg.model_copy(update={"batch_size": bs})
        ids, secs = timed(lambda: generate_tokens(model, tokenizer, prompts, run_cfg,
                                                  max_new_tokens=a.max_new_tokens), a.device)
        agree = sum(x == y for x, y in zip(ids, ref)) / len(ref)
        rows.append(dict(mode="batched", batch=bs, seconds=secs, answers=len(ids),
                         tokens=sum(map(len, ids)), agree=agree))
    base_rate = rows[0]["answers"] / rows[0]["seconds"]
    for r in rows:
        r["answers_per_s"] = r["answers"] / r["seconds"]
        r["tokens_per_s"] = r["tokens"] / r["seconds"]
        r["speedup"] = r["answers_per_s"] / base_rate

    device_name = (torch.cuda.get_device_name(0) if a.device.startswith("cuda")
                   else f"{_cpu_name()}, {os.cpu_count()} cores, "
                        f"{torch.get_num_threads()} torch threads")
    table = Table(title=f"Probe throughput — {model_name} on {device_name}")
    for col in ("device", "model", "mode", "batch", "answers/s", "tokens/s", "speed-up",
                "same answers"):
        table.add_column(col, justify="right" if col not in ("device", "model", "mode") else "left")
    for r in rows:
        table.add_row(a.device + (" 4-bit" if a.load_in_4bit else ""), model_name, r["mode"],
                      str(r["batch"]), f"{r['answers_per_s']:.2f}", f"{r['tokens_per_s']:.1f}",
                      f"{r['speedup']:.2f}×", f"{r['agree']:.0%}")
    console.print(table)
    if not a.device.startswith("cuda"):
        console.print(f"load average (1, 5, 15 min) before {load_before}, after "
                      f"{_load_average()}: other processes share these cores")

    out = a.json or REPO / "benchmarks" / "out" / f"probe-{a.device}-{model_name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "device": a.device, "device_name": device_name, "model": str(a.model),
        "load_in_4bit": a.load_in_4bit, "prompts": len(prompts),
        "max_new_tokens": a.max_new_tokens, "fixed_tokens": a.fixed_tokens,
        "torch": torch.__version__, "python": platform.python_version(),
        "cpu_count": os.cpu_count(), "load_seconds": load_s, "rows": rows,
        "load_average_before": load_before, "load_average_after": _load_average(),
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
    }
    out.write_text(json.dumps(report, indent=2) + "\n")
    console.print(f"written {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
