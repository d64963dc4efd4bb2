"""Corpora at URLs: URL handling, storage options never shown, retries and their limits, S3 (moto).

Real servers on 127.0.0.1 (tests/servers.py): an http.server with Range requests and fault
injection, and moto's S3 server read through s3fs. gs:// and hf:// are checked offline.
"""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from emergence.corpus.records import LoadError
from emergence.corpus.remote import (CorpusURL, RemoteFile, Retry, StorageOptions, corpus_source, display_url,
                                     identity, is_url)
from servers import FileServer, corpus_and_gzip, env_applied, moto_s3, read_all

pytestmark = pytest.mark.timeout(120)

FAST = Retry(tries=4, first_wait=0.001, max_wait=0.01, throttled_wait=0.001)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    return corpus_and_gzip(tmp_path_factory.mktemp("remote"), "c.jsonl", 3000)


# -- URL handling ----------------------------------------------------------------------------
def test_urls_and_paths_are_told_apart():
    assert all(map(is_url, ["s3://b/k", "gs://b/k", "hf://datasets/o/n/trn.json", "https://h/x", "file:///x",
                            "simplecache::s3://b/k", "gzip::s3://b/k"]))
    assert not any(map(is_url, ["trn.json", "/abs/trn.json", "./a:b.json", "C:\\data\\trn.json", Path("s3:/b/k")]))


def test_display_url_hides_credentials_in_the_url():
    assert display_url("https://u:p@host/a/trn.json?sig=1") == "https://host/a/trn.json?…"
    assert display_url("simplecache::s3://b/k") == "simplecache::s3://b/k"


def test_corpus_source_keeps_storage_and_paths_stay_paths(tmp_path):
    storage = StorageOptions(profile="lab")
    url = corpus_source("s3://b/trn.json", storage)
    assert isinstance(url, CorpusURL) and url.storage is storage and url == "s3://b/trn.json"
    assert url.name == "trn.json"
    assert corpus_source(str(tmp_path / "x.jsonl")) == tmp_path / "x.jsonl"
    import pickle

    again = pickle.loads(pickle.dumps(url))
    assert again == url and again.storage.profile == "lab"


def test_storage_options_map_onto_each_backend_and_refuse_what_does_not_apply():
    s = StorageOptions(profile="p", endpoint_url="http://127.0.0.1:9", anonymous=True, options={"x": 1})
    assert s.fsspec_options("s3") == {"profile": "p", "endpoint_url": "http://127.0.0.1:9", "anon": True, "x": 1}
    assert StorageOptions(anonymous=True).fsspec_options("gs") == {"token": "anon"}
    assert StorageOptions(endpoint_url="http://e").fsspec_options("hf") == {"endpoint": "http://e"}
    with pytest.raises(ValueError, match="profile"):
        s.fsspec_options("https")


def test_train_config_takes_a_url_and_never_shows_its_storage_options(tmp_path):
    from emergence.configio import dump_config, load_config
    from emergence.experiment.config import ExperimentConfig
    from emergence.train.config import TrainConfig

    secret = "profile-s3cr3t"
    cfg = TrainConfig(corpus="s3://bucket/trn.json.gz", storage={"profile": secret, "endpoint_url": "http://e:1"})
    assert isinstance(cfg.corpus, CorpusURL) and str(cfg.corpus) == "s3://bucket/trn.json.gz"
    assert TrainConfig(corpus=str(tmp_path / "a.jsonl")).corpus == tmp_path / "a.jsonl"  # a path stays a Path
    shown = [repr(cfg), str(cfg), cfg.model_dump_json(), json.dumps(cfg.model_dump(mode="json")),
             dump_config(cfg, tmp_path / "c.toml").read_text()]
    assert not any(secret in text or "http://e:1" in text for text in shown)
    assert load_config(TrainConfig, tmp_path / "c.toml").corpus == "s3://bucket/trn.json.gz"
    exp = ExperimentConfig(train=cfg)
    source = exp.corpus_path()
    assert isinstance(source, CorpusURL) and source.storage.profile == secret
    assert secret not in json.dumps(exp.semantic_dump())


