"""The k-extractable share among members, with a Wilson interval and the count too short to test.

    >>> from emergence.memorisation.extraction import extraction_share
    >>> r = extraction_share([1, 0, 0, 1, 0, 0, 0, 0, 0, 0], too_short=3)
    >>> r.text
    'k-extractable (50-token prefix, 50-token suffix): 2 of 10 members, 20% [6, 51]; 3 too short to test'

A member is k-extractable when greedy decoding from the first ``prefix`` tokens of its
content, in its training context, reproduces the next ``suffix`` tokens exactly (Carlini
et al. 2023; ``emergence.metrics.k_extractable`` decides one item). Members whose content
is shorter than prefix + suffix tokens cannot be tested: they are counted, never scored 0.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from emergence.stats import Estimate, is_binary, wilson_ci

__all__ = ["ExtractionShare", "extraction_share"]


class ExtractionShare(BaseModel):
    """Share of tested members that are k-extractable, with the untestable ones counted."""

    model_config = ConfigDict(frozen=True, ser_json_inf_nan="constants")

    share: Estimate = Field(description="k-extractable share among tested members, Wilson 95% interval.")
    extractable: int = Field(description="Tested members whose suffix was reproduced exactly.")
    tested: int = Field(description="Members with content of at least prefix + suffix tokens.")
    too_short: int = Field(description="Members left out: content shorter than prefix + suffix tokens.")
    prefix: int = Field(description="Prefix length in tokens (k).")
    suffix: int = Field(description="Suffix length in tokens that must match.")
    text: str = Field(description="The outcome in one sentence, for the report.")


def extraction_share(
    outcomes: Sequence[float | bool] | np.ndarray,
    *,
    too_short: int,
    prefix: int = 50,
    suffix: int = 50,
    alpha: float = 0.05,
) -> ExtractionShare:
    """Wilson interval of the k-extractable share: ``outcomes`` holds one 0/1 (or bool) per
    tested member; ``too_short`` counts the members that could not be tested."""
    values = np.asarray(outcomes, dtype=float).ravel()
    if values.size and not is_binary(values):
        raise ValueError("outcomes must be 0/1 or booleans, one per tested member (no NaN)")
    if too_short < 0:
        raise ValueError(f"too_short must be >= 0, got {too_short}")
    hits, n = int(values.sum()), int(values.size)
    share = wilson_ci(hits, n, alpha)
    head = f"k-extractable ({prefix}-token prefix, {suffix}-token suffix)"
    body = f"{hits} of {n} members, {share.short(pct=True)}" if n else "no member long enough to test"
    return ExtractionShare(share=share, extractable=hits, tested=n, too_short=too_short, prefix=prefix,
                           suffix=suffix, text=f"{head}: {body}; {too_short} too short to test")
