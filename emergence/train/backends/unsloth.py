"""The Unsloth backend (CUDA only): FastLanguageModel loading and LoRA, the same SFTTrainer recipe.

    >>> from emergence.train.backends import unsloth as backend
    >>> backend.NAME
    'unsloth'

This is the only module of the project that imports ``unsloth``, and only inside its
functions: unsloth patches transformers/TRL/peft when imported and fails on a machine
without a GPU. :func:`prepare` imports it before the recipe touches transformers, so
its patches apply to everything the run uses.
"""
from __future__ import annotations

from typing import Any

NAME = "unsloth"


def try_import() -> str | None:
    """Import unsloth; None on success, else why it failed (for the 'auto' backend)."""
    try:
        import unsloth  # noqa: F401  (imported for its patches)
    except Exception as exc:  # unsloth raises several kinds when the GPU stack is unsuitable
        return f"{type(exc).__name__}: {exc}"
    return None


def prepare() -> None:
    """Import unsloth first, so its patches of transformers / TRL / peft are in place."""
    error = try_import()
    if error is not None:
        raise RuntimeError(f"unsloth does not import here ({error}): use --backend hf")


def load(plan: Any, config: Any) -> tuple[Any, Any]:
    """(model, tokenizer) through ``FastLanguageModel.from_pretrained``."""
    import torch
    from unsloth import FastLanguageModel

    kwargs: dict[str, Any] = {}
    if plan.world > 1:
        kwargs["device_map"] = {"": plan.local_rank}  # one full replica per DDP process
    model, tokenizer = FastLanguageModel.from_pretrained(
        model_name=plan.model_path,
        max_seq_length=config.max_seq_length,
        dtype=getattr(torch, plan.dtype),
        load_in_4bit=config.load_in_4bit,
        **kwargs,
    )
    return model, tokenizer


def add_lora(model: Any, plan: Any, config: Any) -> Any:
    """``FastLanguageModel.get_peft_model`` on the plan's (mapped) target modules."""
    from unsloth import FastLanguageModel

    return FastLanguageModel.get_peft_model(
        model,
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        bias=config.lora_bias,
        target_modules=list(plan.targets),
        # Unsloth's offloaded checkpointing replaces the Trainer's (see trainer_precision)
        use_gradient_checkpointing="unsloth" if config.gradient_checkpointing else False,
        random_state=config.seed,
        max_seq_length=config.max_seq_length,
    )


def trainer_precision(plan: Any, config: Any) -> dict[str, Any]:
    """SFTConfig precision flags; checkpointing is already wired in by get_peft_model."""
    return {"bf16": plan.dtype == "bfloat16", "fp16": plan.dtype == "float16",
            "gradient_checkpointing": False}


def declare_truncated(dataset: Any, max_len: int) -> Any:
    """Tell Unsloth's SFTTrainer that every example is already cut to ``max_len`` tokens.

    data.py truncates each example as it tokenises it. Unsloth cannot verify that on a
    stream without consuming it (it scans 1,024 rows, then refuses the run), but it
    believes a producer's own claim in the ``_unsloth_truncated_to`` attribute.
    """
    dataset._unsloth_truncated_to = int(max_len)
    return dataset
