"""Membership scores per record from one forward pass: loss, zlib ratio, Min-K%, Min-K%++,
log-likelihood, and the reference-calibrated score (tuned minus base log-likelihood per token).

    >>> import torch
    >>> from emergence.memorisation.scores import membership_scores
    >>> logits = torch.zeros(1, 4, 3)                 # a uniform next-token distribution
    >>> labels = torch.tensor([[-100, 2, 0, 1]])      # the first token is the prompt
    >>> row = membership_scores(logits, labels, ["abc"])[0]
    >>> row.n_tokens, round(row.neg_loss, 4), round(row.loglik, 4), row.min_k_pp
    (3, -1.0986, -3.2958, 0.0)

**Sign convention: every score is oriented so that higher means "more likely a member"**
(a training record the model fits better). So the loss enters negated (``neg_loss``).

Target tokens are those the training loss counted: labels are the unshifted
``input_ids`` with -100 on the prompt and on padding (``emergence.train.data.encode_example``);
token t is predicted by the logits at t - 1, as in the model's own loss. With
``log p_t`` the log-probability of target token t and n the number of targets:

- ``loglik`` = sum of log p_t;  ``neg_loss`` = loglik / n (minus the mean token loss);
- ``zlib`` = neg_loss / zlib_bytes, zlib_bytes = ``len(zlib.compress(text.encode("utf-8")))``
  at zlib's default level: Carlini et al. 2021's ratio of log-perplexity to zlib entropy,
  negated (they flag low ratios); ``text`` is the target text, the assistant's content;
- ``min_k`` (Min-K% Prob, Shi et al. 2024): the mean of the max(1, floor(k n)) lowest log p_t;
- ``min_k_pp`` (Min-K%++, Zhang et al. 2024): per target token
  ``(log p_t - mu_t) / sigma_t`` with mu_t and sigma_t^2 the mean and variance of log p(z)
  for z drawn from the model's next-token distribution at t; then the mean of the
  max(1, floor(k n)) lowest. A uniform distribution (sigma_t = 0) gives 0.
- :func:`reference_scores`: tuned minus base log-likelihood per target token on the same
  tokens (tuned neg_loss minus base neg_loss): a likelihood ratio per token, so that a
  long record does not look more member-like than a short one for its length alone.
"""
from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from emergence.train.data import IGNORE_INDEX

__all__ = ["MEMBERSHIP_SCORES", "MembershipScores", "min_k_count", "membership_scores", "pad_batch",
           "reference_scores", "zlib_bytes"]

# (key, label) of every score a record gets; the reference score is the pair's difference
MEMBERSHIP_SCORES: tuple[tuple[str, str], ...] = (
    ("neg_loss", "-loss (mean token log-likelihood)"),
    ("zlib", "zlib ratio (Carlini et al. 2021)"),
    ("min_k", "Min-K% Prob (Shi et al. 2024)"),
    ("min_k_pp", "Min-K%++ (Zhang et al. 2024)"),
    ("loglik", "log-likelihood"),
    ("reference", "reference-calibrated: tuned - base log-likelihood per token"),
)
_SIGMA_EPS = 1e-6  # below this the next-token distribution is uniform up to float error


class MembershipScores(BaseModel):
    """One record's membership scores; higher = more likely a member, for every score."""

    model_config = ConfigDict(frozen=True, ser_json_inf_nan="constants")

    n_tokens: int = Field(description="Target tokens scored (labels other than -100 after the causal shift).")
    loglik: float = Field(description="Summed log-probability of the target tokens (nats).")
    neg_loss: float = Field(description="Mean log-probability per target token: minus the mean token loss.")
    zlib: float = Field(description="neg_loss / zlib_bytes (Carlini et al. 2021's ratio, negated).")
    zlib_bytes: int = Field(description="Length in bytes of the zlib-compressed UTF-8 target text.")
    min_k: float = Field(description="Min-K% Prob: mean of the k% lowest target-token log-probabilities.")
    min_k_pp: float = Field(description="Min-K%++: mean of the k% lowest standardised target-token log-probabilities.")


def zlib_bytes(text: str) -> int:
    """Length of ``zlib.compress(text.encode("utf-8"))`` at the default level."""
    return len(zlib.compress(text.encode("utf-8")))


def min_k_count(n: int, k: float) -> int:
    """How many of n token scores Min-K% averages: floor(k n), at least one."""
    if not 0.0 < k <= 1.0:
        raise ValueError(f"k must lie in (0, 1], got {k}")
    # the small nudge keeps 0.3 * 10 = 2.9999999999999996 from flooring to 2
    return max(1, math.floor(k * n + 1e-9))


