"""The three ways into the lm-eval tasks, each run from an unrelated directory.

(i)   ``lm_eval --model hf --model_args pretrained=BASE,peft=ADAPTER --tasks age_rating
      --include_path "$(python -m emergence.tasks)"`` through a shell;
(ii)  ``emergence eval --model ... --adapter ...`` (and ``evaluate()`` in-process);
(iii) ``emergence tasks install`` then a bare ``lm_eval --tasks age_rating``, then
      ``emergence tasks uninstall``. The shared venv is never modified: the install runs
      against an overlay of lm_eval (a folder of symlinks to the real package with its own
      ``lm_eval/tasks``) put first on PYTHONPATH, so the real TaskManager code scans it.

BASE is the tiny seeded Llama of conftest; ADAPTER a LoRA made here with peft directly,
with random (non-zero) A and B so it changes the model's outputs. Data: the embedded
sample's eval sets (the default), a couple of documents per task.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("lm_eval")

from emergence.lmeval import (TASK_NAMES, install_tasks, installed_tasks_dir,  # noqa: E402
                              lm_eval_tasks_dir, tasks_path, uninstall_tasks)

BIN = Path(sys.executable).parent


def _env(**extra: str) -> dict[str, str]:
    # one torch thread: the tiny model gains nothing from more, and on a shared CI box
    # OpenMP's spin-waiting makes oversubscribed threads many times slower
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env.update(extra)
    return env


def _run(cmd, cwd, env=None, shell=False):
    done = subprocess.run(cmd, cwd=cwd, env=env or _env(), capture_output=True, text=True,
                          timeout=600, shell=shell, executable="/bin/bash" if shell else None)
    assert done.returncode == 0, f"{cmd}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    return done


def _results_file(out: Path) -> dict:
    found = sorted(out.rglob("results*.json"))
    assert found, f"no results JSON under {out}"
    return json.loads(found[-1].read_text())


@pytest.fixture(scope="module")
def adapter(tiny_llama, tmp_path_factory) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=torch.float32)
    torch.manual_seed(1)
    # init_lora_weights=False: random A and B, so the adapter is not a no-op
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                        init_lora_weights=False)
    out = tmp_path_factory.mktemp("adapter")
    get_peft_model(model, config).save_pretrained(out)
    return out


# ------------------------------------------------------------------ (i) lm_eval + path


def test_lm_eval_cli_with_include_path_and_peft(tiny_llama, adapter, tmp_path):
    cmd = (f'lm_eval --model hf --model_args pretrained={tiny_llama},peft={adapter} '
           f'--tasks age_rating --include_path "$(python -m emergence.tasks)" '
           f'--apply_chat_template --limit 2 --output_path out --log_samples')
    _run(cmd, tmp_path, shell=True)
    results = _results_file(tmp_path / "out")
    row = results["results"]["age_rating"]
    for key in ("inferred", "abs_error", "within_2y", "band_correct"):
        assert f"{key},none" in row
    assert 0.0 <= row["inferred,none"] <= 1.0
    assert results["n-samples"]["age_rating"]["effective"] == 2
    model_args = results["config"]["model_args"]
    assert (model_args["peft"] if isinstance(model_args, dict) else model_args).endswith(
        str(adapter)) or f"peft={adapter}" in str(model_args)


# ------------------------------------------------------------------ (ii) emergence eval


def test_emergence_eval_cli_resolves_model_and_writes_results(tiny_llama, adapter, tmp_path):
    # "tiny-llama" goes through resolve_model (built into a private cache): the same seeded
    # architecture as the fixture, so the fixture's adapter fits it
    env = _env(EMERGENCE_CACHE=str(tmp_path / "cache"))
    done = _run([str(BIN / "emergence"), "eval", "--model", "tiny-llama", "--adapter",
                 str(adapter), "--tasks", "age_rating,age_rating_mc", "--limit", "2",
                 "--out", "out", "--bootstrap-iters", "0"], tmp_path, env=env)
    assert "|Tasks" in done.stdout.replace(" ", "")  # lm-eval's results table
    assert "age_rating_mc" in done.stdout and "mc_label_prob" in done.stdout
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert set(results["results"]) == {"age_rating", "age_rating_mc"}
    assert results["emergence"]["adapter"] == str(adapter.resolve())
    assert (tmp_path / "cache" / "models").is_dir()
    samples = (tmp_path / "out" / "samples_age_rating_mc.jsonl").read_text().splitlines()
    assert len(samples) == 2


def test_evaluate_in_process_agrees_with_probes_and_reports_the_gap(
        tiny_llama, adapter, tmp_path, monkeypatch, one_torch_thread):
    from emergence.lmeval import evaluate, format_results
    from emergence.metrics import score_age_choice
    from emergence.models import load_model_and_tokenizer
    from emergence.probe.config import ProbeConfig
    from emergence.probe.generate import band_choices, band_loglikelihoods, generate

    monkeypatch.chdir(tmp_path)
    base = evaluate(str(tiny_llama), tasks=["age_rating", "age_rating_mc", "author_intent"],
                    limit=3, bootstrap_iters=0)
    tuned = evaluate(str(tiny_llama), adapter=adapter, tasks="age_rating_mc", limit=3,
                     bootstrap_iters=0)
    samples = base["samples"]

    # the adapter reached the model
    assert ([r["resps"] for r in samples["age_rating_mc"]]
            != [r["resps"] for r in tuned["samples"]["age_rating_mc"]])

    # one question, one answer: lm-eval's run and emergence.probe agree item by item
    config = ProbeConfig()
    model, tokenizer = load_model_and_tokenizer(tiny_llama, device="cpu", dtype="float32")
    docs = [r["doc"] for r in samples["age_rating"]]
    prompts = [config.age_prompt.format(title=d["title"]) for d in docs]
    assert generate(model, tokenizer, prompts, config) == [
        r["filtered_resps"][0] for r in samples["age_rating"]]
    intent_docs = [r["doc"] for r in samples["author_intent_seen"]]
    assert generate(model, tokenizer, [config.intent_prompt.format(title=d["title"])
                                       for d in intent_docs], config,
                    max_new_tokens=config.max_new_tokens_intent) == [
        r["filtered_resps"][0] for r in samples["author_intent_seen"]]
    # band log-likelihoods may differ by a constant (how the first answer token is split
    # from the context), which the softmax over bands ignores
    lls = band_loglikelihoods(model, tokenizer, prompts, list(band_choices().values()))
    for row, ll in zip(samples["age_rating_mc"], lls):
        ours = score_age_choice(ll, row["doc"]["label_band"], row["doc"]["label_age"])
        assert row["mc_label_prob"] == pytest.approx(ours["mc_label_prob"], abs=1e-4)
        assert row["mc_correct"] == ours["mc_correct"]

    # the memorisation gap is seen minus held-out, per metric
    gap = base["emergence"]["memorisation_gap"]
    rows = base["results"]
    for key in ("rouge_l", "lcs_chars", "lcs_ratio", "ngram8_overlap"):
        expected = rows["author_intent_seen"][f"{key},none"] - rows["author_intent_heldout"][
            f"{key},none"]
        assert gap[key]["mean"] == pytest.approx(expected, abs=1e-12)
        assert gap[key]["n"] == 6
    assert "memorisation gap" in format_results(base)
    assert tuned["emergence"]["memorisation_gap"] == {}  # no intent subtasks ran


# ------------------------------------------------------------------ (iii) install


def test_install_targets_the_folder_lm_evals_task_manager_scans():
    import lm_eval.tasks.manager

    assert lm_eval_tasks_dir() == Path(lm_eval.tasks.manager.__file__).absolute().parent
    assert installed_tasks_dir() == lm_eval_tasks_dir() / "emergence"


def test_install_and_uninstall_in_a_folder(tmp_path):
    from lm_eval.tasks import TaskManager

    target = install_tasks(tmp_path)
    assert target == tmp_path / "emergence"
    linked = {p.name for p in target.iterdir()}
    assert {f"{n}.yaml" for n in TASK_NAMES} | {"utils.py", ".emergence-tasks.json"} <= linked
    assert all((target / n).resolve().parent == tasks_path() for n in linked
               if not n.startswith("."))
    manager = TaskManager(include_path=str(tmp_path), include_defaults=False)
    assert set(TASK_NAMES) <= set(manager.all_tasks) and "emergence" in manager.all_groups
    assert install_tasks(tmp_path) == target  # re-install refreshes
    (target / "mine.txt").write_text("not ours")
    removed = uninstall_tasks(tmp_path)
    assert target / "age_rating.yaml" in removed
    assert [p.name for p in target.iterdir()] == ["mine.txt"]  # only what install added
    (target / "mine.txt").unlink()
    target.rmdir()
    assert uninstall_tasks(tmp_path) == []
    (tmp_path / "emergence").mkdir()
    with pytest.raises(FileExistsError):
        install_tasks(tmp_path)  # a folder we did not make is never touched


def _overlay_lm_eval(root: Path) -> Path:
    """lm_eval as symlinks, except lm_eval/tasks: a real folder of symlinks we may add to."""
    import lm_eval

    real = Path(lm_eval.__file__).parent
    pkg = root / "lm_eval"
    pkg.mkdir(parents=True)
    for entry in real.iterdir():
        if entry.name == "__pycache__":
            continue
        if entry.name != "tasks":
            (pkg / entry.name).symlink_to(entry)
            continue
        (pkg / "tasks").mkdir()
        for sub in entry.iterdir():
            if sub.name not in ("__pycache__", "emergence"):
                (pkg / "tasks" / sub.name).symlink_to(sub)
    return pkg / "tasks"


def test_tasks_install_then_bare_lm_eval_then_uninstall(tiny_llama, tmp_path):
    overlay_tasks = _overlay_lm_eval(tmp_path / "site")
    real_tasks = lm_eval_tasks_dir()
    real_before = sorted(p.name for p in real_tasks.iterdir())
    overlay_before = sorted(p.name for p in overlay_tasks.iterdir())
    env = _env(PYTHONPATH=str(tmp_path / "site"), PYTHONDONTWRITEBYTECODE="1")
    work = tmp_path / "work"
    work.mkdir()
    try:
        done = _run([str(BIN / "emergence"), "tasks", "install"], work, env=env)
        assert str(overlay_tasks / "emergence") in done.stdout
        assert (overlay_tasks / "emergence" / "age_rating.yaml").is_symlink()
        _run(["lm_eval", "--model", "hf", "--model_args", f"pretrained={tiny_llama}",
              "--tasks", "age_rating", "--apply_chat_template", "--limit", "2",
              "--output_path", "out"], work, env=env)
        results = _results_file(work / "out")
        assert "inferred,none" in results["results"]["age_rating"]
    finally:
        _run([str(BIN / "emergence"), "tasks", "uninstall"], work, env=env)
    assert not (overlay_tasks / "emergence").exists()
    assert sorted(p.name for p in overlay_tasks.iterdir()) == overlay_before
    assert sorted(p.name for p in real_tasks.iterdir()) == real_before
