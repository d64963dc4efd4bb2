"""emergence.stats against hand-computed and published values."""
from __future__ import annotations

import math

import numpy as np
import pytest

from emergence.stats import (
    Estimate,
    binom_two_sided_half,
    bootstrap_ci,
    estimate,
    format_p,
    is_binary,
    mcnemar_exact,
    mean_se,
    p_text,
    paired_bootstrap_diff,
    unpaired_bootstrap_diff,
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


def test_mean_se_hand_computed():
    e = mean_se([1.0, 2.0, 3.0, 4.0, float("nan")])
    sd = math.sqrt(((1.5**2) * 2 + (0.5**2) * 2) / 3)
    assert e.n == 4
    assert e.mean == 2.5
    assert e.se == pytest.approx(sd / 2)
    assert e.ci_low == pytest.approx(2.5 - 1.959963984540054 * sd / 2)
    assert e.ci_high == pytest.approx(2.5 + 1.959963984540054 * sd / 2)
    assert e.method == "normal"


def test_mean_se_degenerate():
    assert mean_se([]).n == 0 and math.isnan(mean_se([]).mean)
    one = mean_se([3.0])
    assert one.mean == 3.0 and one.n == 1 and math.isnan(one.ci_low)


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


def test_bootstrap_is_seeded_and_sensible():
    rng = np.random.default_rng(1)
    x = rng.normal(10.0, 2.0, size=400)
    e1 = bootstrap_ci(x, seed=3)
    e2 = bootstrap_ci(x, seed=3)
    assert e1 == e2
    assert e1.method == "bootstrap" and e1.n == 400
    assert e1.mean == pytest.approx(x.mean())
    assert e1.ci_low < e1.mean < e1.ci_high
    # the bootstrap se of a mean approximates s / sqrt(n)
    assert e1.se == pytest.approx(x.std(ddof=1) / 20.0, rel=0.1)
    assert bootstrap_ci(x, seed=4) != e1


def test_bootstrap_constant_nan_and_tiny():
    e = bootstrap_ci([2.0, 2.0, float("nan"), 2.0])
    assert e.n == 3 and (e.ci_low, e.mean, e.ci_high) == (2.0, 2.0, 2.0)
    tiny = bootstrap_ci([5.0])
    assert tiny.n == 1 and tiny.mean == 5.0 and math.isnan(tiny.ci_low)
    assert bootstrap_ci([]).n == 0


def test_bootstrap_other_statistic_and_chunking():
    x = np.arange(1000, dtype=float)
    med = bootstrap_ci(x, stat=np.median, n_boot=300)
    assert med.mean == pytest.approx(499.5)
    custom = bootstrap_ci(x, stat=lambda v: float(np.max(v)), n_boot=50)
    assert custom.mean == 999.0 and custom.ci_high <= 999.0


def test_paired_bootstrap_shift_is_exact():
    rng = np.random.default_rng(0)
    a = rng.normal(size=50)
    e = paired_bootstrap_diff(a, a + 1.0)
    assert e.method == "paired_bootstrap" and e.n == 50
    assert (e.ci_low, e.mean, e.ci_high) == pytest.approx((1.0, 1.0, 1.0))
    # the same data unpaired has a wide interval: pairing removes the item variance
    u = unpaired_bootstrap_diff(a, a + 1.0)
    assert u.ci_high - u.ci_low > 0.3


def test_paired_bootstrap_drops_nan_pairs_and_checks_lengths():
    e = paired_bootstrap_diff([0.0, 1.0, float("nan"), 0.0], [1.0, 1.0, 1.0, float("nan")])
    assert e.n == 2 and e.mean == pytest.approx(0.5)
    with pytest.raises(ValueError):
        paired_bootstrap_diff([1.0, 2.0], [1.0])


def test_unpaired_bootstrap_difference():
    a = [0.0] * 50 + [1.0] * 50
    b = [0.0] * 20 + [1.0] * 80
    e = unpaired_bootstrap_diff(a, b, seed=1)
    assert e.method == "unpaired_bootstrap" and e.n == 200
    assert e.mean == pytest.approx(0.3)
    assert 0.15 < e.ci_low < 0.3 < e.ci_high < 0.45
    assert unpaired_bootstrap_diff([], [1.0, 2.0]).n == 2


def test_estimate_auto_chooses_by_data():
    assert estimate([0, 1, 1, float("nan")]).method == "wilson"
    assert estimate([0, 1, 1, float("nan")]).n == 3
    # auto is emergence.stats.interval: bootstrap-t for continuous values, not the percentile bootstrap
    assert estimate([0.2, 1.0, 3.0]).method == "studentized"
    assert estimate([0.2, 1.0, 3.0], kind="bootstrap").method == "bootstrap"
    assert estimate([0.2, 1.0, 3.0], kind="normal").method == "normal"
    with pytest.raises(ValueError):
        estimate([0.5, 1.0], kind="wilson")
    assert is_binary([0.0, 1.0]) and not is_binary([]) and not is_binary([2.0])


def test_estimate_str_and_format():
    e = wilson_ci(42, 100)
    assert str(e) == "0.42 ± 0.05 [0.33, 0.52] (n=100)"
    d = Estimate(mean=0.14, se=0.04, ci_low=0.06, ci_high=0.22, n=120, method="paired_bootstrap")
    assert d.short(signed=True) == "+0.14 [+0.06, +0.22]"
    assert str(Estimate(mean=math.nan, se=math.nan, ci_low=math.nan, ci_high=math.nan, n=0, method="normal")) == "n/a (n=0)"
    assert format_p(0.0004) == "<0.001" and format_p(0.0312) == "0.031"
    assert p_text(0.0004) == "p<0.001" and p_text(0.0312) == "p=0.031"
