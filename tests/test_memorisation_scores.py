"""Membership scores from one forward pass: hand computations on a fixed logit tensor,
batched == per record, prompt and padding never counted, the model's own loss agrees.

Defects pinned: the causal shift applied the wrong way (logits at t scored against the
label at t); padding or prompt positions counted as targets; Min-K% taking zero tokens on
short records; Min-K%++ dividing by a zero spread; a batch's result depending on its
padding, its chunking or its neighbours; the reference score subtracting rows of
different records.
"""
from __future__ import annotations

import math
import zlib

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from emergence.memorisation import (MEMBERSHIP_SCORES, MembershipScores, membership_scores, min_k_count,  # noqa: E402
                                    pad_batch, reference_scores, zlib_bytes)

# next-token distributions at positions 0, 1, 2 (position 3 predicts nothing)
P = [[0.5, 0.25, 0.25], [0.1, 0.6, 0.3], [0.2, 0.2, 0.6], [0.3, 0.3, 0.4]]
LABELS = [-100, 0, 2, 1]  # targets: token 0 under P[0], token 2 under P[1], token 1 under P[2]


def _fixed() -> tuple:
    logits = torch.log(torch.tensor([P], dtype=torch.float64)).float() + 3.0  # a shift changes no softmax
    return logits, torch.tensor([LABELS])


def _z(probs: list[float], token: int) -> float:
    """Min-K%++'s standardised log-probability, by hand."""
    mu = sum(p * math.log(p) for p in probs)
    sigma = math.sqrt(sum(p * (math.log(p) - mu) ** 2 for p in probs))
    return (math.log(probs[token]) - mu) / sigma


def test_hand_computation_on_a_fixed_logit_tensor():
    logits, labels = _fixed()
    row = membership_scores(logits, labels, ["abc"])[0]
    lp = [math.log(0.5), math.log(0.3), math.log(0.2)]
    assert row.n_tokens == 3
    assert row.loglik == pytest.approx(sum(lp), abs=1e-5)
    assert row.neg_loss == pytest.approx(sum(lp) / 3, abs=1e-5)  # minus the mean token loss
    assert row.zlib_bytes == len(zlib.compress(b"abc"))
    assert row.zlib == pytest.approx(sum(lp) / 3 / len(zlib.compress(b"abc")), abs=1e-6)
    # k = 20% of 3 tokens floors to 0: at least one token, the lowest log-probability
    assert row.min_k == pytest.approx(math.log(0.2), abs=1e-5)
    # two-point distributions have closed forms: +sqrt(w_low / w_high) for the likelier value
    z = [_z(P[0], 0), _z(P[1], 2), _z(P[2], 1)]
    assert z[0] == pytest.approx(1.0, abs=1e-9) and z[2] == pytest.approx(-math.sqrt(0.6 / 0.4), abs=1e-9)
    assert row.min_k_pp == pytest.approx(min(z), abs=1e-5)


def test_min_k_takes_the_k_share_of_lowest_tokens():
    logits, labels = _fixed()
    row = membership_scores(logits, labels, ["abc"], k=0.7)[0]  # floor(2.1) = 2 lowest
    assert row.min_k == pytest.approx((math.log(0.2) + math.log(0.3)) / 2, abs=1e-5)
    z = sorted([_z(P[0], 0), _z(P[1], 2), _z(P[2], 1)])
    assert row.min_k_pp == pytest.approx((z[0] + z[1]) / 2, abs=1e-5)
    full = membership_scores(logits, labels, ["abc"], k=1.0)[0]
    assert full.min_k == pytest.approx(full.neg_loss, abs=1e-6)
    assert [min_k_count(n, 0.2) for n in (1, 4, 5, 9, 10, 11)] == [1, 1, 1, 1, 2, 2]
    assert min_k_count(10, 0.3) == 3  # 0.3 * 10 = 2.9999999999999996 in floats
    with pytest.raises(ValueError):
        min_k_count(10, 0.0)


def test_uniform_next_token_distribution_gives_zero_min_k_pp():
    row = membership_scores(torch.zeros(1, 5, 7), torch.tensor([[-100, -100, 3, 1, 6]]), ["x"])[0]
    assert row.min_k_pp == 0.0 and row.n_tokens == 3
    assert row.neg_loss == pytest.approx(-math.log(7), abs=1e-6)


