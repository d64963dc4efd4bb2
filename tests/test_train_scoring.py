"""Held-out scoring: the mean loss per target token, whatever the batch size."""
from __future__ import annotations

import pytest

from emergence.train.scoring import mean_token_loss


def test_mean_token_loss_is_token_weighted_and_batch_independent(tiny_llama):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_llama).eval()
    examples = [
        {"input_ids": [1, 5, 9, 40, 41, 42, 43], "labels": [-100, -100, -100, 40, 41, 42, 43]},
        {"input_ids": [1, 6, 50, 51], "labels": [-100, -100, 50, 51]},
        {"input_ids": [1, 7, 8, 60, 61, 62], "labels": [-100, -100, -100, -100, 61, 62]},
    ]
    # reference: the model's own (mean) loss per example, weighted by its target tokens
    total = count = 0.0
    with torch.no_grad():
        for e in examples:
            out = model(input_ids=torch.tensor([e["input_ids"]]), labels=torch.tensor([e["labels"]]))
            n = sum(label != -100 for label in e["labels"][1:])
            total += out.loss.item() * n
            count += n
    expected = total / count
    for batch_size in (1, 2, 3):
        assert mean_token_loss(model, examples, batch_size=batch_size, pad_token_id=3) == pytest.approx(expected, rel=1e-5)
    assert model.training is False  # the mode is restored
    assert mean_token_loss(model, [], batch_size=2, pad_token_id=3) is None