# -- reading over HTTP -----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["c.jsonl", "c.jsonl.gz"])
def test_a_url_reads_as_the_local_file(corpus, name):
    local, local_stats = read_all(corpus[name])
    with FileServer(corpus) as server:
        remote, stats = read_all(server.url(name))
    assert remote == local and stats.retries == 0
    assert stats.model_dump(exclude={"source"}) == local_stats.model_dump(exclude={"source"})


def test_a_leading_gzip_chain_is_accepted_and_gzip_sniffed(corpus):
    with FileServer(corpus) as server:
        records, stats = read_all("gzip::" + server.url("c.jsonl.gz"))
    assert stats.format == "jsonl+gzip" and len(records) == stats.yielded > 0


def test_other_compressions_are_refused_by_name(corpus):
    with FileServer(corpus) as server, pytest.raises(LoadError, match="bz2 compression is not read"):
        read_all("bz2::" + server.url("c.jsonl"))


def test_faults_are_retried_where_the_read_stopped(corpus):
    local, _ = read_all(corpus["c.jsonl"])
    with FileServer(corpus, drop_every=100_000, faults={2: 503, 3: 429, 6: 500}) as server:
        remote, stats = read_all(server.url("c.jsonl"), retry=Retry(tries=8, first_wait=0.001, max_wait=0.01))
    assert remote == local and server.drops > 0
    assert 1 <= stats.retries <= server.failed_ranges + server.faulted and server.drops > 0


def test_retries_run_out_with_the_url_and_byte_offset(corpus):
    faults = {n: 503 for n in range(3, 40)}  # every request after the first GET fails
    with FileServer(corpus, faults=faults) as server:
        f = RemoteFile(server.url("c.jsonl"), retry=FAST, chunk=64 << 10, ahead=0)  # requests in order
        assert len(f.read(64 << 10)) == 64 << 10
        with pytest.raises(LoadError) as err:
            f.read(64 << 10)
        f.close()
    assert err.value.reason == "read_failed" and err.value.offset == 64 << 10
    assert server.url("c.jsonl") in str(err.value) and "65,536" in str(err.value) and "4 tries" in str(err.value)


def test_a_missing_object_and_a_client_error_are_not_retried(corpus):
    with FileServer(corpus) as server:
        with pytest.raises(FileNotFoundError, match="no such corpus file"):
            read_all(server.url("missing.jsonl"))
    with FileServer(corpus, faults={2: 403}) as server:
        with pytest.raises(LoadError, match="403") as err:
            read_all(server.url("c.jsonl"), retry=FAST)
    assert err.value.reason == "read_failed" and server.requests <= 3


def test_a_server_without_range_requests_is_refused_not_misread(corpus):
    with FileServer(corpus, ranges=False) as server:
        f = RemoteFile(server.url("c.jsonl"), chunk=64 << 10)
        with pytest.raises(LoadError) as err:
            f.read(64 << 10)
        f.close()
    assert err.value.reason == "no_range_support"


def test_an_object_replaced_during_the_read_stops_it(tmp_path, corpus):
    path = tmp_path / "c.jsonl"
    shutil.copy(corpus["c.jsonl"], path)
    with FileServer({"c.jsonl": path}, faults={4: 503}) as server:
        f = RemoteFile(server.url("c.jsonl"), retry=FAST, chunk=64 << 10, ahead=0)
        f.read(64 << 10)
        path.write_bytes(path.read_bytes()[:-10])  # replaced: another size and ETag
        with pytest.raises(LoadError) as err:
            while f.read(64 << 10):
                pass
        f.close()
    assert err.value.reason == "source_changed"


