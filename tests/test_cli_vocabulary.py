"""One CLI vocabulary and quiet, honest output: --out and --json everywhere a result is printed,
--print-config as TOML, user errors as one line (never a traceback), output piped into a reader
that stops early ends quietly, and a CPU run prints no library noise or progress bars into a log."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from emergence.cli import build_parser

BIN = Path(sys.executable).parent


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "EMERGENCE_CACHE": str(tmp_path / "cache"), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    for noisy in ("TQDM_DISABLE", "HF_HUB_DISABLE_PROGRESS_BARS"):  # the command must set them itself
        env.pop(noisy, None)
    env.update(extra)
    return env


def _bash(script: str, tmp_path: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", script], cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True,
                          timeout=timeout)


def test_every_command_that_writes_results_takes_out_and_every_result_has_json():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices
    flags = {name: {s for a in p._actions for s in a.option_strings} for name, p in sub.items()}
    for command in ("train", "probe", "eval", "run", "export"):
        assert "--out" in flags[command], command
        assert "--json" in flags[command], command
    for command in ("train", "run"):
        assert "--print-config" in flags[command] and "--profile" in flags[command]


def test_output_piped_into_a_reader_that_stops_ends_quietly(tmp_path):
    """`emergence ... | head` (here `| true`, which closes the pipe at once): no BrokenPipe traceback."""
    done = _bash('emergence run --profile cpu-demo --print-config | true; echo "status ${PIPESTATUS[0]}"', tmp_path)
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert done.stdout.strip() in ("status 0", "status 141")
    done = _bash("emergence run --profile cpu-demo --print-config | head -c 10", tmp_path)
    assert done.stdout == "# TOML has" and "Traceback" not in done.stderr


def test_eval_user_errors_are_one_line(tmp_path):
    cases = [
        (["--model", "./no/such/model"], "model path './no/such/model' does not exist"),
        (["--model", "tiny-llama", "--adapter", str(tmp_path)], "not a PEFT adapter"),
        (["--model", "tiny-llama", "--tasks", "no_such_task"], "unknown task(s) no_such_task"),
        (["--model", "tiny-llama", "--tasks", "author_intent"], "--metadata"),
        (["--model", "tiny-llama", "--metadata", "[1]"], "must be a JSON object"),
    ]
    for args, message in cases:
        done = subprocess.run([str(BIN / "emergence"), "eval", *args, "--limit", "1"], cwd=tmp_path,
                              env=_env(tmp_path), capture_output=True, text=True, timeout=600)
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr and "Traceback" not in done.stderr, (args, done.stderr)


def test_eval_json_is_the_results_without_the_samples(tmp_path):
    done = subprocess.run([str(BIN / "emergence"), "eval", "--model", "tiny-llama", "--tasks", "age_rating_mc",
                           "--limit", "2", "--bootstrap-iters", "0", "--json"], cwd=tmp_path, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert "age_rating_mc" in data["results"] and "samples" not in data
    assert "embedded sample" in data["emergence"]["documents"]


def test_a_cpu_training_run_logs_lines_not_library_noise(tmp_path):
    """No bitsandbytes CPU-kernel warning, no tokenizer clean-up warning, no tqdm bars in a log:
    the run's own lines (one per step) instead."""
    done = subprocess.run([str(BIN / "emergence"), "train", "--profile", "cpu-demo", "--model", "tiny-llama",
                           "--max-steps", "2", "--set", "eval_records=2", "--set", "max_seq_length=64",
                           "--out", str(tmp_path / "run")], cwd=tmp_path, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    log = done.stderr
    assert "step 1/2" in log and "step 2/2" in log
    for noise in ("gemm_4bit_forward", "clean_up_tokenization_spaces", "it/s]", "Loading weights"):
        assert noise not in log, (noise, log)


def test_probe_logs_its_progress_where_no_bar_is_drawn(tiny_llama, tmp_path):
    """Probing takes minutes on a real model: in a log (no terminal) it says how far it got."""
    from emergence.corpus.sample import write_sample

    corpus = write_sample(tmp_path / "c.jsonl", 200, seed=3)
    done = subprocess.run([str(BIN / "emergence"), "probe", "--model", str(tiny_llama), "--corpus", str(corpus),
                           "--n", "3", "--out", str(tmp_path / "out"), "--json"], cwd=tmp_path,
                          env=_env(tmp_path), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "probing:" in done.stderr and "answers" in done.stderr
    assert "it/s]" not in done.stderr
    assert json.loads(done.stdout)["out"] == str(tmp_path / "out")


@pytest.mark.parametrize("command", ["run", "train"])
def test_print_config_is_toml_for_run_and_train(command, tmp_path):
    import tomllib

    done = subprocess.run([str(BIN / "emergence"), command, "--profile", "cpu-demo", "--print-config"],
                          cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    data = tomllib.loads(done.stdout)
    model = data["train"]["model"] if command == "run" else data["model"]
    assert model == "smollm2"


def test_progress_lines_follow_stderr_when_it_is_swapped_and_closed(monkeypatch):
    # pytest's capture and notebook redirects replace sys.stderr and close the old stream; a
    # handler bound to the first stream made every later progress line a "Logging error"
    import io
    import logging

    from emergence.cli.common import log_to_stderr

    logger = logging.getLogger("emergence")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    logger.handlers.clear()
    try:
        first, second = io.StringIO(), io.StringIO()
        monkeypatch.setattr(sys, "stderr", first)
        log_to_stderr()
        logging.getLogger("emergence.probe").info("one")
        first.close()
        monkeypatch.setattr(sys, "stderr", second)
        monkeypatch.setattr(logging, "raiseExceptions", True)
        logging.getLogger("emergence.probe").info("two")
        assert second.getvalue() == "    two\n"
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved
