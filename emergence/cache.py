"""emergence's cache folder and building a folder in it once, atomically, across processes.

    >>> import tempfile
    >>> from pathlib import Path
    >>> from emergence.cache import build_once
    >>> target = Path(tempfile.mkdtemp()) / "thing"
    >>> build_once(target, lambda d: (d / "f").write_text("x"), stamp="v1") == target
    True
    >>> (target / "f").read_text(), (target / ".complete").read_text().strip()
    ('x', 'v1')

Converted and built models live here (``$EMERGENCE_CACHE`` overrides the platform's user
cache directory). A folder appears complete or not at all, and a lock keeps two
processes from building it twice.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

__all__ = ["build_once", "cache_dir", "file_lock"]



def cache_dir() -> Path:
    """Root of emergence's cache: ``$EMERGENCE_CACHE`` or the platform's user cache dir."""
    override = os.environ.get("EMERGENCE_CACHE")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("emergence"))


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Exclusive inter-process lock (two processes may resolve the same model at once)."""
    from filelock import FileLock  # a transformers dependency; portable unlike fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path)):
        yield


def build_once(target: Path, build: Any, *, stamp: str = "1") -> Path:
    """Build ``target`` with ``build(tmp_dir)`` exactly once, atomically and race-safe.

    The folder appears complete or not at all: ``build`` writes into a temporary sibling
    that is renamed into place; a lock keeps a second process from building it twice.
    ``stamp`` (written to ``.complete``) names the builder's version: a folder made by an
    older builder is rebuilt.
    """
    marker = target / ".complete"

    def done() -> bool:
        return marker.is_file() and marker.read_text().strip() == stamp

    if done():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(target.with_name(target.name + ".lock")):
        if done():  # another process built it while we waited
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        tmp.chmod(0o755)  # mkdtemp makes it private; the finished folder is an ordinary one
        try:
            build(tmp)
            (tmp / ".complete").write_text(stamp + "\n")
            if target.exists():  # stale or half-written: move aside, then swap in
                old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
                os.replace(target, old / "x")
                shutil.rmtree(old, ignore_errors=True)
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target
