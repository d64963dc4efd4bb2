"""``train(config)``: check -> load -> LoRA -> data -> SFTTrainer -> save, top to bottom.

    >>> from emergence.train.config import TrainConfig
    >>> from emergence.train.recipe import train
    >>> result = train(TrainConfig.cpu(model="tiny-llama", max_steps=2, eval_records=4,
    ...                               output_dir="/tmp/emergence-doc-run", overwrite=True))  # doctest: +SKIP
    >>> result.adapter_dir.name  # doctest: +SKIP
    'adapter'

The run directory (``config.output_dir``) ends up holding:

- ``adapter/``: the PEFT adapter (adapter_config.json + adapter_model.safetensors), the
  tokenizer, ``emergence_base.json`` (the base as a portable spec and its resolved path)
  and a model card (README.md); ``peft.PeftModel.from_pretrained(base, adapter)`` loads
  it and lm-eval takes ``--model_args pretrained=BASE,peft=ADAPTER``;
- ``logs/``: tracker files when ``report_to`` names one (TensorBoard's event files);
- ``config.json`` (the TrainConfig as run), ``env.json`` (versions, device, git commit);
- ``metrics.jsonl`` (per logging step: step, loss, learning_rate, grad_norm, tokens_per_s;
  held-out rows with ``heldout_loss``), ``loss.png``;
- ``summary.json``: the TrainResult (average training loss, held-out loss before and
  after, trainable parameters, backend, wall time);
- ``checkpoints/checkpoint-N/``: resumable checkpoints, each with the data-stream position
  of every rank (``resume=True`` continues from the newest with the same data order).
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
from pathlib import Path
from collections.abc import Sequence
from typing import Any, Iterator

from pydantic import BaseModel, Field

from emergence.train.config import TrainConfig

__all__ = ["TrainResult", "train"]

log = logging.getLogger("emergence.train")


class TrainResult(BaseModel):
    """What a training run produced (also written to ``summary.json``)."""

    run_dir: Path = Field(description="The run directory.")
    adapter_dir: Path = Field(description="The saved PEFT adapter (with the tokenizer).")
    base_model: str = Field(description="The base model the adapter applies to (resolved path or hub id).")
    final_loss: float | None = Field(description="Training loss at the last logging step.")
    train_loss_avg: float | None = Field(
        description="Average training loss over all steps (HF Trainer's train_loss; the seed reports 2.1246)."
    )
    heldout_loss_before: float | None = Field(description="Mean token loss on the fixed held-out sample before training.")
    heldout_loss_after: float | None = Field(description="The same after training.")
    heldout_records: int = Field(description="Examples in the held-out sample.")
    metrics_path: Path = Field(description="metrics.jsonl.")
    plot_path: Path | None = Field(description="loss.png (None when nothing was logged).")
    trainable_params: int = Field(description="Trainable (LoRA) parameters, checked against the layer shapes.")
    total_params: int = Field(description="All parameters of the wrapped model (4-bit weights count packed).")
    backend: str = Field(description="'unsloth' or 'hf'.")
    padding_free: bool | None = Field(
        None, description="Whether micro-batches were padding-free (None: left to Unsloth, when no held-out "
        "sample told the lengths); see TrainConfig.padding_free."
    )
    device: str = Field(description="The device trained on.")
    steps: int = Field(description="Optimiser steps completed.")
    resumed_from_step: int = Field(0, description="The checkpoint step this session resumed from (0: fresh).")
    tokens_seen: int = Field(description="Non-padding tokens processed (all ranks).")
    tokens_per_s: float | None = Field(
        description="Training throughput of this session: the mean of the per-logging-interval "
        "rates in metrics.jsonl (non-padding tokens/s, all ranks)."
    )
    wall_time_s: float = Field(description="Wall time of this call, checks and saving included.")
    train_time_s: float = Field(description="Wall time of trainer.train() alone.")
    dropped_examples: int = Field(description="Train records skipped because no content token fitted max_seq_length.")
    train_records_used: int | None = Field(
        description="How many train-split records reached training: the first N of the stream "
        "(stream_records(corpus, drop_empty=...) filtered by split_of). None when the run went "
        "past one full pass (every train record, or max_records, was used) or ran on several processes."
    )
    data_state: dict[str, Any] = Field(description="Where this process's data stream stopped (DataState).")


def _backend_module(name: str) -> Any:
    if name == "unsloth":
        from emergence.train.backends import unsloth as module
    else:
        from emergence.train.backends import hf as module
    return module


def fused_loss_head_available(device: str) -> bool:
    """Whether TRL's fused loss head (a Triton kernel) can run on ``device``."""
    import importlib.util

    return device.startswith(("cuda", "xpu")) and importlib.util.find_spec("triton") is not None


