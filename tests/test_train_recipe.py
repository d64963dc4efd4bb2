"""End to end on CPU with tiny models: loss falls, outputs, adapter reload, exact resume, the CLI."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from emergence.train import TrainConfig, train

WORDS = "the book is about a family a journey a war and the history of a small town".split()


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest.py: why one thread


def write_corpus(path: Path, n: int = 300) -> Path:
    """A learnable corpus: a few fixed contents, so the loss must fall within a few steps."""
    contents = [
        "A story about a family, a journey and the history of a small town.",
        "The history of the war, the ships and the great battles of the navy.",
        "A picture book for children: the little caterpillar eats and eats.",
    ]
    with path.open("w") as f:
        for i in range(n):
            f.write(json.dumps({"uid": f"u{i}", "title": f"Book {i}", "content": contents[i % 3]}) + "\n")
    return path


def capture_logits_at_end(input_ids):
    """A callback that keeps the trained model's logits on ``input_ids`` (the in-memory model)."""
    import torch
    from transformers import TrainerCallback

    class Capture(TrainerCallback):
        logits = None

        def on_train_end(self, args, state, control, model=None, **kwargs):
            with torch.no_grad():
                Capture.logits = model(input_ids=input_ids).logits.detach().clone()

    return Capture()


def record_batch_shapes():
    """A callback recording (rows, has position_ids) of every training forward's input."""
    from transformers import TrainerCallback

    class Shapes(TrainerCallback):
        def __init__(self):
            self.seen = []

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            def hook(module, args_, kwargs_):
                if module.training:
                    ids = kwargs_.get("input_ids", args_[0] if args_ else None)
                    self.seen.append((ids.shape[0], kwargs_.get("position_ids") is not None))

            model.register_forward_pre_hook(hook, with_kwargs=True)

    return Shapes()