def test_every_score_is_higher_for_the_better_fitted_record():
    # sign convention: the record the model predicts better scores higher on every score
    good = torch.full((1, 6, 5), -4.0)
    bad = torch.full((1, 6, 5), -4.0)
    targets = [-100, 1, 2, 3, 4, 0]
    for t in range(5):
        good[0, t, targets[t + 1]] = 4.0
        bad[0, t, (targets[t + 1] + 1) % 5] = 4.0
    labels = torch.tensor([targets])
    g = membership_scores(good, labels, ["same text"])[0]
    b = membership_scores(bad, labels, ["same text"])[0]
    for key, _ in MEMBERSHIP_SCORES:
        if key != "reference":
            assert getattr(g, key) > getattr(b, key), key
    assert reference_scores([g], [b])[0] > 0


def _random_batch(seed: int, b: int = 5, width: int = 14, vocab: int = 23):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(b, width, vocab, generator=g) * 3.0
    labels = torch.full((b, width), -100, dtype=torch.long)
    lengths, prompts = [], []
    for i in range(b):
        n = int(torch.randint(4, width + 1, (1,), generator=g))
        p = int(torch.randint(1, n - 1, (1,), generator=g))
        labels[i, p:n] = torch.randint(0, vocab, (n - p,), generator=g)
        lengths.append(n)
        prompts.append(p)
    return logits, labels, lengths, prompts


def _reference(logits, labels) -> list[tuple[float, float, float]]:
    """A plain loop over positions: (loglik, min_k, min_k_pp) at k = 0.2."""
    out = []
    for i in range(labels.shape[0]):
        lps, zs = [], []
        for t in range(1, labels.shape[1]):
            if int(labels[i, t]) == -100:
                continue
            logp = torch.log_softmax(logits[i, t - 1].double(), -1)
            p = logp.exp()
            mu = float((p * logp).sum())
            sd = float((p * (logp - mu) ** 2).sum()) ** 0.5
            lps.append(float(logp[labels[i, t]]))
            zs.append((lps[-1] - mu) / sd)
        kk = max(1, int(0.2 * len(lps) + 1e-9))
        out.append((sum(lps), float(np.mean(sorted(lps)[:kk])), float(np.mean(sorted(zs)[:kk]))))
    return out


def test_batched_equals_per_record_and_a_plain_loop():
    logits, labels, lengths, _ = _random_batch(0)
    texts = [f"record {i}" for i in range(labels.shape[0])]
    batched = membership_scores(logits, labels, texts)
    for i, n in enumerate(lengths):
        alone = membership_scores(logits[i:i + 1, :n], labels[i:i + 1, :n], [texts[i]])[0]
        for key in MembershipScores.model_fields:
            assert getattr(batched[i], key) == pytest.approx(getattr(alone, key), rel=1e-6, abs=1e-6), key
    for row, (ll, mk, mkpp) in zip(batched, _reference(logits, labels)):
        assert row.loglik == pytest.approx(ll, abs=1e-4)
        assert row.min_k == pytest.approx(mk, abs=1e-5)
        assert row.min_k_pp == pytest.approx(mkpp, abs=1e-4)


def test_padding_and_prompt_positions_are_never_read():
    logits, labels, lengths, prompts = _random_batch(1)
    texts = ["t"] * labels.shape[0]
    before = membership_scores(logits, labels, texts)
    garbage = logits.clone()
    for i, (n, p) in enumerate(zip(lengths, prompts)):
        # positions 0 .. p-2 predict prompt tokens; n-1 .. end predict padding or nothing
        garbage[i, : p - 1] = 1e4 * torch.randn(max(p - 1, 0), logits.shape[2])
        garbage[i, n - 1:] = -1e4
    after = membership_scores(garbage, labels, texts)
    assert [r.model_dump() for r in before] == [r.model_dump() for r in after]
    assert [r.n_tokens for r in before] == [n - p for n, p in zip(lengths, prompts)]


