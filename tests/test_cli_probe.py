"""`emergence probe` end to end on a tiny model and a tiny corpus."""
from __future__ import annotations

import json

import pytest

from emergence.cli import main


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest.py: why one thread


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from emergence.corpus.sample import write_sample

    return write_sample(tmp_path_factory.mktemp("corpus") / "tiny.jsonl", 400, seed=5)


@pytest.fixture(scope="module")
def adapter_dir(tiny_llama, tmp_path_factory):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(2)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_llama),
                           LoraConfig(r=4, lora_alpha=32, init_lora_weights=False,
                                      target_modules=["q_proj", "v_proj"]))
    out = tmp_path_factory.mktemp("adapter")
    model.save_pretrained(out)
    return out


# short answers keep the tiny model's probes quick; the CLI reads the file like a user's
FAST_TOML = ('[probe]\nmax_new_tokens_age = 10\nmax_new_tokens_intent = 10\n'
             'k = 8\nextract_tokens = 8\n[evalsets]\nseed = 3\n')


def test_probe_base_and_adapter_writes_everything(tiny_llama, adapter_dir, corpus, tmp_path,
                                                  capsys):
    cfg = tmp_path / "probe.toml"
    cfg.write_text(FAST_TOML)
    out = tmp_path / "run"
    rc = main(["probe", "--model", str(tiny_llama), "--adapter", str(adapter_dir),
               "--corpus", str(corpus), "--out", str(out), "--n", "6", "--batch-size", "4",
               "--config", str(cfg), "--device", "cpu"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "Age probes" in printed and "Verdicts" in printed and "age_emergence" in printed

    manifest = json.loads((out / "evalsets" / "manifest.json").read_text())
    assert manifest["counts"] == {"age_heldout": 6, "age_seen": 6, "intent_seen": 6, "intent_heldout": 6,
                                  "members": 6, "nonmembers": 6, "canaries": 0, "canary_controls": 0}
    assert manifest["config"]["seed"] == 3
    from emergence.configio import load_config
    from emergence.experiment.config import ExperimentConfig

    saved = load_config(ExperimentConfig, out / "config.toml")  # the run directory's config, as run
    assert saved.probe.batch_size == 4 and saved.probe.max_new_tokens_age == 10
    assert saved.train.model == str(tiny_llama) and not saved.lmeval.enabled

    rows = [json.loads(line) for which in ("probe_base", "probe_tuned")
            for line in (out / which / "answers.jsonl").read_text().splitlines()]
    # per model: 12 age answers + 12 intent answers + extraction rows (some excluded)
    assert {r["model"] for r in rows} == {"base", "tuned"}
    for which in ("base", "tuned"):
        mine = [r for r in rows if r["model"] == which]
        assert sum(r["variant"] == "seed" for r in mine) == 12
        assert sum(r["variant"] == "intent" for r in mine) == 12
    ids = {(r["set"], r["item_id"]) for r in rows if r["model"] == "base"}
    assert ids == {(r["set"], r["item_id"]) for r in rows if r["model"] == "tuned"}

    metrics = json.loads((out / "verdicts" / "metrics.json").read_text())
    est = metrics["tables"]["age_heldout"]["tuned"]["seed"]["within_2y"]
    assert est["n"] == 6 and est["ci_low"] <= est["mean"] <= est["ci_high"]
    verdicts = json.loads((out / "verdicts" / "verdicts.json").read_text())
    names = {v["hypothesis"]["name"] for v in verdicts}
    assert {"age_emergence", "intent_memorisation"} <= names
    assert all(v["outcome"] in ("confirmed", "refuted", "inconclusive") for v in verdicts)


def test_probe_base_only_json_and_reused_eval_sets(tiny_llama, corpus, tmp_path, capsys):
    cfg = tmp_path / "probe.toml"
    cfg.write_text(FAST_TOML)
    first = tmp_path / "a"
    assert main(["probe", "--model", str(tiny_llama), "--corpus", str(corpus),
                 "--out", str(first), "--n", "3", "--json", "--config", str(cfg)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["metrics"]["tables"]["age_heldout"]) == {"base"}
    assert all(v["hypothesis"]["comparison"] != "paired_base_tuned" for v in report["verdicts"])
    second = tmp_path / "b"
    assert main(["probe", "--model", str(tiny_llama), "--eval-sets", str(first / "evalsets"),
                 "--out", str(second), "--json", "--config", str(cfg)]) == 0
    capsys.readouterr()
    a = [json.loads(x) for x in (first / "probe_base" / "answers.jsonl").read_text().splitlines()]
    b = [json.loads(x) for x in (second / "probe_base" / "answers.jsonl").read_text().splitlines()]
    assert a == b  # same sets, same greedy decoding, same answers


def test_probe_help_lists_flags(capsys):
    with pytest.raises(SystemExit):
        main(["probe", "--help"])
    text = capsys.readouterr().out
    for flag in ("--model", "--adapter", "--corpus", "--out", "--n", "--batch-size", "--config"):
        assert flag in text


def test_probe_takes_split_corpus_and_template_from_training_run(tiny_llama, corpus, tmp_path,
                                                                 capsys):
    from emergence.train.config import TrainConfig
    from emergence.train.recipe import train

    result = train(TrainConfig.cpu(
        model=str(tiny_llama), corpus=corpus, output_dir=tmp_path / "train", overwrite=True,
        max_steps=2, per_device_train_batch_size=2, gradient_accumulation_steps=1,
        warmup_steps=0, eval_records=0, max_seq_length=64, save_steps=100,
        held_out=0.2, salt="other", prompt_template="Book: {title}"))
    cfg = tmp_path / "probe.toml"
    cfg.write_text(FAST_TOML)
    out = tmp_path / "run"
    # no --corpus: the training run's corpus, split and prompt template are used
    assert main(["probe", "--model", str(tiny_llama), "--adapter", str(result.adapter_dir),
                 "--out", str(out), "--n", "4", "--config", str(cfg), "--json"]) == 0
    capsys.readouterr()
    manifest = json.loads((out / "evalsets" / "manifest.json").read_text())
    assert manifest["corpus"]["path"] == str(corpus)
    rule = manifest["consumption"]
    assert rule["held_out"] == 0.2 and rule["salt"] == "other"
    used = json.loads((tmp_path / "train" / "summary.json").read_text())["train_records_used"]
    assert used is not None and rule["per_shard"] == used
    # seen items come only from what training consumed: the first `used` non-empty records
    from emergence.evalsets import read_eval_set
    from emergence.corpus.split import split_of
    from emergence.corpus.stream import stream_records

    consumed = []
    for index, rec in enumerate(stream_records(corpus)):
        if len(consumed) < used and split_of(rec, held_out=0.2, salt="other") == "train" \
                and rec.content:
            consumed.append(index)
    seen = read_eval_set(out / "evalsets" / "intent_seen.jsonl")
    assert seen and {it.index for it in seen} <= set(consumed)
    from emergence.configio import load_config
    from emergence.experiment.config import ExperimentConfig

    assert load_config(ExperimentConfig, out / "config.toml").train.prompt_template == "Book: {title}"
    extract = [json.loads(x) for x in (out / "probe_tuned" / "answers.jsonl").read_text().splitlines()
               if json.loads(x)["variant"] == "extract"]
    assert extract  # the k-extractable context is the training exchange: "Book: {title}" as the user turn
