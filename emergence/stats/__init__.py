"""Intervals that keep their coverage at small n, the minimum detectable effect, and sample sizes.

    >>> from emergence.stats import interval, minimum_detectable_effect, wilson_ci
    >>> str(wilson_ci(42, 100))
    '0.42 ± 0.05 [0.33, 0.52] (n=100)'
    >>> base, tuned = [0.0] * 10, [0.0] * 10
    >>> e = interval(base, tuned, design="paired")
    >>> e.method, e.short(signed=True)
    ('tango', '+0.00 [-0.28, +0.28]')
    >>> round(minimum_detectable_effect(e), 2)
    0.4
    >>> interval([0.0, 1.0, 1.0], [2.0, 3.5, 1.0], design="paired").method
    'paired_studentized'

Why these intervals: percentile-bootstrap intervals at n = 10-16 covered far less than
95%, and an all-zero sample gave a zero-width interval, so "no change" looked certain.
:func:`interval` picks, from (binary | continuous) x (one sample | paired | unpaired):

- binary: Wilson's score interval (one proportion), Tango's score interval (paired
  difference; closer to 95% than Newcombe's paired method at low discordance:
  benchmarks/README.md) and
  Newcombe's hybrid score interval (unpaired difference). Score intervals are never
  zero-width: 0/10 vs 0/10 gives [-0.28, +0.28].
- continuous: the studentised (bootstrap-t) interval for a mean, equal-tailed for one
  sample (it follows the skew of errors in years) and symmetric for differences (its
  two-sided coverage error is an order smaller, Hall 1988; equal-tailed bootstrap-t
  under-covered zero-inflated paired differences, 0.86-0.91 at n = 20). A
  sample whose values are all equal has no spread to studentise by: its interval is
  undefined (NaN), never zero-width; so is one where more than alpha of the resamples have
  no spread either.

The minimum detectable effect (MDE) at 80% power is read off the interval's own
half-width h: ``(z_{1-a/2} + z_{0.8}) / z_{1-a/2} * h`` (for a 95% interval, 1.43 h),
i.e. ``(z_{1-a/2} + z_{0.8}) * se`` with the se the interval implies. A true effect of
that size puts the interval's lower end above 0 with probability 0.8; with no effect, the
upper end falls below an MDE-sized threshold with probability 0.8. It is > 0 wherever the
interval has width. :func:`n_for_mde` sizes an eval set from assumed rates.

The array functions (``*_bounds``) take counts or rows of samples and return (low, high)
arrays, so a simulation computes thousands of intervals in one call with the same code.
NaNs are dropped before anything is computed; ``n`` counts the values (or pairs) used.
"""
from emergence.stats.estimate import (Design, Estimate, Kind, McNemarResult, Method, binom_two_sided_half, format_p,
                                      is_binary, mcnemar_exact, p_text)
from emergence.stats.intervals import (interval, newcombe_bounds, newcombe_paired_bounds, studentized_bounds,
                                       studentized_diff_bounds, tango_bounds, tango_score, wilson_bounds, wilson_ci)
from emergence.stats.power import expected_mde, mde_from_bounds, minimum_detectable_effect, n_for_mde

__all__ = ["Design", "Estimate", "Kind", "McNemarResult", "Method", "binom_two_sided_half", "expected_mde",
           "format_p", "interval", "is_binary", "mcnemar_exact", "mde_from_bounds", "minimum_detectable_effect",
           "n_for_mde", "newcombe_bounds", "newcombe_paired_bounds", "p_text", "studentized_bounds",
           "studentized_diff_bounds", "tango_bounds", "tango_score", "wilson_bounds", "wilson_ci"]
