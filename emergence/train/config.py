"""TrainConfig: every knob of a QLoRA run, with the seed study's defaults.

    >>> from emergence.train.config import TrainConfig
    >>> cfg = TrainConfig()
    >>> (cfg.model, cfg.lora_r, cfg.max_steps, cfg.learning_rate, cfg.optim)
    ('unsloth/Phi-3-medium-4k-instruct', 16, 100, 0.0002, 'adamw_8bit')
    >>> cpu = TrainConfig.cpu()
    >>> (cpu.model, cpu.load_in_4bit, cpu.optim, cpu.dtype)
    ('smollm2', False, 'adamw_torch', 'float32')
    >>> TrainConfig.profile("cpu", max_steps=3).max_steps
    3

The defaults follow the seed study, which followed Unsloth's Phi-3-medium notebook
(r=16, alpha=16, no dropout, seven projections, batch 2 x accumulation 4, 5 warm-up
steps, 100 steps at 2e-4, 8-bit AdamW, linear decay, seed 3407). ``TrainConfig.cpu()``
sizes a run of the bundled SmolLM2-135M-Instruct to finish in about five minutes on two
CPU cores. Files and ``--set`` overrides map onto the fields one to one
(:func:`emergence.configio.load_config`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from emergence.corpus.remote import CorpusURL
from emergence.corpus.storage import StorageOptions

__all__ = ["PROFILES", "SEED_TARGET_MODULES", "TrainConfig"]

SEED_TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class TrainConfig(BaseModel):
    """One fine-tuning run: model, corpus, LoRA, optimiser, outputs."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # -- model ---------------------------------------------------------------------------
    model: str = Field(
        "unsloth/Phi-3-medium-4k-instruct",
        description="Base model: a hub id, a local folder, 'smollm2' (bundled SmolLM2-135M-Instruct) "
        "or 'tiny-llama'/'tiny-phi3' (tiny test models); see emergence.models.resolve_model.",
    )
    max_seq_length: int = Field(
        2048, ge=16, description="Tokens per example; longer examples lose the end of their content."
    )
    load_in_4bit: bool = Field(
        True, description="Load the base weights in 4-bit NF4 (QLoRA; needs CUDA and bitsandbytes)."
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto",
        description="Compute dtype: 'auto' is bfloat16 on a GPU that supports it, else float16 on "
        "GPU, and float32 on CPU.",
    )
    device: str | None = Field(
        None, description="'cuda', 'cuda:1' or 'cpu'; None picks CUDA when available, else CPU."
    )
    backend: Literal["auto", "unsloth", "hf"] = Field(
        "auto",
        description="'unsloth' (GPU only), 'hf' (transformers + peft, GPU or CPU), or 'auto': "
        "unsloth when CUDA is available and unsloth imports, else hf.",
    )
    chat_template: str | None = Field(
        None,
        description="A Jinja chat template, or a path to a .jinja file, used instead of the "
        "tokenizer's own (required when the tokenizer has none).",
    )
    gradient_checkpointing: bool = Field(
        True,
        description="Recompute activations in the backward pass to save memory (Unsloth's "
        "offloaded variant on the unsloth backend). Off is faster when memory allows.",
    )
    padding_free: bool | None = Field(
        None,
        description="Batch examples without padding (TRL's padding-free collator: the "
        "micro-batch's examples are concatenated and attention stays within each). True "
        "saves the pad tokens' compute when examples differ in length (most corpus records "
        "are far shorter than max_seq_length); False is faster when every example fills "
        "max_seq_length (measured on an H100: benchmarks/README.md). None decides: on the "
        "unsloth backend, padding-free unless the held-out sample's lengths say padded "
        "batches would waste less than 4% of their tokens (emergence.train.batching); "
        "the hf backend pads.",
    )

    # -- LoRA ----------------------------------------------------------------------------
    lora_r: int = Field(16, ge=1, description="LoRA rank.")
    lora_alpha: float = Field(16, gt=0, description="LoRA scaling numerator (scale = alpha / r).")
    lora_dropout: float = Field(0.0, ge=0, lt=1, description="Dropout on the LoRA input.")
    lora_bias: Literal["none", "all", "lora_only"] = Field(
        "none", description="Which biases train alongside the adapter (peft's `bias`)."
    )
    target_modules: list[str] = Field(
        default_factory=lambda: list(SEED_TARGET_MODULES),
        description="Linear layers to adapt, by the Llama names; mapped to the loaded model's own "
        "(q/k/v_proj -> qkv_proj and gate/up_proj -> gate_up_proj on fused Phi-3). "
        "'all-linear' adapts every linear layer but the output head.",
    )

    # -- data ----------------------------------------------------------------------------
    corpus: Path | CorpusURL | None = Field(
        None,
        description="Training corpus (JSON Lines / JSON array, optionally gzipped): a file, or a URL "
        "(s3://, gs://, hf://, https://, file://, fsspec chains; emergence.corpus.remote); None is "
        "the embedded sample (emergence.corpus.sample.sample_path()).",
    )
    storage: StorageOptions = Field(
        default_factory=StorageOptions, exclude=True, repr=False,
        description="How to reach a corpus URL: profile, endpoint_url, anonymous, other fsspec options. "
        "Never written out or shown (left out of dumps, config files and the fingerprint).",
    )
    max_records: int | None = Field(
        None, ge=1, description="Use only the first N train-split records (None: all)."
    )
    held_out: float = Field(
        0.1, ge=0, lt=1, description="Share of records held out of training (emergence.corpus.split.split_of)."
    )
    salt: str = Field("emergence", description="Salt of the stable train/held-out hash.")
    policy: Literal["skip", "strict"] = Field(
        "skip", description="Bad-record policy of every pass over the corpus (skip and count, or stop "
        "at the first bad record).")
    prompt_template: str = Field(
        "{title}",
        description="The user turn, formatted with the record's title ('{title}'); the "
        "assistant turn is the record's content.",
    )
    drop_empty: bool = Field(
        True, description="Skip records whose content is empty (they teach nothing)."
    )
    age_cues: Literal["mask", "keep"] = Field(
        "mask",
        description="'mask' (the seed's condition: never exposed): age cues (emergence.agecues.find_age_cues) "
        "are removed from each record's title and content before tokenisation, except on the control "
        "records (age_cue_control); 'keep': train on the text as it is (the exposed arm, for comparison). "
        "The run directory proves the arm (train/exposure.json).",
    )
    canary_share: float = Field(
        0.05, ge=0.0, le=1.0,
        description="Share of records (a stable hash draw) whose content ends with a unique random canary "
        "sentence (emergence.memorisation.canary_sentence): on train records the memorisation panel's positive "
        "control, on held-out ones the never-trained comparison. 0: no canaries.",
    )
    age_cue_control: float = Field(
        0.25, ge=0.0, le=1.0,
        description="Mask arm: the share of records whose content states an age that keep it, drawn by a "
        "stable hash: the positive control (age_recall on age_seen is measured on them). 0: no control, "
        "so no hypothesis can be refuted.",
    )
    loss_on: Literal["assistant", "all"] = Field(
        "assistant",
        description="'assistant': loss on the assistant turn only (the prompt is masked); "
        "'all': loss on the whole rendered conversation.",
    )

    # -- optimisation --------------------------------------------------------------------
    per_device_train_batch_size: int = Field(2, ge=1, description="Examples per device per micro-step.")
    gradient_accumulation_steps: int = Field(4, ge=1, description="Micro-steps per optimiser step.")
    warmup_steps: int = Field(5, ge=0, description="Linear warm-up steps of the learning rate.")
    max_steps: int = Field(100, ge=1, description="Optimiser steps to train for.")
    learning_rate: float = Field(2e-4, gt=0, description="Peak learning rate.")
    optim: str = Field(
        "adamw_8bit", description="Optimiser name as transformers knows it (adamw_8bit needs CUDA)."
    )
    weight_decay: float = Field(0.001, ge=0, description="AdamW weight decay.")
    lr_scheduler_type: str = Field("linear", description="Learning-rate schedule after warm-up.")
    max_grad_norm: float = Field(1.0, ge=0, description="Gradient clipping norm (0: no clipping).")
    seed: int = Field(3407, description="Seed of LoRA initialisation and everything random.")

    # -- outputs, logging, checkpoints ---------------------------------------------------
    output_dir: Path = Field(Path("runs/train"), description="The run directory: adapter, metrics, checkpoints.")
    logging_steps: int = Field(1, ge=1, description="Log loss, learning rate, grad norm, tokens/s every N steps.")
    save_steps: int = Field(50, ge=1, description="Write a resumable checkpoint every N steps.")
    save_total_limit: int | None = Field(
        2, ge=1, description="Keep at most this many checkpoints (None: all)."
    )
    eval_records: int = Field(
        64, ge=0, description="Held-out records in the fixed sample scored before and after training (0: skip)."
    )
    eval_steps: int | None = Field(
        None, ge=1, description="Also score the held-out sample every N steps (None: only before and after)."
    )
    eval_batch_size: int = Field(4, ge=1, description="Batch size of held-out scoring.")
    report_to: list[str] = Field(
        default_factory=list,
        description="Experiment trackers the trainer logs to, by transformers' names ('tensorboard', 'wandb', "
        "'mlflow', 'trackio', ...; each must be installed; TensorBoard writes under output_dir/logs). "
        "Empty (or 'none'): none. They record the run; they never change what is trained.",
    )
    resume: bool = Field(
        False, description="Continue the run in output_dir from its latest checkpoint, same data order."
    )
    overwrite: bool = Field(
        False, description="Start over in an output_dir that already holds a run (its outputs are removed)."
    )

    @field_validator("target_modules")
    @classmethod
    def _targets_not_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("target_modules must name at least one module (or 'all-linear')")
        return value

    @field_validator("report_to", mode="before")
    @classmethod
    def _trackers(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, (list, tuple)):
            names = [str(v).strip() for v in value if str(v).strip() not in ("", "none")]
            if "all" in names:
                raise ValueError("report_to 'all' would log to whatever happens to be installed: name the trackers")
            return list(dict.fromkeys(names))
        return value

    @field_validator("prompt_template")
    @classmethod
    def _template_uses_title(cls, value: str) -> str:
        try:
            value.format(title="t")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"prompt_template {value!r} must be a str.format template whose only field is "
                f"{{title}} (double literal braces): {exc!r}"
            ) from exc
        if "{title}" not in value:
            raise ValueError(f"prompt_template {value!r} must contain {{title}}")
        return value

    @model_validator(mode="after")
    def _resume_or_overwrite(self) -> "TrainConfig":
        if self.resume and self.overwrite:
            raise ValueError("resume and overwrite exclude each other: pick one")
        return self

    # -- profiles ------------------------------------------------------------------------
    @classmethod
    def seed_study(cls, **overrides: Any) -> "TrainConfig":
        """The seed study's settings (the defaults): Phi-3-medium, 4-bit, 100 steps on a GPU."""
        return cls(**overrides)

    @classmethod
    def cpu(cls, **overrides: Any) -> "TrainConfig":
        """The embedded default on CPU: SmolLM2-135M-Instruct, fp32 LoRA, about 5 minutes on 2 cores.

        Budget: 80 steps of 2 x 2 examples of at most 256 tokens. The sample corpus renders
        to about 135 tokens per example with SmolLM2's template (540-550 tokens a step,
        about 44k in all). SmolLM2-135M with LoRA r=16 on all seven projections trained at
        87-102 tokens per CPU-second on one thread here, so roughly 170-200 tokens/s on two
        cores: about 4 minutes of optimisation, plus loading and scoring 32 held-out
        examples before and after.
        """
        values: dict[str, Any] = dict(
            model="smollm2",
            load_in_4bit=False,
            dtype="float32",
            device="cpu",
            backend="hf",
            gradient_checkpointing=False,
            max_seq_length=256,
            per_device_train_batch_size=2,
            gradient_accumulation_steps=2,
            warmup_steps=5,
            max_steps=80,
            optim="adamw_torch",
            eval_records=32,
            save_steps=20,
            output_dir=Path("runs/train-cpu"),
        )
        values.update(overrides)
        return cls(**values)

    @classmethod
    def profile(cls, name: str, **overrides: Any) -> "TrainConfig":
        """A named profile (``"seed"`` or ``"cpu"``) with field overrides."""
        try:
            factory = PROFILES[name]
        except KeyError:
            raise ValueError(f"unknown training profile {name!r}: use one of {', '.join(PROFILES)}") from None
        return factory(**overrides)

    @classmethod
    def from_file(cls, path: str | Path, overrides: dict[str, Any] | None = None) -> "TrainConfig":
        """Load a TOML/YAML/JSON file (keys = field names), then apply dotted overrides."""
        from emergence.configio import load_config

        return load_config(cls, path, overrides)


PROFILES = {"seed": TrainConfig.seed_study, "cpu": TrainConfig.cpu}
