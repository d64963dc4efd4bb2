"""Random-init models of Unsloth's Phi-3-medium shape for the GPU trainer benchmark.

    $ python benchmarks/gpu_models.py --arch llama --layers 1 --hidden 64 --heads 4 \\
          --kv-heads 2 --mlp 128 --vocab 1024 --device cpu --out /tmp/tiny-bench-model
    /tmp/tiny-bench-model

    >>> from benchmarks.gpu_models import make_random_model   # doctest: +SKIP
    >>> make_random_model("llama", "/tmp/m", layers=1, hidden=64, heads=4, kv_heads=2,
    ...                   mlp=128, vocab=1024, device="cpu")   # doctest: +SKIP

The default shape is Unsloth's ``unsloth/Phi-3-medium-4k-instruct`` (Llama-fied: hidden
5120, 40 layers, 40 heads, 10 KV heads, MLP 17920, vocab 32064): ~14B parameters, ~28 GB
of bf16 safetensors. ``arch="phi3"`` builds the same shape as ``Phi3ForCausalLM`` with
fused ``qkv_proj`` / ``gate_up_proj`` (the layout of Microsoft's own checkpoint).

Weights are built directly on the target device in bf16 (no CPU copy of 28 GB), saved in
shards with the in-code tokenizer of :mod:`emergence.models` (its vocabulary is smaller
than the model's, which only leaves embedding rows unused), then the device is freed.
A folder built with the same shape is reused.
"""
from __future__ import annotations

import argparse
import gc
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere, no install needed
    sys.path.insert(0, str(REPO))

DEFAULT_ROOT = Path("/tmp/emergence-bench/models")
PHI3_MEDIUM = dict(layers=40, hidden=5120, heads=40, kv_heads=10, mlp=17920, vocab=32064)


def model_name(arch: str, *, layers: int, hidden: int, heads: int, kv_heads: int, mlp: int,
               vocab: int, seed: int) -> str:
    return f"{arch}-L{layers}-d{hidden}-h{heads}-kv{kv_heads}-m{mlp}-v{vocab}-s{seed}"


def param_count(arch: str, *, layers: int, hidden: int, heads: int, kv_heads: int, mlp: int,
                vocab: int) -> int:
    """Parameters of the model make_random_model builds (untied embeddings, RMSNorm)."""
    hd = hidden // heads
    attn = hidden * (heads * hd) * 2 + hidden * (kv_heads * hd) * 2  # q, o, k, v
    ffn = 3 * hidden * mlp  # gate, up, down (fused or not, the same count)
    per_layer = attn + ffn + 2 * hidden  # + two norms
    return layers * per_layer + 2 * vocab * hidden + hidden  # + embed, lm_head, final norm


def _config(arch: str, tokenizer, *, layers: int, hidden: int, heads: int, kv_heads: int,
            mlp: int, vocab: int):
    common = dict(
        vocab_size=vocab,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        intermediate_size=mlp,
        max_position_embeddings=4096,
        rms_norm_eps=1e-5,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    if arch == "llama":
        from transformers import LlamaConfig

        return LlamaConfig(rope_theta=10000.0, **common)
    if arch == "phi3":
        from transformers import Phi3Config

        return Phi3Config(original_max_position_embeddings=4096, **common)
    raise ValueError(f"arch must be 'llama' or 'phi3', not {arch!r}")


def make_random_model(
    arch: str,
    out_dir: str | Path | None = None,
    *,
    layers: int = PHI3_MEDIUM["layers"],
    hidden: int = PHI3_MEDIUM["hidden"],
    heads: int = PHI3_MEDIUM["heads"],
    kv_heads: int = PHI3_MEDIUM["kv_heads"],
    mlp: int = PHI3_MEDIUM["mlp"],
    vocab: int = PHI3_MEDIUM["vocab"],
    seed: int = 0,
    device: str = "cuda",
    dtype: str = "bfloat16",
) -> Path:
    """Build (or reuse) a random-init ``arch`` model of the given shape; return its folder."""
    import torch

    from emergence.models import _build_once, build_tiny_tokenizer

    shape = dict(layers=layers, hidden=hidden, heads=heads, kv_heads=kv_heads, mlp=mlp,
                 vocab=vocab)
    out = Path(out_dir) if out_dir else DEFAULT_ROOT / model_name(arch, seed=seed, **shape)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("make_random_model(device='cuda') needs a CUDA GPU; pass device='cpu'")
    stamp = json.dumps({"arch": arch, "seed": seed, "dtype": dtype, **shape}, sort_keys=True)

    def build(tmp: Path) -> None:
        from transformers import AutoModelForCausalLM

        tokenizer = build_tiny_tokenizer()
        config = _config(arch, tokenizer, **shape)
        torch.manual_seed(seed)
        # Allocating on the device skips a 28 GB CPU copy and makes init take seconds.
        with torch.device(device):
            model = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype))
        n = sum(p.numel() for p in model.parameters())
        expected = param_count(arch, **shape)
        if n != expected:
            raise RuntimeError(f"built {n:,} parameters, expected {expected:,}")
        print(f"[gpu_models] {arch}: {n / 1e9:.2f}B parameters on {device}; saving to {out}",
              flush=True)
        model.save_pretrained(tmp, safe_serialization=True, max_shard_size="4GB")
        tokenizer.save_pretrained(tmp)
        del model
        gc.collect()
        if device.startswith("cuda"):
            torch.cuda.empty_cache()

    return _build_once(out, build, stamp=stamp)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", choices=["llama", "phi3"], default="llama")
    p.add_argument("--out", type=Path, default=None, help=f"folder (default under {DEFAULT_ROOT})")
    for name, default in PHI3_MEDIUM.items():
        p.add_argument(f"--{name.replace('_', '-')}", type=int, default=default)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda", help="cuda (default) or cpu for a smoke test")
    p.add_argument("--dtype", default="bfloat16")
    a = p.parse_args(argv)
    path = make_random_model(
        a.arch, a.out, layers=a.layers, hidden=a.hidden, heads=a.heads, kv_heads=a.kv_heads,
        mlp=a.mlp, vocab=a.vocab, seed=a.seed, device=a.device, dtype=a.dtype,
    )
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
