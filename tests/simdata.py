"""Data-generating processes for the simulation tests of emergence.stats and the decision rule.

Each draws a (draws x n) array of per-item values like the tool's metrics and knows its
true mean exactly (a finite sum or a closed form, not a Monte Carlo estimate):

- absolute age errors in years: integers 0..17, a rounded half-normal mixture (near hits
  and far misses; within-2-years rates 0.47-0.59), right-skewed (skewness 1.2-1.5);
- paired absolute errors: the tuned model repeats the base model's answer on a share of
  the items and otherwise errs like ABS_TUNED: zero-inflated, left-skewed differences;
- expected error over bands in [0, 10]: 10 x Beta(a, 4); paired values share the Beta's
  second gamma, so they are correlated and the mean difference is still exact;
- 0/1 outcomes with given rates; paired 0/1 outcomes with given discordance and effect.
"""
from __future__ import annotations

from statistics import NormalDist

import numpy as np

MAX_ERROR = 17


def _half_normal_pmf(sd: float) -> np.ndarray:
    """P(round(|N(0, sd)|) = k) for k = 0..MAX_ERROR, the tail beyond folded into MAX_ERROR."""
    nd = NormalDist(0.0, sd)
    p = [2.0 * (nd.cdf(0.5) - 0.5)] + [2.0 * (nd.cdf(k + 0.5) - nd.cdf(k - 0.5)) for k in range(1, MAX_ERROR + 1)]
    p[-1] += 1.0 - sum(p)
    return np.array(p)


ABS_BASE = 0.25 * _half_normal_pmf(1.5) + 0.75 * _half_normal_pmf(6.0)
ABS_TUNED = 0.40 * _half_normal_pmf(1.5) + 0.60 * _half_normal_pmf(5.0)
# limits reported in the benchmark, not representative: most answers near, a few far
ABS_HEAVY = 0.70 * _half_normal_pmf(1.5) + 0.30 * _half_normal_pmf(5.0)
ABS_RARE_FAR = 0.90 * _half_normal_pmf(2.0) + 0.10 * np.r_[np.zeros(3), np.full(13, 1 / 13), np.zeros(2)]
KEEP = 0.4  # share of items on which the tuned model repeats the base model's answer


def pmf_mean(pmf: np.ndarray) -> float:
    return float(np.arange(pmf.size) @ pmf)


def abs_errors(rng: np.random.Generator, pmf: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    return rng.choice(pmf.size, size=shape, p=pmf).astype(float)


def paired_abs_errors(rng: np.random.Generator, shape: tuple[int, int], keep: float = KEEP,
                      shift: float = 0.0) -> tuple[np.ndarray, np.ndarray, float]:
    """(base, tuned, true mean of tuned - base); ``shift`` is added to the tuned errors."""
    base = abs_errors(rng, ABS_BASE, shape)
    tuned = np.where(rng.random(shape) < keep, base, abs_errors(rng, ABS_TUNED, shape)) + shift
    return base, tuned, (1 - keep) * (pmf_mean(ABS_TUNED) - pmf_mean(ABS_BASE)) + shift


def expected_errors(rng: np.random.Generator, shape: tuple[int, int], a: float = 1.2, b: float = 4.0) -> np.ndarray:
    """10 x Beta(a, b): mean 10 a / (a + b)."""
    g1, g2 = rng.gamma(a, size=shape), rng.gamma(b, size=shape)
    return 10.0 * g1 / (g1 + g2)


def paired_expected_errors(rng: np.random.Generator, shape: tuple[int, int], a_base: float = 1.2,
                           a_tuned: float = 0.9, b: float = 4.0) -> tuple[np.ndarray, np.ndarray, float]:
    """Base 10 Beta(a_base, b), tuned 10 Beta(a_tuned, b) sharing the second gamma."""
    g_base, g_tuned, g2 = rng.gamma(a_base, size=shape), rng.gamma(a_tuned, size=shape), rng.gamma(b, size=shape)
    truth = 10.0 * a_tuned / (a_tuned + b) - 10.0 * a_base / (a_base + b)
    return 10.0 * g_base / (g_base + g2), 10.0 * g_tuned / (g_tuned + g2), truth


def paired_binary(rng: np.random.Generator, shape: tuple[int, int], base: float, discordance: float,
                  effect: float) -> tuple[np.ndarray, np.ndarray]:
    """0/1 outcomes (base, tuned): P(1, 0) = (discordance - effect) / 2, P(0, 1) = (discordance + effect) / 2."""
    p10, p01 = (discordance - effect) / 2.0, (discordance + effect) / 2.0
    p11 = base - p10
    if min(p10, p01, p11, 1.0 - p11 - p10 - p01) < 0:
        raise ValueError("no such paired table")
    u = rng.random(shape)
    a = (u < p11 + p10).astype(float)
    b = ((u < p11) | ((u >= p11 + p10) & (u < p11 + p10 + p01))).astype(float)
    return a, b


def paired_counts(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: (n10, n01) discordant counts of paired 0/1 arrays."""
    return ((a == 1) & (b == 0)).sum(axis=1), ((a == 0) & (b == 1)).sum(axis=1)
