"""The loader's C twins (emergence/_speedups.c), or None where setup.py could not build them.

    >>> from emergence.corpus import speedups
    >>> speedups.AVAILABLE in (True, False)
    True
    >>> from emergence.corpus.records import collapse_spaces  # the C twin when built, else Python
    >>> collapse_spaces("  a   b ")
    'a b'

`events` finds the bytes the loader's scan looks at (twin of numpy's ten passes in
`emergence.corpus.stream._Scanner._numpy_events`); `collapse_spaces` makes runs of spaces one
and strips the ends (twin of `emergence.corpus.records.collapse_spaces_py`); `unescape`
replaces HTML entities where `emergence.corpus.records.unescape_entities` finds them, asking
the same function for each. Each gives its twin's results exactly
(tests/test_speedups.py); where the extension is missing (no C compiler, no Python
headers, no SSE2 at install) the loader runs the Python twins, with the same records,
10-25% slower (benchmarks/README.md).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

try:
    from emergence._speedups import collapse_spaces, events, unescape
except ImportError:  # not built here: the callers use their Python twins
    collapse_spaces = events = unescape = None

AVAILABLE: bool = events is not None

__all__ = ["AVAILABLE", "collapse_spaces", "events", "python_twins", "unescape"]


@contextlib.contextmanager
def python_twins() -> Iterator[None]:
    """Within it, the loader runs its Python twins, as where the extension was not built
    (the tests' and the benchmark's way to measure and check that path)."""
    global collapse_spaces, events, unescape
    saved = collapse_spaces, events, unescape
    collapse_spaces = events = unescape = None
    try:
        yield
    finally:
        collapse_spaces, events, unescape = saved