def test_tiny_phi3_learns_and_writes_a_loadable_adapter(tmp_path, tiny_phi3):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    corpus = write_corpus(tmp_path / "corpus.jsonl")
    config = TrainConfig.cpu(
        model=str(tiny_phi3), corpus=corpus, output_dir=tmp_path / "run", max_steps=10, learning_rate=1e-2,
        warmup_steps=0, max_seq_length=64, eval_records=8, save_steps=5, eval_steps=5,
    )
    probe = torch.tensor([[1, 20, 30, 40, 50, 60, 70]])
    capture = capture_logits_at_end(probe)
    result = train(config, callbacks=[capture])
    run = tmp_path / "run"

    # it learned: the training loss and the held-out loss fall
    all_rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in all_rows if "loss" in r]
    losses = [r["loss"] for r in rows]
    assert [r["step"] for r in rows] == list(range(1, 11))
    heldout_rows = [r for r in all_rows if "heldout_loss" in r]  # every eval_steps, the end scored apart
    assert [r["step"] for r in heldout_rows] == [5]
    assert result.heldout_loss_after < heldout_rows[0]["heldout_loss"] < result.heldout_loss_before
    assert sum(losses[-3:]) / 3 < losses[0] - 0.3
    assert result.heldout_loss_after < result.heldout_loss_before
    assert result.heldout_records == 8
    for r in rows:
        assert r["learning_rate"] is not None and r["grad_norm"] > 0 and r["tokens_per_s"] > 0
    assert result.train_loss_avg == pytest.approx(sum(losses) / len(losses), rel=1e-6)
    assert result.final_loss == losses[-1] and result.steps == 10 and result.backend == "hf"

    # LoRA on the fused projections, sized as r x (in + out) over those layers
    adapter_config = json.loads((run / "adapter" / "adapter_config.json").read_text())
    assert set(adapter_config["target_modules"]) == {"qkv_proj", "o_proj", "gate_up_proj", "down_proj"}
    base = AutoModelForCausalLM.from_pretrained(tiny_phi3)
    expected = sum(
        16 * (m.in_features + m.out_features)
        for name, m in base.named_modules()
        if isinstance(m, torch.nn.Linear) and name.rsplit(".", 1)[-1] in adapter_config["target_modules"]
    )
    assert result.trainable_params == expected

    # the saved adapter, through plain peft, is the trained model
    tuned = PeftModel.from_pretrained(base, str(result.adapter_dir)).eval()
    with torch.no_grad():
        reloaded = tuned(input_ids=probe).logits
    assert capture.logits is not None
    torch.testing.assert_close(reloaded, capture.logits, rtol=0, atol=1e-6)
    with torch.no_grad(), tuned.disable_adapter():
        untuned = tuned(input_ids=probe).logits
    assert (untuned - reloaded).abs().max().item() > 1e-3  # the adapter does change the model

    # the rest of the run directory
    assert (result.adapter_dir / "adapter_model.safetensors").is_file()
    assert (result.adapter_dir / "tokenizer.json").is_file()
    assert TrainConfig.from_file(run / "config.json") == config
    env = json.loads((run / "env.json").read_text())
    assert env["packages"]["torch"] and env["packages"]["peft"] and env["device"] == "cpu"
    assert (run / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((run / "summary.json").read_text()) == json.loads(result.model_dump_json())
    assert (run / "checkpoints" / "checkpoint-10").is_dir()
    assert result.train_records_used == 10 * 2 * 2  # batch 2 x accumulation 2 per step, one pass


def test_resume_ends_exactly_where_an_uninterrupted_run_does(tmp_path, tiny_llama):
    from safetensors.torch import load_file
    from transformers import TrainerCallback

    class Crash(Exception):
        pass

    class CrashAfterSaving(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.global_step == 4:
                raise Crash  # the process dies right after checkpoint-4 is on disk

    corpus = write_corpus(tmp_path / "corpus.jsonl")
    common = dict(
        model=str(tiny_llama), corpus=corpus, max_steps=8, save_steps=4, eval_records=4, learning_rate=5e-3,
        warmup_steps=2, max_seq_length=64,
    )
    whole = train(TrainConfig.cpu(output_dir=tmp_path / "whole", **common))
    with pytest.raises(Crash):
        train(TrainConfig.cpu(output_dir=tmp_path / "cut", **common), callbacks=[CrashAfterSaving()])
    checkpoint = tmp_path / "cut" / "checkpoints" / "checkpoint-4"
    state = json.loads((checkpoint / "data_state-rank0-of-1.json").read_text())
    assert state["train_taken"] == 16 and state["stream_skip"] > 16  # 4 steps x 4 examples, held-out skipped
    with pytest.raises(Exception, match="already holds a run"):
        train(TrainConfig.cpu(output_dir=tmp_path / "cut", **common))
    resumed = train(TrainConfig.cpu(output_dir=tmp_path / "cut", resume=True, **common))

    assert resumed.resumed_from_step == 4 and resumed.steps == 8
    a = [json.loads(x) for x in (tmp_path / "whole" / "metrics.jsonl").read_text().splitlines()]
    b = [json.loads(x) for x in (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in b] == list(range(1, 9))
    assert [r["loss"] for r in b] == pytest.approx([r["loss"] for r in a], abs=1e-6)
    assert resumed.final_loss == pytest.approx(whole.final_loss, abs=1e-6)
    assert resumed.train_loss_avg == pytest.approx(whole.train_loss_avg, abs=1e-6)
    assert resumed.data_state == whole.data_state
    wa = load_file(str(whole.adapter_dir / "adapter_model.safetensors"))
    wb = load_file(str(resumed.adapter_dir / "adapter_model.safetensors"))
    assert wa.keys() == wb.keys()
    for key in wa:
        assert (wa[key] - wb[key]).abs().max().item() <= 1e-6, key


def test_cli_trains_and_reports(tmp_path, tiny_llama, capsys):
    from emergence.cli import main

    corpus = write_corpus(tmp_path / "corpus.jsonl", 40)
    out = tmp_path / "run"
    code = main([
        "train", "--profile", "cpu", "--model", str(tiny_llama), "--corpus", str(corpus), "--output-dir", str(out),
        "--max-steps", "2", "--set", "eval_records=2", "--set", "max_seq_length=48", "--json",
    ])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["steps"] == 2 and Path(result["adapter_dir"]).is_dir()
    assert main(["train", "--profile", "cpu", "--model", str(tiny_llama), "--output-dir", str(out)]) == 2
    assert "already holds a run" in capsys.readouterr().err


def test_padding_free_batches_train_exactly_as_padded_ones(tmp_path, tiny_llama):
    """Padding-free micro-batches concatenate their examples; attention must stay inside
    each one, so the losses equal those of padded batches of the same examples."""
    corpus = tmp_path / "corpus.jsonl"
    with corpus.open("w") as f:  # contents of very different lengths: padded batches carry many pads
        for i in range(120):
            content = " ".join(WORDS[: 3 + (i * 7) % len(WORDS)] * (1 + i % 3))
            f.write(json.dumps({"uid": f"u{i}", "title": f"Book {i}", "content": content}) + "\n")
    common = dict(model=str(tiny_llama), corpus=corpus, max_steps=3, save_steps=10, eval_records=4,
                  learning_rate=5e-3, warmup_steps=0, max_seq_length=64)
    shapes = {"padded": record_batch_shapes(), "free": record_batch_shapes()}
    padded = train(TrainConfig.cpu(output_dir=tmp_path / "padded", padding_free=False, **common),
                   callbacks=[shapes["padded"]])
    free = train(TrainConfig.cpu(output_dir=tmp_path / "free", padding_free=True, **common),
                 callbacks=[shapes["free"]])
    # the two runs really batched differently: one row with position_ids vs padded rows
    assert shapes["free"].seen and all(rows == 1 and pos for rows, pos in shapes["free"].seen)
    assert shapes["padded"].seen and all(rows == 2 for rows, _ in shapes["padded"].seen)
    rows = {name: [json.loads(x) for x in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]
            for name in ("padded", "free")}
    loss = {name: [r["loss"] for r in rows[name] if "loss" in r] for name in rows}
    assert len(loss["free"]) == 3
    assert loss["free"] == pytest.approx(loss["padded"], abs=1e-4)
    assert free.tokens_seen == padded.tokens_seen  # the same non-padding tokens
    assert (padded.padding_free, free.padding_free) == (False, True)  # reported as run


def test_logged_loss_is_a_mean_token_loss_whatever_the_accumulation(tmp_path, tiny_llama):
    """The step-1 loss (weights untouched) is the mean token loss of its examples: it must
    not scale with gradient accumulation. Every record has the same content, so it matches
    the held-out sample's mean token loss of the same initial model."""
    corpus = tmp_path / "corpus.jsonl"
    with corpus.open("w") as f:
        for i in range(200):
            f.write(json.dumps({"uid": f"u{i}", "title": f"Book {i}",
                                "content": "A story about a family and a war and the history of a town."}) + "\n")
    for accumulation in (1, 4):
        result = train(TrainConfig.cpu(
            model=str(tiny_llama), corpus=corpus, output_dir=tmp_path / f"acc{accumulation}", max_steps=1,
            gradient_accumulation_steps=accumulation, per_device_train_batch_size=2, eval_records=4,
            max_seq_length=64, warmup_steps=0,
        ))
        assert result.final_loss == pytest.approx(result.heldout_loss_before, abs=0.05), accumulation
