"""Probes on tiny models: batching, adapter switching, band log-likelihoods, results schema."""
from __future__ import annotations

import json
import math

import pytest

from emergence.evalsets import EvalItem
from emergence.probe.config import SEED_AGE_PROMPT, ProbeConfig
from emergence.probe.generate import band_choices, band_loglikelihoods, extract_continuations, generate
from emergence.probe.run import ProbeResults, ProbeRow, run_probes
from emergence.scoring import score, score_rows
from emergence.verdict.judge import judge_all

TITLES = [
    "Goodnight Bunny",
    "Battleships of the Second World War: A Complete History of the Great Ships",
    "The Very Hungry Caterpillar",
    "A",
    "Dragon Academy",
    "The Mystery of the Old House and the Letter in the Dark Forest",
    "Learning to Read",
    "Cookbook",
    "The Detective",
    "Stars and Planets for Young Readers",
]


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest.py: why one thread


@pytest.fixture(scope="module")
def loaded(tiny_llama):
    from emergence.models import load_model_and_tokenizer

    return load_model_and_tokenizer(tiny_llama, device="cpu")


@pytest.fixture(scope="module")
def adapter_dir(tiny_llama, tmp_path_factory):
    """A LoRA adapter with non-zero weights (peft's default init is the identity)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    base = AutoModelForCausalLM.from_pretrained(tiny_llama)
    peft_model = get_peft_model(base, LoraConfig(r=8, lora_alpha=64, init_lora_weights=False,
                                                 target_modules=["q_proj", "v_proj", "o_proj"]))
    out = tmp_path_factory.mktemp("adapter")
    peft_model.save_pretrained(out)
    return out


def _items():
    contents = [
        ("For ages 3 and up. " + "The bunny says goodnight to the moon and the stars. " * 12),
        "A detailed account of the ships.",
        ("Ages 4-8. " + "On Monday he ate through one apple, on Tuesday two pears. " * 12),
    ]
    sets = {"age_heldout": [], "age_seen": [], "intent_seen": [], "intent_heldout": []}
    for i, title in enumerate(TITLES):
        age = float([1, 18, 4, 6, 10, 12, 6, 18, 10, 8][i])
        from emergence.agecues import band_of

        content = contents[i % len(contents)]
        sets["age_heldout"].append(EvalItem(id=f"age_heldout-{i}", uid=f"h{i}", title=title,
                                            content=content, split="held_out", label_age=age,
                                            label_band=band_of(age), label_source="sample",
                                            index=i))
        if i < 4:
            sets["age_seen"].append(EvalItem(id=f"age_seen-{i}", uid=f"s{i}", title=title,
                                             content=content, split="train", label_age=age,
                                             label_band=band_of(age), label_source="cue",
                                             index=100 + i))
            sets["intent_seen"].append(EvalItem(id=f"intent_seen-{i}", uid=f"s{i}", title=title,
                                                content=content, split="train", index=100 + i))
            sets["intent_heldout"].append(EvalItem(id=f"intent_heldout-{i}", uid=f"h{i}",
                                                   title=title, content=content,
                                                   split="held_out", index=i))
    return sets


FAST = dict(max_new_tokens_age=12, max_new_tokens_intent=12, k=8, extract_tokens=8)


def test_batched_generation_equals_one_at_a_time(loaded):
    model, tok = loaded
    prompts = [SEED_AGE_PROMPT.format(title=t) for t in TITLES]
    one = generate(model, tok, prompts, ProbeConfig(batch_size=1, max_new_tokens_age=16))
    for batch in (3, 8, 32):
        assert generate(model, tok, prompts, ProbeConfig(batch_size=batch,
                                                         max_new_tokens_age=16)) == one
    assert all(isinstance(a, str) for a in one)
    # a random model talks: the answers are not all empty
    assert any(one)


def test_generation_decodes_only_new_tokens_and_stops_on_eos(loaded):
    model, tok = loaded
    prompt = SEED_AGE_PROMPT.format(title="Goodnight Bunny")
    answer = generate(model, tok, [prompt], ProbeConfig(max_new_tokens_age=20))[0]
    assert "minimum recommended age" not in answer and "<|" not in answer
    # make eos overwhelmingly likely from the first step: every answer must be empty
    eos = tok.convert_tokens_to_ids("<|end|>")

    def force_eos(module, inputs, output):
        output[..., eos] = 1e4
        return output

    hook = model.lm_head.register_forward_hook(force_eos)
    try:
        assert generate(model, tok, [prompt, prompt + " now"],
                        ProbeConfig(max_new_tokens_age=20)) == ["", ""]
    finally:
        hook.remove()


def test_sampling_is_seeded(loaded):
    model, tok = loaded
    prompts = [SEED_AGE_PROMPT.format(title=t) for t in TITLES[:4]]
    cfg = ProbeConfig(do_sample=True, seed=7, max_new_tokens_age=12)
    assert generate(model, tok, prompts, cfg) == generate(model, tok, prompts, cfg)
    greedy = generate(model, tok, prompts, ProbeConfig(max_new_tokens_age=12))
    others = [generate(model, tok, prompts, ProbeConfig(do_sample=True, seed=s,
                                                       max_new_tokens_age=12))
              for s in range(3)]
    assert any(o != greedy for o in others)


def test_band_loglikelihoods_shape_finite_and_batch_invariant(loaded):
    import torch

    model, tok = loaded
    prompts = [SEED_AGE_PROMPT.format(title=t) for t in TITLES[:5]]
    choices = list(band_choices().values())
    assert choices[1] == "Ages 3-5" and len(choices) == 6
    lls = band_loglikelihoods(model, tok, prompts, choices)
    assert len(lls) == 5 and all(len(row) == 6 for row in lls)
    assert all(math.isfinite(x) and x < 0 for row in lls for x in row)
    single = band_loglikelihoods(model, tok, prompts[:1], choices[:1])[0][0]
    assert single == pytest.approx(lls[0][0], abs=1e-4)
    # against a direct computation of the same sum
    ctx = tok(tok.apply_chat_template([{"role": "user", "content": prompts[2]}],
                                      add_generation_prompt=True, tokenize=False),
              add_special_tokens=False)["input_ids"]
    cont = tok(choices[3], add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([ctx + cont])).logits[0], -1)
    direct = sum(float(logp[len(ctx) - 1 + j, t]) for j, t in enumerate(cont))
    assert lls[2][3] == pytest.approx(direct, abs=1e-4)


def test_extract_continuations_excludes_short_contents(loaded):
    model, tok = loaded
    cfg = ProbeConfig(k=8, extract_tokens=8)
    pairs = extract_continuations(model, tok, ["a", "b", "c"],
                                  ["short", "word " * 40, "another fairly long text " * 10], cfg)
    assert pairs[0] is None
    for prefix, gen, truth in pairs[1:]:
        assert len(prefix) == 8 and len(truth) == 8 and len(gen) <= 8


def test_adapter_switch_from_one_load_matches_base_alone(tiny_llama, adapter_dir):
    sets = _items()
    cfg = ProbeConfig(**FAST)
    both = run_probes(tiny_llama, sets, cfg, adapter=adapter_dir)
    alone = run_probes(tiny_llama, sets, cfg)
    assert both.models == ["base", "tuned"] and alone.models == ["base"]

    def view(res, which):
        return [(r.set, r.item_id, r.variant, r.answer, r.band_loglikelihoods)
                for r in res.select(model=which)]

    base_alone = view(alone, "base")
    base_switched = view(both, "base")
    assert [x[:4] for x in base_switched] == [x[:4] for x in base_alone]
    for a, b in zip(base_switched, base_alone):
        if a[4] is not None:
            assert a[4] == pytest.approx(b[4], abs=1e-4)
    tuned = view(both, "tuned")
    # same items, same order; the adapter really is on for the tuned answers
    assert [x[:3] for x in tuned] == [x[:3] for x in base_switched]
    assert any(t[3] != b[3] for t, b in zip(tuned, base_switched))


def test_run_probes_rows_scores_and_answers_jsonl(tiny_llama, adapter_dir, tmp_path):
    sets = _items()
    cfg = ProbeConfig(**FAST, completion_variant=True, age_variants={"how_old":
                      "How old should a reader of {title} be?"})
    raw = run_probes(tiny_llama, sets, cfg, adapter=adapter_dir)
    assert all(r.scores == {} and r.parsed_age is None for r in raw.rows)  # probing never scores
    res = score_rows(raw, sets)
    variants = {(r.set, r.variant) for r in res.rows}
    assert {("age_heldout", v) for v in ("seed", "how_old", "completion")} <= variants
    assert {("intent_seen", "intent"), ("intent_seen", "extract")} <= variants
    n_age = len(sets["age_heldout"]) + len(sets["age_seen"])
    assert len(res.select(variant="seed")) == 2 * n_age
    for row in res.select(set="age_heldout", variant="seed"):
        assert set(row.band_loglikelihoods) == set(band_choices())
        assert {"inferred", "within_2y", "mc_correct", "mc_expected_abs_error"} <= set(row.scores)
        assert row.scores["inferred"] == (row.parsed_age is not None)
    for row in res.select(set="age_heldout", variant="completion"):
        assert row.prompt == row.title and row.band_loglikelihoods is None
    for row in res.select(variant="intent"):
        assert {"rouge_l", "lcs_ratio", "ngram8_overlap"} <= set(row.scores)
    # "A detailed account of the ships." is too short for k + 50 tokens
    assert res.excluded == {"intent_seen": 1, "intent_heldout": 1}
    assert all(set(r.scores) == {"k_extractable"} for r in res.select(variant="extract"))
    assert all(len(r.token_ids["truth"]) == 8 for r in res.select(variant="extract"))

    path = res.write(tmp_path)
    lines = path.read_text().splitlines()
    assert len(lines) == len(res.rows)
    required = {"set", "item_id", "uid", "title", "label_age", "label_band", "label_source",
                "model", "variant", "prompt", "answer", "parsed_age", "scores",
                "band_loglikelihoods", "token_ids", "membership"}
    for line in lines:
        obj = json.loads(line)  # strict JSON: NaN is written as null
        assert set(obj) == required
        assert obj["model"] in ("base", "tuned")
    back = ProbeResults.read(tmp_path)
    assert back.rows == res.rows and back.excluded == res.excluded
    assert score(back).model_dump_json() == score(res).model_dump_json()  # NaN != NaN: compare dumps


def test_score_and_verdicts(tiny_llama, adapter_dir):
    sets = _items()
    res = score_rows(run_probes(tiny_llama, sets, ProbeConfig(**FAST), adapter=adapter_dir), sets)
    metrics = score(res)
    t = metrics.tables["age_heldout"]
    assert set(t) == {"base", "tuned"}
    est = t["base"]["seed"]["inferred"]
    assert est["n"] == len(TITLES) and 0 <= est["mean"] <= 1 and est["method"] == "wilson"
    assert "mc_correct" in t["tuned"]["seed"]
    assert set(metrics.memorisation_gap) == {"base", "tuned"}
    assert {"rouge_l", "k_extractable"} <= set(metrics.memorisation_gap["tuned"])
    assert set(metrics.baselines) == {"majority", "rule"}
    assert metrics.baselines["rule"]["age_heldout"]["inferred"]["n"] == len(TITLES)
    judged = judge_all(res)
    names = {v.hypothesis.name for v in judged}
    assert {"age_emergence", "age_emergence_mc", "intent_memorisation"} <= names
    for v in judged:
        assert v.outcome in ("confirmed", "refuted", "inconclusive")
    # 10 items is below the hypotheses' min_n... except where it is not: n is reported
    emergence_v = next(v for v in judged if v.hypothesis.name == "age_emergence")
    assert emergence_v.n == len(TITLES)
    # base-only runs judge nothing paired
    base_only = score_rows(run_probes(tiny_llama, sets, ProbeConfig(**FAST, sets=["age_heldout"])), sets)
    assert [v for v in judge_all(base_only) if v.hypothesis.comparison ==
            "paired_base_tuned"] == []


def test_tuned_needs_adapter(tiny_llama):
    with pytest.raises(ValueError, match="adapter"):
        run_probes(tiny_llama, _items(), ProbeConfig(**FAST), models=("base", "tuned"))


def test_probe_row_rejects_unknown_fields():
    with pytest.raises(Exception):
        ProbeRow(set="x", item_id="i", title="t", model="base", variant="seed", prompt="p",
                 answer="a", nonsense=1)


def test_band_scores_are_not_skewed_by_token_count(tiny_llama):
    """A model with uniform preferences — every next token equally likely, so no band's answer
    is more likely per token than another's — must not prefer a band because its text is
    shorter. Summed log-probabilities do ("Ages 18+" is the shortest text here and wins every
    item); length-normalised and domain-conditional scores give every band the same probability."""
    import torch

    from emergence.metrics import band_names, score_age_choice
    from emergence.models import load_model_and_tokenizer
    from emergence.probe.generate import band_token_counts
    from emergence.scoring import band_scores

    model, tok = load_model_and_tokenizer(tiny_llama, device="cpu")
    with torch.no_grad():
        model.lm_head.weight.zero_()  # uniform next-token distribution in every context
    config = ProbeConfig()
    choices = band_choices(config)
    tokens = dict(zip(choices, band_token_counts(tok, list(choices.values()))))
    assert len(set(tokens.values())) > 1  # the texts differ in length: the case that matters
    shortest = min(tokens, key=tokens.get)
    prompts = [config.age_prompt.format(title=t) for t in TITLES]
    lls = band_loglikelihoods(model, tok, prompts, list(choices.values()))
    reference = dict(zip(choices, band_loglikelihoods(
        model, tok, [config.age_prompt.format(title=config.neutral_title)], list(choices.values()))[0]))
    for row in lls:
        raw = dict(zip(choices, row))
        summed = score_age_choice(band_scores(raw, "sum"), shortest)
        assert summed["mc_correct"] == 1.0 and summed["mc_label_prob"] > 0.5  # the shortest text wins
        for how in ("mean", "domain"):
            scores = band_scores(raw, how, reference=reference, tokens=tokens)
            for band in band_names():
                s = score_age_choice(scores, band)
                assert s["mc_label_prob"] == pytest.approx(1 / 6, abs=1e-4), (how, band)
                assert s["mc_correct"] == 0.0  # a tie chooses no band
