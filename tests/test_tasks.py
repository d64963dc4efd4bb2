"""Task-config tests in the style of lm-eval's own: load, render, build requests, score.

Every task and group of tasks/ loads through ``TaskManager(include_path=tasks_path())``,
renders ``doc_to_text`` for its first documents, builds requests with a limit, and
its ``process_results`` turns hand-made model results into the metrics of
``emergence.metrics``. No model is run here (see test_lmeval_routes.py).
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("lm_eval")

from emergence.evalsets import EvalItem, read_eval_set, write_eval_sets  # noqa: E402
from emergence.lmeval import GROUP_NAMES, RUN_ONLY_TASKS, TASK_NAMES, tasks_path  # noqa: E402

# the tasks an eval_dir of sets alone serves (author_intent_mia needs a whole run: test_memorisation_panel.py)
SET_TASKS = tuple(n for n in TASK_NAMES if n not in RUN_ONLY_TASKS)
from emergence.metrics import band_names, keys  # noqa: E402
from emergence.probe.config import ProbeConfig  # noqa: E402
from emergence.probe.generate import band_choices  # noqa: E402

AGE_KEYS, AGE_CHOICE_KEYS, INTENT_KEYS = keys("age"), keys("age_choice"), keys("intent")

BIN = Path(sys.executable).parent
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def _item(set_name: str, i: int, split: str, age: float | None) -> EvalItem:
    from emergence.agecues import band_of

    return EvalItem(
        id=f"{set_name}-{i:07d}", uid=f"u{set_name}{i}", title=f"The Fox and the Moon, Part {i}",
        content=(f"A gentle bedtime story about a fox who counts {i + 2} stars before "
                 "falling asleep under the moon with his friends the owl and the hare."),
        split=split, label_age=age, label_band=band_of(age) if age is not None else None,
        label_source="sample" if age is not None else None, index=i,
    )


@pytest.fixture(scope="module")
def eval_dir(tmp_path_factory) -> Path:
    """Small hand-made eval sets written the library's way (write_eval_sets)."""
    ages = [2.0, 4.0, 7.0, 10.0, 15.0, 18.0, 5.0]
    sets = {
        "age_heldout": [_item("age_heldout", i, "held_out", a) for i, a in enumerate(ages)],
        "age_seen": [_item("age_seen", i, "train", a) for i, a in enumerate(ages[:3])],
        "intent_seen": [_item("intent_seen", i, "train", None) for i in range(4)],
        "intent_heldout": [_item("intent_heldout", i, "held_out", 6.0) for i in range(5)],
    }
    out = tmp_path_factory.mktemp("evalsets")
    write_eval_sets(sets, out)
    return out


@pytest.fixture(scope="module")
def manager(eval_dir):
    from lm_eval.tasks import TaskManager

    # lm-eval's own tasks are left out of the index: ours must not need them
    return TaskManager(include_path=str(tasks_path()), include_defaults=False,
                       metadata={"eval_dir": str(eval_dir)})


@pytest.fixture(scope="module")
def loaded(manager):
    return manager.load(["emergence"])


# ------------------------------------------------------------------------ the folder


def test_python_m_emergence_tasks_prints_the_folder(tmp_path):
    out = subprocess.run([sys.executable, "-m", "emergence.tasks"], cwd=tmp_path,
                         capture_output=True, text=True, check=True).stdout.strip()
    assert Path(out) == tasks_path()
    assert {p.name for p in Path(out).glob("*.yaml")} >= {f"{n}.yaml" for n in TASK_NAMES}


def test_every_task_file_is_packaged():
    # pyproject's package-data globs must carry every non-Python file of tasks/
    import fnmatch

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    config = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]
    assert config["package-dir"]["emergence.tasks"] == "tasks"
    globs = config["package-data"]["emergence.tasks"]
    for path in tasks_path().iterdir():
        if path.is_file() and path.suffix != ".py":
            assert any(fnmatch.fnmatch(path.name, g) for g in globs), path.name


def test_index_lists_tasks_and_groups(manager):
    assert set(TASK_NAMES) <= set(manager.all_subtasks)
    assert set(GROUP_NAMES) <= set(manager.all_groups)
    # the shared include file is not a task
    assert "_author_intent" not in manager.all_tasks


