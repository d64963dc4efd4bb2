"""``emergence export``: merge a LoRA adapter into its base model; safetensors, optionally GGUF.

    $ emergence export --adapter runs/cpu-demo-x/train/adapter --out runs/cpu-demo-x/merged
    $ emergence export --adapter ADAPTER --out merged/ --gguf      # also merged/model-f32.gguf

The base is the one the adapter names (``emergence_base.json`` beside its
``adapter_config.json``) unless ``--model`` gives another. See :mod:`emergence.export`.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "export", help="merge an adapter into its base model and save it (safetensors; --gguf too)",
        description="Load the base model, apply the LoRA adapter, merge it into the weights and save an "
        "ordinary model folder that loads without PEFT (like axolotl's merge-lora or Unsloth's "
        "save_pretrained_merged). --gguf also writes an f32 GGUF (Llama-architecture models).")
    p.add_argument("--adapter", required=True, help="PEFT adapter folder (a run's train/adapter)")
    p.add_argument("--out", required=True, help="folder for the merged model (must not exist, or be empty)")
    p.add_argument("--model", default=None, help="base model spec (default: the one the adapter names)")
    p.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default="float32",
                   help="dtype of the merged weights (default float32)")
    p.add_argument("--gguf", action="store_true", help="also write model-f32.gguf with the gguf package")
    p.add_argument("--json", action="store_true", help="print what was written as JSON")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from emergence.cli.common import error_line, quiet_library_bars

    quiet_library_bars()
    from emergence.export import ExportError, export_merged

    try:
        result = export_merged(args.adapter, args.out, model=args.model, dtype=args.dtype, gguf=args.gguf)
    except (ExportError, FileNotFoundError) as exc:
        print(error_line("emergence export", exc), file=sys.stderr)
        return 2
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        print(f"merged {result.adapter} into {result.base} ({result.base_path})\nwrote {result.out_dir}"
              + (f"\nwrote {result.gguf}" if result.gguf else ""))
    return 0
