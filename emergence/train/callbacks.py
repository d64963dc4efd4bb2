"""Trainer callbacks: metrics.jsonl, the progress bar, data-stream resume points, held-out scoring.

    >>> from emergence.train.callbacks import tokens_per_second
    >>> tokens_per_second(1200, 1000, 2.0)
    100.0

Each one is a plain ``transformers.TrainerCallback``; the recipe hands them to SFTTrainer.
``transformers`` is imported when a callback class is first built, not at import time.
"""
from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any, Callable

__all__ = [
    "data_state_name",
    "make_callbacks",
    "read_metrics",
    "tokens_per_second",
]

log = logging.getLogger("emergence.train")


def tokens_per_second(tokens_now: int, tokens_before: int, seconds: float) -> float | None:
    """Non-padding tokens processed per second over an interval (None for an empty interval)."""
    if seconds <= 0:
        return None
    return (tokens_now - tokens_before) / seconds


def data_state_name(rank: int, world: int) -> str:
    return f"data_state-rank{rank}-of-{world}.json"


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a metrics.jsonl (missing file: no rows)."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def make_callbacks(
    *,
    metrics_path: Path,
    is_main: bool,
    stream: Any,
    rank: int,
    world: int,
    examples_per_step: int,
    start_step: int,
    heldout_scorer: Callable[[Any], float] | None,
    eval_steps: int | None,
    progress: bool,
    adapter_steps: tuple[int, ...] = (),
    adapter_dir: Path | None = None,
) -> list[Any]:
    """The callbacks of one run (classes are defined lazily to keep transformers unimported)."""
    from transformers import TrainerCallback

    class MetricsCallback(TrainerCallback):
        """Append one row per logging step to metrics.jsonl (main process only)."""

        def __init__(self) -> None:
            self.rows: list[dict[str, Any]] = []
            self._t = time.perf_counter()
            self._tokens = 0
            self._step = 0

        def on_train_begin(self, args, state, control, **kwargs):
            self._t = time.perf_counter()
            self._tokens = state.num_input_tokens_seen
            self._step = state.global_step

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            if "loss" not in logs:
                return
            now, tokens = time.perf_counter(), state.num_input_tokens_seen
            row = {
                "step": state.global_step,
                "loss": logs["loss"],
                "learning_rate": logs.get("learning_rate"),
                "grad_norm": logs.get("grad_norm"),
                "tokens_per_s": tokens_per_second(tokens, self._tokens, now - self._t),
                "tokens": tokens,
                "steps_in_interval": state.global_step - self._step,
            }
            for extra in ("mean_token_accuracy", "entropy"):  # SFTTrainer's own, when it logs them
                if extra in logs:
                    row[extra] = logs[extra]
            self._t, self._tokens, self._step = now, tokens, state.global_step
            self.rows.append(row)
            if is_main:
                with metrics_path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(row) + "\n")
            if is_main and not progress:
                tps = row["tokens_per_s"]
                log.info(
                    "step %d/%d  loss %.4f  lr %.3g  %s tok/s",
                    state.global_step, state.max_steps, row["loss"], row["learning_rate"] or 0.0,
                    f"{tps:,.0f}" if tps is not None else "-",
                )

    class DataStateCallback(TrainerCallback):
        """Write where this rank's data stream resumes into each checkpoint, before it is saved."""

        def on_step_end(self, args, state, control, **kwargs):
            if not control.should_save:
                return
            consumed = (state.global_step - start_step) * examples_per_step
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            folder.mkdir(parents=True, exist_ok=True)
            data_state = stream.state_after(rank, consumed, folder=folder)  # a gzip corpus's index too
            (folder / data_state_name(rank, world)).write_text(data_state.model_dump_json(indent=2) + "\n")

    class HeldoutCallback(TrainerCallback):
        """Score the fixed held-out sample every ``eval_steps`` steps into metrics.jsonl."""

        def on_step_end(self, args, state, control, model=None, **kwargs):
            if heldout_scorer is None or not eval_steps or state.global_step % eval_steps:
                return
            if state.global_step >= state.max_steps:
                return  # the recipe scores the final model itself
            value = heldout_scorer(model)
            if is_main:
                with metrics_path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps({"step": state.global_step, "heldout_loss": value}) + "\n")

    class AdapterStepsCallback(TrainerCallback):
        """At each of ``adapter_steps``: save the adapter alone (the emergence curve's
        checkpoints: no optimiser state; their size is in benchmarks/README.md) and score the
        fixed held-out sample there, so the held-out loss curve has a measured point at every
        curve step."""

        def on_step_end(self, args, state, control, model=None, **kwargs):
            if state.global_step not in adapter_steps or adapter_dir is None:
                return
            value = heldout_scorer(model) if heldout_scorer is not None else None
            if not is_main:
                return
            folder = adapter_dir / f"step-{state.global_step:06d}"
            model.save_pretrained(str(folder))
            if value is not None:
                with metrics_path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps({"step": state.global_step, "heldout_loss": value, "curve": True}) + "\n")

    class RichProgressCallback(TrainerCallback):
        """A progress bar with loss and tokens/s (only when attached to a terminal)."""

        def __init__(self) -> None:
            self._progress = None
            self._task = None
            self._fields = {"loss": "-", "tps": "-"}

        def on_train_begin(self, args, state, control, **kwargs):
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("[bold]train"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]}"),
                TextColumn("{task.fields[tps]} tok/s"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task(
                "train", total=state.max_steps, completed=state.global_step, **self._fields
            )

        def on_step_end(self, args, state, control, **kwargs):
            if self._progress is not None:
                self._progress.update(self._task, completed=state.global_step)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if self._progress is None or not logs or "loss" not in logs:
                return
            self._fields["loss"] = f"{logs['loss']:.4f}"
            row = metrics_cb.rows[-1] if metrics_cb.rows else None
            if row and row.get("tokens_per_s") is not None:
                self._fields["tps"] = f"{row['tokens_per_s']:,.0f}"
            self._progress.update(self._task, **self._fields)

        def on_train_end(self, args, state, control, **kwargs):
            if self._progress is not None:
                self._progress.stop()
                self._progress = None

    metrics_cb = MetricsCallback()
    callbacks: list[Any] = [metrics_cb, DataStateCallback(), HeldoutCallback()]
    if adapter_steps:
        callbacks.append(AdapterStepsCallback())
    if progress and is_main:
        callbacks.append(RichProgressCallback())
    return callbacks


def want_progress_bar() -> bool:
    """A bar only on an interactive terminal; logs and CI get one line per logging step."""
    return sys.stderr.isatty()