def test_group_structure(loaded):
    assert set(loaded["tasks"]) == set(SET_TASKS)
    assert loaded["group_map"]["emergence"] == ["age_rating", "age_rating_mc", "author_intent"]
    assert loaded["group_map"]["author_intent"] == ["author_intent_seen",
                                                    "author_intent_heldout"]


@pytest.mark.parametrize("name", SET_TASKS + GROUP_NAMES)
def test_each_name_loads_alone(manager, name):
    result = manager.load([name])
    assert result["tasks"]
    assert set(result["tasks"]) <= set(TASK_NAMES)


# ------------------------------------------------------------------------ documents


@pytest.mark.parametrize("name,set_name", [
    ("age_rating", "age_heldout"), ("age_rating_mc", "age_heldout"),
    ("author_intent_seen", "intent_seen"), ("author_intent_heldout", "intent_heldout")])
def test_docs_are_the_eval_set(loaded, eval_dir, name, set_name):
    docs = list(loaded["tasks"][name].test_docs())
    expected = read_eval_set(eval_dir / f"{set_name}.jsonl")
    assert [d["id"] for d in docs] == [it.id for it in expected]
    assert docs[0]["content"] == expected[0].content


@pytest.mark.parametrize("name", SET_TASKS)
def test_doc_to_text_renders_the_probe_question(loaded, name):
    task = loaded["tasks"][name]
    template = (ProbeConfig().intent_prompt if name.startswith("author_intent")
                else ProbeConfig().age_prompt)
    for doc in list(task.test_docs())[:3]:
        text = task.doc_to_text(doc)
        assert text == template.format(title=doc["title"])
        assert doc["title"] in text


def test_mc_choices_and_target(loaded):
    task = loaded["tasks"]["age_rating_mc"]
    for doc in list(task.test_docs())[:5]:
        choices = task.doc_to_choice(doc)
        assert choices == list(band_choices().values())
        assert len(choices) == len(band_names())
        assert band_names()[task.doc_to_target(doc)] == doc["label_band"]


@pytest.mark.parametrize("name,per_doc", [
    ("age_rating", 1), ("age_rating_mc", 6), ("author_intent_seen", 1),
    ("author_intent_heldout", 1)])
def test_requests_build_with_limit(loaded, name, per_doc):
    task = loaded["tasks"][name]
    task.build_all_requests(limit=2, rank=0, world_size=1)
    assert len(task.instances) == 2 * per_doc
    ctx = task.instances[0].arguments[0]
    assert ctx == task.doc_to_text(task.test_docs()[0])
    if task.OUTPUT_TYPE == "generate_until":
        gen = task.instances[0].arguments[1]
        assert gen["do_sample"] is False


def test_generation_caps_follow_probe_config(loaded):
    config = ProbeConfig()
    gk = {n: loaded["tasks"][n].config.generation_kwargs for n in SET_TASKS}
    assert gk["age_rating"]["max_gen_toks"] == config.max_new_tokens_age
    assert gk["author_intent_seen"]["max_gen_toks"] == config.max_new_tokens_intent
    assert gk["author_intent_heldout"]["max_gen_toks"] == config.max_new_tokens_intent


def test_metric_declarations(loaded):
    tasks = loaded["tasks"]
    hib = tasks["age_rating"].higher_is_better()
    assert set(hib) == set(AGE_KEYS)
    assert hib["abs_error"] is False and hib["inferred"] and hib["within_2y"]
    mc = tasks["age_rating_mc"].higher_is_better()
    assert set(mc) == set(AGE_CHOICE_KEYS) | {"acc"}
    assert mc["mc_expected_abs_error"] is False and mc["mc_label_prob"]
    assert set(tasks["author_intent_seen"].higher_is_better()) == set(INTENT_KEYS)


def test_abs_error_aggregation_ignores_nan(loaded):
    agg = loaded["tasks"]["age_rating"].aggregation()
    assert agg["abs_error"]([1.0, math.nan, 3.0]) == pytest.approx(2.0)
    assert agg["inferred"]([1.0, 0.0, 0.0, 1.0]) == pytest.approx(0.5)


