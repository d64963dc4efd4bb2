"""The mirage check on constructed series: discrete jumps while continuous moves smoothly, the reverse, and neither.

Defects pinned: a mirage flag (or "both jump") from noise, since with K intervals of noise
one change often outweighs the rest; two equal halves called a jump; the flag raised
when the continuous metric did not move at all; words that do not say which metric
carried the change.
"""
from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest

from emergence.curve import MetricSeries, emergence_curve, find_jump, metric_curve, mirage_check
from emergence.curve.mirage import jump_excess

STEPS = [0, 10, 25, 50, 100]
N = 200


def _expected_error(shift, seed):
    """Continuous (expected error in years): base + shift_k + N(0, 0.3) per item and step."""
    rng = np.random.default_rng(seed)
    base = 4.0 + rng.normal(0.0, 1.5, N)
    return np.vstack([base] + [base + s + rng.normal(0.0, 0.3, N) for s in shift])


def _within_2y(switched, seed):
    """Binary: an item switches from its base outcome (rate 0.3) to a final one (0.8) at a random step."""
    rng = np.random.default_rng(seed + 100)
    base = (rng.random(N) < 0.3).astype(float)
    final = (rng.random(N) < 0.8).astype(float)
    u = rng.random(N)
    return np.vstack([base] + [np.where(u < p, final, base) for p in switched])


STEADY = [-0.3, -0.6, -0.9, -1.2]
SUDDEN = [0.0, 0.0, -1.2, -1.2]
SPREAD = [0.15, 0.3, 0.45, 0.6]
ABRUPT = [0.0, 0.0, 0.7, 0.7]


def _check(expected_shift, switched, seed=0):
    curve = emergence_curve([
        MetricSeries("expected_error", _expected_error(expected_shift, seed), STEPS, "continuous", "decrease", 0.2,
                     label="expected error"),
        MetricSeries("within_2y", _within_2y(switched, seed), STEPS, "binary", "increase", 0.05, discrete=True,
                     label="within 2 years")], n_boot=999)
    (check,) = curve.mirage
    return check


def test_discrete_jumps_while_continuous_moves_smoothly_is_flagged():
    check = _check(STEADY, ABRUPT)
    assert check.pattern == "discrete_jumps_continuous_smooth" and check.mirage and not check.reverse
    assert check.discrete.shape == "jump" and check.discrete.jump_step == 50
    assert check.continuous[0].shape == "smooth"
    assert check.carried_by == ["expected_error"]
    assert check.words.startswith("within 2 years jumps between steps 25 and 50")
    assert "expected error moves smoothly" in check.words and "Schaeffer" in check.words


def test_both_smooth_is_not_flagged():
    check = _check(STEADY, SPREAD)
    assert check.pattern == "both_smooth" and not check.mirage and not check.reverse
    assert check.carried_by == ["within_2y", "expected_error"]


def test_continuous_jumps_while_discrete_moves_smoothly_is_the_reverse_flag():
    check = _check(SUDDEN, SPREAD)
    assert check.pattern == "continuous_jumps_discrete_smooth" and check.reverse and not check.mirage
    assert check.continuous[0].jump_step == 50 and check.carried_by == ["expected_error"]
    assert "read the onset from expected error" in check.words


def test_both_jumping_at_one_step_agree_and_flat_metrics_are_said_to_be_flat():
    both = _check(SUDDEN, ABRUPT)
    assert both.pattern == "both_jump" and not both.mirage and "at the same step" in both.words
    unmatched = _check([0.0] * 4, ABRUPT)  # the continuous metric never moved: no mirage to speak of
    assert unmatched.pattern == "unmatched" and not unmatched.mirage
    assert unmatched.continuous[0].shape == "flat" and "expected error stayed flat" in unmatched.words
    assert _check([0.0] * 4, [0.0] * 4).pattern == "no_change"


def test_the_floor_keeps_noise_from_making_jumps():
    # K = 3 intervals of pure noise: one change outweighs the other two in about two draws of three
    rng = np.random.default_rng(0)
    k = 3
    excess = jump_excess(rng.normal(0.0, 1.0, (20_000, k)))
    no_floor = np.mean(excess.max(axis=1) > 0)
    floor = NormalDist().inv_cdf(1 - 0.05 / (2 * k)) * excess.std(axis=0)  # as metric_curve sets it
    with_floor = np.mean([find_jump(row, floor)[0] is not None for row in rng.normal(0.0, 1.0, (2000, k))])
    assert no_floor > 0.25 and with_floor < 0.02


def test_equal_halves_and_a_steady_climb_on_a_geometric_schedule_are_no_jump():
    assert find_jump([0.30, 0.31], [0.03, 0.03]) == (None, 0.01)
    # linear in steps on steps 10, 25, 50, 100: half the total in the last interval, J = 0
    assert find_jump([0.10, 0.15, 0.25, 0.50], [0.05] * 4)[0] is None
    assert find_jump([0.10, 0.15, 0.25, 0.60], [0.05] * 4) == (3, 0.1)
    assert find_jump([0.10, float("nan"), 0.25, 0.90], [0.05] * 4)[0] is None


def test_the_check_reads_both_kinds_on_the_same_steps():
    d = metric_curve(_within_2y(ABRUPT, 0), STEPS, kind="binary", direction="increase", min_effect=0.05, n_boot=199)
    c = metric_curve(_expected_error(STEADY, 0)[:4], STEPS[:4], kind="continuous", direction="decrease",
                     min_effect=0.2, n_boot=199)
    with pytest.raises(ValueError, match="steps they share"):
        mirage_check(d, [c])
    with pytest.raises(ValueError, match="continuous"):
        mirage_check(d, [])
