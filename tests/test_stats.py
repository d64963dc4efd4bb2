"""emergence.stats against hand-computed and published values, and its degenerate cases."""
from __future__ import annotations

import math

import numpy as np
import pytest

from emergence.stats import (
    Estimate,
    binom_two_sided_half,
    expected_mde,
    format_p,
    interval,
    is_binary,
    mcnemar_exact,
    mde_from_bounds,
    minimum_detectable_effect,
    n_for_mde,
    newcombe_bounds,
    newcombe_paired_bounds,
    p_text,
    studentized_bounds,
    studentized_diff_bounds,
    tango_bounds,
    tango_score,
    wilson_ci,
)


# Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table I,
# method 3 (Wilson score interval without continuity correction).
@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)],
)
def test_wilson_matches_newcombe_1998(successes, n, low, high):
    e = wilson_ci(successes, n)
    assert e.method == "wilson"
    assert e.n == n
    assert e.mean == pytest.approx(successes / n)
    assert e.ci_low == pytest.approx(low, abs=6e-5)
    assert e.ci_high == pytest.approx(high, abs=6e-5)
    assert e.se == pytest.approx(math.sqrt(e.mean * (1 - e.mean) / n))


def test_wilson_matches_scipy_where_available():
    stats = pytest.importorskip("scipy.stats")
    for k, n in [(0, 5), (3, 7), (50, 100), (99, 100), (7, 7)]:
        ci = stats.binomtest(k, n).proportion_ci(method="wilson", confidence_level=0.9)
        e = wilson_ci(k, n, alpha=0.1)
        assert (e.ci_low, e.ci_high) == pytest.approx((ci.low, ci.high), abs=1e-9)


def test_wilson_edge_cases():
    assert math.isnan(wilson_ci(0, 0).mean) and wilson_ci(0, 0).n == 0
    with pytest.raises(ValueError):
        wilson_ci(5, 3)
    full = wilson_ci(10, 10)
    assert full.ci_high == 1.0 and full.ci_low < 1.0


@pytest.mark.parametrize(
    ("b01", "b10", "p"),
    [
        (3, 10, 2 * (1 + 13 + 78 + 286) / 2**13),  # sum_{i<=3} C(13, i), doubled
        (0, 6, 2 / 2**6),
        (6, 0, 2 / 2**6),
        (5, 5, 1.0),
        (0, 0, 1.0),
        (1, 1, 1.0),
        (0, 1, 1.0),
    ],
)
def test_mcnemar_exact_vs_binomial_formula(b01, b10, p):
    concordant = 7
    a = [False] * b01 + [True] * b10 + [True] * concordant
    b = [True] * b01 + [False] * b10 + [True] * concordant
    r = mcnemar_exact(a, b)
    assert (r.b01, r.b10, r.n) == (b01, b10, b01 + b10 + concordant)
    assert r.p_value == pytest.approx(p, rel=1e-12)


def test_mcnemar_matches_scipy_binomtest_where_available():
    stats = pytest.importorskip("scipy.stats")
    for k, n in [(0, 1), (2, 9), (13, 40), (60, 100), (400, 1000)]:
        assert binom_two_sided_half(k, n) == pytest.approx(stats.binomtest(k, n, 0.5).pvalue, rel=1e-9)


def test_mcnemar_accepts_floats_and_drops_nan_pairs():
    r = mcnemar_exact([0.0, 1.0, float("nan"), 0.0], [1.0, 1.0, 0.0, 1.0])
    assert (r.b01, r.b10, r.n) == (2, 0, 3)
    with pytest.raises(ValueError):
        mcnemar_exact([True], [True, False])


