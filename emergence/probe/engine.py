"""How the probes load a model: bf16 weights where the card holds them, 4-bit NF4 where it does not.

    >>> from emergence.probe.engine import choose_engine
    >>> c = choose_engine("auto", device="cuda", weights_bytes=28e9, kv_bytes_per_token=4e5,
    ...                   batch_size=32, tokens=160, free_bytes=70e9)
    >>> c.engine, c.reason.split(":")[0]
    ('hf-bf16', 'bf16 fits')
    >>> choose_engine("auto", device="cuda", weights_bytes=28e9, kv_bytes_per_token=4e5,
    ...               batch_size=32, tokens=160, free_bytes=15e9).engine
    'hf-4bit'

Greedy decoding is memory-bound: every step reads every weight once. bitsandbytes NF4
saves memory, not time (its kernels dequantise on every forward), so evaluation uses a
bf16 copy of the base wherever the card holds it with the KV cache of a batch; the 4-bit
base exists so that *training* fits a 16 GB card. ``auto`` decides from the card's free
memory, the weights' size (from the checkpoint's files, before loading) and the KV cache a
batch needs; the choice and its numbers are recorded in the run. On a CPU the weights are
loaded in the probe's dtype (fp32 by default) and the engine is ``hf-bf16`` in name only.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = ["EngineChoice", "choose_engine", "find_batch_size", "kv_bytes_per_token", "load_for_probing",
           "weights_bytes"]

# what the 4-bit engine needs besides the weights it quantises (quantisation constants,
# embeddings and norms kept in bf16): a conservative share of the bf16 size
_NF4_SHARE = 0.3
_HEADROOM = 1.15  # activations, allocator fragmentation: the plan keeps 15% spare


class EngineChoice(BaseModel):
    """The engine a probe run used, and why."""

    engine: Literal["hf-4bit", "hf-bf16"] = Field(description="hf-bf16: bf16 weights (the probe's dtype on CPU); "
                                                  "hf-4bit: bitsandbytes NF4 weights, bf16 compute.")
    device: str = Field(description="The device the model ran on.")
    reason: str = Field(description="Why this engine, with the numbers.")
    weights_gib: float | None = Field(None, description="bf16 size of the weights (GiB), from the checkpoint files.")
    kv_gib: float | None = Field(None, description="KV cache of one batch at full length (GiB).")
    free_gib: float | None = Field(None, description="Free device memory before loading (GiB).")
    batch_size: int = Field(description="Prompts per generate call.")
    adapter_merged: bool = Field(False, description="The LoRA adapter was merged into the weights for probing "
                                 "(a tuned-only probe on unquantised weights: one matmul per layer instead "
                                 "of three; NF4 weights keep it unmerged, since merging would requantise).")


def weights_bytes(model_path: str | Path) -> int | None:
    """The model's weights in bf16 bytes, read from its safetensors headers (no tensor is loaded)."""
    import struct

    folder = Path(model_path)
    if not folder.is_dir():
        return None
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        return None
    count = 0
    for path in files:
        with open(path, "rb") as fh:
            header = json.loads(fh.read(struct.unpack("<Q", fh.read(8))[0]))
        for name, meta in header.items():
            if name != "__metadata__":
                n = 1
                for dim in meta["shape"]:
                    n *= dim
                count += n
    return 2 * count


def kv_bytes_per_token(config: Any, dtype_bytes: int = 2) -> int:
    """KV-cache bytes one token of one sequence takes: keys and values of every layer."""
    heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return 2 * config.num_hidden_layers * heads * head_dim * dtype_bytes


def choose_engine(requested: str, *, device: str, weights_bytes: float | None, kv_bytes_per_token: float,
                  batch_size: int, tokens: int, free_bytes: float | None) -> EngineChoice:
    """The engine for ``requested`` ("auto", "hf-4bit", "hf-bf16") on ``device``: auto takes
    bf16 when free memory holds the bf16 weights plus a batch's KV cache (with headroom)."""
    gib = 2.0 ** 30
    kv = kv_bytes_per_token * batch_size * tokens
    numbers = dict(weights_gib=None if weights_bytes is None else round(weights_bytes / gib, 2),
                   kv_gib=round(kv / gib, 3), free_gib=None if free_bytes is None else round(free_bytes / gib, 2),
                   batch_size=batch_size, device=device)
    if requested in ("hf-4bit", "hf-bf16"):
        return EngineChoice(engine=requested, reason=f"asked for {requested}", **numbers)
    if requested != "auto":
        raise ValueError(f"unknown probe engine {requested!r}: use auto, hf-bf16 or hf-4bit")
    if not device.startswith("cuda"):
        return EngineChoice(engine="hf-bf16", reason="not a CUDA device: full weights in the probe's dtype", **numbers)
    if weights_bytes is None or free_bytes is None:
        return EngineChoice(engine="hf-bf16", reason="bf16 fits: sizes unknown, so the default", **numbers)
    need = (weights_bytes + kv) * _HEADROOM
    if need <= free_bytes:
        return EngineChoice(engine="hf-bf16", reason=f"bf16 fits: {need / gib:.1f} GiB needed of "
                            f"{free_bytes / gib:.1f} free", **numbers)
    return EngineChoice(engine="hf-4bit", reason=f"bf16 does not fit ({need / gib:.1f} GiB needed, "
                        f"{free_bytes / gib:.1f} free): NF4 weights, about {_NF4_SHARE:.0%} of the bf16 size",
                        **numbers)


def find_batch_size(runs: Callable[[int], None], largest: int, *, smallest: int = 1) -> int:
    """The largest batch size from ``largest`` down (halving) for which ``runs(batch)``
    completes without running out of device memory: found by trying, not guessed."""
    import torch

    batch = largest
    while batch >= smallest:
        try:
            runs(batch)
            return batch
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
            batch //= 2
    raise RuntimeError(f"even a batch of {smallest} runs out of device memory")


def load_for_probing(model_spec: str | Path, *, engine: str = "auto", device: str | None = None,
                     dtype: str | None = None, adapter: str | Path | None = None, batch_size: int = 8,
                     tokens: int = 256) -> tuple[Any, Any, EngineChoice]:
    """Model, tokenizer and the engine chosen (see the module docstring)."""
    import torch
    from transformers import AutoConfig

    from emergence.models import load_model_and_tokenizer, resolve_model

    resolved = resolve_model(str(model_spec))
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    free = torch.cuda.mem_get_info(torch.device(device))[0] if device.startswith("cuda") else None
    config = AutoConfig.from_pretrained(resolved)
    choice = choose_engine(engine, device=device, weights_bytes=weights_bytes(resolved),
                           kv_bytes_per_token=kv_bytes_per_token(config), batch_size=batch_size, tokens=tokens,
                           free_bytes=free)
    quantize = choice.engine == "hf-4bit" and device.startswith("cuda")
    model, tokenizer = load_model_and_tokenizer(resolved, device=device, dtype=dtype, adapter=adapter,
                                                load_in_4bit=quantize)
    return model, tokenizer, choice
