"""`emergence run` end to end on a tiny model built in code, resume, refusal, and the config.

The end-to-end run uses the tiny random-init Llama (model "tiny-llama", built by
emergence.models.resolve_model), a generated corpus, a few training steps, small eval sets
and lm-eval with a limit of a few documents. A fast test checks the cpu-demo profile itself;
a slow one runs every stage of a reduced copy of it (SmolLM2, the embedded sample) with a generous timeout.
"""
from __future__ import annotations

import json
import random

import pytest

from emergence.cli import main

STAGES = ["audit", "evalsets", "probe_base", "train", "probe_tuned", "curve", "lmeval", "verdicts", "report"]

TINY_TOML = """
profile = "tiny"

[verdict]
control_rounds = 5

[report]
answers_in_report = 8

[train]
corpus = "{corpus}"
model = "tiny-llama"
load_in_4bit = false
dtype = "float32"
device = "cpu"
backend = "hf"
optim = "adamw_torch"
gradient_checkpointing = false
max_steps = 4
max_seq_length = 128
per_device_train_batch_size = 2
gradient_accumulation_steps = 2
learning_rate = 1e-3
warmup_steps = 0
save_steps = 2
eval_records = 4

[evalsets]
age_heldout = 12
age_seen = 6
intent_seen = 4
intent_heldout = 4

[probe]
max_new_tokens_age = 8
max_new_tokens_intent = 8
k = 8
extract_tokens = 8
batch_size = 8

[lmeval]
tasks = ["age_rating", "age_rating_mc"]
limit = 3
models = ["tuned"]
bootstrap_iters = 0
"""


# module-scoped: the run directories the tests share are built under it too (conftest.py)
pytestmark = pytest.mark.usefixtures("one_torch_thread_per_module")


