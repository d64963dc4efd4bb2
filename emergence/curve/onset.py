"""Onset: the first probed step whose band of change from base lies wholly beyond the smallest effect that counts.

    >>> import numpy as np
    >>> from emergence.curve.onset import first_beyond
    >>> low = np.array([[-0.1, 0.02, 0.08, 0.12]]); high = low + 0.2
    >>> first_beyond(low, high, np.full((1, 4), 50), direction="increase", min_effect=0.05).tolist()
    [2]

The rule is :func:`emergence.verdict.decision.decide`'s "confirmed" (signed lower end >
min_effect, with at least ``min_n`` pairs), applied to each step's band in order.

Which band: the simultaneous one. Scanning K steps for the first that passes gives K
chances; with pointwise intervals a curve whose true change sits at the threshold shows a
false onset with probability up to K alpha / 2, and the first passing step is the luckiest
of the early ones (a too-early onset). The simultaneous band holds every step at once, so
on such a curve any false onset has probability <= alpha / 2 (one side), and the onset
found is a step where the change is beyond the threshold with the band's confidence. The
price is a later onset than the pointwise rule would give (a wider band needs a larger
change), the conservative error for a claim that an ability appeared.

The interval: resample the items (the same resampled items for every step), recompute
every step's change and band with the sample's critical values held fixed (recomputing
the max-t critical value inside every resample, a nested bootstrap, changes it only at
second order and costs n_boot times more), and take the onset step again; a resample with
no onset counts as "later than the last step". The percentile interval over those steps
says how far the onset would move with other items; it is a description of the onset's
sampling spread, not an interval with proven coverage (a first-passage step is discrete
and its bootstrap distribution is not smooth).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from emergence.verdict.decision import Direction

__all__ = ["first_beyond", "onset_percentiles"]


def first_beyond(low: Any, high: Any, n: Any, *, direction: Direction, min_effect: float,
                 min_n: int = 10) -> np.ndarray:
    """Per row, the index of the first step whose interval lies wholly beyond ``min_effect`` in
    ``direction`` (with >= ``min_n`` pairs); K (one past the last) where none does.

    Arrays are (rows, K) (or (K,), giving a 0-d result); a NaN interval never passes."""
    if direction not in ("increase", "decrease"):
        raise ValueError(f"direction must be 'increase' or 'decrease', got {direction!r}")
    if min_effect < 0:
        raise ValueError(f"min_effect is a magnitude, got {min_effect}")
    lo, hi = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    signed_low = lo if direction == "increase" else -hi
    with np.errstate(invalid="ignore"):
        passed = (signed_low > min_effect) & (np.asarray(n) >= min_n)
    k = passed.shape[-1]
    return np.where(passed.any(axis=-1), np.argmax(passed, axis=-1), k)


def onset_percentiles(indices: Any, k_steps: int, alpha: float = 0.05) -> tuple[int, int, float]:
    """(low, high, share without onset) of bootstrap onset indices; index ``k_steps`` means none.

    low and high are the alpha/2 and 1 - alpha/2 quantiles of the discrete distribution
    (the smallest index whose cumulative share reaches the level)."""
    idx = np.sort(np.asarray(indices).ravel())
    if idx.size == 0:
        raise ValueError("no bootstrap onsets")
    cdf = np.arange(1, idx.size + 1) / idx.size

    def at(level: float) -> int:
        return int(idx[np.searchsorted(cdf, level - 1e-12)])

    return at(alpha / 2.0), at(1.0 - alpha / 2.0), float(np.mean(idx >= k_steps))
