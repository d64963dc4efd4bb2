"""The plain Hugging Face backend: transformers (+ bitsandbytes 4-bit NF4 on CUDA) + peft LoRA.

    >>> from emergence.train.backends import hf
    >>> hf.NAME
    'hf'

Runs on GPU or CPU. On CUDA with ``load_in_4bit`` the base is quantised to NF4 with
double quantisation and prepared for k-bit training (QLoRA); on CPU the base stays in
fp32 (or the configured dtype) and LoRA trains on top. The trainer is the same
SFTTrainer recipe as the unsloth backend's (emergence.train.recipe).
"""
from __future__ import annotations

from typing import Any

NAME = "hf"


def prepare() -> None:
    """Nothing to patch before transformers is imported."""


def load(plan: Any, config: Any) -> tuple[Any, Any]:
    """(model, tokenizer) on the plan's device, 4-bit where configured."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = getattr(torch, plan.dtype)
    kwargs: dict[str, Any] = {"dtype": dtype, "attn_implementation": "sdpa"}
    if config.load_in_4bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype,
        )
        kwargs["device_map"] = {"": plan.device}
    model = AutoModelForCausalLM.from_pretrained(plan.model_path, **kwargs)
    if not config.load_in_4bit:
        model.to(plan.device)
    model.config.use_cache = False  # no KV cache while training (and it clashes with checkpointing)
    if config.load_in_4bit:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=config.gradient_checkpointing
        )
    tokenizer = AutoTokenizer.from_pretrained(plan.model_path)
    return model, tokenizer


def add_lora(model: Any, plan: Any, config: Any) -> Any:
    """Wrap ``model`` in a peft LoRA adapter on the plan's (mapped) target modules."""
    from peft import LoraConfig, get_peft_model
    from transformers import set_seed

    set_seed(config.seed)  # the LoRA A matrices are initialised randomly
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        bias=config.lora_bias,
        target_modules=list(plan.targets),
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


def trainer_precision(plan: Any, config: Any) -> dict[str, Any]:
    """SFTConfig precision flags: autocast in bf16/fp16 on GPU; none on an fp32 run."""
    return {"bf16": plan.dtype == "bfloat16", "fp16": plan.dtype == "float16",
            "gradient_checkpointing": config.gradient_checkpointing}


def declare_truncated(dataset: Any, max_len: int) -> Any:
    """Nothing to declare: TRL's own SFTTrainer trusts pre-tokenised rows (data.py cuts them)."""
    return dataset
