"""Padded or padding-free micro-batches, decided from the lengths of the run's own examples.

    >>> from emergence.train.batching import choose_padding_free, padding_waste
    >>> padding_waste([100, 300], batch_size=2)  # E[longest of 2] = 250 tokens a row, E[length] = 200
    0.2
    >>> choose_padding_free([2048] * 8, batch_size=2)[0]  # nothing to save: padded batches
    False

A padded micro-batch computes ``batch_size x longest`` tokens; a padding-free one
concatenates its examples and computes only their real tokens, but on Unsloth its
variable-length batches skip the per-block compile and run slower per token. Which is
faster depends on how much padding there is to save, which depends on the corpus:
Amazon descriptions are mostly far shorter than ``max_seq_length`` (much padding),
a benchmark of full-length examples has none.
"""
from __future__ import annotations

from collections.abc import Sequence

__all__ = ["PADDING_FREE_COST", "choose_padding_free", "decide_padding_free", "padding_waste"]

# Throughput given up by padding-free batches where there is no padding to save, on an
# H100, 20-layer Phi-3-medium shape, every example 2,048 tokens, Unsloth 2026.10.9
# (benchmarks/README.md, Trainer): 3.7% against padded batches on one card (10,918
# against 11,332 tokens/s), 4.3% against bare Unsloth's padded ones on another (10,986
# against 11,485). Between the two.
PADDING_FREE_COST = 0.04


def padding_waste(lengths: Sequence[int], batch_size: int) -> float:
    """Expected share of a padded micro-batch's tokens that are padding.

    Batches are ``batch_size`` examples drawn at random from ``lengths`` (with
    replacement), so the expected longest is exact from the sorted lengths:
    ``P(longest <= l_k) = (k / n) ** batch_size``. 0.0 for no lengths.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    ordered = sorted(int(x) for x in lengths)
    n = len(ordered)
    if n == 0:
        return 0.0
    mean = sum(ordered) / n
    longest = sum(
        length * ((k / n) ** batch_size - ((k - 1) / n) ** batch_size)
        for k, length in enumerate(ordered, start=1)
    )
    return 0.0 if longest <= 0 else max(0.0, round(1.0 - mean / longest, 12))


def choose_padding_free(
    lengths: Sequence[int], batch_size: int, *, cost: float = PADDING_FREE_COST
) -> tuple[bool, str]:
    """(padding_free, reason): padding-free unless padded batches would waste less than ``cost``.

    With waste ``w``, padded batches keep ``1 - w`` of their throughput for real tokens;
    padding-free ones keep ``1 - cost``. Batch size 1 never pads.
    """
    waste = padding_waste(lengths, batch_size)
    if batch_size == 1 or waste < cost:
        return False, (f"padded batches: {waste:.1%} of their tokens would be padding "
                       f"(< {cost:.1%}, the measured cost of padding-free batches)")
    return True, (f"padding-free batches: padded ones would spend {waste:.1%} of their tokens "
                  f"on padding (>= {cost:.1%}, the measured cost of padding-free batches)")


def decide_padding_free(
    configured: bool | None, backend: str, sample_lengths: Sequence[int], batch_size: int
) -> tuple[bool | None, str]:
    """What a run uses for ``TrainConfig.padding_free``: (value for SFTConfig, reason).

    An explicit True/False is kept. Unset: on the unsloth backend (which would turn
    padding-free on for any stream) :func:`choose_padding_free` on the held-out sample's
    lengths, or None (Unsloth's own choice) when there is no sample; on hf, padded.
    """
    if configured is not None:
        return configured, "set in the config"
    if backend != "unsloth":
        return False, "padded batches: the hf backend's default"
    if not sample_lengths:
        return None, "left to Unsloth: no held-out sample to measure lengths on"
    return choose_padding_free(sample_lengths, batch_size)
