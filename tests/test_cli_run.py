"""`emergence run` / `emergence train` on hostile or mistaken input: nothing deleted that a run did
not write, nothing outside runs/, every setting checked before the first stage, one line per user
error (never a traceback), and the same command resuming the same run.

No stage runs here: each case stops at the preflight or at the first stage (interrupted).
"""
from __future__ import annotations

import dataclasses
import gzip
import json

import pytest

from emergence.cli import main
from test_experiment import TINY_TOML


@pytest.fixture(scope="module")
def tiny_toml(tmp_path_factory):
    from emergence.corpus.sample import write_sample

    tmp = tmp_path_factory.mktemp("cli-run")
    corpus = write_sample(tmp / "corpus.jsonl", 120, seed=5)
    path = tmp / "tiny.toml"
    path.write_text(TINY_TOML.format(corpus=corpus), encoding="utf-8")
    return path


@pytest.fixture
def no_stage_runs(monkeypatch):
    """Any stage that starts fails the test: these cases must stop before the first one."""
    from emergence.experiment import stages

    def boom(run):
        raise AssertionError("a stage ran")

    for name, stage in list(stages.STAGES.items()):
        monkeypatch.setitem(stages.STAGES, name, dataclasses.replace(stage, run=boom))


def _listing(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# ------------------------------------------------------------------ nothing deleted that a run did not write


def test_a_folder_with_a_config_toml_is_refused_and_kept_with_or_without_no_resume(tiny_toml, tmp_path, capsys):
    mine = tmp_path / "mine"
    for name in ("train", "report", "audit", "evalsets", "probe_base", "verdicts"):
        (mine / name).mkdir(parents=True)
        (mine / name / "keep.bin").write_bytes(b"1")
    (mine / "config.toml").write_text("x = 1\n")
    (mine / "report.md").write_text("my notes\n")
    before = _listing(mine)
    assert main(["run", "--config", str(tiny_toml), "--out", str(mine)]) == 3
    err = capsys.readouterr().err
    assert "not an emergence run directory" in err and "--no-resume" not in err  # never advises deleting it
    assert main(["run", "--config", str(tiny_toml), "--out", str(mine), "--no-resume"]) == 3
    assert _listing(mine) == before and (mine / "config.toml").read_text() == "x = 1\n"


def test_starting_over_deletes_only_plain_names_the_run_recorded(tmp_path):
    from emergence.experiment.rundir import STATE_FILE, start_over

    run = tmp_path / "run"
    (run / "audit").mkdir(parents=True)
    (run / "audit" / "audit.json").write_text("{}")
    (run / "notes.txt").write_text("mine, not the run's")
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep")
    # a run.json edited by hand (or by anyone): entries that name anything outside the directory
    (run / STATE_FILE).write_text(json.dumps({
        "tool": "emergence", "stages": {},
        "written": ["audit", "../victim", str(victim), "..", ".", "/", "audit/../../victim", "", 3, None]}))
    removed = start_over(run)
    assert removed == ["audit"]
    assert (victim / "precious.txt").read_text() == "keep"
    assert (run / "notes.txt").is_file() and not (run / "audit").exists()


@pytest.mark.parametrize("profile", ["/etc/x", "../..", "a/b", ".hidden"])
def test_profile_in_a_config_file_is_a_name_never_a_path(tiny_toml, tmp_path, capsys, monkeypatch, profile):
    monkeypatch.chdir(tmp_path)
    f = tmp_path / "exp.toml"
    f.write_text(f'profile = "{profile}"\n' + tiny_toml.read_text().replace('profile = "tiny"\n', ""))
    assert main(["run", "--config", str(f)]) == 2
    assert "plain name" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp.toml"]  # no runs/ folder, nothing elsewhere


# ------------------------------------------------------------------ everything checked before the first stage


def _corrupt_gzip(path):
    good = gzip.compress(b'{"uid": "1", "title": "A", "content": "B"}\n' * 200)
    path.write_bytes(good[:40] + b"\x00" * 64 + good[104:])
    return path


CASES = {
    "unsloth-on-cpu": (["--set", "train.backend=unsloth"], "backend='unsloth' needs a CUDA GPU"),
    "4bit-on-cpu": (["--set", "train.load_in_4bit=true"], "load_in_4bit=true needs a CUDA GPU"),
    "missing-model-folder": (["--set", "train.model=./no/such/model"], "model path './no/such/model' does not exist"),
    "corrupt-corpus": (["--corpus", "{corrupt}"], "cannot be read"),
    "corpus-is-a-folder": (["--corpus", "{folder}"], "is a folder, not a file"),
    "out-under-a-file": (["--out", "{file}/run"], "is a file"),
    "unknown-tracker": (["--set", "train.report_to=[nosuchtracker]"], "report_to 'nosuchtracker'"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_run_checks_what_it_needs_before_the_first_stage(case, tiny_toml, tmp_path, capsys, no_stage_runs):
    args, message = CASES[case]
    subs = {"corrupt": str(_corrupt_gzip(tmp_path / "bad.jsonl.gz")), "folder": str(tmp_path),
            "file": str(tmp_path / "plain.txt")}
    (tmp_path / "plain.txt").write_text("x")
    args = [a.format(**subs) for a in args]
    out = tmp_path / "out"
    argv = ["run", "--config", str(tiny_toml), *args]
    if "--out" not in args:
        argv += ["--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert "Traceback" not in err
    assert not out.exists()  # nothing was written, not even the run directory


def test_probe_checks_its_adapter_before_probing(tiny_toml, tmp_path, capsys, no_stage_runs):
    (tmp_path / "not-an-adapter").mkdir()
    assert main(["probe", "--model", "tiny-llama", "--adapter", str(tmp_path / "not-an-adapter"),
                 "--out", str(tmp_path / "out")]) == 2
    assert "not a PEFT adapter folder" in capsys.readouterr().err


def test_train_never_takes_a_model_folder_or_a_file_for_its_run(tmp_path, tiny_llama, capsys):
    import shutil

    model = tmp_path / "hf-model"
    shutil.copytree(tiny_llama, model)
    before = (model / "config.json").read_bytes()
    for extra in ([], ["--set", "overwrite=true"], ["--resume"]):
        assert main(["train", "--profile", "cpu-demo", "--model", "tiny-llama", "--out", str(model), *extra]) == 2
        err = capsys.readouterr().err
        assert "holds no emergence training run" in err and "Traceback" not in err
    assert (model / "config.json").read_bytes() == before and (model / "model.safetensors").is_file()
    (tmp_path / "file").write_text("x")
    assert main(["train", "--profile", "cpu-demo", "--model", "tiny-llama", "--out", str(tmp_path / "file")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert main(["train", "--profile", "cpu-demo", "--model", "tiny-llama", "--out", str(tmp_path / "file" / "run")]) == 2
    assert "cannot be made" in capsys.readouterr().err


def test_check_writable_refuses_a_folder_it_cannot_write(tmp_path, monkeypatch):
    import os

    from emergence.train.preflight import TrainSetupError, check_writable

    check_writable(tmp_path / "new" / "deeper", "output_dir", "--out")  # an existing writable ancestor: fine
    assert not (tmp_path / "new").exists()  # and nothing made
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(tmp_path) else real(p, mode))
    with pytest.raises(TrainSetupError, match="cannot be written"):
        check_writable(tmp_path / "run", "output_dir", "--out")


# ------------------------------------------------------------------ the same command resumes the same run


def test_the_same_command_with_a_null_override_resumes(tiny_toml, tmp_path, monkeypatch, capsys):
    """`--set train.save_total_limit=null`, interrupted, then the same command again: the run
    goes on (it is not refused as another config because TOML dropped the None)."""
    from emergence.experiment import stages

    reached = []

    def interrupted(run):
        reached.append(run.dir)
        raise KeyboardInterrupt

    monkeypatch.setitem(stages.STAGES, "audit", dataclasses.replace(stages.STAGES["audit"], run=interrupted))
    argv = ["run", "--config", str(tiny_toml), "--out", str(tmp_path / "run"),
            "--set", "train.save_total_limit=null", "--set", "lmeval.limit=null"]
    assert main(argv) == 130
    assert main(argv) == 130  # reached the first stage again: resumed, not refused (3)
    assert len(reached) == 2
    assert "refused" not in capsys.readouterr().err