def test_estimate_str_format_and_short():
    assert is_binary([0.0, 1.0]) and not is_binary([]) and not is_binary([2.0])
    e = wilson_ci(42, 100)
    assert str(e) == "0.42 ± 0.05 [0.33, 0.52] (n=100)"
    d = Estimate(mean=0.14, se=0.04, ci_low=0.06, ci_high=0.22, n=120, method="tango")
    assert d.short(signed=True) == "+0.14 [+0.06, +0.22]"
    assert d.short(signed=True, pct=True) == "+14% [+6, +22]" and d.short(3, pct=True) == "14.0% [6.0, 22.0]"
    assert d.format(signed=True) == "+0.14 ± 0.04 [+0.06, +0.22] (n=120)"
    assert str(Estimate(mean=math.nan, se=math.nan, ci_low=math.nan, ci_high=math.nan, n=0, method="normal")) == "n/a (n=0)"
    assert format_p(0.0004) == "<0.001" and format_p(0.0312) == "0.031"
    assert p_text(0.0004) == "p<0.001" and p_text(0.0312) == "p=0.031"


# --------------------------------------------------------------------------- score intervals, published values
# Newcombe (1998), "Interval estimation for the difference between independent proportions:
# comparison of eleven methods", Stat Med 17:873-890, Table II, method 10.
@pytest.mark.parametrize(
    ("k_a", "n_a", "k_b", "n_b", "low", "high"),
    [(48, 80, 56, 70, 0.0524, 0.3339), (3, 10, 9, 10, 0.1705, 0.8090),
     (0, 20, 0, 10, -0.1611, 0.2775), (0, 10, 0, 10, -0.2775, 0.2775)],
)
def test_newcombe_unpaired_matches_newcombe_1998(k_a, n_a, k_b, n_b, low, high):
    lo, hi = newcombe_bounds(k_a, n_a, k_b, n_b)
    assert (float(lo), float(hi)) == pytest.approx((low, high), abs=6e-5)
    e = interval([1.0] * k_a + [0.0] * (n_a - k_a), [1.0] * k_b + [0.0] * (n_b - k_b), design="unpaired")
    assert e.method == "newcombe" and e.n == n_a + n_b
    assert (e.ci_low, e.ci_high) == pytest.approx((low, high), abs=6e-5)
    assert e.mean == pytest.approx(k_b / n_b - k_a / n_a)


# Newcombe (1998), "Improved confidence intervals for the difference between binomial
# proportions based on paired data", Stat Med 17:2635-2650, Table II, method 10 (the
# table as e (both +), f (+ -), g (- +), h (both -), difference (f - g) / n); and
# Fagerland, Lydersen & Laake (2014) Stat Med 33:2850, the Cavo et al. table (59, 6; 16, 80).
@pytest.mark.parametrize(
    ("e", "f", "g", "h", "low", "high"),
    [(36, 12, 2, 0, 0.0569, 0.3404), (18, 12, 2, 18, 0.0562, 0.3290), (53, 0, 0, 1, -0.0729, 0.0729),
     (0, 30, 0, 0, 0.8395, 1.0), (59, 6, 16, 80, -0.1186, -0.0046)],
)
def test_newcombe_paired_matches_published_examples(e, f, g, h, low, high):
    # side b is the table's first variable, side a its second: b - a = (f - g) / n
    lo, hi = newcombe_paired_bounds(n11=e, n10=g, n01=f, n00=h)
    assert (float(lo), float(hi)) == pytest.approx((low, high), abs=6e-5)


Z95 = 1.959963984540054


def test_tango_matches_fagerland_2014_and_its_closed_forms():
    # Fagerland et al. (2014) Table V: Bentur et al. (1, 1; 7, 12), difference (1 - 7) / 21
    lo, hi = tango_bounds(n10=7, n01=1, n=21)
    assert (float(lo), float(hi)) == pytest.approx((-0.517, -0.026), abs=5e-4)
    # without discordant pairs the score equation solves by hand: delta / (1 - delta) = z^2 / n
    for n in (10, 12, 400):
        lo, hi = tango_bounds(0, 0, n)
        assert (float(lo), float(hi)) == pytest.approx((-Z95**2 / (n + Z95**2), Z95**2 / (n + Z95**2)), abs=1e-12)
    # swapping the sides negates the interval; the ends solve score = +-z; the score falls
    lo, hi = tango_bounds(12, 2, 50)
    lo2, hi2 = tango_bounds(2, 12, 50)
    assert (float(lo), float(hi)) == pytest.approx((-float(hi2), -float(lo2)), abs=1e-12)
    assert float(tango_score(lo, 12, 2, 50)) == pytest.approx(Z95, abs=1e-6)
    assert float(tango_score(hi, 12, 2, 50)) == pytest.approx(-Z95, abs=1e-6)
    grid = np.linspace(-0.999, 0.999, 2001)
    assert np.all(np.diff(tango_score(grid, 12, 2, 50)) < 0)


