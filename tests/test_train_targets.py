"""LoRA targets mapped onto fused (Phi-3) and unfused (Llama) models; the trainable-count check."""
from __future__ import annotations

import pytest

from emergence.train.config import SEED_TARGET_MODULES
from emergence.train.targets import (
    TargetError,
    adapted_modules,
    check_trainable_params,
    expected_trainable_params,
    linear_shapes,
    map_target_modules,
    meta_linear_shapes,
)


def _load(path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(path)


def _peft(model, targets, r=16):
    from peft import LoraConfig, get_peft_model

    return get_peft_model(model, LoraConfig(r=r, lora_alpha=16, target_modules=list(targets), task_type="CAUSAL_LM"))


def test_names_map_to_fused_projections():
    phi3 = ["m.l.0.self_attn.qkv_proj", "m.l.0.self_attn.o_proj", "m.l.0.mlp.gate_up_proj", "m.l.0.mlp.down_proj", "lm_head"]
    assert map_target_modules(SEED_TARGET_MODULES, phi3) == ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]
    assert map_target_modules(["all-linear"], phi3) == ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]
    llama = [f"m.l.0.x.{n}" for n in SEED_TARGET_MODULES] + ["lm_head"]
    assert map_target_modules(SEED_TARGET_MODULES, llama) == list(SEED_TARGET_MODULES)
    assert map_target_modules(["v_proj", "q_proj"], llama) == ["v_proj", "q_proj"]
    with pytest.raises(TargetError, match=r"'w_proj'.*qkv_proj, o_proj, gate_up_proj, down_proj"):
        map_target_modules(["q_proj", "w_proj"], phi3)
    with pytest.raises(TargetError):
        map_target_modules(["lm_head"], phi3)  # the head is never a target


@pytest.mark.parametrize("arch", ["phi3", "llama"])
def test_expected_count_matches_peft_on_tiny_models(arch, tiny_phi3, tiny_llama):
    path = {"phi3": tiny_phi3, "llama": tiny_llama}[arch]
    model = _load(path)
    shapes = linear_shapes(model)
    assert [(s.name, s.in_features, s.out_features) for s in shapes] == [
        (s.name, s.in_features, s.out_features) for s in meta_linear_shapes(str(path))
    ]
    targets = map_target_modules(SEED_TARGET_MODULES, [s.name for s in shapes])
    expected = expected_trainable_params(shapes, targets, r=8)
    wrapped = _peft(model, targets, r=8)
    assert check_trainable_params(wrapped, expected, targets) == expected
    # every linear layer but the head carries an adapter
    assert len(adapted_modules(wrapped)) == len(shapes)
    if arch == "phi3":
        assert set(targets) == {"qkv_proj", "o_proj", "gate_up_proj", "down_proj"}


def test_silently_dropped_targets_are_caught(tiny_phi3):
    # The trap: on a fused Phi-3 the seven Llama names match only o_proj and down_proj, and
    # a wrapper that does not complain adapts just those. The count check must raise.
    model = _load(tiny_phi3)
    shapes = linear_shapes(model)
    mapped = map_target_modules(SEED_TARGET_MODULES, [s.name for s in shapes])
    expected = expected_trainable_params(shapes, mapped, r=16)
    wrapped = _peft(model, SEED_TARGET_MODULES)
    assert {n.rsplit(".", 1)[-1] for n in adapted_modules(wrapped)} == {"o_proj", "down_proj"}
    with pytest.raises(TargetError, match=r"adapted layers are \['down_proj', 'o_proj'\]"):
        check_trainable_params(wrapped, expected, mapped)
