"""The ``emergence`` command: a thin layer over the library.

    $ emergence data audit "$(python -c 'import emergence; print(emergence.sample_path())')"

Each stage registers its own subcommands from a small module beside this one
(``data``, ``train``, ``probe``, ``evaluate``, ``run``, ``models``, ``export``); handlers
only parse flags into the stage's pydantic config and call the library. Heavy imports
stay inside handlers so ``emergence --help`` is instant. One vocabulary throughout:
``--out`` for where results go, ``--json`` for a machine-readable result, ``--profile``
``cpu-demo``/``seed``, ``--print-config`` as TOML. Output piped into ``head`` ends quietly.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

# subcommand modules, in pipeline order; each defines register(subparsers)
_MODULES = ("data", "train", "probe", "evaluate", "run", "models", "export")


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
    from emergence.cli.common import quiet_cpu_only_noise, quiet_library_bars

    # before any library is imported: the commands print their own progress (eval keeps
    # lm-eval's bars on a terminal, its only progress)
    quiet_library_bars(keep_on_terminal=args.command == "eval")
    quiet_cpu_only_noise()
    try:
        code = int(args.handler(args) or 0)
        sys.stdout.flush()
        return code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader (e.g. `| head`) closed the pipe: stop quietly, and keep the interpreter's
        # final flush of stdout from raising again at exit
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
