"""A run of the cpu-demo profile shrunk to seconds on the tiny seeded model: the emergence curve's
golden (test_regression.py) and a real report with the curve and the memorisation panel's ROC
figure for the browser check (test_report_browser.py).

The profile's own stages, corpus (the embedded sample) and LoRA; the tiny random-init Llama
(``tiny-llama``, built in code, seeded) instead of SmolLM2; 6 steps, probed at 0, 1, 2, 3, 4
and 6 (the default schedule of 6 steps), generating at 0 only (the profile's ``generate_at``
is [0, 40]); a learning rate high enough that the
points move well beyond the golden's 1e-6; small sets and token caps; no lm-eval stage.
"""
from __future__ import annotations

from pathlib import Path

# --set KEY=VALUE over `--profile cpu-demo`
CURVE_DEMO: dict[str, str] = {
    "train.model": "tiny-llama", "train.max_steps": "6", "train.warmup_steps": "0", "train.learning_rate": "5e-3",
    "train.max_seq_length": "128", "train.eval_records": "8", "train.save_steps": "3",
    "evalsets.age_heldout": "24", "evalsets.age_seen": "6", "evalsets.intent_seen": "4",
    "evalsets.intent_heldout": "4", "evalsets.members": "12", "evalsets.nonmembers": "12",
    "evalsets.canaries": "4", "evalsets.canary_controls": "4",
    "probe.max_new_tokens_age": "8", "probe.max_new_tokens_intent": "8", "probe.k": "8", "probe.extract_tokens": "8",
    "lmeval.enabled": "false", "verdict.control_rounds": "5", "report.answers_in_report": "8",
    "curve.checkpoints": "[0, 1, 2, 3, 4, 6]",
}
CURVE_STEPS = [0, 1, 2, 3, 4, 6]


def run_curve_demo(out: Path) -> Path:
    """Run it into ``out`` (a fresh folder); returns ``out``."""
    from emergence.cli import main

    sets = [arg for key, value in CURVE_DEMO.items() for arg in ("--set", f"{key}={value}")]
    assert main(["run", "--profile", "cpu-demo", "--out", str(out), *sets]) == 0
    return out
