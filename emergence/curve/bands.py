"""Change from base along the curve: per-step statistics and the max-t simultaneous band.

    >>> import numpy as np
    >>> from emergence.curve.bands import band_bounds, max_t_critical
    >>> rng = np.random.default_rng(0)
    >>> base = rng.normal(size=60)
    >>> steps = base + np.array([[0.1], [0.3], [0.5], [0.6]]) + rng.normal(0, 0.5, (4, 60))
    >>> c, q = max_t_critical(base, steps, kind="continuous", n_boot=999, rng=1)
    >>> bool(c[0] > q[0].max() > 1.9)  # the band's critical value exceeds every step's own
    True
    >>> lo, hi = band_bounds(base, steps, kind="continuous", critical=c[:, None])
    >>> lo.shape
    (1, 4)

The band (``values`` at K steps after the base, the same n items at every step):

- per step k, the paired differences d_ik = value_ik - base_i over the items with both
  values (a NaN on either side drops the pair); the statistic is continuous: the
  studentised mean t_k(delta) = (mean_k - delta) / se_k (se_k = sd_k / sqrt(n_k)); binary:
  Tango's score statistic T_k(delta), the one Tango's interval inverts;
- B bootstrap replicates resample the items, the same resampled items for every step (so
  the replicates keep the correlation between steps), and take M* = max_k |t*_k(mean_k)|,
  each step's statistic on the resample at the sample's own estimate (the bootstrap's
  truth);
- c = the (1 - alpha) quantile of M*; the band at step k is {delta : |t_k(delta)| <= c}:
  continuous mean_k +- c se_k, binary Tango's interval at alpha* = 2 (1 - Phi(c)).

With one step this is the symmetric bootstrap-t (continuous) or Tango's interval (binary)
of :func:`emergence.stats.interval`; with K steps every step gets the same critical value,
so the band covers all K true changes at once with probability ~1 - alpha. The replicates
also give each step's own (1 - alpha) quantile q_k of |t*_k|; c >= max_k q_k on the same
replicates, which is why the band contains the pointwise intervals (the curve's pointwise
intervals come from emergence.stats.interval's own resamples, so
:func:`emergence.curve.build.metric_curve` uses max(c, that interval's critical value) at
each step). Bonferroni would use the quantile 1 - alpha / K of each |t*_k| and ignore that
the steps move together (tests/test_curve_coverage.py checks max-t's coverage, and that
its c is below Bonferroni's on correlated steps).

A step whose pairs have no spread (continuous), or fewer than 2 pairs, has no statistic;
a resample in which a step has fewer than 2 pairs, or no spread but a nonzero deviation,
cannot bound it (|t*| = inf). A step with no statistic, or unbounded in more than alpha of
its resamples (its own quantile q_k is inf: the pointwise interval is undefined there too),
has no band (NaN, never zero-width) and is left out of the max, so a few changed items at
an early step do not take the band from the others; if the rest still leave more than
alpha of the resamples unbounded, c is inf and the band is undefined.
Arrays carry a leading axis of samples (rows), so a simulation computes thousands of
bands in one call with this code.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from emergence.stats import Kind, tango_bounds, tango_score

__all__ = ["ChangeSums", "band_bounds", "change_sums", "critical_alpha", "max_t_critical", "pivots", "resample_sums",
           "sums_band"]

_NORMAL = NormalDist()
# Bootstrap weights x (rows * steps) products are built in chunks of at most this many
# cells of output, so n_boot x many rows never allocates at once.
_MAX_CELLS = 4_000_000
# Rows sharing one draw of resampling counts; a simulation gets fresh counts every
# _ROW_CHUNK rows, so its error does not hang on one draw.
_ROW_CHUNK = 128


@dataclass(frozen=True)
class ChangeSums:
    """Sufficient sums of the paired differences per (row, step): what every statistic reads.

    continuous: ``n`` pairs, ``a`` = sum of (d - centre), ``b`` = sum of (d - centre)^2, ``centre``
    the sample's mean difference; binary: ``n`` pairs, ``a`` = n10 (base 1, step 0),
    ``b`` = n01 (base 0, step 1), ``centre`` 0.
    """

    kind: Kind
    n: np.ndarray
    a: np.ndarray
    b: np.ndarray
    centre: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.kind == "binary":
                return (self.b - self.a) / self.n
            return self.centre + self.a / self.n

    @property
    def se(self) -> np.ndarray:
        """Continuous: sd / sqrt(n) of the differences (ddof=1); binary: the plain paired se."""
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.kind == "binary":
                d = (self.b - self.a) / self.n
                return np.sqrt(np.maximum((self.a + self.b) / self.n - d * d, 0.0) / self.n)
            var = np.maximum(self.b - self.a * self.a / self.n, 0.0) / (self.n - 1)
            return np.sqrt(var / self.n)


def _as_rows(base: Any, values: Any) -> tuple[np.ndarray, np.ndarray]:
    """(rows, n) and (rows, K, n) float arrays; a single sample gains a leading axis of 1."""
    x = np.asarray(base, dtype=float)
    y = np.asarray(values, dtype=float)
    if x.ndim == 1:
        x, y = x[None], y[None]
    if x.ndim != 2 or y.ndim != 3 or y.shape[0] != x.shape[0] or y.shape[2] != x.shape[1]:
        raise ValueError(f"need base (rows, n) and values (rows, K, n), got {x.shape} and {y.shape}")
    return x, y


def _parts(x: np.ndarray, y: np.ndarray, kind: Kind) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per item: (pair kept 0/1, first part, second part), each (rows, K, n).

    continuous: (kept, d, d^2) with d = step - base; binary: (kept, 1[10], 1[01])."""
    kept = ~(np.isnan(x[:, None, :]) | np.isnan(y))
    if kind == "binary":
        xb, yb = np.broadcast_to(x[:, None, :], y.shape), y
        if np.any(kept & ~(((xb == 0) | (xb == 1)) & ((yb == 0) | (yb == 1)))):
            raise ValueError("kind='binary' needs 0/1 values")
        n10, n01 = kept & (xb == 1) & (yb == 0), kept & (xb == 0) & (yb == 1)
        return kept.astype(float), n10.astype(float), n01.astype(float)
    d = np.where(kept, y - x[:, None, :], 0.0)
    return kept.astype(float), d, d * d


