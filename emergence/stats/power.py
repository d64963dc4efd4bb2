"""Power: the minimum detectable effect of an interval, and the sample size a target MDE needs.

    >>> from emergence.stats.power import n_for_mde
    >>> n_for_mde(0.05, kind="binary", design="paired", discordance=0.25, rate=0.25)
    793
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from emergence.stats.estimate import _NORMAL, Design, Estimate, Kind, _z
from emergence.stats.intervals import newcombe_bounds, tango_bounds, wilson_bounds

__all__ = ["expected_mde", "mde_from_bounds", "minimum_detectable_effect", "n_for_mde"]


# --------------------------------------------------------------------------- power
def mde_from_bounds(low: Any, high: Any, alpha: float = 0.05, power: float = 0.8) -> np.ndarray:
    """Minimum detectable effect from (1 - alpha) interval ends: (z_{1-a/2} + z_power) / z_{1-a/2} * (high - low) / 2."""
    z = _z(alpha)
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must lie in (0, 1), got {power}")
    return (z + _NORMAL.inv_cdf(power)) / z * (np.asarray(high, dtype=float) - np.asarray(low, dtype=float)) / 2.0


def minimum_detectable_effect(e: Estimate, power: float = 0.8) -> float:
    """The effect this estimate's design detects with probability ``power`` at its own alpha.

    Read off the interval's half-width (see the module docstring); NaN where the interval
    is undefined.
    """
    return float(mde_from_bounds(e.ci_low, e.ci_high, 1.0 - e.confidence, power))


def expected_mde(
    n: int,
    *,
    kind: Kind,
    design: Design,
    alpha: float = 0.05,
    power: float = 0.8,
    rate: float | None = None,
    rate_b: float | None = None,
    discordance: float | None = None,
    effect: float = 0.0,
    sd: float | None = None,
    sd_b: float | None = None,
) -> float:
    """The MDE an eval set of ``n`` items (``n`` per side when unpaired) should give.

    binary: the interval of :func:`interval` at the expected counts (fractional counts are
    fine for score intervals): one_sample needs ``rate``; paired needs ``discordance``
    (P(the two sides differ on an item)) and ``effect`` (p_b - p_a, default 0; ``rate``,
    if given, only checks that the table exists: Tango's width does not depend on it);
    unpaired needs ``rate`` (side a) and ``rate_b`` (default rate + effect).
    continuous: ``(z_{1-a/2} + z_power) * sd / sqrt(n)``, sd of the values (one_sample), of
    the differences (paired), or sqrt(sd^2 + sd_b^2) per side (unpaired). The bootstrap-t
    interval is wider than z * sd / sqrt(n) below ~30 items, so this is optimistic there.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    factor = (_z(alpha) + _NORMAL.inv_cdf(power))
    if kind == "continuous":
        if sd is None or sd < 0:
            raise ValueError("continuous planning needs sd >= 0")
        spread = math.hypot(sd, sd if sd_b is None else sd_b) if design == "unpaired" else sd
        return factor * spread / math.sqrt(n)
    if design == "one_sample":
        if rate is None:
            raise ValueError("binary one_sample planning needs rate")
        lo, hi = wilson_bounds(n * rate, n, alpha)
    elif design == "paired":
        if discordance is None:
            raise ValueError("binary paired planning needs discordance")
        p10, p01 = (discordance - effect) / 2.0, (discordance + effect) / 2.0
        if p10 < 0 or p01 < 0 or discordance > 1 or (rate is not None and (p10 > rate or p01 > 1 - rate)):
            raise ValueError(f"no paired table has rate={rate}, discordance={discordance}, effect={effect}")
        lo, hi = tango_bounds(n * p10, n * p01, n, alpha)
    else:
        if rate is None:
            raise ValueError("binary unpaired planning needs rate")
        rb = rate + effect if rate_b is None else rate_b
        lo, hi = newcombe_bounds(n * rate, n, n * rb, n, alpha)
    return float(mde_from_bounds(lo, hi, alpha, power))


def n_for_mde(target: float, *, max_n: int = 10_000_000, **assumptions: Any) -> int:
    """The smallest n (per side when unpaired) whose :func:`expected_mde` is <= target.

    ``assumptions`` are expected_mde's keywords (kind, design, alpha, power, rates, sd).

        >>> n_for_mde(0.05, kind="binary", design="paired", discordance=0.25, rate=0.25)
        793
    """
    if target <= 0:
        raise ValueError(f"target MDE must be > 0, got {target}")

    def ok(n: int) -> bool:
        return expected_mde(n, **assumptions) <= target

    hi = 2
    while not ok(hi):
        hi *= 2
        if hi > max_n:
            raise ValueError(f"no n <= {max_n} reaches an MDE of {target}")
    lo = hi // 2  # ok(lo) is False, or lo = 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return 1 if ok(1) else hi