def test_seek_within_and_beyond_the_held_chunk(corpus):
    data = corpus["c.jsonl"].read_bytes()
    with FileServer(corpus) as server, RemoteFile(server.url("c.jsonl"), chunk=1000) as f:
        assert f.read(10) == data[:10]
        f.seek(5)
        assert f.read(10) == data[5:15]
        f.seek(123_456)
        assert f.read(3000) == data[123_456:124_456] and f.tell() == 124_456
        f.seek(-7, 2)
        assert f.read() == data[-7:]
        assert f.head(4) == data[:4]


def test_storage_options_never_reach_a_message(s3):
    # the real libraries' messages name the endpoint and the profile; ours must not
    closed = "http://127.0.0.1:9"
    once = {"config_kwargs": {"retries": {"max_attempts": 1}}}  # botocore's own retries: not this test's
    with pytest.raises(LoadError) as err:
        read_all("s3://corpora/c.jsonl", storage=StorageOptions(endpoint_url=closed, options=once),
                 retry=Retry(tries=2, first_wait=0))
    assert err.value.reason == "read_failed" and "s3://corpora/c.jsonl" in str(err.value)
    assert closed not in str(err.value) and "***" in str(err.value)
    with pytest.raises(LoadError) as err:
        read_all("s3://corpora/c.jsonl", storage=StorageOptions(profile="lab-s3cr3t-profile"), retry=FAST)
    assert "lab-s3cr3t-profile" not in str(err.value) and "***" in str(err.value)


# -- offline: gs:// and hf:// ------------------------------------------------------------------
@pytest.mark.cloud
def test_gs_urls_need_gcsfs_or_reach_their_endpoint():
    storage = StorageOptions(anonymous=True, endpoint_url="http://127.0.0.1:9")
    with pytest.raises(LoadError) as err:
        read_all("gs://bucket/trn.json.gz", storage=storage, retry=Retry(tries=2, first_wait=0))
    assert "gs://bucket/trn.json.gz" in str(err.value)
    assert err.value.reason in ("missing_backend", "read_failed")
    if err.value.reason == "missing_backend":
        assert "pip install 'emergence[gcs]'" in str(err.value)


@pytest.mark.cloud
def test_hf_urls_reach_their_endpoint_and_name_the_url():
    pytest.importorskip("huggingface_hub")
    storage = StorageOptions(endpoint_url="http://127.0.0.1:9", options={"token": "hf_n0t4r3alt0k3n"})
    with pytest.raises((LoadError, FileNotFoundError)) as err:
        read_all("hf://datasets/someone/books/trn.json.gz", storage=storage, retry=Retry(tries=2, first_wait=0))
    assert "hf://datasets/someone/books/trn.json.gz" in str(err.value)
    assert "hf_n0t4r3alt0k3n" not in str(err.value) and "127.0.0.1:9" not in str(err.value)


def test_unknown_schemes_are_named():
    with pytest.raises(LoadError, match="Protocol not known: nosuch") as err:
        read_all("nosuch://bucket/trn.json")
    assert err.value.reason == "bad_url"


# -- S3 (moto server) ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def s3(corpus):
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with moto_s3(corpus) as env, env_applied(env):
        yield env


@pytest.mark.parametrize("key", ["c.jsonl", "c.jsonl.gz"])
def test_s3_reads_as_the_local_file(s3, corpus, key):
    local, local_stats = read_all(corpus[key])
    remote, stats = read_all(f"s3://corpora/{key}")
    assert remote == local and stats.read == local_stats.read and stats.rejected == local_stats.rejected