def test_chunking_and_dtype_do_not_change_scores():
    logits, labels, _, _ = _random_batch(2)
    texts = ["t"] * labels.shape[0]
    base = membership_scores(logits, labels, texts)
    for chunk in (1, 3, 7):
        assert [r.model_dump() for r in membership_scores(logits, labels, texts, chunk_tokens=chunk)] == \
            [r.model_dump() for r in base]
    half = membership_scores(logits.to(torch.bfloat16), labels, texts)
    for a, b in zip(half, base):
        assert a.neg_loss == pytest.approx(b.neg_loss, abs=0.05)


def test_bad_inputs_are_refused():
    logits, labels, _, _ = _random_batch(3)
    with pytest.raises(ValueError, match="no target tokens"):
        bad = labels.clone()
        bad[1] = -100
        membership_scores(logits, bad, ["t"] * 5)
    with pytest.raises(ValueError, match="texts"):
        membership_scores(logits, labels, ["t"])
    with pytest.raises(ValueError, match="do not match"):
        membership_scores(logits[:, :-1], labels, ["t"] * 5)


def test_reference_scores_subtract_base_from_tuned_on_the_same_tokens():
    row = dict(zlib=0.0, zlib_bytes=1, min_k=0.0, min_k_pp=0.0)
    tuned = [MembershipScores(n_tokens=3, loglik=-2.0, neg_loss=-2 / 3, **row),
             MembershipScores(n_tokens=5, loglik=-9.0, neg_loss=-1.8, **row)]
    base = [MembershipScores(n_tokens=3, loglik=-5.0, neg_loss=-5 / 3, **row),
            MembershipScores(n_tokens=5, loglik=-8.0, neg_loss=-1.6, **row)]
    assert reference_scores(tuned, base).tolist() == pytest.approx([1.0, -0.2])  # per target token
    # a length-only difference cancels: the same per-token fit at twice the length scores the same
    long_t = [MembershipScores(n_tokens=6, loglik=-4.0, neg_loss=-2 / 3, **row)]
    long_b = [MembershipScores(n_tokens=6, loglik=-10.0, neg_loss=-5 / 3, **row)]
    assert reference_scores(long_t, long_b)[0] == pytest.approx(reference_scores(tuned[:1], base[:1])[0])
    with pytest.raises(ValueError, match="different tokens"):
        reference_scores(tuned, base[::-1])
    with pytest.raises(ValueError):
        reference_scores(tuned, base[:1])


def test_zlib_bytes_is_the_compressed_utf8_length():
    assert zlib_bytes("é" * 50) == len(zlib.compress(("é" * 50).encode("utf-8")))
    assert zlib_bytes("abc " * 100) < zlib_bytes("".join(chr(97 + (i * 7919) % 26) for i in range(400)))


def test_pad_batch_pads_right_with_ignored_labels():
    ids, mask, labels = pad_batch([{"input_ids": [5, 6, 7], "labels": [-100, 6, 7]},
                                   {"input_ids": [8], "labels": [8]}], pad_token_id=0)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert labels.tolist() == [[-100, 6, 7], [8, -100, -100]]
    with pytest.raises(ValueError):
        pad_batch([{"input_ids": [1, 2], "labels": [1]}], 0)


def test_neg_loss_is_minus_the_models_own_loss(tiny_llama, one_torch_thread):
    # the library path: transformers' shifted cross-entropy over the same labels
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from emergence.train.data import chat_messages, encode_example

    tok = AutoTokenizer.from_pretrained(tiny_llama)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama).eval()
    records = [{"title": "A short one", "content": "Tiny tale."},
               {"title": "Another title here", "content": "A longer content with several more words in it."}]
    examples = [encode_example(tok, chat_messages(r, "{title}"), max_seq_length=128) for r in records]
    ids, mask, labels = pad_batch(examples, tok.pad_token_id or 0)
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits
    rows = membership_scores(logits, labels, [r["content"] for r in records])
    for i, e in enumerate(examples):
        one = torch.tensor([e["input_ids"]])
        with torch.no_grad():
            loss = model(input_ids=one, labels=torch.tensor([e["labels"]])).loss
        assert rows[i].neg_loss == pytest.approx(-float(loss), abs=1e-4)
        assert rows[i].n_tokens == sum(1 for x in e["labels"][1:] if x != -100)
