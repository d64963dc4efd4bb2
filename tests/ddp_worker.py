"""One process of a data-parallel training run, for tests/test_train_ddp_gpu.py (not a test).

    $ torchrun --nproc_per_node 2 tests/ddp_worker.py whole MODEL CORPUS OUT hf

Modes: ``whole`` trains 6 steps; ``cut`` trains the same run but dies right after
checkpoint-3 is saved (every rank raises); ``resume`` continues the cut run from it.
"""
from __future__ import annotations

import sys
from pathlib import Path


def main(mode: str, model: str, corpus: str, out: str, backend: str) -> None:
    from transformers import TrainerCallback

    from emergence.train import TrainConfig, train

    class Crash(Exception):
        pass

    class CrashAfterSaving(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.global_step == 3:
                raise Crash("simulated failure after checkpoint-3")

    config = TrainConfig(
        model=model, corpus=Path(corpus), output_dir=Path(out), backend=backend,
        max_steps=6, save_steps=3, max_seq_length=128, eval_records=4, learning_rate=1e-3,
        warmup_steps=1, per_device_train_batch_size=2, gradient_accumulation_steps=2,
        resume=mode == "resume", seed=0,
    )
    train(config, callbacks=[CrashAfterSaving()] if mode == "cut" else None)


if __name__ == "__main__":
    main(*sys.argv[1:6])
