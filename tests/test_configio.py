"""emergence.configio: TOML / YAML / JSON into pydantic configs, dotted overrides, round trips."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from emergence.configio import ConfigError, dump_config, load_config, parse_set, read_config_file


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    r: int = Field(16, description="rank")
    alpha: float = Field(16.0, description="alpha")


class Cfg(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field("x", description="a name")
    template: str = Field("{title}", description="a template")
    path: Path | None = Field(None, description="a path")
    mode: Literal["a", "b"] = Field("a", description="a choice")
    steps: int | None = Field(None, description="optional int")
    lr: float = Field(2e-4, description="a float")
    flag: bool = Field(False, description="a flag")
    tags: list[str] = Field(default_factory=lambda: ["q"], description="tags")
    inner: Inner = Field(default_factory=Inner, description="nested")


def test_each_file_format_loads_the_same_config(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('name = "n"\nsteps = 3\ntags = ["a", "b"]\n[inner]\nr = 8\n')
    yaml = tmp_path / "c.yaml"
    yaml.write_text("name: n\nsteps: 3\ntags: [a, b]\ninner:\n  r: 8\n")
    js = tmp_path / "c.json"
    js.write_text(json.dumps({"name": "n", "steps": 3, "tags": ["a", "b"], "inner": {"r": 8}}))
    configs = [load_config(Cfg, p) for p in (toml, yaml, js)]
    assert configs[0] == configs[1] == configs[2]
    assert configs[0].inner == Inner(r=8, alpha=16.0)  # the table updated, alpha kept its default
    assert configs[0].tags == ["a", "b"] and configs[0].steps == 3


def test_string_overrides_are_typed_by_the_field():
    cfg = load_config(
        Cfg,
        overrides={
            "steps": "12", "lr": "2e-4", "flag": "true", "tags": "[q_proj, v_proj]", "inner.r": "4",
            "name": "123", "template": "{title}: what age?", "path": "runs/a=b", "mode": "b",
        },
    )
    assert cfg.steps == 12 and cfg.lr == pytest.approx(2e-4) and cfg.flag is True
    assert cfg.tags == ["q_proj", "v_proj"] and cfg.inner.r == 4
    # string fields get the raw text: no YAML reading of "123" or of the braces
    assert cfg.name == "123" and cfg.template == "{title}: what age?"
    assert cfg.path == Path("runs/a=b") and cfg.mode == "b"
    assert load_config(Cfg, overrides={"steps": "null"}).steps is None


def test_layers_base_then_file_then_overrides(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('name = "from-file"\nsteps = 5\n[inner]\nalpha = 8.0\n')
    base = Cfg(name="base", lr=1e-3, inner=Inner(r=2))
    cfg = load_config(Cfg, f, {"steps": 7}, base=base)
    assert (cfg.name, cfg.steps, cfg.lr) == ("from-file", 7, 1e-3)
    assert cfg.inner == Inner(r=2, alpha=8.0)


def test_unknown_key_names_the_closest_fields(tmp_path):
    with pytest.raises(ConfigError, match="did you mean steps"):
        load_config(Cfg, overrides={"stepz": 3})
    with pytest.raises(ConfigError, match="inner.rr"):
        load_config(Cfg, overrides={"inner.rr": 3})
    f = tmp_path / "c.toml"
    f.write_text("bogus = 1\n")
    with pytest.raises(ConfigError, match="bogus"):
        load_config(Cfg, f)


def test_bad_values_and_files_fail_with_the_field_or_path(tmp_path):
    with pytest.raises(ConfigError, match="steps"):
        load_config(Cfg, overrides={"steps": "many"})
    with pytest.raises(ConfigError, match="does not exist"):
        read_config_file(tmp_path / "missing.toml")
    bad = tmp_path / "c.toml"
    bad.write_text("name = \n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        read_config_file(bad)
    other = tmp_path / "c.ini"
    other.write_text("[x]\n")
    with pytest.raises(ConfigError, match="unknown config format"):
        read_config_file(other)


@pytest.mark.parametrize("suffix", [".json", ".yaml", ".toml"])
def test_dump_then_load_round_trips(tmp_path, suffix):
    cfg = Cfg(name="n", path=Path("a/b"), steps=None, tags=["x"], inner=Inner(r=3, alpha=0.5), flag=True)
    path = dump_config(cfg, tmp_path / f"out{suffix}")
    assert load_config(Cfg, path) == cfg


def test_parse_set():
    assert parse_set(["a=1", "corpus=x=y.jsonl", "t={title} "]) == {"a": "1", "corpus": "x=y.jsonl", "t": "{title} "}
    with pytest.raises(ConfigError, match="key=value"):
        parse_set(["novalue"])


def test_unknown_key_in_a_file_names_the_closest_fields(tmp_path):
    """A typo in a config file gets the same "did you mean" as --set, with the file and the dotted key."""
    from emergence.experiment.config import ExperimentConfig, load_experiment_config

    f = tmp_path / "c.toml"
    f.write_text("[inner]\nrr = 3\n")
    with pytest.raises(ConfigError, match=r"c.toml: unknown config key 'inner.rr'; did you mean inner.r\?"):
        load_config(Cfg, f)
    exp = tmp_path / "exp.toml"
    exp.write_text('profile = "cpu-demo"\n[train]\nlora_rr = 8\n')
    with pytest.raises(ConfigError, match=r"'train.lora_rr'; did you mean train.lora_r"):
        load_experiment_config(exp)
    # a table whose model ignores extra keys (ProbeConfig) is checked all the same: a typo never vanishes
    exp.write_text("[probe]\nbatch_sise = 4\n")
    with pytest.raises(ConfigError, match=r"'probe.batch_sise'; did you mean probe.batch_size"):
        load_experiment_config(exp)
    # inside a list of tables too
    exp.write_text('[[verdict.hypotheses]]\nname = "x"\nmetrc = "within_2y"\n')
    with pytest.raises(ConfigError, match=r"verdict.hypotheses\[0\].metrc'; did you mean verdict.hypotheses\[0\].metric"):
        load_experiment_config(exp)
    assert isinstance(load_experiment_config(profile="cpu-demo"), ExperimentConfig)


def test_none_survives_a_toml_round_trip_whatever_the_base(tmp_path):
    """TOML has no null: a None that overrides a non-None default (or a profile's value) is listed
    under `null` and read back as None, so the dump is the same config."""
    from emergence.experiment.config import load_experiment_config, load_profile

    cfg = Cfg(steps=None, path=None)
    path = dump_config(cfg, tmp_path / "c.toml")
    assert load_config(Cfg, path, base=Cfg(steps=7, path=Path("x"))) == cfg  # the file's None wins over a base
    demo = load_profile("cpu-demo", {"train.save_total_limit": "null", "lmeval.limit": "null"})
    assert demo.train.save_total_limit is None
    saved = dump_config(demo, tmp_path / "config.toml")
    assert 'null = [' in saved.read_text() and '"train.save_total_limit"' in saved.read_text()
    again = load_experiment_config(saved)  # the file names cpu-demo, so it builds on the profile (limit 1)
    assert again == demo and again.fingerprint() == demo.fingerprint()
    with pytest.raises(ConfigError, match="null"):
        bad = tmp_path / "bad.toml"
        bad.write_text('null = "train.save_total_limit"\n')
        load_config(Cfg, bad)