def test_tango_independent_of_concordant_split_and_used_for_paired_binary():
    a = [1.0] * 7 + [0.0] * 1 + [1.0] * 1 + [0.0] * 12  # base
    b = [0.0] * 7 + [1.0] * 1 + [1.0] * 1 + [0.0] * 12  # tuned
    e = interval(a, b, design="paired")
    assert e.method == "tango" and e.n == 21 and e.mean == pytest.approx(-6 / 21)
    assert (e.ci_low, e.ci_high) == pytest.approx((-0.517, -0.026), abs=5e-4)
    assert e.se == pytest.approx(math.sqrt((8 / 21 - (6 / 21) ** 2) / 21))


# --------------------------------------------------------------------------- bootstrap-t
def _bootstrap_t_by_hand(x, alpha, n_boot, seed, symmetric):
    """The textbook bootstrap-t, one resample at a time, with the same resampled indices."""
    x = np.asarray(x, dtype=float)
    n = x.size
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    mean, se = x.mean(), x.std(ddof=1) / math.sqrt(n)
    t = np.array([(x[i].mean() - mean) / (x[i].std(ddof=1) / math.sqrt(n)) for i in idx])
    if symmetric:
        q = np.sort(np.abs(t))[math.ceil((n_boot + 1) * (1 - alpha)) - 1]
        return mean - q * se, mean + q * se
    t.sort()
    return (mean - t[math.ceil((n_boot + 1) * (1 - alpha / 2)) - 1] * se,
            mean - t[math.floor((n_boot + 1) * alpha / 2) - 1] * se)


@pytest.mark.parametrize("symmetric", [False, True])
def test_studentized_matches_the_textbook_definition(symmetric):
    x = np.random.default_rng(3).exponential(2.0, size=25)
    lo, hi = studentized_bounds(x, 0.05, 999, 11, symmetric=symmetric)
    assert (float(lo[0]), float(hi[0])) == pytest.approx(_bootstrap_t_by_hand(x, 0.05, 999, 11, symmetric), rel=1e-10)


def test_studentized_diff_matches_the_textbook_definition():
    rng = np.random.default_rng(4)
    x, y = rng.exponential(2.0, size=15), rng.exponential(3.0, size=20)
    lo, hi = studentized_diff_bounds(x, y, 0.1, 499, 5)
    g = np.random.default_rng(5)
    ix, iy = g.integers(0, 15, size=(499, 15)), g.integers(0, 20, size=(499, 20))
    se = math.sqrt(x.var(ddof=1) / 15 + y.var(ddof=1) / 20)
    d = y.mean() - x.mean()
    t = [abs((y[j].mean() - x[i].mean() - d) / math.sqrt(x[i].var(ddof=1) / 15 + y[j].var(ddof=1) / 20))
         for i, j in zip(ix, iy)]
    q = np.sort(t)[math.ceil(500 * 0.9) - 1]
    assert (float(lo[0]), float(hi[0])) == pytest.approx((d - q * se, d + q * se), rel=1e-10)


