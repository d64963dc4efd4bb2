"""``emergence train``: fine-tune with LoRA from a config file, a profile and flags.

    $ emergence train --profile cpu-demo --max-steps 20 --out runs/train-cpu

Layers, later ones winning: the profile's ``[train]`` table (the profiles of ``emergence
run``: ``cpu-demo``, the default without CUDA, or ``seed``, the default with it), then
``--config FILE`` (TOML/YAML/JSON, keys = TrainConfig fields), then ``--set key=value``
(any field; values as YAML scalars or flow lists: ``--set 'target_modules=[q_proj, v_proj]'``),
then the named flags. ``--print-config`` shows the resolved config as TOML without training.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

# flag -> TrainConfig field
_FLAGS = {
    "model": "model",
    "corpus": "corpus",
    "output_dir": "output_dir",
    "max_steps": "max_steps",
    "backend": "backend",
    "device": "device",
    "max_records": "max_records",
    "report_to": "report_to",
}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train",
        help="fine-tune a chat model with (Q)LoRA on title -> content exchanges",
        description="Fine-tune a causal LM with LoRA (4-bit QLoRA on a GPU) on the train split "
        "of a corpus; writes the adapter, metrics.jsonl, loss.png and summary.json into the "
        "output directory. Multi-GPU: accelerate launch --num_processes N -m emergence train ...",
    )
    p.add_argument("--config", metavar="FILE", help="TOML/YAML/JSON with TrainConfig fields")
    p.add_argument("--profile", choices=("cpu-demo", "seed", "cpu"), default=None, metavar="{cpu-demo,seed}",
                   help="starting point, the [train] table of `emergence run`'s profile: 'cpu-demo' (SmolLM2-135M, "
                   "fp32 LoRA on CPU; the default without CUDA) or 'seed' (the study's GPU settings; the default "
                   "with CUDA). 'cpu' is the old name of cpu-demo")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any TrainConfig field (repeatable)")
    p.add_argument("--model", help="hub id, local folder, 'smollm2', 'tiny-llama' or 'tiny-phi3'")
    p.add_argument("--corpus", help="training corpus (default: the embedded sample)")
    p.add_argument("--out", "--output-dir", dest="output_dir", metavar="DIR",
                   help="run directory (adapter, metrics, checkpoints); --output-dir is the same flag")
    p.add_argument("--max-steps", type=int, help="optimiser steps")
    p.add_argument("--max-records", type=int, help="use only the first N train records")
    p.add_argument("--backend", choices=("auto", "unsloth", "hf"), help="training backend")
    p.add_argument("--device", help="'cpu', 'cuda' or 'cuda:N'")
    p.add_argument("--report-to", dest="report_to", action="append", metavar="TRACKER",
                   help="log to a tracker transformers supports and that is installed (tensorboard, wandb, "
                   "mlflow, ...; repeatable); default none")
    p.add_argument("--resume", action="store_true", default=None,
                   help="continue the run in --output-dir from its latest checkpoint")
    p.add_argument("--overwrite", action="store_true", default=None,
                   help="start over in an --output-dir that already holds a run")
    p.add_argument("--print-config", action="store_true", help="print the resolved config as TOML and exit")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=_run)


def build_config(args: argparse.Namespace) -> Any:
    """The TrainConfig these arguments describe (profile < --config < --set < flags)."""
    from emergence.configio import load_config, parse_set
    from emergence.experiment.config import default_profile, load_profile
    from emergence.train.config import TrainConfig

    profile = args.profile or default_profile()
    if profile == "cpu":
        print("emergence train: --profile cpu is now called cpu-demo (the [train] table of `emergence run "
              "--profile cpu-demo`)", file=sys.stderr)
        profile = "cpu-demo"
    base = load_profile(profile).train
    overrides: dict[str, Any] = parse_set(args.overrides)
    for flag, field in _FLAGS.items():
        value = getattr(args, flag, None)
        if value is not None:
            overrides[field] = value
    if args.resume:
        overrides["resume"] = True
    if args.overwrite:
        overrides["overwrite"] = True
    return load_config(TrainConfig, args.config, overrides, base=base)


def _run(args: argparse.Namespace) -> int:
    import logging

    from emergence.cli.common import error_line, quiet_library_bars, user_errors

    try:
        config = build_config(args)
    except (*user_errors(), ValueError) as exc:
        print(error_line("emergence train", exc), file=sys.stderr)
        return 2
    if args.print_config:
        _print_toml(config)
        return 0
    import os

    quiet_library_bars()  # the trainer logs its own lines; tqdm bars would interleave with them
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if config.device == "cpu":
        # Before torch loads OpenMP: idle threads sleep instead of spinning. On a busy
        # machine spinning threads starve each other (SmolLM2 LoRA on 2 threads measured
        # 7 tokens/s spinning vs 67 passive under load); on an idle one it costs little.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("httpx", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from emergence.train.recipe import train

    try:
        result = train(config)
    except user_errors() as exc:
        print(error_line("emergence train", exc), file=sys.stderr)
        return 2
    if os.environ.get("RANK", "0") != "0":
        return 0  # under a distributed launcher only rank 0 reports
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        print(
            f"adapter: {result.adapter_dir}\n"
            f"steps: {result.steps}  final loss: {_fmt(result.final_loss)}  "
            f"average loss: {_fmt(result.train_loss_avg)}\n"
            f"held-out loss: {_fmt(result.heldout_loss_before)} -> {_fmt(result.heldout_loss_after)}"
            f"  ({result.heldout_records} examples)\n"
            f"trainable parameters: {result.trainable_params:,}  backend: {result.backend} "
            f"on {result.device}  {result.wall_time_s:.0f}s"
        )
    return 0


def _print_toml(config: Any) -> None:
    from emergence.cli.run import _print_toml as print_toml

    print_toml(config)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
