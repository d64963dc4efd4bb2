"""The ``emergence`` command: a thin layer over the library.

    $ emergence data audit "$(python -c 'import emergence; print(emergence.sample_path())')"

Each stage registers its own subcommands from a small module beside this one
(``data``, ``train``, ``probe``, ``evaluate``, ``run``); handlers only parse flags into
the stage's pydantic config and call the library. Heavy imports stay inside handlers so
``emergence --help`` is instant.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# subcommand modules, in pipeline order; each defines register(subparsers)
_MODULES = ("data", "train", "probe", "evaluate", "run")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emergence",
        description="Fine-tune a chat LLM on (title, content) text and test what emerges.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _MODULES:
        importlib.import_module(f"emergence.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
