"""The probe engine: bf16 where the card holds it, 4-bit where it does not; the batch found by trying."""
from __future__ import annotations

import pytest

from emergence.probe.engine import choose_engine, find_batch_size, kv_bytes_per_token, weights_bytes

GIB = 2.0 ** 30


def test_auto_takes_bf16_when_it_fits_and_4bit_when_it_does_not():
    common = dict(device="cuda:0", weights_bytes=28 * GIB, kv_bytes_per_token=400_000, batch_size=32, tokens=200)
    assert choose_engine("auto", free_bytes=79 * GIB, **common).engine == "hf-bf16"
    small = choose_engine("auto", free_bytes=15 * GIB, **common)
    assert small.engine == "hf-4bit" and "does not fit" in small.reason
    # the KV cache of the batch counts: weights alone would fit, weights plus cache would not
    tight = choose_engine("auto", free_bytes=30 * GIB, **{**common, "batch_size": 256, "tokens": 400})
    assert tight.engine == "hf-4bit" and tight.kv_gib > 30
    assert choose_engine("hf-4bit", free_bytes=79 * GIB, **common).engine == "hf-4bit"  # asked for: obeyed
    assert choose_engine("auto", free_bytes=None, **{**common, "device": "cpu"}).engine == "hf-bf16"
    with pytest.raises(ValueError, match="unknown probe engine"):
        choose_engine("vllm", free_bytes=1.0, **common)


def test_sizes_come_from_the_checkpoint_before_loading(tiny_llama):
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(tiny_llama)
    n = weights_bytes(tiny_llama)
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=torch.float32)
    assert n == 2 * sum(p.numel() for p in model.state_dict().values())
    head_dim = config.hidden_size // config.num_attention_heads
    assert kv_bytes_per_token(config) == 2 * config.num_hidden_layers * config.num_key_value_heads * head_dim * 2


def test_the_batch_size_is_found_by_trying():
    import torch

    tried = []

    def runs(batch: int) -> None:
        tried.append(batch)
        if batch > 24:
            raise torch.cuda.OutOfMemoryError("planted")

    assert find_batch_size(runs, 128) == 16 and tried == [128, 64, 32, 16]

    def never(batch: int) -> None:
        raise torch.cuda.OutOfMemoryError("planted")

    with pytest.raises(RuntimeError, match="even a batch of 1"):
        find_batch_size(never, 8)


def test_the_run_records_its_engine(tiny_llama):
    from emergence.evalsets import EvalItem
    from emergence.probe import ProbeConfig, run_probes

    items = {"age_heldout": [EvalItem(id="a", title="Goodnight Bunny", content="x", split="held_out",
                                      label_age=3.0, label_band="3-5", label_source="sample")]}
    res = run_probes(tiny_llama, items, ProbeConfig(max_new_tokens_age=4, device="cpu", progress=False))
    assert res.engine is not None and res.engine.engine == "hf-bf16" and res.engine.device == "cpu"


def test_a_tuned_only_probe_merges_the_adapter_and_answers_as_unmerged(tiny_llama, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from emergence.evalsets import EvalItem
    from emergence.probe import ProbeConfig, run_probes

    torch.manual_seed(2)
    # a large random adapter, so a merge that went wrong would move the answers
    peft_model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_llama),
                                LoraConfig(r=4, lora_alpha=32, init_lora_weights=False,
                                           target_modules=["q_proj", "v_proj", "down_proj"]))
    peft_model.save_pretrained(tmp_path / "adapter")
    item = dict(content="A tale of a small bear who learns to share.", split="held_out", label_source="sample")
    sets = {"age_heldout": [EvalItem(id=f"a{i}", title=t, label_age=a, label_band=b, **item)
                            for i, (t, a, b) in enumerate([("Goodnight Bunny", 3.0, "3-5"),
                                                           ("The Dragon Atlas", 9.0, "9-12"),
                                                           ("Maths for Teens", 14.0, "13-17")])]}
    config = ProbeConfig(max_new_tokens_age=6, device="cpu", progress=False, band_loglik=True)
    merged = run_probes(tiny_llama, sets, config, adapter=tmp_path / "adapter", models=("tuned",))
    both = run_probes(tiny_llama, sets, config, adapter=tmp_path / "adapter", models=("base", "tuned"))
    assert merged.engine.adapter_merged and not both.engine.adapter_merged
    unmerged = {(r.item_id, r.variant): r for r in both.select(model="tuned")}
    base = {(r.item_id, r.variant): r for r in both.select(model="base")}
    rows = merged.select(model="tuned")
    assert rows and {(r.item_id, r.variant) for r in rows} == set(unmerged)
    assert any(r.band_loglikelihoods != pytest.approx(base[k].band_loglikelihoods, abs=1e-3)
               for k, r in unmerged.items())  # the adapter matters
    for r in rows:
        twin = unmerged[(r.item_id, r.variant)]
        assert r.answer == twin.answer
        assert r.band_loglikelihoods == pytest.approx(twin.band_loglikelihoods, abs=1e-4)