def _prepare_run_dir(run_dir: Path, config: TrainConfig, is_main: bool, resumed: bool) -> None:
    from emergence.train.preflight import RUN_OUTPUTS

    if not is_main:
        return
    if config.overwrite and not resumed:
        for name in RUN_OUTPUTS:
            target = run_dir / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    run_dir.mkdir(parents=True, exist_ok=True)


def _truncate_metrics(path: Path, after_step: int) -> None:
    """Drop rows past the checkpoint we resume from (they belong to the lost part of the run)."""
    from emergence.train.callbacks import read_metrics

    rows = [r for r in read_metrics(path) if r.get("step", 0) <= after_step]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _read_data_states(checkpoint: Path, world: int) -> dict[int, Any]:
    from emergence.train.callbacks import data_state_name
    from emergence.train.data import DataState

    states = {
        r: DataState.model_validate_json((checkpoint / data_state_name(r, world)).read_text())
        for r in range(world)
    }
    for state in states.values():  # the gzip index saved beside the state: a path from here
        if state.gzip_index is not None:
            state.gzip_index = str(checkpoint / state.gzip_index)
    return states


def _logging_dir(config_cls: Any, path: Path) -> dict[str, str]:
    # transformers 4.x takes the trackers' folder as an argument (5.x: see _tensorboard_dir)
    import dataclasses

    return {"logging_dir": str(path)} if "logging_dir" in {f.name for f in dataclasses.fields(config_cls)} else {}


@contextlib.contextmanager
def _tensorboard_dir(path: Path | None) -> Iterator[None]:
    if path is None:
        yield
        return
    before = os.environ.get("TENSORBOARD_LOGGING_DIR")
    os.environ["TENSORBOARD_LOGGING_DIR"] = str(path)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TENSORBOARD_LOGGING_DIR", None)
        else:
            os.environ["TENSORBOARD_LOGGING_DIR"] = before


def _make_trainer(plan: Any, backend: Any, config: TrainConfig, stream: Any, tokenizer: Any,
                  padding_free: bool | None, shared: dict[str, Any]) -> Any:
    from trl import SFTTrainer

    if plan.backend == "unsloth" or fused_loss_head_available(plan.device):
        return SFTTrainer(
            train_dataset=backend.declare_truncated(stream.dataset(), config.max_seq_length), **shared
        )
    # TRL 1.15's SFTTrainer computes every loss through a Triton kernel (CUDA/XPU
    # only), so without one the same arguments, data and collator go to the plain
    # Trainer, whose loss is the model's own cross-entropy on the same labels.
    from transformers import Trainer
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    collator = DataCollatorForLanguageModeling(
        pad_token_id=tokenizer.pad_token_id, padding_free=bool(padding_free)
    )
    return Trainer(train_dataset=stream.dataset(), data_collator=collator, **shared)


