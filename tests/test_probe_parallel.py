"""Probing on two processes (gloo on CPU): the gathered rows equal a single process's, in order."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _probe(tiny_llama, corpus, out, *, world: int) -> None:
    args = [sys.executable, "-m", "emergence", "probe", "--model", str(tiny_llama), "--corpus", str(corpus),
            "--out", str(out), "--n", "4", "--batch-size", "3", "--device", "cpu", "--json"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    if world == 1:
        subprocess.run(args, env=env, check=True, capture_output=True, timeout=300)
        return
    port = str(_free_port())
    procs = [subprocess.Popen(args, env={**env, "RANK": str(r), "LOCAL_RANK": str(r), "WORLD_SIZE": str(world),
                                         "LOCAL_WORLD_SIZE": str(world), "MASTER_ADDR": "127.0.0.1",
                                         "MASTER_PORT": port},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in range(world)]
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-3000:]
    assert json.loads(outputs[0][0])["out"] == str(out)  # rank 0 reports
    assert outputs[1][0] == ""                             # the other rank says nothing


def test_two_processes_gather_the_rows_of_one(tiny_llama, tmp_path):
    from emergence.corpus.sample import write_sample

    corpus = write_sample(tmp_path / "c.jsonl", 400, seed=5)
    _probe(tiny_llama, corpus, tmp_path / "one", world=1)
    _probe(tiny_llama, corpus, tmp_path / "two", world=2)

    def rows(run):
        return [json.loads(line) for line in (run / "probe_base" / "answers.jsonl").read_text().splitlines()]

    one, two = rows(tmp_path / "one"), rows(tmp_path / "two")
    assert len(one) == len(two) > 0
    key = ("set", "item_id", "model", "variant", "answer", "parsed_age", "token_ids")
    assert [tuple(json.dumps(r[k]) for k in key) for r in two] == [tuple(json.dumps(r[k]) for k in key) for r in one]
    for a, b in zip(one, two):
        if a["band_loglikelihoods"]:
            assert b["band_loglikelihoods"] == pytest.approx(a["band_loglikelihoods"], abs=1e-4)
    meta = json.loads((tmp_path / "two" / "probe_base" / "probe_run.json").read_text())
    assert meta["set_sizes"] == json.loads((tmp_path / "one" / "probe_base" / "probe_run.json").read_text())["set_sizes"]
    run = json.loads((tmp_path / "two" / "run.json").read_text())
    assert all(rec["fingerprint"] for rec in run["stages"].values())
