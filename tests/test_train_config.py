"""TrainConfig: the seed study's defaults, the cpu profile, validation, files, the CLI layering."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from emergence.train.config import TrainConfig


def test_defaults_are_the_seed_study():
    cfg = TrainConfig()
    assert cfg.model == "unsloth/Phi-3-medium-4k-instruct"
    assert (cfg.max_seq_length, cfg.load_in_4bit) == (2048, True)
    assert (cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout, cfg.lora_bias) == (16, 16, 0.0, "none")
    assert cfg.target_modules == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    assert (cfg.per_device_train_batch_size, cfg.gradient_accumulation_steps) == (2, 4)
    assert (cfg.warmup_steps, cfg.max_steps, cfg.learning_rate) == (5, 100, 2e-4)
    assert (cfg.optim, cfg.weight_decay, cfg.lr_scheduler_type, cfg.seed) == ("adamw_8bit", 0.001, "linear", 3407)
    assert (cfg.loss_on, cfg.drop_empty, cfg.eval_records, cfg.backend) == ("assistant", True, 64, "auto")
    assert TrainConfig.profile("seed") == cfg


def test_every_field_is_described():
    missing = [name for name, f in TrainConfig.model_fields.items() if not f.description]
    assert missing == []


def test_cpu_profile_runs_without_gpu_libraries():
    cpu = TrainConfig.cpu()
    assert cpu.model == "smollm2" and cpu.device == "cpu" and cpu.backend == "hf"
    assert not cpu.load_in_4bit and cpu.dtype == "float32" and cpu.optim == "adamw_torch"
    assert cpu.max_seq_length <= 512
    assert TrainConfig.cpu(max_steps=3).max_steps == 3
    with pytest.raises(ValueError, match="unknown training profile"):
        TrainConfig.profile("tpu")


@pytest.mark.parametrize(
    "bad",
    [
        {"prompt_template": "no title here"},
        {"prompt_template": "{title} {author}"},
        {"target_modules": []},
        {"loss_on": "prompt"},
        {"backend": "jax"},
        {"lora_r": 0},
        {"held_out": 1.0},
        {"resume": True, "overwrite": True},
        {"no_such_field": 1},
    ],
)
def test_invalid_values_are_rejected(bad):
    with pytest.raises(ValidationError):
        TrainConfig(**bad)


def test_from_file_with_overrides(tmp_path):
    f = tmp_path / "train.toml"
    f.write_text('model = "tiny-llama"\nmax_steps = 7\ntarget_modules = ["q_proj", "v_proj"]\n')
    cfg = TrainConfig.from_file(f, {"lora_r": "8", "prompt_template": "Book: {title}"})
    assert (cfg.model, cfg.max_steps, cfg.lora_r) == ("tiny-llama", 7, 8)
    assert cfg.target_modules == ["q_proj", "v_proj"] and cfg.prompt_template == "Book: {title}"


def test_cli_layers_profile_file_set_and_flags(tmp_path, capsys):
    from emergence.cli import main
    from emergence.configio import load_config
    from emergence.experiment.config import load_profile

    f = tmp_path / "train.yaml"
    f.write_text("max_steps: 9\nlora_r: 4\n")
    code = main([
        "train", "--profile", "cpu-demo", "--config", str(f), "--set", "lora_r=2", "--set", "learning_rate=1e-3",
        "--max-steps", "11", "--model", "tiny-phi3", "--out", str(tmp_path / "run"), "--print-config",
    ])
    assert code == 0
    printed = tmp_path / "printed.toml"  # --print-config prints TOML, as `emergence run` does
    printed.write_text(capsys.readouterr().out)
    cfg = load_config(TrainConfig, printed)
    assert cfg.model == "tiny-phi3" and cfg.max_steps == 11 and cfg.lora_r == 2
    assert cfg.output_dir == tmp_path / "run"
    demo = load_profile("cpu-demo").train  # the rest from the cpu-demo run's [train] table
    assert cfg.learning_rate == 1e-3 and (cfg.optim, cfg.max_seq_length) == (demo.optim, demo.max_seq_length)
    assert main(["train", "--set", "lora_rr=3", "--print-config"]) == 2
    assert "did you mean lora_r" in capsys.readouterr().err


def test_train_and_run_share_profile_names_and_flags(tmp_path, capsys):
    """One vocabulary: --profile cpu-demo/seed and --out on both; the old spellings still work."""
    from emergence.cli import build_parser, main
    from emergence.configio import load_config
    from emergence.experiment.config import PROFILE_NAMES, load_profile

    parser = build_parser()
    for name in PROFILE_NAMES:
        assert parser.parse_args(["train", "--profile", name]).profile == name
        assert parser.parse_args(["run", "--profile", name]).profile == name
    assert parser.parse_args(["train", "--output-dir", "x"]).output_dir == "x"  # the old flag name
    assert parser.parse_args(["train", "--out", "x"]).output_dir == "x"
    for profile in PROFILE_NAMES:
        assert main(["train", "--profile", profile, "--print-config"]) == 0
        printed = tmp_path / f"{profile}.toml"
        printed.write_text(capsys.readouterr().out)
        assert load_config(TrainConfig, printed) == load_profile(profile).train
    assert main(["train", "--profile", "cpu", "--print-config"]) == 0  # the old name of cpu-demo
    captured = capsys.readouterr()
    assert "now called cpu-demo" in captured.err
    printed.write_text(captured.out)
    assert load_config(TrainConfig, printed) == load_profile("cpu-demo").train
