"""Token-weighted loss of a model on a fixed list of encoded examples (the held-out sample).

    >>> from emergence.train.scoring import batches
    >>> [len(b) for b in batches(list(range(5)), 2)]
    [2, 2, 1]

The held-out loss is the mean negative log-likelihood per target token over the whole
sample (every label that is not -100, after the causal shift): summed over batches, not
an average of batch means, so it depends neither on the batch size nor on the order.
"""
from __future__ import annotations

from typing import Any, Sequence

__all__ = ["batches", "mean_token_loss"]


def batches(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def mean_token_loss(
    model: Any, examples: Sequence[dict[str, list[int]]], *, batch_size: int, pad_token_id: int
) -> float | None:
    """Mean NLL per target token of ``model`` on ``examples`` (None when there are none)."""
    import torch

    if not examples:
        return None
    device = next(p for p in model.parameters()).device
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        with torch.no_grad():
            # length-sorted batches pad little (benchmarks/README.md, "The cpu-demo run"); the
            # loss is a sum over tokens, so the order does not change it
            for batch in batches(sorted(examples, key=lambda e: len(e["input_ids"])), batch_size):
                width = max(len(e["input_ids"]) for e in batch)
                ids = torch.full((len(batch), width), pad_token_id, dtype=torch.long)
                labels = torch.full((len(batch), width), -100, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for i, e in enumerate(batch):
                    n = len(e["input_ids"])
                    ids[i, :n] = torch.tensor(e["input_ids"])
                    labels[i, :n] = torch.tensor(e["labels"])
                    mask[i, :n] = 1
                ids, mask = ids.to(device), mask.to(device)
                logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
                # one row at a time in float32, cut to its real length: the float copy of a
                # whole batch of 2048 x 32k-vocabulary logits would cost gigabytes
                for i, e in enumerate(batch):
                    n = len(e["input_ids"])
                    target = labels[i, 1:n].to(device)
                    nll = torch.nn.functional.cross_entropy(
                        logits[i, : n - 1].float(), target, ignore_index=-100, reduction="sum"
                    )
                    total += nll.item()
                    count += int((target != -100).sum())
                del logits
    finally:
        model.train(was_training)
    return total / count if count else None
