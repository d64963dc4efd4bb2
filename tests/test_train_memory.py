"""A large corpus streams into training: it starts after reading a sliver of the file, and host
memory stays flat while the trainer works through a good part of it (measured in a subprocess)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

N_LINES = 200_000

# Runs in a fresh interpreter so its RSS and I/O counters belong to this training alone.
SCRIPT = r"""
import json, sys
import psutil, torch
from transformers import TrainerCallback
from emergence.train import TrainConfig, train
# import the libraries before measuring, so their files do not count as reading the corpus
import datasets, matplotlib.pyplot, peft, trl.trainer.sft_trainer, transformers.trainer
from emergence.train import callbacks, data, outputs, preflight, recipe, scoring, targets
from emergence.train.backends import hf

corpus, model, out, steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
proc = psutil.Process()
seen = {}

class Probe(TrainerCallback):
    def on_step_end(self, args, state, control, **kw):
        if state.global_step in (1, 10, steps):
            seen[state.global_step] = {"rss": proc.memory_info().rss, "read": proc.io_counters().read_chars}

torch.set_num_threads(1)
start = {"rss": proc.memory_info().rss, "read": proc.io_counters().read_chars}
config = TrainConfig.cpu(
    model=model, corpus=corpus, output_dir=out, max_steps=steps, held_out=0.98, eval_records=4,
    max_seq_length=64, save_steps=10_000, logging_steps=50,
)
result = train(config, callbacks=[Probe()])
print(json.dumps({"start": start, "steps": seen, "data_state": result.data_state}))
"""


@pytest.mark.slow
def test_large_corpus_starts_fast_and_keeps_memory_flat(tmp_path, tiny_llama):
    corpus = tmp_path / "big.jsonl"
    filler = "A long description of the book, its story, its characters and its history. " * 6
    with corpus.open("w") as f:
        for i in range(N_LINES):
            f.write(json.dumps({"uid": f"{i:08d}", "title": f"Book number {i}", "content": f"{filler}{i}"}) + "\n")
    size = corpus.stat().st_size
    steps = 400
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(corpus), str(tiny_llama), str(tmp_path / "run"), str(steps)],
        capture_output=True, text=True, env=env, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    start, first, tenth, last = report["start"], report["steps"]["1"], report["steps"]["10"], report["steps"][str(steps)]
    records_read = report["data_state"]["stream_skip"]
    print(f"corpus {size / 1e6:.0f} MB; read before step 1: {(first['read'] - start['read']) / 1e6:.1f} MB; "
          f"records read by step {steps}: {records_read}; RSS step 10 -> {steps}: "
          f"{tenth['rss'] / 1e6:.0f} -> {last['rss'] / 1e6:.0f} MB")
    # training began after reading a small part of the file (the stream's read-ahead, the
    # preflight peek and the held-out sample), not the file
    assert first["read"] - start["read"] < 0.2 * size
    # by the end it had worked through a large share of the corpus ...
    assert records_read > 0.25 * N_LINES
    # ... and memory did not grow with it (materialising those records would take
    # hundreds of MB: they alone are over 40% of the file's bytes)
    assert last["rss"] - tenth["rss"] < 40e6
