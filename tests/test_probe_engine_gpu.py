"""The bf16 and 4-bit probe engines agree on a tiny trained model (CUDA only)."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.gpu

# stated tolerance of the band log-likelihoods between NF4 and bf16 weights, in nats per band
BAND_TOLERANCE = 0.5


def test_bf16_and_4bit_engines_agree(tiny_llama, tmp_path):
    from test_regression import train_age_adapter

    from emergence.corpus.sample import write_sample
    from emergence.evalsets import EvalSetConfig, build_eval_sets
    from emergence.probe import ProbeConfig, run_probes

    corpus = write_sample(tmp_path / "c.jsonl", 3000, seed=3)
    sets = build_eval_sets(corpus, EvalSetConfig(age_heldout=120, age_seen=0, intent_seen=0, intent_heldout=0))
    adapter = train_age_adapter(tiny_llama, tmp_path / "adapter", [it.title for it in sets["age_heldout"][:40]],
                                steps=40)
    runs = {engine: run_probes(str(tiny_llama), sets, ProbeConfig(engine=engine, device="cuda", progress=False,
                                                                  max_new_tokens_age=12, extractable=False),
                               adapter=adapter, models=("tuned",))
            for engine in ("hf-bf16", "hf-4bit")}
    assert runs["hf-bf16"].engine.engine == "hf-bf16" and runs["hf-4bit"].engine.engine == "hf-4bit"
    a, b = (runs[e].select(set="age_heldout", variant="seed") for e in ("hf-bf16", "hf-4bit"))
    same = sum(x.answer == y.answer for x, y in zip(a, b)) / len(a)
    assert same >= 0.99, same
    worst = max(abs(x.band_loglikelihoods[k] - y.band_loglikelihoods[k]) for x, y in zip(a, b)
                for k in x.band_loglikelihoods)
    assert worst <= BAND_TOLERANCE, worst
