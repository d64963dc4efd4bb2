"""LoRA target names mapped onto the loaded architecture, and the trainable-count check.

    >>> from emergence.train.targets import map_target_modules
    >>> names = ["model.layers.0.self_attn.qkv_proj", "model.layers.0.self_attn.o_proj",
    ...          "model.layers.0.mlp.gate_up_proj", "model.layers.0.mlp.down_proj", "lm_head"]
    >>> map_target_modules(["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], names)
    ['qkv_proj', 'o_proj', 'gate_up_proj', 'down_proj']

Why: the seed's seven Llama names do not exist on a fused Phi-3 checkpoint (``qkv_proj``,
``gate_up_proj``). peft fails on a name that matches nothing, but a wrapper may quietly
drop it (Unsloth adapts only ``o_proj`` and ``down_proj`` of a Phi-3 given the seven
names). So names are mapped to what the model has, the trainable parameters the adapter
*should* add are computed from the layer shapes and ``r``, and :func:`check_trainable_params`
raises when the wrapped model disagrees.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

__all__ = [
    "FUSED_NAMES",
    "LinearShape",
    "TargetError",
    "adapted_modules",
    "check_trainable_params",
    "expected_trainable_params",
    "linear_shapes",
    "map_target_modules",
    "meta_linear_shapes",
]

# unfused Llama name -> the fused projection that holds it (Phi-3 and relatives)
FUSED_NAMES = {
    "q_proj": "qkv_proj",
    "k_proj": "qkv_proj",
    "v_proj": "qkv_proj",
    "gate_proj": "gate_up_proj",
    "up_proj": "gate_up_proj",
}
# The output head is never a LoRA target: TRL computes log-probs from lm_head.weight
# directly, so an adapter there would never train.
_EXCLUDED = ("lm_head",)


class TargetError(ValueError):
    """A LoRA target that the model lacks, or an adapter whose size is not the expected one."""


@dataclass(frozen=True)
class LinearShape:
    """One linear layer: full module name, input and output features, whether it has a bias."""

    name: str
    in_features: int
    out_features: int
    bias: bool

    @property
    def leaf(self) -> str:
        return self.name.rsplit(".", 1)[-1]


def linear_shapes(model: Any) -> list[LinearShape]:
    """Every ``nn.Linear`` (bitsandbytes 4-bit layers included) except the output head."""
    import torch

    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    shapes = []
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.Linear) or module is head:
            continue
        if name.rsplit(".", 1)[-1] in _EXCLUDED:
            continue
        shapes.append(LinearShape(name, module.in_features, module.out_features, module.bias is not None))
    return shapes


def meta_linear_shapes(model_path: str) -> list[LinearShape]:
    """Linear layers of a checkpoint from its config alone: built on the meta device, no weights."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(model_path)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return linear_shapes(model)


def map_target_modules(requested: Iterable[str], module_names: Iterable[str]) -> list[str]:
    """Map requested leaf names onto the model's own; TargetError names what the model has.

    A name the model has is kept; an unfused Llama name becomes its fused projection when
    only that exists; ``"all-linear"`` is every linear leaf name but the head. Order follows
    the request, without duplicates.
    """
    leaves: list[str] = []
    for name in module_names:
        leaf = name.rsplit(".", 1)[-1]
        if leaf not in _EXCLUDED and leaf not in leaves:
            leaves.append(leaf)
    available = set(leaves)
    mapped: list[str] = []
    unknown: list[str] = []
    for name in requested:
        if name == "all-linear":
            candidates = leaves
        elif name in available:
            candidates = [name]
        elif FUSED_NAMES.get(name) in available:
            candidates = [FUSED_NAMES[name]]
        else:
            unknown.append(name)
            continue
        mapped.extend(c for c in candidates if c not in mapped)
    if unknown:
        raise TargetError(
            f"unknown LoRA target module(s) {', '.join(map(repr, unknown))}: this model's linear "
            f"layers are {', '.join(leaves)}. Fix target_modules (e.g. --set "
            f"'target_modules=[{', '.join(leaves)}]' or 'target_modules=[all-linear]')."
        )
    return mapped


def expected_trainable_params(
    shapes: Iterable[LinearShape], targets: Iterable[str], r: int, bias: str = "none",
    all_bias_params: int = 0,
) -> int:
    """LoRA parameters an adapter of rank ``r`` on ``targets`` adds: r x (in + out) per layer.

    ``bias="lora_only"`` adds the biases of the adapted layers; ``bias="all"`` adds
    ``all_bias_params`` (every parameter named ``*bias*`` in the model, as peft unfreezes).
    """
    targets = set(targets)
    matched = [s for s in shapes if s.leaf in targets]
    total = sum(r * (s.in_features + s.out_features) for s in matched)
    if bias == "lora_only":
        total += sum(s.out_features for s in matched if s.bias)
    elif bias == "all":
        total += all_bias_params
    return total


def bias_param_count(model: Any) -> int:
    """Parameters whose name contains 'bias' (what peft unfreezes for ``bias="all"``)."""
    return sum(p.numel() for n, p in model.named_parameters() if "bias" in n)


def adapted_modules(model: Any) -> list[str]:
    """Full names of the modules that carry a LoRA adapter."""
    return [name for name, module in model.named_modules() if hasattr(module, "lora_A") and len(module.lora_A)]


def trainable_params(model: Any) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def check_trainable_params(model: Any, expected: int, targets: Iterable[str]) -> int:
    """Return the trainable count of ``model``; TargetError when it is not ``expected``."""
    actual = trainable_params(model)
    if actual != expected:
        adapted = adapted_modules(model)
        leaves = sorted({n.rsplit(".", 1)[-1] for n in adapted})
        raise TargetError(
            f"the adapter has {actual:,} trainable parameters but LoRA on {sorted(set(targets))} "
            f"should add {expected:,}: adapted layers are {leaves or 'none'} "
            f"({len(adapted)} modules). The backend silently dropped or added targets; check "
            "target_modules against the model's layer names, or use backend='hf'."
        )
    return actual


def summarize_targets(shapes: Iterable[LinearShape], targets: Iterable[str]) -> Mapping[str, int]:
    """How many layers each mapped target name matches (for the log)."""
    targets = list(targets)
    counts = {t: 0 for t in targets}
    for s in shapes:
        if s.leaf in counts:
            counts[s.leaf] += 1
    return counts