def test_studentized_chunking_keeps_the_draws_and_tracks_the_t_interval(monkeypatch):
    import emergence.stats.intervals as st

    x = np.random.default_rng(6).normal(size=(3, 40))
    whole = studentized_bounds(x, 0.05, 300, 1)
    monkeypatch.setattr(st, "_MAX_CELLS", 1000)  # 12 chunks of 25 resamples: the same draws in the same order
    chunked = studentized_bounds(x, 0.05, 300, 1)
    assert np.array_equal(whole[0], chunked[0]) and np.array_equal(whole[1], chunked[1])
    assert np.all(whole[0] < x.mean(axis=1)) and np.all(x.mean(axis=1) < whole[1])
    # the interval tracks the t interval for normal data
    big = np.random.default_rng(7).normal(5.0, 2.0, size=400)
    lo, hi = studentized_bounds(big, 0.05, 2000, 0)
    se = big.std(ddof=1) / 20
    assert float(lo[0]) == pytest.approx(big.mean() - Z95 * se, abs=0.15 * se)
    assert float(hi[0]) == pytest.approx(big.mean() + Z95 * se, abs=0.15 * se)


# --------------------------------------------------------------------------- the entry point
def test_interval_routes_kind_and_design():
    zero_one = [0.0, 1.0, 1.0, 0.0, 1.0]
    cont = [0.5, 2.0, 3.5, 1.0, 4.0]
    assert interval(zero_one).method == "wilson"
    assert interval(zero_one, zero_one[::-1], design="paired").method == "tango"
    assert interval(zero_one, zero_one, design="unpaired").method == "newcombe"
    assert interval(cont).method == "studentized"
    assert interval(cont, cont[::-1], design="paired").method == "paired_studentized"
    assert interval(cont, cont[::-1], design="unpaired").method == "unpaired_studentized"
    # a continuous metric that happens to be 0/1 can be routed by its declared kind
    assert interval(zero_one, kind="continuous").method == "studentized"
    with pytest.raises(ValueError):
        interval(cont, kind="binary")
    with pytest.raises(ValueError):
        interval(cont, cont)  # two samples need a design
    with pytest.raises(ValueError):
        interval(cont, design="paired")
    with pytest.raises(ValueError):
        interval(cont, cont[:3], design="paired")


def test_interval_drops_nans_pairwise_and_is_seeded():
    a = [1.0, 2.0, float("nan"), 4.0, 3.0, 2.5]
    b = [2.0, float("nan"), 3.0, 6.0, 3.5, 4.0]
    e = interval(a, b, design="paired", seed=3)
    assert e.n == 4 and e.mean == pytest.approx(np.mean([1.0, 2.0, 0.5, 1.5]))
    assert e == interval(a, b, design="paired", seed=3)
    u = interval(a, b, design="unpaired")
    assert u.n == 10 and u.mean == pytest.approx(np.nanmean(b) - np.nanmean(a))


def test_degenerate_samples_never_give_a_zero_width_interval():
    # the defect: 0/10 vs 0/10 and 0/12 vs 0/12 gave [0, 0] and read as "no change, certainly"
    paired = interval([0.0] * 10, [0.0] * 10, design="paired")
    assert paired.ci_low < 0 < paired.ci_high
    assert paired.ci_high == pytest.approx(Z95**2 / (10 + Z95**2))
    gap = interval([0.0] * 12, [0.0] * 12, design="unpaired")
    assert gap.ci_low < 0 < gap.ci_high
    ones = interval([1.0] * 10, [1.0] * 10, design="paired")
    assert ones.ci_low < 0 < ones.ci_high
    assert interval([0.0] * 10).ci_high > 0
    # continuous and all equal: undefined, not [c, c]
    for e in (interval([2.0] * 12), interval([2.0] * 12, [2.0] * 12, design="paired"),
              interval([1.0] * 12, [3.0] * 12, design="unpaired"), interval([1.0] * 12, [4.0] * 12, design="paired")):
        assert math.isnan(e.ci_low) and math.isnan(e.ci_high) and not math.isnan(e.mean)
    # one changed item in twenty: most resamples have no spread, so the mean cannot be bounded
    assert math.isnan(interval([0.0] * 20, [0.0] * 19 + [3.0], design="paired").ci_low)
    # fewer than two values or nothing at all
    assert math.isnan(interval([2.0]).ci_low) and interval([]).n == 0
    assert math.isnan(interval([1.0, 2.0], [3.0], design="unpaired").ci_low)
    assert interval([], [1.0], design="unpaired").n == 1