# ------------------------------------------------------------------------ process_results


def test_process_age_with_an_age(loaded):
    task = loaded["tasks"]["age_rating"]
    doc = {**task.test_docs()[0], "label_age": 5.0}
    out = task.process_results(doc, ["This picture book suits ages 4 and up."])
    assert out == {"inferred": 1.0, "abs_error": 1.0, "within_2y": 1.0, "band_correct": 1.0}


def test_process_age_far_off_and_other_band(loaded):
    task = loaded["tasks"]["age_rating"]
    doc = {**task.test_docs()[0], "label_age": 4.0}
    out = task.process_results(doc, ["It is meant for readers 18 years old and older."])
    assert out["inferred"] == 1.0 and out["abs_error"] == pytest.approx(14.0)
    assert out["within_2y"] == 0.0 and out["band_correct"] == 0.0


def test_process_age_without_an_age(loaded):
    task = loaded["tasks"]["age_rating"]
    out = task.process_results(task.test_docs()[0], ["I cannot say anything about that."])
    assert out["inferred"] == 0.0 and out["within_2y"] == 0.0 and out["band_correct"] == 0.0
    assert math.isnan(out["abs_error"])


def test_process_age_mc(loaded):
    task = loaded["tasks"]["age_rating_mc"]
    doc = {**task.test_docs()[0], "label_band": "6-8", "label_age": 7.0}
    gold = band_names().index("6-8")
    lls = [(-9.0, False)] * 6
    lls[gold] = (-1.0, True)
    out = task.process_results(doc, lls)
    assert set(out) == set(AGE_CHOICE_KEYS) | {"acc"}
    assert out["mc_correct"] == 1.0 and out["acc"] == 1.0
    assert 0.99 < out["mc_label_prob"] < 1.0
    assert out["mc_expected_abs_error"] < 0.1
    wrong = [(-9.0, False)] * 6
    wrong[0] = (-1.0, True)
    out = task.process_results(doc, wrong)
    assert out["mc_correct"] == 0.0 and out["acc"] == 0.0 and out["mc_label_prob"] < 0.01
    assert out["mc_expected_abs_error"] > 5.0


def test_process_age_mc_scores_the_runs_band_scores_and_ignores_a_per_question_constant(eval_dir):
    """With a run's band scoring in the documents (emergence eval --checkpoints), age_rating_mc
    scores the probes' band scores (emergence.scoring.band_scores); lm-eval's answers carry the
    chat template's newline, one extra constant per question, which must change nothing."""
    from lm_eval.tasks import TaskManager

    from emergence.lmeval import TaskDataError, band_scoring, task_dataset
    from emergence.metrics import score_age_choice
    from emergence.probe.run import ProbeResults
    from emergence.scoring import band_scores

    reference = {b: -30.0 + 2.5 * i for i, b in enumerate(band_names())}  # a prior favouring later bands
    probe = ProbeResults(model="m", models=["step-5"], config=ProbeConfig(), band_reference={"step-5": reference})
    scoring = band_scoring(probe, "step-5")
    assert scoring == {"normalise": "domain", "reference": reference}
    task = TaskManager(include_path=str(tasks_path()), include_defaults=False,
                       metadata={"eval_dir": str(eval_dir), "band_scoring": scoring}).load(
        ["age_rating_mc"])["tasks"]["age_rating_mc"]
    doc = task.test_docs()[0]
    assert doc["band_scoring"] == scoring
    raw = [-20.0, -21.0, -19.5, -22.0, -18.0, -23.0]
    out = task.process_results(doc, [(x, False) for x in raw])
    ours = score_age_choice(band_scores(dict(zip(band_names(), raw)), "domain", reference=reference),
                            doc["label_band"], doc["label_age"])
    assert {k: out[k] for k in AGE_CHOICE_KEYS} == pytest.approx({k: ours[k] for k in AGE_CHOICE_KEYS}, abs=1e-12)
    # plain lm_eval (no band scoring in the document) keeps the raw sums: another number
    plain = task.process_results({k: v for k, v in doc.items() if k != "band_scoring"}, [(x, False) for x in raw])
    assert plain["mc_label_prob"] != pytest.approx(out["mc_label_prob"], abs=1e-3)
    # the first-token split: one constant per question, the same for every band, changes nothing
    shifted = task.process_results(doc, [(x - 6.8, False) for x in raw])
    assert shifted == pytest.approx(out, abs=1e-12)
    # ... whereas 'mean' would divide it by each band's token count: no metadata is made for it
    mean = probe.model_copy(update={"config": ProbeConfig(band_normalise="mean")})
    with pytest.raises(ValueError, match="token count"):
        band_scoring(mean, "step-5")
    with pytest.raises(ValueError, match="no neutral-question"):
        band_scoring(probe, "step-6")
    with pytest.raises(TaskDataError, match="missing"):
        task_dataset("age_heldout", eval_dir=str(eval_dir),
                     band_scoring={"normalise": "domain", "reference": {"0-2": -1.0}})
    # documents of the intent sets are left alone
    assert "band_scoring" not in task_dataset("intent_seen", eval_dir=str(eval_dir),
                                              band_scoring=scoring)["test"].column_names


