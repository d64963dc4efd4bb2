"""On a CUDA GPU: both backends train tiny Phi-3 and Llama models in 4-bit and save adapters that
plain peft loads (run with ``pytest -m gpu``; skipped on machines without a GPU)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.gpu


def write_corpus(path: Path, n: int = 200) -> Path:
    with path.open("w") as f:
        for i in range(n):
            f.write(json.dumps({"uid": f"u{i}", "title": f"Book {i}", "content": "A story about a family and a war."}) + "\n")
    return path


@pytest.fixture(scope="module")
def gpu_models(tmp_path_factory):
    from emergence.models import build_tiny_model

    # head_dim 64 and widths that are multiples of 64: shapes the 4-bit and Unsloth kernels accept
    shape = dict(hidden_size=256, num_layers=2, num_heads=4, num_kv_heads=2, intermediate_size=512)
    return {
        arch: build_tiny_model(arch, tmp_path_factory.mktemp(f"gpu-{arch}"), seed=0, **shape)
        for arch in ("phi3", "llama")
    }


@pytest.mark.parametrize("arch", ["phi3", "llama"])
@pytest.mark.parametrize("backend", ["unsloth", "hf"])
def test_backend_trains_4bit_and_saves_a_plain_peft_adapter(backend, arch, gpu_models, tmp_path):
    if backend == "unsloth":
        pytest.importorskip("unsloth")
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from emergence.train import TrainConfig, train

    config = TrainConfig(
        model=str(gpu_models[arch]), corpus=write_corpus(tmp_path / "c.jsonl"), output_dir=tmp_path / "run",
        backend=backend, max_steps=4, max_seq_length=128, eval_records=4, save_steps=2, learning_rate=1e-3,
    )  # the seed defaults otherwise: 4-bit, adamw_8bit, batch 2 x 4
    result = train(config)
    assert result.backend == backend and result.device.startswith("cuda") and result.steps == 4
    expected_targets = (
        {"qkv_proj", "o_proj", "gate_up_proj", "down_proj"} if arch == "phi3"
        else {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    )
    # Unsloth may save target_modules as a regex over module paths (PEFT takes either form)
    # instead of a list of names: check what plain peft actually adapts on loading.
    adapter_config = json.loads((result.adapter_dir / "adapter_config.json").read_text())
    assert isinstance(adapter_config["target_modules"], (str, list))
    base = AutoModelForCausalLM.from_pretrained(gpu_models[arch], dtype=torch.bfloat16).to("cuda")
    linear = {n for n, m in base.named_modules() if isinstance(m, torch.nn.Linear) and n != "lm_head"}
    tuned = PeftModel.from_pretrained(base, str(result.adapter_dir))
    adapted = {n.removeprefix("base_model.model.") for n, m in tuned.named_modules() if hasattr(m, "lora_A")}
    assert adapted == {n for n in linear if n.rsplit(".", 1)[-1] in expected_targets}  # every layer, no subset
    assert sum(p.numel() for n, p in tuned.named_parameters() if "lora_" in n) == result.trainable_params
    trained_b = [p for n, p in tuned.named_parameters() if "lora_B" in n]
    assert any(p.abs().max().item() > 0 for p in trained_b)  # B starts at zero: the saved adapter was trained
    with torch.no_grad():
        out = tuned(input_ids=torch.tensor([[1, 20, 30, 40]], device="cuda")).logits
    assert torch.isfinite(out).all()
    assert result.heldout_loss_after is not None and result.final_loss is not None
