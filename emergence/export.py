"""Merge a LoRA adapter into its base model and save the result (safetensors), optionally as GGUF.

    >>> from emergence.export import gguf_tensor_permutation
    >>> import numpy as np
    >>> w = np.arange(8, dtype=np.float32).reshape(4, 2)     # 1 head, head_dim 4, 2 inputs
    >>> gguf_tensor_permutation(w, n_head=1).tolist()         # rotary halves interleaved
    [[0.0, 1.0], [4.0, 5.0], [2.0, 3.0], [6.0, 7.0]]

What axolotl's ``merge-lora`` and Unsloth's ``save_pretrained_merged`` do, on the plain
transformers + PEFT stack: load the base in fp32 (or ``dtype``), apply the adapter,
``merge_and_unload()``, and save an ordinary model folder (``model.safetensors``,
``config.json``, the adapter's tokenizer) that needs neither PEFT nor emergence to load.
The base is the one the adapter names (``emergence_base.json``, else PEFT's
``base_model_name_or_path``) unless given.

GGUF (``gguf=True``) is written with the ``gguf`` package for Llama-architecture models
with a byte-level BPE tokenizer (SmolLM2, the tiny Llama): f32 tensors under llama.cpp's
names, q/k rows permuted as llama.cpp's converter does, the vocabulary, merges, special
tokens and chat template. transformers reads it back to the same logits (the tests check
it). Other architectures are refused with the command that converts them (llama.cpp's
``convert_hf_to_gguf.py``).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

__all__ = ["BASE_FILE", "ExportError", "ExportResult", "base_spec_of", "export_merged", "gguf_tensor_permutation",
           "write_gguf"]

# written beside adapter_config.json by training: the base as a portable spec plus its resolved path
BASE_FILE = "emergence_base.json"


class ExportError(ValueError):
    """The adapter, base or output cannot be exported as asked; the message names the fix."""


class ExportResult(BaseModel):
    """What an export wrote."""

    out_dir: Path = Field(description="The merged model folder (safetensors, config, tokenizer).")
    base: str = Field(description="The base model spec the adapter was merged into.")
    base_path: str = Field(description="The resolved base (local folder or hub id).")
    adapter: Path = Field(description="The merged adapter folder.")
    gguf: Path | None = Field(None, description="The GGUF file, when one was written.")


def base_spec_of(adapter: str | Path) -> str:
    """The base an adapter was trained on: its portable spec (emergence_base.json, else PEFT's
    base_model_name_or_path)."""
    adapter = Path(adapter)
    base_file = adapter / BASE_FILE
    if base_file.is_file():
        spec = json.loads(base_file.read_text(encoding="utf-8")).get("spec")
        if spec:
            return str(spec)
    config = adapter / "adapter_config.json"
    if not config.is_file():
        raise ExportError(f"{adapter} is not a PEFT adapter folder (no adapter_config.json): point --adapter "
                          "at a training run's adapter/ folder")
    spec = json.loads(config.read_text(encoding="utf-8")).get("base_model_name_or_path")
    if not spec:
        raise ExportError(f"{config} names no base model: pass --model")
    return str(spec)


def export_merged(adapter: str | Path, out_dir: str | Path, *, model: str | None = None, dtype: str = "float32",
                  gguf: bool = False) -> ExportResult:
    """Merge ``adapter`` into its base (or ``model``) and save the merged model into ``out_dir``.

    ``out_dir`` must not exist or be empty. ``gguf=True`` also writes ``model-f32.gguf``
    there (Llama architecture only; :class:`ExportError` otherwise, before anything loads).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from emergence.models import resolve_model

    adapter = Path(adapter).expanduser()
    out = Path(out_dir).expanduser()
    spec = model or base_spec_of(adapter)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"--out {out} exists and is not an empty folder: nothing in it is touched; choose another")
    try:
        resolved = resolve_model(spec)
    except FileNotFoundError as exc:
        raise ExportError(str(exc)) from exc
    if gguf:
        _check_gguf_supported(Path(resolved) / "config.json" if Path(resolved).is_dir() else None, spec)
    from peft import PeftModel

    base = AutoModelForCausalLM.from_pretrained(resolved, dtype=getattr(torch, dtype))
    merged = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
    has_tokenizer = any((adapter / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json"))
    tokenizer = AutoTokenizer.from_pretrained(str(adapter) if has_tokenizer else resolved)
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    result = ExportResult(out_dir=out, base=spec, base_path=str(resolved), adapter=adapter)
    if gguf:
        result.gguf = write_gguf(out, out / "model-f32.gguf", pre=_base_gguf_pre(spec))
    (out / "emergence_export.json").write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return result


# ----------------------------------------------------------------------------------- GGUF


def _check_gguf_supported(config_path: Path | None, spec: str) -> dict[str, Any]:
    if config_path is None or not config_path.is_file():
        raise ExportError(f"GGUF export needs a local model folder; {spec!r} is not one")
    cfg = json.loads(config_path.read_text(encoding="utf-8"))
    if cfg.get("model_type") != "llama":
        raise ExportError(
            f"GGUF export here covers Llama-architecture models; {spec!r} is {cfg.get('model_type')!r}: export "
            "without --gguf, then convert the merged folder with llama.cpp's convert_hf_to_gguf.py")
    rope = cfg.get("rope_scaling") or {}
    params = cfg.get("rope_parameters") or {}
    if (rope.get("rope_type") or rope.get("type") or params.get("rope_type") or "default") != "default":
        raise ExportError(f"GGUF export here writes plain RoPE; {spec!r} scales it ({rope or params}): use "
                          "llama.cpp's convert_hf_to_gguf.py on the merged folder")
    return cfg


def _base_gguf_pre(spec: str) -> str:
    """The pre-tokenizer name llama.cpp knows the base by: the base's own GGUF's (SmolLM2's), else 'default'."""
    from emergence.models import SMOLLM2_SPEC, smollm2_gguf_path

    if spec.strip().lower() != SMOLLM2_SPEC:
        return "default"
    import gguf

    field = gguf.GGUFReader(str(smollm2_gguf_path())).fields.get("tokenizer.ggml.pre")
    return str(field.contents()) if field is not None else "default"


def gguf_tensor_permutation(weights: Any, n_head: int, n_head_kv: int | None = None) -> Any:
    """llama.cpp's row order for q/k projections (its rotary embedding pairs rows differently)."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def _tokens(model_dir: Path, vocab_size: int) -> tuple[list[str], list[int]]:
    import gguf

    path = model_dir / "tokenizer.json"
    if not path.is_file():
        raise ExportError(f"{model_dir} has no tokenizer.json: GGUF export needs a fast (tokenizers) tokenizer")
    data = json.loads(path.read_text(encoding="utf-8"))
    model = data.get("model") or {}
    if model.get("type") != "BPE" or (data.get("decoder") or {}).get("type") != "ByteLevel":
        raise ExportError("GGUF export here covers byte-level BPE tokenizers (GPT-2 style): convert the merged "
                          "folder with llama.cpp's convert_hf_to_gguf.py")
    by_id: dict[int, tuple[str, int]] = {i: (t, gguf.TokenType.NORMAL) for t, i in model["vocab"].items()}
    for added in data.get("added_tokens") or []:
        kind = gguf.TokenType.CONTROL if added.get("special") else gguf.TokenType.USER_DEFINED
        by_id[int(added["id"])] = (added["content"], kind)
    size = max(vocab_size, max(by_id) + 1)
    tokens, types = [], []
    for i in range(size):
        token, kind = by_id.get(i, (f"[PAD{i}]", gguf.TokenType.UNUSED))
        tokens.append(token)
        types.append(int(kind))
    return tokens, types


def write_gguf(model_dir: str | Path, path: str | Path, *, pre: str = "default") -> Path:
    """Write a Llama-architecture model folder as an f32 GGUF file; returns its path."""
    import gguf
    import numpy as np
    from safetensors import safe_open

    model_dir, path = Path(model_dir), Path(path)
    cfg = _check_gguf_supported(model_dir / "config.json", str(model_dir))
    n_head = int(cfg["num_attention_heads"])
    n_kv = int(cfg.get("num_key_value_heads") or n_head)
    hidden = int(cfg["hidden_size"])
    layers = int(cfg["num_hidden_layers"])
    head_dim = int(cfg.get("head_dim") or hidden // n_head)
    theta = cfg.get("rope_theta") or (cfg.get("rope_parameters") or {}).get("rope_theta") or 10000.0
    tied = bool(cfg.get("tie_word_embeddings"))
    arch = gguf.MODEL_ARCH.LLAMA
    writer = gguf.GGUFWriter(str(path), gguf.MODEL_ARCH_NAMES[arch])
    writer.add_type(gguf.GGUFType.MODEL)
    writer.add_name(model_dir.name)
    writer.add_context_length(int(cfg["max_position_embeddings"]))
    writer.add_embedding_length(hidden)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(int(cfg["intermediate_size"]))
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_kv)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(float(theta))
    writer.add_layer_norm_rms_eps(float(cfg.get("rms_norm_eps", 1e-6)))
    writer.add_vocab_size(int(cfg["vocab_size"]))
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)

    tokens, types = _tokens(model_dir, int(cfg["vocab_size"]))
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    special = gguf.SpecialVocab(model_dir, load_merges=True, n_vocab=len(tokens))
    if not special.merges:
        raise ExportError(f"{model_dir}/tokenizer.json has no BPE merges to write")
    special.add_to_gguf(writer, quiet=True)

    names = gguf.get_tensor_name_map(arch, layers)
    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        raise ExportError(f"{model_dir} holds no .safetensors weights")
    for file in files:
        with safe_open(str(file), framework="pt") as f:
            for key in f.keys():
                if tied and key == "lm_head.weight":
                    continue  # llama.cpp (and transformers reading GGUF) tie to token_embd
                name = names.get_name(key, try_suffixes=(".weight", ".bias"))
                if name is None:
                    raise ExportError(f"no GGUF name for tensor {key!r} of a {cfg.get('model_type')} model")
                data = f.get_tensor(key).float().numpy()
                if key.endswith(("q_proj.weight", "q_proj.bias")):
                    data = gguf_tensor_permutation(data, n_head, n_head)
                elif key.endswith(("k_proj.weight", "k_proj.bias")):
                    data = gguf_tensor_permutation(data, n_head, n_kv)
                writer.add_tensor(name, np.ascontiguousarray(data, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
