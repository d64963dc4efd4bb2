"""Probe engines on one GPU: bf16 against 4-bit NF4 generation and band scoring, against the bandwidth bound.

    $ python benchmarks/bench_engine_gpu.py --model "$(python benchmarks/gpu_models.py --arch phi3)" \\
          --engines hf-bf16,hf-4bit --batch-sizes 32,64,128 --prompts 256 --json $OUT/engines.json
    $ python benchmarks/bench_engine_gpu.py --model tiny-llama --device cpu --engines hf-bf16 \\
          --batch-sizes 4 --prompts 8            # a smoke run

Greedy decoding is memory-bound: each step reads every weight once, so at batch B the
new tokens per second are at most B × bandwidth / weight bytes. The benchmark measures
the card's copy bandwidth (a device-to-device copy, bytes read plus written), loads the
model through :func:`emergence.probe.engine.load_for_probing` with each engine, and times
:func:`emergence.probe.generate.generate_tokens` (every answer forced to the same length:
random-init models rarely stop) and :func:`emergence.probe.generate.band_loglikelihoods`
on the same prompts, with the peak GPU memory of each. It prints a table and writes JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def copy_bandwidth(device: str, gib: float = 4.0) -> float | None:
    """Bytes per second of a device-to-device copy, counting bytes read and written (median of 10)."""
    import torch

    if not device.startswith("cuda"):
        return None
    x = torch.empty(int(gib * 2**30), dtype=torch.uint8, device=device)
    y = torch.empty_like(x)
    times = []
    for _ in range(12):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        y.copy_(x)
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    del x, y
    torch.cuda.empty_cache()
    return 2 * gib * 2**30 / sorted(times[2:])[len(times[2:]) // 2]


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="model spec or folder")
    p.add_argument("--device", default="cuda")
    p.add_argument("--engines", default="hf-bf16,hf-4bit")
    p.add_argument("--batch-sizes", default="32,64,128")
    p.add_argument("--prompts", type=int, default=256)
    p.add_argument("--max-new-tokens", type=int, default=48)
    p.add_argument("--band-prompts", type=int, default=256, help="prompts for the band-scoring rate")
    p.add_argument("--batch-sizes-4bit", default=None, help="batch sizes of the 4-bit engine (default: --batch-sizes)")
    p.add_argument("--prompts-4bit", type=int, default=None, help="prompts of the 4-bit engine (it is slow)")
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args(argv)

    import torch

    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_probe import prompts_from_sample
    from emergence.probe.config import ProbeConfig
    from emergence.probe.engine import load_for_probing, weights_bytes
    from emergence.probe.generate import band_choices, band_loglikelihoods, generate_tokens
    from emergence.models import resolve_model

    resolved = resolve_model(a.model)
    prompts = prompts_from_sample(a.prompts)
    bandwidth = copy_bandwidth(a.device)
    weights = weights_bytes(resolved)
    rows: list[dict] = []
    for engine in [e for e in a.engines.split(",") if e]:
        if a.device.startswith("cuda"):
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        model, tokenizer, choice = load_for_probing(resolved, engine=engine, device=a.device)
        load_s = time.perf_counter() - t0
        cfg = ProbeConfig(max_new_tokens_age=a.max_new_tokens, min_new_tokens=a.max_new_tokens)
        generate_tokens(model, tokenizer, prompts[:4], cfg.model_copy(update={"batch_size": 4}), max_new_tokens=4)
        sizes = (a.batch_sizes_4bit if engine == "hf-4bit" and a.batch_sizes_4bit else a.batch_sizes)
        mine = prompts[: a.prompts_4bit] if engine == "hf-4bit" and a.prompts_4bit else prompts
        for bs in [int(x) for x in sizes.split(",") if x]:
            if a.device.startswith("cuda"):
                torch.cuda.reset_peak_memory_stats()
            _sync(a.device)
            t = time.perf_counter()
            ids = generate_tokens(model, tokenizer, mine, cfg.model_copy(update={"batch_size": bs}),
                                  max_new_tokens=a.max_new_tokens)
            _sync(a.device)
            secs = time.perf_counter() - t
            tokens = sum(map(len, ids))
            bound = bs * bandwidth / weights if bandwidth and weights and engine == "hf-bf16" else None
            rows.append({"engine": engine, "what": "generate", "batch": bs, "seconds": round(secs, 3),
                         "new_tokens_per_s": round(tokens / secs, 1),
                         "bandwidth_bound_tokens_per_s": round(bound, 1) if bound else None,
                         "share_of_bound": round(tokens / secs / bound, 3) if bound else None,
                         "peak_gpu_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)
                         if a.device.startswith("cuda") else None, "load_seconds": round(load_s, 1),
                         "engine_reason": choice.reason})
            print(json.dumps(rows[-1]), flush=True)
        band_prompts = mine[: a.band_prompts]
        _sync(a.device)
        t = time.perf_counter()
        band_loglikelihoods(model, tokenizer, band_prompts, list(band_choices().values()), batch_size=32)
        _sync(a.device)
        secs = time.perf_counter() - t
        rows.append({"engine": engine, "what": "bands", "batch": 32, "seconds": round(secs, 3),
                     "items_per_s": round(len(band_prompts) / secs, 1),
                     "peak_gpu_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)
                     if a.device.startswith("cuda") else None})
        print(json.dumps(rows[-1]), flush=True)
        del model
        if a.device.startswith("cuda"):
            torch.cuda.empty_cache()
    report = {"model": str(a.model), "device": a.device,
              "device_name": torch.cuda.get_device_name(0) if a.device.startswith("cuda") else "cpu",
              "weights_gib": round(weights / 2**30, 2) if weights else None,
              "copy_bandwidth_gb_s": round(bandwidth / 1e9, 1) if bandwidth else None,
              "prompts": len(prompts), "max_new_tokens": a.max_new_tokens, "rows": rows,
              "torch": torch.__version__}
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'engine':<8} {'what':<9} {'batch':>5} {'tok/s or items/s':>17} {'share of bound':>15} {'peak GiB':>9}")
    for r in rows:
        rate = r.get("new_tokens_per_s") or r.get("items_per_s")
        print(f"{r['engine']:<8} {r['what']:<9} {r['batch']:>5} {rate:>17} {str(r.get('share_of_bound')):>15} "
              f"{str(r.get('peak_gpu_gib')):>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