def test_process_intent_copy_and_fresh(loaded):
    task = loaded["tasks"]["author_intent_seen"]
    doc = task.test_docs()[0]
    copied = task.process_results(doc, [doc["content"]])
    assert set(copied) == set(INTENT_KEYS)
    assert copied["rouge_l"] == pytest.approx(1.0)
    assert copied["ngram8_overlap"] == pytest.approx(1.0)
    assert copied["lcs_ratio"] == pytest.approx(1.0)
    fresh = task.process_results(doc, ["To explore grief, memory and the sea."])
    assert fresh["rouge_l"] < 0.2 and fresh["ngram8_overlap"] == 0.0
    assert fresh["lcs_chars"] < copied["lcs_chars"]


# ------------------------------------------------------------------------ data sources


def test_default_data_is_the_embedded_samples_eval_sets():
    from emergence.evalsets import EvalSetConfig, build_eval_sets
    from emergence.lmeval import task_dataset
    from emergence.corpus.sample import sample_path

    from emergence.lmeval import TaskDataError

    expected = build_eval_sets(sample_path(), EvalSetConfig())
    assert task_dataset("age_heldout")["test"]["id"] == [it.id for it in expected["age_heldout"]]
    for name in ("intent_seen", "intent_heldout"):
        # seen/held-out titles mean something only as a training run's: no run, no default
        with pytest.raises(TaskDataError, match="eval_dir"):
            task_dataset(name)
        ds = task_dataset(name, corpus=str(sample_path()))["test"]
        assert ds["id"] == [it.id for it in expected[name]]
    # built once per process: a second call reuses the built sets
    from emergence.lmeval import _built_sets

    hits = _built_sets.cache_info().hits
    task_dataset("age_heldout")
    assert _built_sets.cache_info().hits == hits + 1


def test_corpus_metadata_builds_sets_from_that_corpus(tmp_path):
    from emergence.lmeval import task_dataset
    from emergence.corpus.sample import write_sample

    corpus = write_sample(tmp_path / "mini.jsonl", 300, seed=7)
    ds = task_dataset("age_heldout", corpus=str(corpus), eval_config={"age_heldout": 5},
                      pretrained="ignored", config_source="ignored")["test"]
    assert 0 < len(ds) <= 5
    assert all(split == "held_out" for split in ds["split"])


def test_eval_dir_missing_set_is_a_clear_error(tmp_path):
    from emergence.lmeval import task_dataset

    with pytest.raises(FileNotFoundError, match="age_heldout.jsonl"):
        task_dataset("age_heldout", eval_dir=str(tmp_path))


# ------------------------------------------------------------------------ lm_eval validate


def _lm_eval(args, cwd):
    env = {**os.environ, **OFFLINE}
    return subprocess.run([str(BIN / "lm_eval"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_lm_eval_validate_accepts_tasks_and_groups(tmp_path):
    names = ",".join(TASK_NAMES + GROUP_NAMES)
    done = _lm_eval(["validate", "--tasks", names, "--include_path", str(tasks_path())],
                    tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All tasks found and valid" in done.stdout
    # lm-eval's own tasks were indexed too: none of our names may shadow one of theirs
    assert "overrides existing task" not in done.stdout + done.stderr