def change_sums(base: Any, values: Any, kind: Kind) -> ChangeSums:
    """The sample's own sums per (row, step); continuous sums are centred on the step's mean."""
    x, y = _as_rows(base, values)
    kept, p1, p2 = _parts(x, y, kind)
    n = kept.sum(axis=2)
    if kind == "binary":
        return ChangeSums(kind, n, p1.sum(axis=2), p2.sum(axis=2), np.zeros_like(n))
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = np.where(n > 0, p1.sum(axis=2) / n, 0.0)
    dc = np.where(kept > 0, p1 - centre[..., None], 0.0)
    return ChangeSums(kind, n, np.zeros_like(n), (dc * dc).sum(axis=2), centre)


def _centred_parts(x: np.ndarray, y: np.ndarray, s: ChangeSums) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_parts`, continuous differences taken as deviations from their step's mean."""
    kept, p1, p2 = _parts(x, y, s.kind)
    if s.kind == "continuous":
        p1 = np.where(kept > 0, p1 - s.centre[..., None], 0.0)
        p2 = p1 * p1
    return kept, p1, p2


def resample_sums(base: Any, values: Any, *, kind: Kind, n_boot: int = 2000,
                  rng: np.random.Generator | int | None = 0) -> ChangeSums:
    """Sums of ``n_boot`` resamples of one sample's items (the same items at every step), (n_boot, K)."""
    x, y = _as_rows(base, values)
    if x.shape[0] != 1:
        raise ValueError("resample_sums takes one sample")
    s = change_sums(x, y, kind)
    parts = [p[0].T for p in _centred_parts(x, y, s)]  # (n, K) each
    w = _weights(np.random.default_rng(rng), n_boot, x.shape[1])  # (B, n)
    n, a, b = (w @ p for p in parts)
    return ChangeSums(kind, n, a, b, np.broadcast_to(s.centre[0], n.shape))


def _defined(s: ChangeSums) -> np.ndarray:
    """Steps with a statistic: >= 1 pair (binary); >= 2 pairs with spread (continuous)."""
    if s.kind == "binary":
        return s.n >= 1
    return (s.n >= 2) & (s.b > 1e-24 * np.maximum(s.n, 1))


def _statistic(kind: Kind, n: np.ndarray, a: np.ndarray, b: np.ndarray, delta: np.ndarray,
               scale: np.ndarray) -> np.ndarray:
    """Signed t(delta) from sums (continuous: a, b = sums of deviations from delta and their
    squares; binary: n10, n01), positive when the sample lies above delta; +-inf (NaN with
    no direction) where the sums cannot bound the mean."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "binary":
            t = tango_score(delta, a, b, n)
            return np.where((n >= 1) & np.isfinite(t), t, np.nan)
        dev = a / n
        var = np.maximum(b - a * dev, 0.0) / (n - 1)
        tiny = 1e-12 * scale
        flat = var <= tiny
        t = dev / np.sqrt(np.where(flat, 1.0, var) / n)
        t = np.where(flat, np.where(np.abs(dev) <= np.sqrt(tiny), 0.0, np.copysign(np.inf, dev)), t)
        return np.where(n >= 2, t, np.nan)


def pivots(base: Any, values: Any, truth: Any, kind: Kind) -> np.ndarray:
    """Signed t_k(truth_k) per (row, step), positive when the sample lies above the truth.

    The band covers step k iff |t_k(truth_k)| <= its critical value, and its lower end lies
    above a threshold m iff t_k(m) > the critical value (both statistics decrease in delta;
    Tango's score is the one his interval inverts). NaN where the step has no statistic."""
    x, y = _as_rows(base, values)
    kept, p1, p2 = _parts(x, y, kind)
    truth = np.broadcast_to(np.asarray(truth, dtype=float), y.shape[:2])
    s = change_sums(x, y, kind)
    n = kept.sum(axis=2)
    if kind == "binary":
        t = _statistic(kind, n, p1.sum(axis=2), p2.sum(axis=2), truth, np.ones_like(n))
    else:
        dev = np.where(kept > 0, p1 - truth[..., None], 0.0)
        t = _statistic(kind, n, dev.sum(axis=2), (dev * dev).sum(axis=2), truth, s.b / np.maximum(n - 1, 1))
    return np.where(_defined(s), t, np.nan)


def _weights(rng: np.random.Generator, rows: int, n: int) -> np.ndarray:
    """rows x n resampling counts (how often each item is drawn in n draws with replacement)."""
    idx = rng.integers(0, n, size=(rows, n)) + (np.arange(rows) * n)[:, None]
    return np.bincount(idx.ravel(), minlength=rows * n).reshape(rows, n).astype(float)


def _upper(t: np.ndarray, q: float) -> np.ndarray:
    """The ceil((B + 1) q)-th order statistic along the last axis (the house convention)."""
    b = t.shape[-1]
    k = min(max(math.ceil((b + 1) * q), 1), b)
    return np.partition(t, k - 1, axis=-1)[..., k - 1]


def max_t_critical(base: Any, values: Any, *, kind: Kind, alpha: float = 0.05, n_boot: int = 2000,
                   rng: np.random.Generator | int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """(c, q): c (rows,) the (1 - alpha) quantile of max_k |t*_k|, q (rows, K) each step's own
    (1 - alpha) quantile of |t*_k|, from the same replicates (module docstring).

    Steps without a statistic (q NaN) or whose own quantile is inf (more than alpha of
    their resamples unbounded) are left out of the max; c is NaN when no step is left and
    inf when more than alpha of the resamples leave one of the rest unbounded."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    x, y = _as_rows(base, values)
    rows, k_steps, n = y.shape
    rng = np.random.default_rng(rng)
    s = change_sums(x, y, kind)
    ok = _defined(s)
    kept, p1, p2 = _centred_parts(x, y, s)
    if kind == "continuous":  # deviations from each step's mean, so t* is centred at the sample
        delta, scale = np.zeros((rows, k_steps)), s.b / np.maximum(s.n - 1, 1)
    else:
        delta, scale = s.mean, np.ones((rows, k_steps))
    c, q = np.full(rows, np.nan), np.full((rows, k_steps), np.nan)
    chunk = max(1, min(_ROW_CHUNK, _MAX_CELLS // max(k_steps * n_boot, 1)))
    for r0 in range(0, rows, chunk):
        sl = slice(r0, r0 + chunk)
        r = kept[sl].shape[0]
        w = _weights(rng, n_boot, n).T  # (n, B): one draw of items serves every step and row of the chunk
        parts = (p1, p2) if np.all(kept[sl]) else (kept, p1, p2)
        sums = [(part[sl].reshape(r * k_steps, n) @ w).reshape(r, k_steps, n_boot) for part in parts]
        if len(sums) == 2:  # no pair dropped: every resample draws n pairs at every step
            sums.insert(0, np.full_like(sums[0], float(n)))
        t = np.abs(_statistic(kind, *sums, delta[sl][..., None], scale[sl][..., None]))
        t = np.where(ok[sl][..., None], np.where(np.isnan(t), np.inf, t), 0.0)  # unbounded resample: inf
        q[sl] = np.where(ok[sl], _upper(t, 1.0 - alpha), np.nan)
        # a step that its own replicates cannot bound (its pointwise interval is undefined)
        # stays out of the max, so it does not leave every other step without a band
        bounded = np.isfinite(q[sl])
        c[sl] = np.where(bounded.any(axis=1), _upper(np.where(bounded[..., None], t, 0.0).max(axis=1), 1.0 - alpha),
                         np.nan)
    return c, q


def critical_alpha(critical: Any) -> np.ndarray:
    """The two-sided alpha whose normal quantile is the critical value: 2 (1 - Phi(c)).

    A binary band is Tango's interval at this alpha (Tango's score is ~N(0, 1))."""
    c = np.asarray(critical, dtype=float)
    return np.vectorize(lambda v: 2.0 * (1.0 - _NORMAL.cdf(v)) if math.isfinite(v) else (0.0 if v > 0 else math.nan),
                        otypes=[float])(c)


def band_bounds(base: Any, values: Any, *, kind: Kind, critical: Any) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) per (row, step) of {delta : |t_k(delta)| <= critical}; NaN where undefined.

    ``critical`` broadcasts against (rows, K): one value per row (the max-t c) or per step.
    Continuous: mean +- critical * se. Binary: Tango's interval at :func:`critical_alpha`
    (one call per distinct critical value)."""
    return sums_band(change_sums(base, values, kind), critical)


def sums_band(s: ChangeSums, crit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The band from sums (used for the sample and for resamples of it)."""
    crit = np.broadcast_to(np.asarray(crit, dtype=float), s.n.shape)
    ok = _defined(s) & np.isfinite(crit)
    if s.kind == "continuous":
        mean, se = s.mean, s.se
        with np.errstate(invalid="ignore"):  # inf x 0 where a step is undefined anyway
            return np.where(ok, mean - crit * se, np.nan), np.where(ok, mean + crit * se, np.nan)
    lo, hi = np.full(s.n.shape, np.nan), np.full(s.n.shape, np.nan)
    levels = critical_alpha(crit)
    for level in np.unique(levels[ok]):
        at = ok & (levels == level)
        lo[at], hi[at] = tango_bounds(s.a[at], s.b[at], s.n[at], float(level))
    return lo, hi
