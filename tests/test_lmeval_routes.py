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

    from emergence.corpus.sample import sample_path

    monkeypatch.chdir(tmp_path)
    # no run here: the intent tasks are told which corpus their seen/held-out sets come from
    base = evaluate(str(tiny_llama), tasks=["age_rating", "age_rating_mc", "author_intent"],
                    limit=3, bootstrap_iters=0, metadata={"corpus": str(sample_path())})
    assert "built from" in base["emergence"]["documents"]
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
    pythonpath = os.pathsep.join(p for p in (str(tmp_path / "site"), os.environ.get("PYTHONPATH")) if p)
    env = _env(PYTHONPATH=pythonpath, PYTHONDONTWRITEBYTECODE="1")
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


# ------------------------------------------------------------------ the README's three routes, as written


def _readme_lm_eval_block() -> str:
    """The bash block of the README's lm-eval section, continuation lines joined."""
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text[text.index("## lm-eval\n"):]
    block = section[section.index("```bash\n") + len("```bash\n"):]
    block = block[:block.index("```")]
    return block.replace("\\\n", " ")


@pytest.fixture(scope="module")
def run_dir(adapter, tmp_path_factory) -> Path:
    """A run directory as `emergence run` leaves it, as far as lm-eval reads it: evalsets/ from a
    corpus of its own (not the embedded sample) and train/adapter."""
    import shutil

    from emergence.corpus.sample import write_sample
    from emergence.evalsets import EvalSetConfig, TrainingConsumption, build_eval_sets, write_eval_sets

    run = tmp_path_factory.mktemp("readme") / "run"
    corpus = write_sample(run.parent / "corpus.jsonl", 300, seed=11)
    config = EvalSetConfig(age_heldout=4, age_seen=2, intent_seen=3, intent_heldout=3)
    sets = build_eval_sets(corpus, config, consumption=TrainingConsumption(per_shard=40))
    write_eval_sets(sets, run / "evalsets", config=config, source=corpus)
    shutil.copytree(adapter, run / "train" / "adapter")
    return run


def _titles(path: Path) -> list[str]:
    return [json.loads(line)["title"] for line in path.read_text().splitlines() if line.strip()]


def _sample_titles(out: Path, task: str) -> list[str]:
    found = sorted(out.rglob(f"samples_{task}*.jsonl"))
    assert found, f"no samples of {task} under {out}"
    return [json.loads(line)["doc"]["title"] for line in found[-1].read_text().splitlines() if line.strip()]


def test_the_readme_routes_as_written_read_the_runs_own_eval_sets(run_dir, tmp_path):
    """The README's lm-eval block, run through bash on the tiny model (`smollm2` -> `tiny-llama`,
    RUN -> a run directory, --limit 40 -> 2, an --output_path per command): every route reads
    RUN/evalsets, so author_intent_seen holds the run's seen titles, not the embedded sample's."""
    import re

    block = _readme_lm_eval_block()
    assert "--apply_chat_template" in block and "emergence models path smollm2" in block
    lines, n = [], 0
    for line in block.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        line = re.sub(r"^RUN=\S+", f"RUN={run_dir}", line)
        line = line.replace("smollm2", "tiny-llama").replace("--limit 40", "--limit 2")
        if line.startswith("lm_eval "):
            n += 1
            line += f" --output_path out{n} --log_samples"
        elif line.startswith("emergence eval "):
            line += " --out out-eval --bootstrap-iters 0"
        lines.append(line)
    assert sum(1 for x in lines if x.startswith(("lm_eval ", "emergence eval "))) == 3, lines
    overlay_tasks = _overlay_lm_eval(tmp_path / "site")  # `emergence tasks install` goes here, not the venv
    script = tmp_path / "routes.sh"
    script.write_text("set -euo pipefail\n" + "\n".join(lines) + "\n")
    # the overlay first, then whatever PYTHONPATH already names (a checkout under test)
    pythonpath = os.pathsep.join(p for p in (str(tmp_path / "site"), os.environ.get("PYTHONPATH")) if p)
    env = _env(EMERGENCE_CACHE=str(tmp_path / "cache"), PYTHONPATH=pythonpath, PYTHONDONTWRITEBYTECODE="1")
    work = tmp_path / "work"
    work.mkdir()
    done = _run(["bash", str(script)], work, env=env)
    assert "documents from the run's own eval sets" in done.stderr
    assert not (overlay_tasks / "emergence").exists()  # the block ends with uninstall

    seen = _titles(run_dir / "evalsets" / "intent_seen.jsonl")
    sample_seen = [item.title for item in _default_intent_seen()]
    assert not set(seen) & set(sample_seen[:10])  # the two corpora differ: the check can fail
    for out in (work / "out1", work / "out-eval", work / "out2"):
        got = _sample_titles(out, "author_intent_seen")
        assert got == seen[:2], out
        assert _sample_titles(out, "age_rating") == _titles(run_dir / "evalsets" / "age_heldout.jsonl")[:2]


def _default_intent_seen():
    from emergence.corpus.sample import sample_path
    from emergence.evalsets import EvalSetConfig, build_eval_sets

    return build_eval_sets(sample_path(), EvalSetConfig())["intent_seen"]


def test_author_intent_without_the_runs_eval_sets_is_refused_naming_the_flag(tiny_llama, adapter, tmp_path):
    """An adapter outside any run directory and no --metadata: the intent tasks refuse (a
    "seen" set that is not what the adapter was trained on would measure nothing)."""
    env = _env(EMERGENCE_CACHE=str(tmp_path / "cache"))
    done = subprocess.run([str(BIN / "emergence"), "eval", "--model", str(tiny_llama), "--adapter", str(adapter),
                           "--tasks", "author_intent", "--limit", "1"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 2, done.stderr
    assert """--metadata '{"eval_dir": "RUN/evalsets"}'""" in done.stderr and "Traceback" not in done.stderr
    bare = subprocess.run(f'lm_eval --model hf --model_args pretrained={tiny_llama},peft={adapter} '
                          f'--tasks author_intent_seen --include_path "$(python -m emergence.tasks)" '
                          f'--apply_chat_template --limit 1', shell=True, executable="/bin/bash", cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=600)
    assert bare.returncode != 0 and "eval_dir" in bare.stderr
    # the age tasks have a meaning of their own on the embedded sample's held-out titles
    from emergence.lmeval import documents

    meta, source = documents({}, ("age_heldout",))
    assert meta == {} and "embedded sample" in source


def test_an_empty_answer_is_reported_naming_the_chat_template_flag(caplog):
    from emergence.tasks import utils

    utils._EMPTY.clear()
    with caplog.at_level("WARNING", logger="emergence.tasks"):
        utils.process_age({"label_age": 6.0, "label_band": "6-8", "title": "T"}, ["Ages 6 and up."])
        assert not caplog.records
        utils.process_age({"label_age": 6.0, "label_band": "6-8", "title": "T"}, [""])
        utils.process_age({"label_age": 6.0, "label_band": "6-8", "title": "T"}, ["  "])
    assert len(caplog.records) == 1 and "--apply_chat_template" in caplog.records[0].getMessage()
