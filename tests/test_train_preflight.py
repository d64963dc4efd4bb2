"""Each config that cannot run here fails before any weights load, with a message naming the fix."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from emergence.configio import dump_config
from emergence.models import TINY_CHAT_TEMPLATE
from emergence.train.config import TrainConfig
from emergence.train.preflight import TrainSetupError, preflight


def write_corpus(path: Path, n: int = 60, *, content: str = "a story about a family") -> Path:
    with path.open("w") as f:
        for i in range(n):
            f.write(json.dumps({"uid": str(i), "title": f"Book {i}", "content": content}) + "\n")
    return path


@pytest.fixture
def corpus(tmp_path):
    return write_corpus(tmp_path / "corpus.jsonl")


@pytest.fixture
def no_template_model(tmp_path, tiny_llama):
    folder = tmp_path / "no-template"
    shutil.copytree(tiny_llama, folder)
    (folder / "chat_template.jinja").unlink(missing_ok=True)
    cfg_path = folder / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg.pop("chat_template", None)
    cfg_path.write_text(json.dumps(cfg))
    return folder


def cpu(tmp_path, corpus, **kw):
    kw.setdefault("model", "tiny-llama")
    return TrainConfig.cpu(corpus=corpus, output_dir=tmp_path / "run", eval_records=2, **kw)


BAD = {
    "unsloth-on-cpu": (dict(backend="unsloth"), r"backend='unsloth' needs a CUDA GPU.*--backend hf"),
    "4bit-on-cpu": (dict(load_in_4bit=True), r"load_in_4bit=true needs a CUDA GPU.*--set load_in_4bit=false"),
    "8bit-optim-on-cpu": (dict(optim="adamw_8bit"), r"optim='adamw_8bit' needs a CUDA GPU.*--set optim=adamw_torch"),
    "cuda-device-absent": (dict(device="cuda"), r"no CUDA GPU is visible.*device=cpu"),
    "missing-model-path": (dict(model="./models/does-not-exist"), r"model path .* does not exist"),
    "hub-id-not-cached": (dict(model="someone/not-a-cached-model"), r"not in the Hugging Face cache.*download"),
    "unknown-target": (dict(target_modules=["q_proj", "w_proj"]), r"unknown LoRA target module\(s\) 'w_proj'.*q_proj, k_proj"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_config_fails_before_loading_weights(case, tmp_path, corpus, monkeypatch):
    import torch
    from transformers import AutoModelForCausalLM

    from emergence.train import train

    if case == "cuda-device-absent" and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def no_weights(*a, **k):
        raise AssertionError("weights were loaded before the config was checked")

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", no_weights)
    overrides, message = BAD[case]
    with pytest.raises(TrainSetupError, match=message):
        train(cpu(tmp_path, corpus, **overrides))
    assert not (tmp_path / "run").exists()  # nothing written either


def test_tokenizer_without_chat_template(tmp_path, corpus, no_template_model):
    with pytest.raises(TrainSetupError, match="has no chat template.*set chat_template"):
        preflight(cpu(tmp_path, corpus, model=str(no_template_model)))
    plan = preflight(cpu(tmp_path, corpus, model=str(no_template_model), chat_template=TINY_CHAT_TEMPLATE))
    assert plan.chat_template == TINY_CHAT_TEMPLATE
    jinja = tmp_path / "t.jinja"
    jinja.write_text(TINY_CHAT_TEMPLATE)
    assert preflight(cpu(tmp_path, corpus, model=str(no_template_model), chat_template=str(jinja))).chat_template == TINY_CHAT_TEMPLATE


def test_empty_train_split_and_missing_corpus(tmp_path):
    empty = write_corpus(tmp_path / "empty.jsonl", content="")
    with pytest.raises(TrainSetupError, match="train split of .* is empty.*drop_empty"):
        preflight(cpu(tmp_path, empty))
    assert preflight(cpu(tmp_path, empty, drop_empty=False)).corpus == empty
    with pytest.raises(TrainSetupError, match="corpus .* does not exist"):
        preflight(cpu(tmp_path, tmp_path / "nope.jsonl"))


def test_plan_on_cpu_maps_targets_and_defaults_to_the_sample(tmp_path, tiny_phi3):
    from emergence.corpus.sample import sample_path

    plan = preflight(TrainConfig.cpu(model=str(tiny_phi3), output_dir=tmp_path / "run"))
    assert (plan.backend, plan.device, plan.dtype) == ("hf", "cpu", "float32")
    assert plan.targets == ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]
    assert plan.corpus == sample_path() and plan.world == 1 and plan.resume_from is None
    auto = preflight(TrainConfig.cpu(model=str(tiny_phi3), output_dir=tmp_path / "run", backend="auto", device=None))
    assert auto.backend == "hf"  # no GPU here: auto never picks unsloth


def test_existing_run_needs_resume_or_overwrite(tmp_path, corpus):
    config = cpu(tmp_path, corpus)
    run = tmp_path / "run"
    run.mkdir()
    dump_config(config, run / "config.json")
    with pytest.raises(TrainSetupError, match="already holds a run.*--resume.*overwrite=true"):
        preflight(config)
    assert preflight(config.model_copy(update={"overwrite": True})).resume_from is None
    # resume without any checkpoint starts from step 0
    assert preflight(config.model_copy(update={"resume": True})).resume_from is None


def test_resume_refuses_a_changed_training_config(tmp_path, corpus):
    config = cpu(tmp_path, corpus)
    checkpoint = tmp_path / "run" / "checkpoints" / "checkpoint-2"
    checkpoint.mkdir(parents=True)
    (checkpoint / "trainer_state.json").write_text("{}")
    (checkpoint / "data_state-rank0-of-1.json").write_text("{}")
    dump_config(config, tmp_path / "run" / "config.json")
    resumed = config.model_copy(update={"resume": True, "max_steps": 500})  # a longer run is fine
    assert preflight(resumed).resume_from == checkpoint
    changed = resumed.model_copy(update={"learning_rate": 1e-3, "lora_r": 4})
    with pytest.raises(TrainSetupError, match=r"cannot resume .*learning_rate.*lora_r"):
        preflight(changed)


def test_gpu_libraries_missing_name_the_install(monkeypatch, tmp_path, corpus):
    import importlib.util

    from emergence.train import preflight as pf

    real = importlib.util.find_spec
    monkeypatch.setattr(
        pf.importlib.util, "find_spec", lambda name, *a: None if name in ("unsloth", "bitsandbytes") else real(name, *a)
    )
    with pytest.raises(TrainSetupError, match=r"unsloth is not installed: pip install 'emergence\[gpu\]'"):
        pf._resolve_backend(cpu(tmp_path, corpus, backend="unsloth"), "cuda:0")
    assert pf._resolve_backend(cpu(tmp_path, corpus, backend="auto"), "cuda:0") == "hf"
    with pytest.raises(TrainSetupError, match="needs bitsandbytes: pip install bitsandbytes.*load_in_4bit=false"):
        pf._check_bitsandbytes(cpu(tmp_path, corpus, load_in_4bit=True), "cuda:0")
