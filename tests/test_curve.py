"""The emergence curve on constructed data: bands, onset, abstentions, the whole curve.

Defects pinned: a band narrower than a step's own interval; an onset that is not the
verdict's "confirmed" rule; an onset on a flat curve or in the wrong direction; an
abstention (NaN) on one side that still enters a paired difference or drops an item
from every step; mirage checks read on steps one kind of metric was never probed at.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from emergence.curve import EmergenceCurve, MetricSeries, emergence_curve, first_beyond, metric_curve, onset_percentiles
from emergence.curve.bands import pivots
from emergence.stats import Estimate, interval
from emergence.verdict.decision import decide

STEPS = [0, 10, 25, 50, 100, 200]


def _continuous(shift_by_step, n=100, seed=0, noise=1.0):
    """Expected errors: base ~ 4 + N(0, 1.5); step k = base + shift_k + N(0, noise) per item."""
    rng = np.random.default_rng(seed)
    base = 4.0 + rng.normal(0.0, 1.5, n)
    return np.vstack([base] + [base + s + rng.normal(0.0, noise, n) for s in shift_by_step])


def _binary(switched_by_step, n=150, seed=0, base_rate=0.3, final_rate=0.7):
    """0/1 outcomes: an item switches from its base outcome to a final one at a random step and keeps it."""
    rng = np.random.default_rng(seed)
    base = (rng.random(n) < base_rate).astype(float)
    final = (rng.random(n) < final_rate).astype(float)
    u = rng.random(n)
    return np.vstack([base] + [np.where(u < p, final, base) for p in switched_by_step])


# --------------------------------------------------------------------------- bands
@pytest.mark.parametrize("kind", ["continuous", "binary"])
def test_curve_of_five_steps_has_pointwise_intervals_inside_a_wider_simultaneous_band(kind):
    if kind == "continuous":
        values, direction = _continuous([-0.1, -0.3, -0.5, -0.8, -1.0]), "decrease"
    else:
        values, direction = _binary([0.1, 0.25, 0.4, 0.6, 0.8]), "increase"
    c = metric_curve(values, STEPS, kind=kind, direction=direction, min_effect=0.1, n_boot=999)
    assert c.steps == STEPS and len(c.points) == 6
    assert c.points[0].change is None and c.points[0].band_low is None
    later = c.points[1:]
    for k, p in enumerate(later, start=1):
        # the pointwise interval is the verdict's: emergence.stats.interval, paired, same kind
        assert p.change == interval(values[0], values[k], design="paired", kind=kind, n_boot=999)
        assert p.band_low <= p.change.ci_low and p.band_high >= p.change.ci_high
    assert c.band_contains_pointwise()
    # max-t over 5 steps: wider than one 95% interval (the comparison with Bonferroni is in
    # test_curve_coverage.py)
    assert c.band_critical > 1.96 and c.band_alpha < 0.05
    assert all(p.band_high - p.band_low > p.change.ci_high - p.change.ci_low for p in later)


@pytest.mark.parametrize("kind", ["continuous", "binary"])
def test_band_ends_are_where_the_step_statistic_reaches_the_critical_value(kind):
    values = _continuous([0.2, 0.4, 0.6, 0.7]) if kind == "continuous" else _binary([0.2, 0.4, 0.6, 0.8])
    c = metric_curve(values, STEPS[:5], kind=kind, direction="increase", min_effect=0.1, n_boot=999)
    lo = [p.band_low for p in c.points[1:]]
    hi = [p.band_high for p in c.points[1:]]
    crit = [c.band_critical if p.band_high - p.band_low > p.change.ci_high - p.change.ci_low + 1e-9 else math.nan
            for p in c.points[1:]]
    t_lo, t_hi = pivots(values[0], values[1:], lo, kind)[0], pivots(values[0], values[1:], hi, kind)[0]
    for k, cv in enumerate(crit):
        if not math.isnan(cv):  # where the max-t value sets the band (not a wider pointwise one)
            assert t_lo[k] == pytest.approx(cv, abs=1e-6) and t_hi[k] == pytest.approx(-cv, abs=1e-6)


def test_a_step_without_spread_has_no_band_and_does_not_take_the_others():
    values = _continuous([0.0, -0.5, -1.0, -1.2])
    values[1] = values[0]  # nothing changed at step 10: no spread in its differences
    c = metric_curve(values, STEPS[:5], kind="continuous", direction="decrease", min_effect=0.1, n_boot=999)
    assert math.isnan(c.points[1].band_low) and math.isnan(c.points[1].change.ci_low)
    assert all(not math.isnan(p.band_low) for p in c.points[2:])


def test_a_band_that_cannot_be_bounded_is_undefined_not_the_pointwise_interval():
    # 4 steps, each moved by 3 of 30 items (different ones): 4% of resamples miss a step's
    # 3 items (its own interval stands), but more than 5% miss some step's: c = inf
    values = np.zeros((5, 30))
    for k in range(4):
        values[k + 1, 3 * k:3 * k + 3] = [1.0, 2.0, 1.5]
    c = metric_curve(values, [0, 1, 2, 3, 4], kind="continuous", direction="increase", min_effect=0.01)
    assert c.band_critical == math.inf
    assert all(not math.isnan(p.change.ci_low) for p in c.points[1:])
    assert all(math.isnan(p.band_low) and math.isnan(p.band_high) for p in c.points[1:])
    assert c.onset.step is None
    assert "Infinity" in c.model_dump_json()


# --------------------------------------------------------------------------- onset
@pytest.mark.parametrize("kind", ["continuous", "binary"])
def test_onset_is_found_at_the_planted_jump(kind):
    if kind == "continuous":  # errors drop by 1.2 between steps 25 and 50, nothing before
        values, direction, m = _continuous([0.0, 0.0, -1.2, -1.2, -1.3]), "decrease", 0.3
    else:
        values, direction, m = _binary([0.0, 0.0, 0.8, 0.8, 0.85], base_rate=0.2, final_rate=0.9), "increase", 0.1
    c = metric_curve(values, STEPS, kind=kind, direction=direction, min_effect=m, n_boot=999)
    assert c.onset.step == 50 and c.onset.band == "simultaneous"
    assert c.onset.low == 50 and c.onset.high == 50 and c.onset.no_onset_share == 0.0
    assert c.onset.words().startswith("onset at step 50")


@pytest.mark.parametrize("kind", ["continuous", "binary"])
def test_no_onset_on_a_flat_series(kind):
    values = _continuous([0.0] * 5) if kind == "continuous" else _binary([0.0] * 5)
    if kind == "binary":  # flat rate, but items still change: discordant pairs both ways
        rng = np.random.default_rng(3)
        flip = rng.random(values[1:].shape) < 0.1
        values[1:] = np.where(flip, 1.0 - values[1:], values[1:])
    c = metric_curve(values, STEPS, kind=kind, direction="increase", min_effect=0.1, n_boot=999)
    assert c.onset.step is None and c.onset.high is None
    assert c.onset.no_onset_share > 0.9
    assert c.onset.words().startswith("no onset within 200 steps")


def test_a_jump_in_the_worse_direction_is_no_onset():
    values = _continuous([0.0, 0.0, 1.2, 1.2, 1.3])  # errors rise
    c = metric_curve(values, STEPS, kind="continuous", direction="decrease", min_effect=0.3, n_boot=999)
    assert c.onset.step is None
    assert metric_curve(values, STEPS, kind="continuous", direction="increase", min_effect=0.3,
                        n_boot=999).onset.step == 50


def test_onset_rule_is_the_verdicts_confirmed_on_each_steps_band():
    values = _continuous([-0.1, -0.25, -0.4, -0.55, -0.7], n=60, seed=4)
    for band in ("simultaneous", "pointwise"):
        c = metric_curve(values, STEPS, kind="continuous", direction="decrease", min_effect=0.2, n_boot=999,
                         onset_band=band)
        confirmed = []
        for p in c.points[1:]:
            lo, hi = (p.band_low, p.band_high) if band == "simultaneous" else (p.change.ci_low, p.change.ci_high)
            e = Estimate(mean=p.change.mean, se=p.change.se, ci_low=lo, ci_high=hi, n=p.change.n,
                         method=p.change.method)
            confirmed.append(decide(e, "decrease", 0.2).outcome == "confirmed")
        assert c.onset.step == (c.steps[1:][confirmed.index(True)] if any(confirmed) else None)
    # the wider band cannot find an earlier onset than the pointwise intervals
    simultaneous = metric_curve(values, STEPS, kind="continuous", direction="decrease", min_effect=0.2, n_boot=999)
    pointwise = metric_curve(values, STEPS, kind="continuous", direction="decrease", min_effect=0.2, n_boot=999,
                             onset_band="pointwise")
    assert pointwise.onset.step is not None and simultaneous.onset.step >= pointwise.onset.step


def test_first_beyond_and_onset_percentiles():
    low = np.array([[0.0, 0.2, 0.3], [0.2, 0.0, 0.3], [0.0, 0.0, 0.0]])
    high = low + 0.5
    n = np.array([[50, 50, 50], [5, 50, 50], [50, 50, 50]])
    assert first_beyond(low, high, n, direction="increase", min_effect=0.1).tolist() == [1, 2, 3]
    assert first_beyond(-high, -low, n, direction="decrease", min_effect=0.1).tolist() == [1, 2, 3]
    assert first_beyond([[math.nan, 0.5]], [[math.nan, 0.9]], [[50, 50]], direction="increase",
                        min_effect=0.1).tolist() == [1]
    assert onset_percentiles([0] * 10 + [1] * 80 + [4] * 10, 4) == (0, 4, 0.1)
    assert onset_percentiles([2] * 100, 4) == (2, 2, 0.0)


# --------------------------------------------------------------------------- abstentions
@pytest.mark.parametrize("kind", ["continuous", "binary"])
def test_abstentions_drop_the_pair_not_the_item(kind):
    values = _continuous([0.3, 0.6, 0.9]) if kind == "continuous" else _binary([0.3, 0.5, 0.7])
    n = values.shape[1]
    values[0, 0] = np.nan  # item 0 abstained at base: out of every change, in every later value
    values[1, 1] = np.nan  # item 1 abstained at step 10 only
    values[2, [2, 3]] = np.nan
    c = metric_curve(values, STEPS[:4], kind=kind, direction="increase", min_effect=0.1, n_boot=999)
    assert [p.value.n for p in c.points] == [n - 1, n - 1, n - 2, n]
    assert [p.change.n for p in c.points[1:]] == [n - 2, n - 3, n - 1]
    assert [p.increment.n for p in c.points[1:]] == [n - 2, n - 3, n - 2]
    for k, p in enumerate(c.points[1:], start=1):
        keep = ~np.isnan(values[0]) & ~np.isnan(values[k])
        assert p.change.mean == pytest.approx(np.mean(values[k][keep] - values[0][keep]))
    # the value beside an abstention is never read: item 0's later values (its base is NaN)
    # may change without moving any change from base, band or onset
    other = values.copy()
    other[1:, 0] = 1.0 - other[1:, 0] if kind == "binary" else 1e6
    d = metric_curve(other, STEPS[:4], kind=kind, direction="increase", min_effect=0.1, n_boot=999)
    assert [p.change for p in d.points[1:]] == [p.change for p in c.points[1:]]
    assert [(p.band_low, p.band_high) for p in d.points[1:]] == [(p.band_low, p.band_high) for p in c.points[1:]]
    assert d.onset == c.onset and d.band_critical == c.band_critical


def test_an_abstention_at_base_matches_leaving_the_item_out():
    values = _continuous([0.3, 0.6, 0.9], n=80)
    values[0, :5] = np.nan
    c = metric_curve(values, STEPS[:4], kind="continuous", direction="increase", min_effect=0.1, n_boot=999)
    kept = metric_curve(values[:, 5:], STEPS[:4], kind="continuous", direction="increase", min_effect=0.1, n_boot=999)
    assert [p.change for p in c.points[1:]] == [p.change for p in kept.points[1:]]


def test_binary_values_must_be_zero_or_one():
    with pytest.raises(ValueError, match="0/1"):
        metric_curve([[0, 1, 1], [0.5, 1, 0]], [0, 10], kind="binary", direction="increase", min_effect=0.1)


@pytest.mark.parametrize("steps", [[0], [0, 10, 10], [10, 0]])
def test_steps_must_increase_from_the_base(steps):
    with pytest.raises(ValueError):
        metric_curve(np.zeros((len(steps), 5)), steps, kind="continuous", direction="increase", min_effect=0.1)


# --------------------------------------------------------------------------- the whole curve
def test_whole_curve_reads_a_discrete_metric_on_its_own_steps_and_round_trips_json():
    steps = [0, 10, 25, 50, 100]
    # steady (seeded so that its two halves on the shared steps differ by far less than their noise)
    expected = _continuous([-0.3, -0.6, -0.9, -1.2], n=200, seed=4, noise=0.2)
    accurate = _binary([0.7, 0.75], n=200, seed=4)  # generated answers at steps 0, 25, 100 only: the gain by 25
    curve = emergence_curve([
        MetricSeries("expected_error", expected, steps, "continuous", "decrease", 0.2, label="expected error"),
        MetricSeries("within_2y", accurate, [0, 25, 100], "binary", "increase", 0.05, discrete=True)], n_boot=999)
    assert curve.steps == steps and curve.curve("within_2y").steps == [0, 25, 100]
    (check,) = curve.mirage
    # read on the shared steps 0, 25, 100, the steady error falls by the same amount twice
    assert check.discrete.steps == check.continuous[0].steps == [0, 25, 100]
    assert check.continuous[0].changes == pytest.approx([-0.6, -0.6], abs=0.05)
    assert check.pattern == "discrete_jumps_continuous_smooth" and check.carried_by == ["expected_error"]
    again = EmergenceCurve.model_validate(json.loads(curve.model_dump_json()))
    assert again == curve


def test_whole_curve_says_when_the_kinds_share_too_few_steps():
    curve = emergence_curve([
        MetricSeries("expected_error", _continuous([-0.3, -0.6, -0.9, -1.2]), [0, 10, 25, 50, 100], "continuous",
                     "decrease", 0.2),
        MetricSeries("within_2y", _binary([0.5]), [0, 100], "binary", "increase", 0.05, discrete=True)], n_boot=199)
    (check,) = curve.mirage
    assert check.pattern == "too_few_steps" and not check.mirage and "share 1" in check.words


@pytest.mark.parametrize("module", ["emergence.curve", "emergence.curve.bands", "emergence.curve.build",
                                    "emergence.curve.mirage", "emergence.curve.onset", "emergence.curve.result",
                                    "emergence.report.curve_plot"])
def test_module_doctests(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
