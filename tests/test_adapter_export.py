"""What users of PEFT, HF and trackers expect from a run's outputs, on the tiny Llama on CPU:
an adapter that names its base portably and carries a real model card, TensorBoard logs when
asked, and `emergence export` merging the adapter into the base (safetensors, and a GGUF that
transformers reads back to the same logits)."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from emergence.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread_per_module")

CONTENTS = ["A story about a family and the history of a small town.",
            "The history of the war and the great battles of the navy."]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A private emergence cache for the module (the tiny model is built into it)."""
    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("cache")
    mp.setenv("EMERGENCE_CACHE", str(root))
    yield root
    mp.undo()


@pytest.fixture(scope="module")
def trained(cache, tmp_path_factory):
    """Two steps of LoRA on the tiny Llama (spec "tiny-llama"), logged to TensorBoard."""
    from emergence.train import TrainConfig, train

    tmp = tmp_path_factory.mktemp("trained")
    corpus = tmp / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"uid": str(i), "title": f"Book {i}", "content": CONTENTS[i % 2]}) + "\n"
                              for i in range(80)))
    config = TrainConfig.profile("cpu", model="tiny-llama", corpus=corpus, output_dir=tmp / "run", max_steps=3,
                                 eval_records=2, max_seq_length=64, learning_rate=1e-3, warmup_steps=0,
                                 save_steps=10, report_to=["tensorboard"])
    return config, train(config)


def test_the_adapter_names_its_base_portably_and_loads_without_warnings(trained, cache):
    from peft import PeftConfig, PeftModel
    from transformers import AutoModelForCausalLM

    from emergence.models import resolve_model

    config, result = trained
    adapter = result.adapter_dir
    adapter_cfg = json.loads((adapter / "adapter_config.json").read_text())
    assert adapter_cfg["base_model_name_or_path"] == "tiny-llama"  # not this machine's cache path
    base = json.loads((adapter / "emergence_base.json").read_text())
    assert base["spec"] == "tiny-llama" and base["resolved_path"] == resolve_model("tiny-llama")
    assert base["resolve_with"] == "emergence models path tiny-llama"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert PeftConfig.from_pretrained(str(adapter)).base_model_name_or_path == "tiny-llama"
        model = AutoModelForCausalLM.from_pretrained(base["resolved_path"])
        PeftModel.from_pretrained(model, str(adapter))
    # PEFT warns about adapter_config keys it does not know: there must be none
    assert not [w for w in caught if "Unexpected keyword arguments" in str(w.message)]