# --------------------------------------------------------------------------- power and planning
def test_mde_is_read_off_the_half_width():
    factor = (Z95 + 0.8416212335729143) / Z95
    e = wilson_ci(3, 10)
    assert minimum_detectable_effect(e) == pytest.approx(factor * (e.ci_high - e.ci_low) / 2)
    z90 = 1.6448536269514722
    e90 = interval([0.0] * 10, [0.0] * 10, design="paired", alpha=0.1)
    assert minimum_detectable_effect(e90) == pytest.approx((z90 + 0.8416212335729143) / z90 * e90.ci_high)
    assert minimum_detectable_effect(e, power=0.9) > minimum_detectable_effect(e)
    assert math.isnan(minimum_detectable_effect(interval([2.0] * 12)))
    assert float(mde_from_bounds(-0.1, 0.1)) == pytest.approx(factor * 0.1)


def test_expected_mde_and_n_for_mde_hand_computed():
    factor = Z95 + 0.8416212335729143
    # continuous: (z + z_0.8) sd / sqrt(n); unpaired with sd per side sqrt(2) sd
    assert expected_mde(100, kind="continuous", design="paired", sd=2.0) == pytest.approx(factor * 0.2)
    assert expected_mde(100, kind="continuous", design="unpaired", sd=2.0) == pytest.approx(factor * 0.2 * math.sqrt(2))
    assert n_for_mde(0.5, kind="continuous", design="paired", sd=2.0) == math.ceil((factor * 2.0 / 0.5) ** 2)
    # binary: the interval at the expected counts
    lo, hi = tango_bounds(400 * 0.125, 400 * 0.125, 400)
    assert expected_mde(400, kind="binary", design="paired", discordance=0.25) == pytest.approx(
        float(mde_from_bounds(lo, hi)))
    n = n_for_mde(0.05, kind="binary", design="paired", discordance=0.25, rate=0.25)
    assert expected_mde(n, kind="binary", design="paired", discordance=0.25) <= 0.05
    assert expected_mde(n - 1, kind="binary", design="paired", discordance=0.25) > 0.05
    # more discordance needs more items; an effect shrinks the variance a little
    assert n_for_mde(0.05, kind="binary", design="paired", discordance=0.3) > n
    assert n_for_mde(0.05, kind="binary", design="paired", discordance=0.25, effect=0.05) < n
    assert n_for_mde(0.1, kind="binary", design="unpaired", rate=0.2, rate_b=0.3) > n_for_mde(
        0.1, kind="binary", design="one_sample", rate=0.2)
    with pytest.raises(ValueError):
        expected_mde(100, kind="binary", design="paired", discordance=0.6, rate=0.2)  # P(1, 0) > base rate
    with pytest.raises(ValueError):
        expected_mde(100, kind="continuous", design="paired")
    with pytest.raises(ValueError):
        n_for_mde(0.0, kind="continuous", design="paired", sd=1.0)


def test_intervals_are_nested_in_alpha():
    """Holm's step-down on intervals (emergence.verdict.decision.holm) needs a smaller alpha to give a wider interval."""
    rng = np.random.default_rng(12)
    zo_a, zo_b = rng.integers(0, 2, 40).astype(float), rng.integers(0, 2, 40).astype(float)
    ca, cb = rng.exponential(2.0, 40), rng.exponential(2.5, 40)
    for args, kw in (((zo_a,), {}), ((zo_a, zo_b), {"design": "paired"}), ((zo_a, zo_b), {"design": "unpaired"}),
                     ((ca,), {}), ((ca, cb), {"design": "paired"}), ((ca, cb), {"design": "unpaired"})):
        ends = [interval(*args, alpha=a, seed=1, **kw) for a in (0.1, 0.05, 0.05 / 3, 0.01)]
        for wide, narrow in zip(ends[1:], ends[:-1]):
            assert wide.ci_low <= narrow.ci_low and narrow.ci_high <= wide.ci_high, (kw, wide.method)