def test_s3_with_storage_options_from_the_config(s3, corpus, monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL")  # only the storage options say where the store is
    storage = StorageOptions(endpoint_url=s3["AWS_ENDPOINT_URL"], options={"key": "testing", "secret": "testing"})
    remote, _ = read_all(CorpusURL("s3://corpora/c.jsonl.gz", storage))
    assert remote == read_all(corpus["c.jsonl.gz"])[0]


def test_s3_identity_and_missing_keys(s3):
    ident = identity("s3://corpora/c.jsonl.gz")
    assert ident["url"] == "s3://corpora/c.jsonl.gz" and ident["bytes"] > 0 and ident["etag"]
    assert identity("s3://corpora/nope.json", missing_ok=True) == {"url": "s3://corpora/nope.json", "missing": True}
    assert not CorpusURL("s3://corpora/nope.json").is_file() and CorpusURL("s3://corpora/c.jsonl").is_file()
    from emergence.experiment.stages import corpus_identity

    assert corpus_identity(CorpusURL("s3://corpora/c.jsonl.gz")) == ident


def test_data_audit_cli_reads_an_s3_url(s3, corpus, capsys):
    from emergence.cli import main

    assert main(["data", "audit", "s3://corpora/c.jsonl.gz", "--json"]) == 0
    remote = json.loads(capsys.readouterr().out)
    assert main(["data", "audit", str(corpus["c.jsonl.gz"]), "--json"]) == 0
    local = json.loads(capsys.readouterr().out)
    for report in (remote, local):
        report.pop("source"), report["load"].pop("source")
    assert remote == local
    assert main(["data", "audit", "s3://corpora/missing.jsonl"]) == 1
    assert "no such corpus file: s3://corpora/missing.jsonl" in capsys.readouterr().err


def test_file_urls_and_synchronous_filesystems_read_ahead_in_a_thread(corpus):
    local, _ = read_all(corpus["c.jsonl.gz"])
    url = corpus["c.jsonl.gz"].as_uri()
    with RemoteFile(url, chunk=64 << 10) as f:
        assert not f._async and f.read(2) == b"\x1f\x8b"
    remote, stats = read_all(url)
    assert remote == local and stats.format == "jsonl+gzip"


def test_a_bad_storage_option_is_named_not_echoed():
    from emergence.configio import ConfigError, load_config
    from emergence.experiment.config import ExperimentConfig
    from emergence.train.config import TrainConfig

    for bad in ({"profil": "s3cr3t-1"}, {"profile": ["s3cr3t-2"]}, {"anonymous": "s3cr3t-3"}, "s3cr3t-4"):
        for make in (lambda: TrainConfig(corpus="s3://b/k", storage=bad),
                     lambda: ExperimentConfig(train={"corpus": "s3://b/k", "storage": bad}),
                     lambda: load_config(TrainConfig, None, {"storage": bad})):
            with pytest.raises((ValueError, ConfigError)) as err:
                make()
            assert "storage" in str(err.value) and "s3cr3t" not in str(err.value)
    ok = TrainConfig(corpus="s3://b/k", storage={"profile": "lab", "options": {"config_kwargs": {"x": ["y"]}}})
    assert ok.storage.fsspec_options("s3") == {"profile": "lab", "config_kwargs": {"x": ["y"]}}


def test_strict_and_damaged_gzip_fail_over_a_url_as_locally(corpus, tmp_path):
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(corpus["c.jsonl.gz"].read_bytes()[:-1000])  # truncated
    errors = {}
    with FileServer({**corpus, "cut.jsonl.gz": cut}) as server:
        for name, policy in (("c.jsonl.gz", "strict"), ("cut.jsonl.gz", "skip")):
            for where, source in (("local", corpus.get(name, cut)), ("url", server.url(name))):
                with pytest.raises(LoadError) as err:
                    read_all(source, policy=policy)
                errors[name, where] = err.value
    for name in ("c.jsonl.gz", "cut.jsonl.gz"):
        local, url = errors[name, "local"], errors[name, "url"]
        assert (url.reason, url.line, url.offset, url.detail) == (local.reason, local.line, local.offset, local.detail)
        assert url.path.startswith("http://127.0.0.1:")
    assert errors["c.jsonl.gz", "url"].reason == "malformed_json" and errors["cut.jsonl.gz", "url"].reason == "truncated_gzip"