@pytest.fixture(scope="module")
def tiny_toml(tmp_path_factory):
    from emergence.corpus.sample import write_sample

    tmp = tmp_path_factory.mktemp("experiment")
    corpus = write_sample(tmp / "corpus.jsonl", 300, seed=5)
    path = tmp / "tiny.toml"
    path.write_text(TINY_TOML.format(corpus=corpus), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def run_dir(tiny_toml, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "tiny-run"
    assert main(["run", "--config", str(tiny_toml), "--out", str(out)]) == 0
    return out


def _state(run_dir):
    return json.loads((run_dir / "run.json").read_text())["stages"]


def test_run_directory_holds_every_stage(run_dir):
    for name in ("config.toml", "env.json", "run.json", "report.md", "report.html", "answers.jsonl",
                 "audit/audit.json", "evalsets/manifest.json", "evalsets/age_heldout.jsonl",
                 "probe_base/answers.jsonl", "probe_tuned/answers.jsonl", "train/adapter/adapter_config.json",
                 "train/summary.json", "train/metrics.jsonl", "lmeval/tuned/results.json",
                 "verdicts/metrics.json", "verdicts/verdicts.json", "verdicts/controls.json"):
        assert (run_dir / name).exists(), name
    state = _state(run_dir)
    assert list(state) == STAGES
    assert all(rec["fingerprint"] and rec["seconds"] >= 0 for rec in state.values())
    # run.json marks the directory as a run and lists exactly what the run wrote
    run = json.loads((run_dir / "run.json").read_text())
    assert run["tool"] == "emergence"
    assert set(run["written"]) == {p.name for p in run_dir.iterdir() if p.name != ".lock"}
    env = json.loads((run_dir / "env.json").read_text())
    assert env["packages"]["torch"] and env["cpu_count"] and "git_commit" in env


def test_answers_cover_both_models_on_the_same_items(run_dir):
    rows = [json.loads(line) for line in (run_dir / "answers.jsonl").read_text().splitlines()]
    age = [r for r in rows if r["set"] == "age_heldout" and r["variant"] == "seed"]
    assert {r["model"] for r in age} == {"base", "tuned"}
    base_ids = sorted(r["item_id"] for r in age if r["model"] == "base")
    assert base_ids == sorted(r["item_id"] for r in age if r["model"] == "tuned") and len(base_ids) == 12
    # seen items come from records training consumed: 4 steps x 2 x 2 = the first 16 train examples
    manifest = json.loads((run_dir / "evalsets" / "manifest.json").read_text())
    assert manifest["consumption"]["per_shard"] == 16 and manifest["consumption"]["world"] == 1
    assert manifest["selection"]["train_considered"] == 16


def test_verdicts_controls_and_lmeval(run_dir):
    verdicts = json.loads((run_dir / "verdicts" / "verdicts.json").read_text())
    names = {v["hypothesis"]["name"] for v in verdicts}
    assert {"age_emergence", "age_recall", "intent_memorisation"} <= names
    # a random-init model gains nothing: never a confirmed emergence
    assert next(v for v in verdicts if v["hypothesis"]["name"] == "age_emergence")["outcome"] != "confirmed"
    controls = json.loads((run_dir / "verdicts" / "controls.json").read_text())
    il = controls["item_level"]["age_emergence"]
    assert il["n"] == 12 and il["rounds"] == 5 and il["kind"] != "item-level"
    assert il["shuffled_control"]["outcome"] != "confirmed"
    results = json.loads((run_dir / "lmeval" / "tuned" / "results.json").read_text())
    assert {"age_rating", "age_rating_mc"} <= set(results["results"])


def test_report_shows_real_numbers(run_dir):
    md = (run_dir / "report.md").read_text()
    html = (run_dir / "report.html").read_text()
    summary = json.loads((run_dir / "train" / "summary.json").read_text())
    assert f"{summary['train_loss_avg']:.4f}" in md
    assert f"{summary['heldout_loss_before']:.4f} → {summary['heldout_loss_after']:.4f}" in md
    verdicts = json.loads((run_dir / "verdicts" / "verdicts.json").read_text())
    for v in verdicts:
        assert v["hypothesis"]["name"] in md
    assert "Random-init model." in md  # the caveat for tiny models
    # the curve: a section with its figure, a table of every probed step, the onset and the mirage check
    assert "## The emergence curve" in md and "curve.png" in md and "Mirage check:" in md
    curve = json.loads((run_dir / "verdicts" / "curve.json").read_text())
    continuous = next(m for m in curve["metrics"] if m["metric"] == "mc_expected_abs_error")
    assert [p["step"] for p in continuous["points"]] == [0, 1, 2, 3, 4]
    discrete = next(m for m in curve["metrics"] if m["metric"] == "within_2y")
    assert [p["step"] for p in discrete["points"]] == [0, 2, 4]  # generated answers: first, middle, last
    assert all(p["band_low"] <= p["change"]["ci_low"] + 1e-9 for p in continuous["points"][1:]
               if p["band_low"] is not None and p["band_low"] == p["band_low"])
    assert "[answers.jsonl](answers.jsonl)" in md
    assert html.count('src="data:image/png;base64,') == 7 and "http://" not in html  # five charts, the curve, the ROC curves
    audit = json.loads((run_dir / "audit" / "audit.json").read_text())
    assert f"{100 * audit['train_age_cue_share']:.1f}%" in md


def test_second_run_skips_every_stage(run_dir, tiny_toml):
    from emergence.experiment import load_experiment_config, run_experiment

    before = (run_dir / "report.html").stat().st_mtime_ns
    result = run_experiment(load_experiment_config(tiny_toml), out_dir=run_dir)
    assert [s.name for s in result.stages] == STAGES
    assert all(s.status == "skipped" for s in result.stages)
    assert (run_dir / "report.html").stat().st_mtime_ns == before
    assert result.verdict("age_emergence") is not None and result.paths.report_html.is_file()
    assert result.train.steps == 4 and len(result.loss_curve) >= 1


def test_interrupted_run_resumes_from_the_missing_stage(run_dir, tiny_toml):
    from emergence.experiment import load_experiment_config, run_experiment

    # as if the process died during the verdicts stage: its outputs are gone, nothing after it ran
    (run_dir / "verdicts" / "controls.json").unlink()
    result = run_experiment(load_experiment_config(tiny_toml), out_dir=run_dir)
    status = {s.name: s.status for s in result.stages}
    assert status.pop("verdicts") == "ran" and status.pop("report") == "ran"
    assert set(status.values()) == {"skipped"}
    assert (run_dir / "verdicts" / "controls.json").is_file()


def test_changed_config_is_refused_with_the_changed_fields(run_dir, tiny_toml, capsys):
    rc = main(["run", "--config", str(tiny_toml), "--out", str(run_dir),
               "--set", "train.max_steps=3", "--set", "evalsets.age_heldout=10"])
    assert rc == 3
    err = capsys.readouterr().err
    assert "train.max_steps: 4 -> 3" in err and "evalsets.age_heldout: 12 -> 10" in err
    assert "--no-resume" in err


def test_base_answers_do_not_depend_on_when_the_base_is_probed(run_dir, tiny_toml):
    """The base probed alone before training equals the base probed with the adapter off,
    from the same load as the tuned model (base_probe = "with_tuned")."""
    from emergence.evalsets import read_eval_sets
    from emergence.experiment import load_experiment_config
    from emergence.probe import ProbeResults, run_probes
    from emergence.scoring import score_rows

    cfg = load_experiment_config(tiny_toml)
    sets = read_eval_sets(run_dir / "evalsets")
    from emergence.exposure import Exposure

    one_load = score_rows(run_probes(cfg.train.model, sets, cfg.probe.model_copy(update={"progress": False}),
                                     adapter=run_dir / "train" / "adapter", models=("base", "tuned"),
                                     exposure=Exposure.of(cfg.train), max_seq_length=cfg.train.max_seq_length), sets)
    before = ProbeResults.read(run_dir / "probe_base")
    tuned = ProbeResults.read(run_dir / "probe_tuned")

    def key(rows):
        return sorted((r.set, r.item_id, r.variant, r.answer, r.parsed_age,
                       tuple(sorted((r.membership or {}).items()))) for r in rows)

    assert any(r.membership for r in before.rows)
    assert key(before.rows) == key(one_load.select(model="base"))
    # the tuned stage probes with the adapter merged into the weights: the same answers, and
    # the same membership scores up to float rounding
    assert tuned.engine.adapter_merged and not one_load.engine.adapter_merged

    def answers(rows):
        return sorted((r.set, r.item_id, r.variant, r.answer, r.parsed_age) for r in rows)

    def scores(rows):
        return {(r.set, r.item_id): r.membership for r in rows if r.membership}

    assert answers(tuned.rows) == answers(one_load.select(model="tuned"))
    mine, theirs = scores(tuned.rows), scores(one_load.select(model="tuned"))
    assert mine and set(mine) == set(theirs)
    for k, m in mine.items():
        assert m == pytest.approx(theirs[k], rel=1e-4, abs=1e-5), k
    assert key(before.rows) != key(tuned.rows)  # the adapter does change the answers


def test_probing_base_with_the_tuned_model_gives_the_same_answers(run_dir, tiny_toml, tmp_path):
    """base_probe = "with_tuned": one load after training, adapter off then on."""
    from emergence.experiment import load_experiment_config, run_experiment
    from emergence.probe import ProbeResults

    cfg = load_experiment_config(tiny_toml, overrides={"base_probe": "with_tuned", "lmeval.enabled": "false"})
    result = run_experiment(cfg, out_dir=tmp_path / "one-load")
    assert [s.name for s in result.stages] == ["audit", "evalsets", "train", "probes", "curve", "lmeval", "verdicts",
                                               "report"]

    def key(rows):
        return sorted((r.set, r.item_id, r.variant, r.answer) for r in rows)

    for which in ("probe_base", "probe_tuned"):
        assert key(ProbeResults.read(tmp_path / "one-load" / which).rows) == key(
            ProbeResults.read(run_dir / which).rows), which
    assert result.lmeval is None and "lm-eval stage was off" in (tmp_path / "one-load" / "report.md").read_text()


def test_config_composes_without_copies_and_round_trips(tmp_path):
    """The split lives once (in [train]); every stage reads it there; a dump reads back equal."""
    from emergence.configio import ConfigError, dump_config, load_config
    from emergence.experiment import ExperimentConfig, load_profile
    from emergence.experiment.stages import consumption

    cfg = load_profile("cpu-demo", {"train.held_out": "0.2", "train.salt": "s", "train.max_steps": "7"})
    rule = consumption(cfg)
    assert (rule.held_out, rule.salt) == (0.2, "s")
    t = cfg.train
    assert rule.budget == 7 * t.per_device_train_batch_size * t.gradient_accumulation_steps
    with pytest.raises(ConfigError, match="held_out"):
        load_profile("cpu-demo", {"held_out": "0.3"})  # not a top-level key any more
    with pytest.raises(ConfigError, match="profile"):
        load_profile("cpu-demo", {"profile": "../.."})  # a profile names a directory: no paths
    # config.toml round trip: equal config, same fingerprint
    path = dump_config(cfg, tmp_path / "config.toml")
    again = load_config(ExperimentConfig, path)
    assert again == cfg and again.fingerprint() == cfg.fingerprint()


def test_run_directory_is_named_from_profile_and_config_hash(tmp_path):
    from emergence.experiment import load_profile

    a = load_profile("cpu-demo", {"runs_root": str(tmp_path)})
    b = load_profile("cpu-demo", {"runs_root": str(tmp_path), "train.max_steps": "5"})
    assert a.run_dir().parent == tmp_path and a.run_dir().name.startswith("cpu-demo-")
    assert a.run_dir() != b.run_dir()
    assert load_profile("cpu-demo", {"runs_root": str(tmp_path)}).run_dir() == a.run_dir()


def test_profiles_load(tmp_path):
    from emergence.experiment import load_profile

    demo = load_profile("cpu-demo")
    assert demo.train.model == "smollm2" and demo.train.device == "cpu" and demo.train.corpus is None
    assert demo.evalsets.age_heldout >= 100
    seed = load_profile("seed")
    assert seed.train.model == "unsloth/Phi-3-medium-4k-instruct" and seed.train.max_steps == 100
    assert (seed.train.lora_r, seed.train.per_device_train_batch_size, seed.train.gradient_accumulation_steps,
            seed.train.optim, seed.train.load_in_4bit) == (16, 2, 4, "adamw_8bit", True)
    with pytest.raises(ValueError, match="unknown profile"):
        load_profile("nope")
    # the seed profile is powered for its main hypothesis: MDE <= 0.05 on a paired 0/1 metric,
    # at a discordance up to 0.3 between base and tuned answers
    from emergence.stats import expected_mde
    from emergence.verdict.hypothesis import AGE_EMERGENCE

    for discordance in (0.2, 0.25, 0.3):
        mde = expected_mde(seed.evalsets.age_heldout, kind="binary", design="paired", discordance=discordance)
        assert mde <= AGE_EMERGENCE.min_effect, (discordance, mde)


def test_cli_needs_an_existing_corpus(tmp_path, capsys):
    assert main(["run", "--profile", "seed", "--corpus", str(tmp_path / "missing.json"),
                 "--out", str(tmp_path / "x")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_other_directories_are_never_overwritten(tmp_path, tiny_toml):
    from emergence.experiment import load_experiment_config, run_experiment

    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not an emergence run directory"):
        run_experiment(load_experiment_config(tiny_toml), out_dir=tmp_path, resume=False)
    assert (tmp_path / "precious.txt").read_text() == "keep me"
    # a folder holding a config.toml of its own (and the names a run writes) is not a run either
    other = tmp_path / "mine"
    for name in ("config.toml", "train", "report", "audit"):
        (other / name).mkdir(parents=True) if name != "config.toml" else None
    (other / "config.toml").write_text("x = 1\n")
    (other / "train" / "weights.bin").write_bytes(b"1")
    with pytest.raises(FileExistsError, match="not an emergence run directory"):
        run_experiment(load_experiment_config(tiny_toml), out_dir=other, resume=False)
    assert (other / "train" / "weights.bin").is_file() and (other / "config.toml").read_text() == "x = 1\n"


def test_item_level_control_tells_item_level_from_distributional():
    from emergence.verdict.controls import item_level_control
    from emergence.verdict.hypothesis import AGE_EMERGENCE

    rng = random.Random(1)
    labels = [rng.choice([1.0, 4.0, 7.0, 10.0, 15.0, 18.0]) for _ in range(300)]
    abstain = [None] * len(labels)
    exact = list(labels)
    spread = [rng.choice(labels) for _ in labels]

    item = item_level_control(AGE_EMERGENCE, abstain, exact, labels, rounds=10)
    assert item.item_gain_outcome == "confirmed" and item.kind.startswith("item-level")
    assert item.tuned_true.mean == 1.0 and item.base_true.mean == 0.0

    dist = item_level_control(AGE_EMERGENCE, abstain, spread, labels, rounds=10)
    assert dist.distributional.outcome == "confirmed"  # the ages fit the distribution ...
    assert dist.item_gain_outcome != "confirmed"       # ... but carry no item information
    assert dist.kind == "distributional only"
    # the shuffled-label control, judged by the hypothesis's whole rule, is never confirmed
    assert dist.shuffled_control.outcome != "confirmed" and item.shuffled_control.outcome != "confirmed"


def test_run_json_is_the_result_without_the_answers(run_dir, tiny_toml, capsys):
    assert main(["run", "--config", str(tiny_toml), "--out", str(run_dir), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["outcome"] in ("confirmed", "refuted", "inconclusive") and data["headline"]
    assert {v["hypothesis"]["name"] for v in data["verdicts"]} >= {"age_emergence", "intent_memorisation"}
    assert data["train"]["steps"] == 4 and data["paths"]["report_html"].endswith("report.html")
    assert "probes" not in data and [s["status"] for s in data["stages"]] == ["skipped"] * len(STAGES)


def test_cpu_demo_profile_loads_validates_and_round_trips(tmp_path):
    """The profile `make demo` runs: every key known (a typo would fail with "did you mean"),
    every value valid, the same config after a dump, and every stage in the run."""
    from emergence.configio import dump_config
    from emergence.experiment import load_experiment_config, load_profile
    from emergence.experiment.config import profile_path
    from emergence.experiment.stages import stage_order

    demo = load_profile("cpu-demo")
    assert load_experiment_config(profile_path("cpu-demo")) == demo  # the file alone, strictly read
    assert load_experiment_config(dump_config(demo, tmp_path / "config.toml")) == demo
    assert stage_order(demo) == STAGES and demo.lmeval.enabled
    assert (demo.train.device, demo.train.backend, demo.train.load_in_4bit) == ("cpu", "hf", False)


# The cpu-demo profile's own sizes, cut down so the run takes a few minutes on a busy 2-core
# machine: the same stages, model and corpus, fewer steps, items and tokens.
REDUCED_DEMO = {
    "train.max_steps": "4", "train.warmup_steps": "0", "train.eval_records": "4", "train.save_steps": "2",
    "evalsets.age_heldout": "12", "evalsets.age_seen": "6", "evalsets.intent_seen": "4",
    "evalsets.intent_heldout": "4", "probe.max_new_tokens_age": "16", "probe.max_new_tokens_intent": "16",
    "probe.k": "8", "probe.extract_tokens": "8", "lmeval.limit": "2", "lmeval.bootstrap_iters": "0",
    "verdict.control_rounds": "5",
}


@pytest.mark.slow
@pytest.mark.timeout(3600)  # generous: the machine may be busy; the run itself is a few minutes
def test_cpu_demo_profile_reduced_end_to_end(tmp_path):
    """`make demo`'s profile, reduced in size: every stage on SmolLM2 and the embedded sample,
    after the run's preflight passed on the full profile itself."""
    from emergence.experiment import load_profile
    from emergence.experiment.runner import check_run_setup
    from emergence.experiment.stages import stage_order

    demo = load_profile("cpu-demo")
    check_run_setup(demo, stage_order(demo))  # model, backend, template, targets, corpus: all usable here
    out = tmp_path / "demo"
    sets = [arg for key, value in REDUCED_DEMO.items() for arg in ("--set", f"{key}={value}")]
    assert main(["run", "--profile", "cpu-demo", "--out", str(out), *sets]) == 0
    state = _state(out)
    assert list(state) == STAGES and all(rec["fingerprint"] for rec in state.values())
    summary = json.loads((out / "train" / "summary.json").read_text())
    assert summary["steps"] == 4 and summary["heldout_loss_after"] != summary["heldout_loss_before"]
    rows = [json.loads(line) for line in (out / "answers.jsonl").read_text().splitlines()]
    held = {r["item_id"] for r in rows if r["set"] == "age_heldout" and r["model"] == "tuned"}
    assert len(held) == 12
    verdicts = json.loads((out / "verdicts" / "verdicts.json").read_text())
    assert {"age_emergence", "age_emergence_mc", "age_recall", "intent_memorisation"} <= {
        v["hypothesis"]["name"] for v in verdicts}
    md = (out / "report.md").read_text()
    assert "## Verdicts" in md and "Small model." in md
    adapter = json.loads((out / "train" / "adapter" / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == "smollm2"


def test_the_curve_probes_each_checkpoint_from_one_base_load(run_dir, tiny_toml, monkeypatch):
    """The curve stage's rows for checkpoint k equal a fresh load of that adapter alone, and
    the base model is loaded once for the whole curve."""
    import emergence.models as models
    from emergence.evalsets import read_eval_sets
    from emergence.experiment import load_experiment_config
    from emergence.probe import ProbeResults, run_probes
    from emergence.probe.run import probe_checkpoints

    cfg = load_experiment_config(tiny_toml)
    steps = sorted(int(p.name.split("-")[1]) for p in (run_dir / "train" / "curve").iterdir())
    assert steps == [1, 2, 3]  # the default geometric schedule of a 4-step run, without 0 and 4
    curve = ProbeResults.read(run_dir / "curve")
    assert curve.models == [f"step-{k}" for k in steps]
    # step 2 is the middle of 0..4: probed in full; 1 and 3 take the generation-free measure only
    assert {r.variant for r in curve.select(model="step-2")} >= {"seed", "intent"}
    assert {r.variant for r in curve.select(model="step-1")} == {"bands"}
    sets = read_eval_sets(run_dir / "evalsets")
    fresh = run_probes(cfg.train.model, sets, cfg.probe.model_copy(update={"progress": False, "extractable": False}),
                       adapter=run_dir / "train" / "curve" / "step-000001", models=("tuned",))
    theirs = {(r.set, r.item_id): r.band_loglikelihoods for r in fresh.select(model="tuned", variant="seed")}
    mine = {(r.set, r.item_id): r.band_loglikelihoods for r in curve.select(model="step-1", variant="bands")}
    assert mine and set(mine) == set(theirs)
    for key, lls in mine.items():
        assert lls == pytest.approx(theirs[key], abs=1e-4), key
    loads = []
    real = models.load_model_and_tokenizer
    monkeypatch.setattr(models, "load_model_and_tokenizer", lambda *a, **kw: loads.append(a) or real(*a, **kw))
    checkpoints = {k: run_dir / "train" / "curve" / f"step-{k:06d}" for k in steps}
    again = probe_checkpoints(cfg.train.model, sets, cfg.probe.model_copy(update={"progress": False}), checkpoints)
    assert len(loads) == 1 and again.models == curve.models
    first = {(r.set, r.item_id): r.band_loglikelihoods for r in again.select(model="step-3")}
    for key, lls in first.items():
        assert lls == pytest.approx(next(r.band_loglikelihoods for r in curve.select(model="step-3")
                                         if (r.set, r.item_id) == key), abs=1e-5)


def test_eval_checkpoints_table_has_the_curves_numbers(run_dir, tmp_path, capsys):
    """`emergence eval --checkpoints RUN`: lm-eval on the base, every curve checkpoint and the final
    adapter, one table step x metric whose band metrics are the curve's, step by step and item by item.

    lm-eval's band log-likelihoods carry the chat template's newline (one constant per question)
    and come from float32 passes batched differently from the probe's, so they agree with the
    curve to float rounding, not bit for bit: 1e-5 here (about 1e-6 measured)."""
    import csv

    from emergence.curve.build import EmergenceCurve
    from emergence.lmeval_checkpoints import read_table
    from emergence.metrics import keys
    from emergence.probe import ProbeResults

    assert main(["eval", "--checkpoints", str(run_dir), "--model", "tiny-llama"]) == 2  # the run names it
    assert main(["eval", "--checkpoints", str(tmp_path / "nope")]) == 2
    capsys.readouterr()
    out = tmp_path / "table"
    assert main(["eval", "--checkpoints", str(run_dir), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    table = read_table(out)
    assert [r.step for r in table.rows] == [0, 1, 2, 3, 4]
    assert [r.adapter for r in table.rows] == [None, *(str(run_dir / "train" / "curve" / f"step-{k:06d}")
                                                       for k in (1, 2, 3)), str(run_dir / "train" / "adapter")]
    assert {r.band_scores for r in table.rows} == {"domain"} and table.notes == []
    # the run's [lmeval] tasks by default, every document (the run's own lm-eval stage read 3)
    assert table.tasks == ["age_rating", "age_rating_mc"] and table.limit is None
    assert {"age_rating/inferred", "age_rating_mc/mc_rps"} <= set(table.metrics)
    assert all(0.0 <= r.split_spread < 1e-4 for r in table.rows)

    curve = EmergenceCurve.model_validate_json((run_dir / "verdicts" / "curve.json").read_text())
    for key in keys("age_choice"):
        points = curve.curve(key).points
        assert [p.step for p in points] == [r.step for r in table.rows]
        for row, point in zip(table.rows, points):
            assert row.values[f"age_rating_mc/{key}"] == pytest.approx(point.value.mean, rel=1e-5, abs=1e-5), (
                key, row.step)
        assert table.curve_difference[f"age_rating_mc/{key}"] <= 1e-5 * max(1.0, abs(points[0].value.mean))
    # item by item: each document's scores are the probe row's at that step
    probes = {0: ("probe_base", "base"), 4: ("probe_tuned", "tuned"),
              **{k: ("curve", f"step-{k}") for k in (1, 2, 3)}}
    for step, (folder, model) in probes.items():
        rows = {r.item_id: r.scores for r in ProbeResults.read(run_dir / folder).rows
                if r.model == model and r.set == "age_heldout" and r.band_loglikelihoods}
        samples = [json.loads(line) for line in
                   (out / f"step-{step:06d}" / "samples_age_rating_mc.jsonl").read_text().splitlines()]
        assert len(samples) == len(rows) == 12
        for s in samples:
            for key in keys("age_choice"):
                assert s[key] == pytest.approx(rows[s["doc"]["id"]][key], rel=1e-5, abs=1e-5), (step, key)
    # the CSV holds the same table, and so does what was printed
    with open(out / "table.csv", encoding="utf-8") as fh:
        lines = list(csv.DictReader(fh))
    assert [int(r["step"]) for r in lines] == [0, 1, 2, 3, 4]
    assert [float(r["age_rating_mc/mc_rps"]) for r in lines] == [r.values["age_rating_mc/mc_rps"] for r in table.rows]
    assert printed.splitlines()[0].split()[:4] == ["step", "band", "scores", "age_rating/inferred"]
    assert "largest difference from the curve" in printed
