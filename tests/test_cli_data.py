"""``emergence data audit`` and ``emergence data sample``: in process and as a subprocess."""
from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from emergence.cli import main
from emergence.corpus.sample import SAMPLE_N, generate_sample, sample_path, write_sample

BAD = (
    b'{"uid": "1", "title": "A", "content": "Ages 4-8."}\n'
    b'{"uid": "2", "title": "B", "content": ""}\n'
    b"not json\n"
    b'{"uid": "4", "title": "C", "content": "Grade 3-5."}\n'
)


def _emergence_script() -> Path:
    script = Path(sys.executable).with_name("emergence")
    if not script.exists():
        pytest.skip("the emergence console script is not installed beside this python")
    return script


@pytest.fixture()
def small(tmp_path) -> Path:
    return write_sample(tmp_path / "small.jsonl", 200, seed=3)


def test_audit_json(small, capsys):
    assert main(["data", "audit", str(small), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["load"]["read"] == report["load"]["yielded"] == 200
    assert report["train_records"] + report["held_out_records"] == 200
    assert report["true_age_records"] == 200
    assert report["held_out"] == 0.1 and report["salt"] == "emergence" and report["policy"] == "skip"


def test_audit_tables(small, capsys):
    assert main(["data", "audit", str(small)]) == 0
    out = capsys.readouterr().out
    assert "Corpus audit" in out and "train (leakage)" in out and "records read" in out


def test_audit_split_flags(small, capsys):
    main(["data", "audit", str(small), "--json", "--held-out", "1.0"])
    everything = json.loads(capsys.readouterr().out)
    assert everything["held_out_records"] == 200 and everything["held_out"] == 1.0
    sizes = set()
    for salt in ("x", "y", "z"):
        main(["data", "audit", str(small), "--json", "--held-out", "0.5", "--salt", salt])
        report = json.loads(capsys.readouterr().out)
        assert report["salt"] == salt
        sizes.add(report["held_out_records"])
    assert len(sizes) > 1  # the salt changes the split


def test_audit_skip_counts_and_strict_fails(tmp_path, capsys):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(BAD)
    assert main(["data", "audit", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["load"]["rejected"] == {"malformed_json": 1}
    assert report["age_cue_records"] == 2 and report["empty_content"] == 1

    assert main(["data", "audit", str(path), "--strict"]) == 1
    err = capsys.readouterr().err
    assert "line 3" in err and "malformed_json" in err


def test_audit_errors(tmp_path, capsys):
    assert main(["data", "audit", str(tmp_path / "missing.jsonl")]) == 1
    assert "missing.jsonl" in capsys.readouterr().err
    notjson = tmp_path / "x.csv"
    notjson.write_text("a,b\n1,2\n")
    assert main(["data", "audit", str(notjson)]) == 1
    assert "not_json" in capsys.readouterr().err
    assert main(["data", "audit", str(notjson), "--held-out", "2"]) == 2


def test_audit_stdin(monkeypatch, capsys):
    data = gzip.compress(BAD)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert main(["data", "audit", "-", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["load"]["format"] == "jsonl+gzip" and report["load"]["yielded"] == 3


def test_sample_writes_the_generator_output(tmp_path, capsys):
    out = tmp_path / "s.jsonl"
    assert main(["data", "sample", str(out), "--n", "30", "--seed", "4"]) == 0
    assert "30" in capsys.readouterr().out
    assert [json.loads(x) for x in out.read_text().splitlines()] == list(generate_sample(30, seed=4))


def test_sample_defaults_reproduce_the_packaged_file(tmp_path):
    out = tmp_path / "again.jsonl.gz"
    assert main(["data", "sample", str(out)]) == 0
    assert gzip.decompress(out.read_bytes()) == gzip.decompress(sample_path().read_bytes())
    assert len(gzip.decompress(out.read_bytes()).splitlines()) == SAMPLE_N


def test_sample_bad_n(tmp_path):
    assert main(["data", "sample", str(tmp_path / "x.jsonl"), "--n", "-1"]) == 2


def test_data_needs_an_action(capsys):
    with pytest.raises(SystemExit):
        main(["data"])


def test_console_script_audit_json_of_the_sample():
    proc = subprocess.run([str(_emergence_script()), "data", "audit", str(sample_path()), "--json"],
                          capture_output=True, timeout=300, check=True)
    report = json.loads(proc.stdout)
    assert report["load"]["read"] == SAMPLE_N and report["load"]["rejected"] == {}
    assert 0.27 < report["age_cue_share_nonempty"] < 0.33
    assert report["cue_agrees_with_true_age"] == report["age_cue_records"]


def test_console_script_audit_from_a_pipe(tmp_path):
    proc = subprocess.run([str(_emergence_script()), "data", "audit", "-", "--json"],
                          input=BAD, capture_output=True, timeout=300, check=True)
    report = json.loads(proc.stdout)
    assert report["source"] == "<stdin>" and report["load"]["rejected"] == {"malformed_json": 1}
