"""The cpu profile on the bundled SmolLM2-135M-Instruct, and lm-eval loading its adapter (slow)."""
from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow


def test_cpu_profile_trains_smollm2_and_lm_eval_takes_the_adapter(tmp_path, monkeypatch):
    import torch
    from safetensors.torch import load_file

    from emergence.train import TrainConfig, train

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = train(TrainConfig.cpu(output_dir=tmp_path / "run", max_steps=2, eval_records=2, save_steps=1))
    assert result.steps == 2 and result.backend == "hf" and result.train_records_used == 8
    adapter_config = json.loads((result.adapter_dir / "adapter_config.json").read_text())
    assert set(adapter_config["target_modules"]) == {
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"
    }
    # the base named portably: the spec, not this machine's cache path
    assert adapter_config["base_model_name_or_path"] == "smollm2"
    card = (result.adapter_dir / "README.md").read_text()
    assert "base_model: HuggingFaceTB/SmolLM2-135M-Instruct" in card and "emergence models path smollm2" in card
    # SmolLM2's own template (ChatML with its default system prompt) renders the exchange
    assert "<|im_start|>assistant" in (result.adapter_dir / "chat_template.jinja").read_text()

    # lm-eval's --model_args pretrained=BASE,peft=ADAPTER
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=result.base_model, peft=str(result.adapter_dir), device="cpu", batch_size=1)
    saved = load_file(str(result.adapter_dir / "adapter_model.safetensors"))
    loaded = {k: v for k, v in lm.model.state_dict().items() if "lora_" in k}
    assert len(loaded) == len(saved) > 0
    for key, value in saved.items():
        match = [v for k, v in loaded.items() if k.replace(".default", "").endswith(key.split("base_model.model.", 1)[1])]
        assert len(match) == 1 and torch.equal(match[0].cpu(), value), key
    request = Instance(request_type="loglikelihood", doc={}, arguments=("The Very Hungry Caterpillar", " is a book"), idx=0)
    (logprob, _), = lm.loglikelihood([request])
    assert logprob < 0