def train(config: TrainConfig, *, callbacks: list[Any] | None = None,
          adapter_steps: Sequence[int] = ()) -> TrainResult:
    """Fine-tune ``config.model`` with LoRA on the train split of ``config.corpus``.

    ``callbacks`` are extra ``transformers.TrainerCallback`` objects (tests use one to
    interrupt a run). ``adapter_steps``: optimiser steps at which the adapter alone is saved
    into ``curve/step-NNNNNN/`` (and the held-out sample scored), for the emergence curve;
    the final adapter is ``adapter/`` as always. Raises :class:`~emergence.train.preflight.TrainSetupError` before
    loading anything when the config cannot run here.
    """
    from emergence.configio import dump_config
    from emergence.train.preflight import preflight

    t_start = time.perf_counter()

    # -- 1. check everything that can fail, cheaply --------------------------------------
    plan = preflight(config)
    backend = _backend_module(plan.backend)
    backend.prepare()  # unsloth must patch transformers/TRL before they are used
    if plan.world > 1:
        # Every rank checks the run directory before rank 0 writes into it; without this
        # barrier a slower rank finds rank 0's config.json and refuses "already holds a run"
        # (seen on 2 H100s). PartialState is the process group the Trainer itself uses.
        from accelerate import PartialState

        PartialState(cpu=plan.device == "cpu").wait_for_everyone()
    run_dir = plan.run_dir
    resumed = plan.resume_from is not None
    start_step = int(plan.resume_from.name.split("-", 1)[1]) if resumed else 0
    _prepare_run_dir(run_dir, config, plan.is_main, resumed)
    metrics_path = run_dir / "metrics.jsonl"
    if plan.is_main:
        from emergence.train.outputs import environment, write_json

        dump_config(config, run_dir / "config.json")
        write_json(run_dir / "env.json", environment(plan.device))
        if resumed:
            _truncate_metrics(metrics_path, start_step)
        elif metrics_path.exists():
            metrics_path.unlink()

    # -- 2. load the base model, 3. add LoRA and check its size ---------------------------
    from emergence.train.targets import (
        bias_param_count, check_trainable_params, expected_trainable_params, linear_shapes, summarize_targets,
    )

    if plan.device.startswith("cuda") and plan.world == 1:
        import torch

        # the Trainer places the model on the current device; a bare "cuda" means cuda:0
        torch.cuda.set_device(torch.device(plan.device).index or 0)
    model, tokenizer = backend.load(plan, config)
    if plan.chat_template is not None:
        tokenizer.chat_template = plan.chat_template
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token  # padding is masked out of loss and attention
    shapes = linear_shapes(model)
    expected = expected_trainable_params(
        shapes, plan.targets, config.lora_r, config.lora_bias, all_bias_params=bias_param_count(model)
    )
    model = backend.add_lora(model, plan, config)
    trainable = check_trainable_params(model, expected, plan.targets)
    total = sum(p.numel() for p in model.parameters())
    (log.info if plan.is_main else log.debug)(
        "LoRA r=%d on %s: %s trainable parameters of %s (%.3f%%), backend %s on %s",
        config.lora_r, dict(summarize_targets(shapes, plan.targets)), f"{trainable:,}", f"{total:,}",
        100.0 * trainable / max(total, 1), plan.backend, plan.device,
    )

    # -- 4. data: the streamed train split, the fixed held-out sample --------------------
    from emergence.train.data import TrainStream, heldout_examples
    from emergence.train.scoring import mean_token_loss

    from emergence.exposure import Exposure

    data_kwargs = dict(
        prompt_template=config.prompt_template, max_seq_length=config.max_seq_length,
        loss_on=config.loss_on, drop_empty=config.drop_empty, held_out=config.held_out, salt=config.salt,
        policy=config.policy, exposure=Exposure.of(config),
    )
    stream = TrainStream(
        plan.corpus, tokenizer, max_records=config.max_records, world=plan.world,
        start=_read_data_states(plan.resume_from, plan.world) if resumed else None, **data_kwargs,
    )
    heldout = heldout_examples(plan.corpus, tokenizer, n=config.eval_records, **data_kwargs)

    def score(m: Any) -> float | None:
        return mean_token_loss(m, heldout, batch_size=config.eval_batch_size, pad_token_id=tokenizer.pad_token_id)

    # LoRA's B matrices start at zero, so the freshly wrapped model scores as the base does
    # (also on resume: the checkpoint's weights are loaded later, by trainer.train).
    heldout_before = score(model)

    # Padded or padding-free micro-batches: Unsloth would turn padding-free on for any
    # stream; decide from the held-out sample's lengths (same distribution as the train
    # split) whether there is enough padding to save. hf pads unless told otherwise.
    from emergence.train.batching import decide_padding_free

    padding_free, padding_reason = decide_padding_free(
        config.padding_free, plan.backend, [len(e["input_ids"]) for e in heldout],
        config.per_device_train_batch_size,
    )
    (log.info if plan.is_main else log.debug)("batching: %s", padding_reason)

    # -- 5. SFTTrainer ----------------------------------------------------------------------
    from trl import SFTConfig

    from emergence.train.callbacks import make_callbacks, want_progress_bar

    progress = want_progress_bar()
    args = SFTConfig(
        output_dir=str(run_dir / "checkpoints"),
        per_device_train_batch_size=config.per_device_train_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        warmup_steps=config.warmup_steps,
        max_steps=config.max_steps,
        learning_rate=config.learning_rate,
        optim=config.optim,
        weight_decay=config.weight_decay,
        lr_scheduler_type=config.lr_scheduler_type,
        max_grad_norm=config.max_grad_norm,
        seed=config.seed,
        data_seed=config.seed,
        logging_steps=config.logging_steps,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        eval_strategy="no",
        # trackers pass through; TensorBoard writes under the run directory's logs/
        report_to=list(config.report_to) or "none",
        **_logging_dir(SFTConfig, run_dir / "logs"),
        disable_tqdm=True,
        use_cpu=plan.device == "cpu",
        max_length=config.max_seq_length,
        # examples arrive tokenised with their labels (data.py); the stream itself skips
        # what a resumed run already consumed, so the Trainer must not re-iterate it
        dataset_kwargs={"skip_prepare_dataset": True},
        ignore_data_skip=True,
        include_num_input_tokens_seen="non_padding",
        packing=False,
        **({} if padding_free is None else {"padding_free": padding_free}),
        # each rank reads its own shard of the stream; never have rank 0 read and dispatch
        accelerator_config={"dispatch_batches": False},
        **backend.trainer_precision(plan, config),
    )
    run_callbacks = make_callbacks(
        metrics_path=metrics_path,
        is_main=plan.is_main,
        stream=stream,
        rank=plan.rank,
        world=plan.world,
        examples_per_step=config.per_device_train_batch_size * config.gradient_accumulation_steps,
        start_step=start_step,
        heldout_scorer=score if heldout else None,
        eval_steps=config.eval_steps,
        progress=progress,
        adapter_steps=tuple(k for k in adapter_steps if 0 < k < config.max_steps),
        adapter_dir=run_dir / "curve",
    )
    shared = dict(
        model=model, args=args, processing_class=tokenizer, callbacks=run_callbacks + list(callbacks or [])
    )
    # transformers 5's TensorBoard callback reads its folder from the environment when made
    with _tensorboard_dir(run_dir / "logs" if config.report_to else None):
        trainer = _make_trainer(plan, backend, config, stream, tokenizer, padding_free, shared)

    from transformers import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # our own callbacks log and draw the bar

    t_train = time.perf_counter()
    output = trainer.train(resume_from_checkpoint=str(plan.resume_from) if resumed else None)
    train_time = time.perf_counter() - t_train

    # -- 6. save: adapter + tokenizer, metrics plot, summary -------------------------------
    from emergence.train.callbacks import read_metrics
    from emergence.train.outputs import plot_metrics, write_json

    model = trainer.model
    heldout_after = score(model)
    adapter_dir = run_dir / "adapter"
    state = trainer.state
    rows = read_metrics(metrics_path) if plan.is_main else run_callbacks[0].rows
    train_rows = [r for r in rows if "loss" in r]
    if resumed:
        # HF's train_loss divides this session's loss sum by all steps; add the steps
        # before the checkpoint from metrics.jsonl to get the whole run's average.
        before = sum(r["loss"] * (r.get("steps_in_interval") or 1) for r in train_rows if r["step"] <= start_step)
        train_loss_avg = (before + output.training_loss * state.global_step) / max(state.global_step, 1)
    else:
        train_loss_avg = output.training_loss
    session_tokens = [r for r in train_rows if r["step"] > start_step and r.get("tokens_per_s")]
    tokens_per_s = (
        sum(r["tokens_per_s"] for r in session_tokens) / len(session_tokens) if session_tokens else None
    )
    consumed = (state.global_step - start_step) * config.per_device_train_batch_size * config.gradient_accumulation_steps
    data_state = stream.state_after(plan.rank, consumed)
    records_used = data_state.train_taken if data_state.pass_index == 0 and plan.world == 1 else None
    plot_path = None
    if plan.is_main:
        trainer.save_model(str(adapter_dir))
        tokenizer.save_pretrained(str(adapter_dir))
        if train_rows:
            plot_path = plot_metrics(
                rows, run_dir / "loss.png", title=f"{config.model} LoRA r={config.lora_r}",
                heldout_before=heldout_before, heldout_after=heldout_after,
            )
    result = TrainResult(
        run_dir=run_dir,
        adapter_dir=adapter_dir,
        base_model=plan.model_path,
        final_loss=train_rows[-1]["loss"] if train_rows else None,
        train_loss_avg=train_loss_avg,
        heldout_loss_before=heldout_before,
        heldout_loss_after=heldout_after,
        heldout_records=len(heldout),
        metrics_path=metrics_path,
        plot_path=plot_path,
        trainable_params=trainable,
        total_params=total,
        backend=plan.backend,
        padding_free=padding_free,
        device=plan.device,
        steps=state.global_step,
        resumed_from_step=start_step,
        tokens_seen=state.num_input_tokens_seen,
        tokens_per_s=tokens_per_s,
        wall_time_s=time.perf_counter() - t_start,
        train_time_s=train_time,
        dropped_examples=stream.dropped,
        train_records_used=records_used,
        data_state=data_state.model_dump(),
    )
    if not plan.is_main:
        return result
    from emergence.train.outputs import finish_adapter

    # a base named portably (not this machine's cache path) and a real model card
    finish_adapter(adapter_dir, config=config, resolved_base=plan.model_path, result=result)
    write_json(run_dir / "summary.json", result.model_dump(mode="json"))
    # the proof of the exposure arm: the exact training text of every record consumed, re-scanned
    from emergence.evalsets import TrainingConsumption
    from emergence.exposure import audit_exposure

    consumed_rule = TrainingConsumption.of(config, world=plan.world, records_used=records_used)
    exposure_report = audit_exposure(plan.corpus, consumed_rule, Exposure.of(config), policy=config.policy)
    write_json(run_dir / "exposure.json", exposure_report.model_dump(mode="json"))
    log.info("exposure: %s", exposure_report.sentence())
    log.info(
        "trained %d steps in %.0fs: loss %.4f (avg %.4f), held-out %s -> %s; adapter in %s",
        result.steps, train_time, result.final_loss or float("nan"), result.train_loss_avg or float("nan"),
        _fmt(heldout_before), _fmt(heldout_after), adapter_dir,
    )
    return result


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"
