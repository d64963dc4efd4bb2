"""What every ``emergence`` command shares: user errors, logging to stderr, quiet library bars.

    >>> from emergence.cli.common import error_line
    >>> error_line("emergence run", ValueError("corpus x.json does not exist"))
    'emergence run: error: corpus x.json does not exist'

A user error (a bad config, a corpus that cannot be read, a setting this machine cannot
run, a folder that cannot be written) ends the command with one line naming the fix and
exit status 2, never a traceback. Library progress bars (tqdm from transformers, the GGUF
converter, lm-eval) are turned off where the command prints its own progress, so they do
not interleave with its lines in a log.
"""
from __future__ import annotations

import logging
import os
import sys
from typing import Any

__all__ = ["error_line", "log_to_stderr", "print_json", "quiet_cpu_only_noise", "quiet_library_bars", "user_errors"]


def user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean the user must change something (not a bug): printed, not traced."""
    from emergence.configio import ConfigError
    from emergence.corpus.records import LoadError
    from emergence.experiment.runner import RunSetupError
    from emergence.train.preflight import TrainSetupError

    return (ConfigError, LoadError, RunSetupError, TrainSetupError)


def error_line(command: str, exc: BaseException) -> str:
    """``<command>: error: <message>`` on one line (the message's own lines kept)."""
    return f"{command}: error: {exc}"


def quiet_library_bars(*, keep_on_terminal: bool = False) -> None:
    """Turn off the progress bars libraries draw (tqdm), unless asked to keep them on a terminal.

    Set before the libraries are imported: tqdm reads ``TQDM_DISABLE`` when it is imported,
    huggingface_hub and transformers read ``HF_HUB_DISABLE_PROGRESS_BARS``. A value the
    user set is kept.
    """
    if keep_on_terminal and sys.stderr.isatty():
        return
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if "transformers" in sys.modules:  # already imported (in-process callers, tests)
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()


def quiet_cpu_only_noise() -> None:
    """The one message bitsandbytes logs on import on a CPU with AVX-512 BF16 (it tries to fetch a
    hub kernel for 4-bit CPU matmuls): peft imports bitsandbytes whenever it is installed, and
    emergence never runs 4-bit on a CPU (the preflight refuses it), so that module's logger is
    set to errors only. Nothing else is silenced; bitsandbytes is a [gpu] extra, not installed
    by the CPU set-up at all."""
    logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)


class _CurrentStderr(logging.StreamHandler):
    """A stream handler that writes to whatever ``sys.stderr`` is when a line is logged.

    A plain ``StreamHandler(sys.stderr)`` keeps the stream it was built with; when that stream
    is swapped and closed (pytest's capture, a notebook cell's redirect), every later line of
    the process fails with "I/O operation on closed file"."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ assigns it; the property wins
        pass


def log_to_stderr(level: int = logging.INFO) -> None:
    """Send the ``emergence`` loggers' lines (training steps, probing progress) to stderr."""
    logger = logging.getLogger("emergence")
    if not logger.handlers:
        handler = _CurrentStderr()
        handler.setFormatter(logging.Formatter("    %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False


def print_json(data: Any) -> None:
    """Indented JSON on stdout (NaN kept as NaN, paths as strings)."""
    import json

    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