def pad_batch(examples: Sequence[dict[str, list[int]]], pad_token_id: int) -> tuple[Any, Any, Any]:
    """``(input_ids, attention_mask, labels)`` tensors of encoded examples, right-padded;
    padding gets label -100, so it is never a target."""
    import torch

    if not examples:
        raise ValueError("pad_batch needs at least one example")
    width = max(len(e["input_ids"]) for e in examples)
    ids = torch.full((len(examples), width), pad_token_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for i, e in enumerate(examples):
        n = len(e["input_ids"])
        if len(e["labels"]) != n:
            raise ValueError(f"example {i}: {n} input_ids but {len(e['labels'])} labels")
        ids[i, :n] = torch.tensor(e["input_ids"], dtype=torch.long)
        labels[i, :n] = torch.tensor(e["labels"], dtype=torch.long)
        mask[i, :n] = 1
    return ids, mask, labels


def _token_stats(logits: Any, tokens: Any) -> tuple[Any, Any]:
    """(log p of each target token, its Min-K%++ z-score) for rows of logits (float32)."""
    import torch

    logp = torch.log_softmax(logits.float(), dim=-1)
    target = logp.gather(-1, tokens[:, None])[:, 0]
    p = logp.exp()
    # p = 0 only where a logit is -inf: 0 * -inf would be NaN, its term is 0
    mu = torch.where(p > 0, p * logp, 0.0).sum(-1)
    var = torch.where(p > 0, p * (logp - mu[:, None]) ** 2, 0.0).sum(-1)
    sigma = var.sqrt()
    z = torch.where(sigma > _SIGMA_EPS, (target - mu) / sigma.clamp_min(_SIGMA_EPS), 0.0)
    return target, z


def _lowest_k_means(values: Any, rows: Any, counts: Any, k: float) -> Any:
    """Per record, the mean of its max(1, floor(k n)) lowest values (records' values are
    contiguous in ``values``, in record order)."""
    import torch

    b, width = counts.numel(), int(counts.max())
    offsets = torch.cumsum(counts, 0) - counts
    pos = torch.arange(values.numel(), device=values.device) - offsets[rows]
    table = torch.full((b, width), math.inf, dtype=values.dtype, device=values.device)
    table[rows, pos] = values
    table, _ = torch.sort(table, dim=1)
    take = torch.tensor([min_k_count(int(c), k) for c in counts.tolist()], device=values.device)
    keep = torch.arange(width, device=values.device)[None, :] < take[:, None]
    return torch.where(keep, table, 0.0).sum(1) / take


def membership_scores(
    logits: Any, labels: Any, texts: Sequence[str], *, k: float = 0.2, chunk_tokens: int = 512
) -> list[MembershipScores]:
    """One :class:`MembershipScores` per record of a right-padded batch.

    ``logits`` (batch x length x vocabulary, any float dtype, any device) come from one
    forward pass over ``input_ids``; ``labels`` (batch x length) are the unshifted targets
    with -100 on prompt and padding; ``texts`` are the records' target texts (for zlib).
    Only target positions are read, ``chunk_tokens`` of them at a time in float32, so a long
    batch never needs a float32 copy of all its logits. A record without target tokens is
    an error (``encode_example`` never makes one)."""
    import torch

    if logits.ndim != 3 or tuple(labels.shape) != tuple(logits.shape[:2]):
        raise ValueError(f"logits {tuple(logits.shape)} and labels {tuple(labels.shape)} do not match")
    if len(texts) != logits.shape[0]:
        raise ValueError(f"{len(texts)} texts for a batch of {logits.shape[0]}")
    min_k_count(1, k)
    target = labels[:, 1:].to(logits.device)
    mask = target != IGNORE_INDEX
    counts = mask.sum(1)
    empty = torch.nonzero(counts == 0).flatten().tolist()
    if empty:
        raise ValueError(f"records {empty} have no target tokens")
    rows, cols = mask.nonzero(as_tuple=True)  # row-major: each record's targets contiguous, in order
    tokens = target[rows, cols]
    logp = torch.empty(rows.numel(), dtype=torch.float32, device=logits.device)
    zpp = torch.empty_like(logp)
    with torch.no_grad():
        for s in range(0, rows.numel(), chunk_tokens):
            e = s + chunk_tokens
            # the logits at position c predict the label at c + 1
            logp[s:e], zpp[s:e] = _token_stats(logits[rows[s:e], cols[s:e]], tokens[s:e])
        loglik = torch.zeros(counts.numel(), dtype=torch.float64, device=logits.device)
        loglik.index_add_(0, rows, logp.double())
        min_k = _lowest_k_means(logp.double(), rows, counts, k)
        min_k_pp = _lowest_k_means(zpp.double(), rows, counts, k)
    out = []
    for i, (n, ll, mk, mkpp) in enumerate(zip(counts.tolist(), loglik.tolist(), min_k.tolist(), min_k_pp.tolist())):
        zb = zlib_bytes(texts[i])
        out.append(MembershipScores(n_tokens=n, loglik=ll, neg_loss=ll / n, zlib=ll / n / zb, zlib_bytes=zb,
                                    min_k=mk, min_k_pp=mkpp))
    return out


def reference_scores(tuned: Sequence[MembershipScores], base: Sequence[MembershipScores]) -> np.ndarray:
    """Reference-calibrated scores: tuned minus base log-likelihood per target token, record by record.

    Both lists score the same records in the same order with the same tokens (an adapter
    over its base shares the tokenizer); differing token counts mean they do not, and are
    an error rather than a quietly wrong difference."""
    if len(tuned) != len(base):
        raise ValueError(f"{len(tuned)} tuned rows but {len(base)} base rows")
    bad = [i for i, (t, b) in enumerate(zip(tuned, base)) if t.n_tokens != b.n_tokens]
    if bad:
        raise ValueError(f"records {bad[:10]} were scored on different tokens by the two models")
    return np.array([(t.loglik - b.loglik) / t.n_tokens for t, b in zip(tuned, base)], dtype=float)
