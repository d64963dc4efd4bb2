"""The emergence curve: a metric along training steps, as change from base with a pointwise
interval and a simultaneous band, its onset, and the mirage check between discrete and
continuous metrics (Schaeffer et al. 2023).

    >>> import numpy as np
    >>> from emergence.curve import MetricSeries, emergence_curve
    >>> rng = np.random.default_rng(1)
    >>> steps, n = [0, 10, 25, 50, 100], 120
    >>> skill = rng.normal(0.0, 1.0, n)
    >>> learnt = np.array([0.0, 0.25, 0.5, 0.75, 1.0])[:, None]  # a steady gain in every item
    >>> expected = 4.0 - 1.5 * learnt + 0.3 * skill + rng.normal(0, 0.3, (5, n))
    >>> accurate = (expected < 2.6).astype(float)  # a threshold on the same ability
    >>> curve = emergence_curve([
    ...     MetricSeries("expected_error", expected, steps, "continuous", "decrease", 0.2),
    ...     MetricSeries("accuracy", accurate, steps, "binary", "increase", 0.05, discrete=True)], n_boot=999)
    >>> curve.curve("expected_error").onset.step, curve.curve("accuracy").onset.step
    (10, 50)
    >>> curve.mirage[0].pattern, curve.mirage[0].carried_by
    ('discrete_jumps_continuous_smooth', ['expected_error'])

Why: emergence is a claim about a trajectory. Change from base is paired on the same items
(the verdict's intervals); the band holds every step at once, so neither "the first step
that passed" nor "it left 0 somewhere" is the luck of one of many looks; and a jump only in
the thresholded metric is the mirage Schaeffer et al. describe. The rules are in
:mod:`emergence.curve.bands`, :mod:`emergence.curve.onset` and :mod:`emergence.curve.mirage`.
"""
from emergence.curve.bands import band_bounds, change_sums, critical_alpha, max_t_critical, pivots
from emergence.curve.build import EmergenceCurve, MetricSeries, emergence_curve, metric_curve
from emergence.curve.mirage import MetricShape, MirageCheck, find_jump, metric_shape, mirage_check
from emergence.curve.onset import first_beyond, onset_percentiles
from emergence.curve.result import CurvePoint, MetricCurve, Onset

__all__ = ["CurvePoint", "EmergenceCurve", "MetricCurve", "MetricSeries", "MetricShape", "MirageCheck", "Onset",
           "band_bounds", "change_sums", "critical_alpha", "emergence_curve", "find_jump", "first_beyond",
           "max_t_critical", "metric_curve", "metric_shape", "mirage_check", "onset_percentiles", "pivots"]