def test_the_adapter_folder_carries_a_real_model_card(trained):
    from emergence.train.outputs import run_id

    config, result = trained
    card = (result.adapter_dir / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: peft") and "More Information Needed" not in card
    for fact in (f"{result.steps} steps", f"{result.train_loss_avg:.4f}",
                 f"{result.heldout_loss_before:.4f} → {result.heldout_loss_after:.4f}", run_id(config),
                 str(config.corpus), "PeftModel.from_pretrained", f"peft={result.adapter_dir}",
                 "$(emergence models path tiny-llama)", "emergence export"):
        assert fact in card, fact


def test_tensorboard_logs_the_cpu_run_under_the_run_directory(trained):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config, result = trained
    events = sorted((result.run_dir / "logs").rglob("events.out.tfevents.*"))
    assert events, sorted(p.name for p in result.run_dir.rglob("*"))
    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    losses = acc.Scalars("train/loss")
    assert [e.step for e in losses] == [1, 2, 3]
    rows = [json.loads(line) for line in result.metrics_path.read_text().splitlines()]
    logged = [r["loss"] for r in rows if "loss" in r]
    assert [e.value for e in losses] == pytest.approx(logged, rel=1e-5)  # the same numbers as metrics.jsonl


def test_trackers_are_off_by_default_and_checked_before_training(tmp_path):
    from emergence.experiment.config import load_profile
    from emergence.train import TrainConfig
    from emergence.train.preflight import TrainSetupError, _check_trackers

    assert TrainConfig().report_to == [] and load_profile("cpu-demo").train.report_to == []
    assert TrainConfig(report_to="none").report_to == [] and TrainConfig(report_to="tensorboard").report_to == [
        "tensorboard"]
    with pytest.raises(ValueError, match="name the trackers"):
        TrainConfig(report_to=["all"])
    with pytest.raises(TrainSetupError, match="not a tracker transformers knows"):
        _check_trackers(TrainConfig(report_to=["tensorbored"]))
    # a tracker records the run: adding one to a finished experiment re-runs nothing
    a = load_profile("cpu-demo")
    assert a.fingerprint() == load_profile("cpu-demo", {"train.report_to": "[tensorboard]"}).fingerprint()


# ------------------------------------------------------------------ emergence export


@pytest.fixture(scope="module")
def random_adapter(tiny_llama, tmp_path_factory) -> Path:
    """A LoRA with random A and B (so merging changes the weights), on the tiny Llama folder."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=torch.float32)
    torch.manual_seed(3)
    cfg = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "down_proj"],
                     init_lora_weights=False)
    out = tmp_path_factory.mktemp("random-adapter")
    get_peft_model(model, cfg).save_pretrained(out)
    return out


def _logits(model, ids):
    import torch

    with torch.no_grad():
        return model(input_ids=ids).logits


def test_export_merges_into_safetensors_and_a_gguf_transformers_reads_back(tiny_llama, random_adapter, tmp_path,
                                                                          capsys):
    import gguf
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "merged"
    assert main(["export", "--adapter", str(random_adapter), "--out", str(out), "--gguf", "--json"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert Path(written["gguf"]) == out / "model-f32.gguf" and written["base_path"] == str(tiny_llama)
    assert (out / "model.safetensors").is_file() and not (out / "adapter_config.json").exists()

    tok = AutoTokenizer.from_pretrained(out)
    text = tok.apply_chat_template([{"role": "user", "content": "What is the minimum age for reading Dune?"}],
                                   tokenize=False, add_generation_prompt=True)
    ids = tok(text, return_tensors="pt", add_special_tokens=False).input_ids
    base = AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=torch.float32)
    plain = _logits(base, ids)
    tuned = _logits(PeftModel.from_pretrained(base, str(random_adapter)), ids)
    merged = _logits(AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32), ids)
    assert (tuned - plain).abs().max() > 1e-3  # the adapter matters ...
    assert torch.allclose(merged, tuned, atol=1e-5)  # ... and the merged weights are base + adapter

    from_gguf = AutoModelForCausalLM.from_pretrained(out, gguf_file="model-f32.gguf", dtype=torch.float32)
    assert torch.allclose(_logits(from_gguf, ids), merged, atol=1e-5)
    gguf_tok = AutoTokenizer.from_pretrained(out, gguf_file="model-f32.gguf")
    assert gguf_tok(text, add_special_tokens=False).input_ids == ids[0].tolist()
    fields = gguf.GGUFReader(str(out / "model-f32.gguf")).fields
    assert fields["tokenizer.ggml.eos_token_id"].contents() == tok.eos_token_id
    assert fields["tokenizer.ggml.bos_token_id"].contents() == tok.bos_token_id
    assert fields["tokenizer.chat_template"].contents() == tok.chat_template


def test_export_refuses_what_it_cannot_do_without_touching_anything(tiny_phi3, random_adapter, tmp_path, capsys):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "mine.txt").write_text("keep")
    assert main(["export", "--adapter", str(random_adapter), "--out", str(busy)]) == 2
    assert "not an empty folder" in capsys.readouterr().err and (busy / "mine.txt").read_text() == "keep"
    assert main(["export", "--adapter", str(tmp_path), "--out", str(tmp_path / "x")]) == 2
    assert "not a PEFT adapter folder" in capsys.readouterr().err
    assert main(["export", "--adapter", str(random_adapter), "--model", str(tiny_phi3), "--out",
                 str(tmp_path / "phi3"), "--gguf"]) == 2
    assert "convert_hf_to_gguf.py" in capsys.readouterr().err and not (tmp_path / "phi3").exists()


def test_the_gguf_row_order_is_the_one_transformers_undoes():
    import numpy as np
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

    from emergence.export import gguf_tensor_permutation

    rng = np.random.default_rng(0)
    undo = LlamaTensorProcessor()._reverse_permute_weights
    for n_head, n_kv in ((4, 4), (4, 2), (9, 3)):
        k = rng.standard_normal((n_kv * 8, 12)).astype(np.float32)
        q = rng.standard_normal((n_head * 8, 12)).astype(np.float32)
        assert np.array_equal(undo(gguf_tensor_permutation(q, n_head, n_head), n_head, n_head), q)
        assert np.array_equal(undo(gguf_tensor_permutation(k, n_head, n_kv), n_head, n_kv), k)
