"""Every command that takes a corpus takes a URL: probe, train and run, against a local HTTP server."""
from __future__ import annotations

import json

import pytest

from emergence.cli import main
from servers import FileServer

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("one_torch_thread")]

FAST_TOML = ('[probe]\nmax_new_tokens_age = 10\nmax_new_tokens_intent = 10\n'
             'k = 8\nextract_tokens = 8\n[evalsets]\nseed = 3\n')


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    import gzip
    import shutil

    from emergence.corpus.sample import write_sample

    folder = tmp_path_factory.mktemp("cli")
    plain = write_sample(folder / "tiny.jsonl", 400, seed=5)
    with plain.open("rb") as src, gzip.open(folder / "tiny.jsonl.gz", "wb") as out:
        shutil.copyfileobj(src, out)
    return folder / "tiny.jsonl.gz"


def test_probe_reads_a_url_as_the_file(tiny_llama, corpus, tmp_path, capsys):
    cfg = tmp_path / "probe.toml"
    cfg.write_text(FAST_TOML)
    common = ["probe", "--model", str(tiny_llama), "--n", "3", "--json", "--config", str(cfg)]
    assert main([*common, "--corpus", str(corpus), "--out", str(tmp_path / "local")]) == 0
    capsys.readouterr()
    with FileServer({"tiny.jsonl.gz": corpus}, drop_every=50_000) as server:
        assert main([*common, "--corpus", server.url("tiny.jsonl.gz"), "--out", str(tmp_path / "url")]) == 0
    capsys.readouterr()
    a, b = ((tmp_path / d / "probe_base" / "answers.jsonl").read_text().splitlines() for d in ("local", "url"))
    assert [json.loads(x) for x in a] == [json.loads(x) for x in b] and a


def test_train_reads_a_url(tiny_llama, corpus, tmp_path, capsys):
    with FileServer({"tiny.jsonl.gz": corpus}) as server:
        code = main(["train", "--profile", "cpu", "--model", str(tiny_llama), "--corpus", server.url("tiny.jsonl.gz"),
                     "--output-dir", str(tmp_path / "run"), "--max-steps", "2", "--set", "eval_records=2",
                     "--set", "max_seq_length=48", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["steps"] == 2 and result["data_state"]["offset"] > 0
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["corpus"] == server.url("tiny.jsonl.gz") and "storage" not in saved


def test_run_checks_that_the_url_exists(tmp_path, corpus, capsys):
    with FileServer({"tiny.jsonl.gz": corpus}) as server:
        missing = server.url("missing.jsonl")
        assert main(["run", "--profile", "seed", "--corpus", missing, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and missing in err
