"""The age bands every report and metric uses: the single source of ``AGE_BANDS``.

    >>> from emergence.agecues import band_of
    >>> band_of(2.5), band_of(13), band_of(40)
    ('0-2', '13-17', '18+')
"""
from __future__ import annotations

import math

AGE_BANDS: tuple[tuple[str, float, float | None], ...] = (
    ("0-2", 0, 2),
    ("3-5", 3, 5),
    ("6-8", 6, 8),
    ("9-12", 9, 12),
    ("13-17", 13, 17),
    ("18+", 18, None),
)


def band_of(age: float) -> str:
    """The ``AGE_BANDS`` name whose range holds ``floor(age)`` (2.5 -> "0-2")."""
    if age is None or math.isnan(age) or age < 0:
        raise ValueError(f"age must be a non-negative number, got {age!r}")
    whole = math.floor(age)
    for name, lo, hi in AGE_BANDS:
        if whole >= lo and (hi is None or whole <= hi):
            return name
    raise ValueError(f"no band holds age {age!r}")  # unreachable: the bands cover 0..inf
