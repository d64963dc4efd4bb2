"""The run directory: its state file, its lock, and what a run may delete there.

    >>> import tempfile, pathlib
    >>> from emergence.experiment.rundir import RunState
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> state = RunState.load(d)
    >>> state.record_written("audit"); state.save()
    >>> RunState.load(d).written, RunState.is_run_dir(d)
    (['audit'], True)

``run.json`` marks a directory as an emergence run (``"tool": "emergence"``) and lists
every top-level entry the run wrote. Starting over (``--no-resume``) deletes exactly those
entries and nothing else; a non-empty directory without such a ``run.json`` is refused,
whatever it holds (a folder with a ``config.toml`` of its own is not a run). An entry is a
plain name inside the run directory: one naming anything else (``..``, ``/``, ``a/b``, a
link) is never deleted, whatever ``run.json`` says.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

__all__ = ["CONFIG_FILE", "ENV_FILE", "LOCK_FILE", "STATE_FILE", "ForeignDirectoryError", "RunLockedError",
           "RunState", "check_not_foreign", "is_plain_name", "start_over", "write_json_atomic"]

STATE_FILE = "run.json"
CONFIG_FILE = "config.toml"
ENV_FILE = "env.json"
LOCK_FILE = ".lock"
TOOL = "emergence"


class ForeignDirectoryError(FileExistsError):
    """The directory exists and is not a run of this tool: nothing of it may be touched."""


class RunLockedError(RuntimeError):
    """Another process is running an experiment in the same run directory."""


def write_json_atomic(path: Path, data: Any) -> Path:
    """Write JSON through a temporary file and a rename: a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str, allow_nan=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


class RunState:
    """``run.json``: stage fingerprints and times, and the entries this run wrote."""

    def __init__(self, run_dir: Path, data: dict[str, Any]) -> None:
        self.dir = run_dir
        self.data = data

    @classmethod
    def load(cls, run_dir: Path) -> "RunState":
        data = _read_json(run_dir / STATE_FILE)
        if not isinstance(data, dict):
            data = {}
        data.setdefault("tool", TOOL)
        if not isinstance(data.get("stages"), dict):
            data["stages"] = {}
        if not isinstance(data.get("written"), list):
            data["written"] = []
        return cls(run_dir, data)

    @staticmethod
    def is_run_dir(run_dir: Path) -> bool:
        """The directory holds a ``run.json`` written by this tool (a run of emergence)."""
        data = _read_json(run_dir / STATE_FILE)
        return isinstance(data, dict) and data.get("tool") == TOOL and isinstance(data.get("stages"), dict)

    @property
    def stages(self) -> dict[str, Any]:
        return self.data["stages"]

    @property
    def written(self) -> list[str]:
        return list(self.data["written"])

    def record_written(self, *entries: str) -> None:
        """Remember top-level entries (files or folders) this run created."""
        for entry in entries:
            top = Path(entry).parts[0]
            if not is_plain_name(top):
                raise ValueError(f"a run records entries inside its directory, not {entry!r}")
            if top not in self.data["written"]:
                self.data["written"].append(top)

    def save(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.record_written(STATE_FILE)
        write_json_atomic(self.dir / STATE_FILE, self.data)


def is_plain_name(name: Any) -> bool:
    """A single path component naming something inside a folder (no separator, not . or ..)."""
    return (isinstance(name, str) and name not in ("", ".", "..") and "/" not in name
            and (os.altsep is None or os.altsep not in name) and os.sep not in name and "\0" not in name)


def check_not_foreign(run_dir: Path) -> None:
    """Refuse a non-empty directory that is not a run of this tool, and a path that is a file."""
    if run_dir.exists() and not run_dir.is_dir():
        raise ForeignDirectoryError(f"{run_dir} exists and is not a directory: choose another --out")
    if run_dir.is_dir() and any(p.name != LOCK_FILE for p in run_dir.iterdir()) \
            and not RunState.is_run_dir(run_dir):
        raise ForeignDirectoryError(
            f"{run_dir} exists, is not empty and is not an emergence run directory (no {STATE_FILE} "
            "written by emergence): nothing in it is touched; choose another --out")


def start_over(run_dir: Path) -> list[str]:
    """Delete what the run recorded as written (and only that); returns the entries removed."""
    state = RunState.load(run_dir)
    removed = []
    for name in state.written:
        if not is_plain_name(name) or name == LOCK_FILE:  # a run.json edited by hand, or not ours
            continue
        target = run_dir / name
        if not (target.exists() or target.is_symlink()):
            continue
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink()
        removed.append(name)
    return removed


class RunLock:
    """An exclusive lock on a run directory (``filelock``), taken without waiting."""

    def __init__(self, run_dir: Path) -> None:
        from filelock import FileLock

        self.lock = FileLock(str(run_dir / LOCK_FILE))
        self.dir = run_dir

    def __enter__(self) -> "RunLock":
        from filelock import Timeout

        try:
            self.lock.acquire(timeout=0)
        except Timeout:
            raise RunLockedError(f"another emergence run is using {self.dir}; wait for it or choose "
                                 "another --out") from None
        return self

    def __exit__(self, *exc: Any) -> None:
        self.lock.release()
