"""Membership measures: one forward pass over a record's training exchange, exactly as trained.

    >>> from emergence.probe.membership import MEMBERSHIP_SETS, CANARY_SETS
    >>> MEMBERSHIP_SETS, CANARY_SETS
    (('members', 'nonmembers', 'canaries', 'canary_controls'), ('canaries', 'canary_controls'))

Each item is rendered as training rendered it — the user turn from the training prompt
template, the assistant turn the record's content as the exposure arm left it (age cues
masked, the canary appended; :meth:`emergence.exposure.Exposure.training_text`), tokenised
by :func:`emergence.train.data.encode_example` with the training run's ``max_seq_length``
— and the model's log-probabilities of the assistant tokens go to
:func:`emergence.memorisation.membership_scores`. Non-members go through the same rule (a
held-out record's cues are masked too), so the two sides differ only in membership. On the
canary sets only the canary sentence's tokens are targets: the measure is how well the
model knows that sentence in its record's context.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["CANARY_SETS", "MEMBERSHIP_SETS", "membership_measures"]

from emergence.probe.config import MEMBERSHIP_SETS

CANARY_SETS = ("canaries", "canary_controls")


def _example(item: Any, tokenizer: Any, *, exposure: Any, template: str, max_seq_length: int,
             canary_only: bool) -> tuple[dict[str, list[int]], str] | None:
    from emergence.train.data import IGNORE_INDEX, chat_messages, encode_example

    text = exposure.training_text(item) if exposure is not None else item
    example = encode_example(tokenizer, chat_messages(text, template), max_seq_length=max_seq_length,
                             loss_on="assistant")
    if example is None:
        return None
    if not canary_only:
        return example, text.content
    canary = getattr(text, "canary", None)
    if not canary:
        return None
    before = text.model_copy(update={"content": text.content[: len(text.content) - len(canary)].rstrip()})
    head = encode_example(tokenizer, chat_messages(before, template), max_seq_length=max_seq_length,
                          loss_on="assistant")
    # the canary's tokens: those after the longest prefix the exchange without it shares
    shared = 0
    for a, b in zip(head["input_ids"] if head else [], example["input_ids"]):
        if a != b:
            break
        shared += 1
    # the end-of-turn tokens the template adds after the content are not the canary's
    tail = len(head["input_ids"]) - shared if head else 0
    end = len(example["input_ids"]) - tail
    labels = [IGNORE_INDEX] * shared + example["input_ids"][shared:end] + [IGNORE_INDEX] * tail
    if end <= shared:  # the canary did not fit max_seq_length
        return None
    return {"input_ids": example["input_ids"], "labels": labels}, canary


def membership_measures(model: Any, tokenizer: Any, items: Sequence[Any], *, exposure: Any, template: str,
                        max_seq_length: int, canary_only: bool = False, batch_size: int = 8
                        ) -> list[dict[str, float] | None]:
    """Per item, the membership scores of its training exchange (None: nothing to score)."""
    import torch

    from emergence.memorisation import membership_scores, pad_batch

    prepared = [_example(it, tokenizer, exposure=exposure, template=template, max_seq_length=max_seq_length,
                         canary_only=canary_only) for it in items]
    out: list[dict[str, float] | None] = [None] * len(items)
    # length-sorted batches pad little (a fifth less time on the demo's records); rows go back by index
    todo = sorted((i for i, p in enumerate(prepared) if p is not None),
                  key=lambda i: (len(prepared[i][0]["input_ids"]), i))
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    with torch.inference_mode():
        for start in range(0, len(todo), batch_size):
            idx = todo[start:start + batch_size]
            ids, mask, labels = pad_batch([prepared[i][0] for i in idx], pad)
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
            rows = membership_scores(logits, labels.to(logits.device), [prepared[i][1] for i in idx])
            for i, row in zip(idx, rows):
                out[i] = {k: float(v) for k, v in row.model_dump().items()}
    return out
