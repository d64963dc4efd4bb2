"""ExperimentConfig: one experiment composed of its stages' configs, and the built-in profiles.

    >>> from emergence.experiment.config import load_profile
    >>> cfg = load_profile("cpu-demo")
    >>> cfg.train.model, cfg.evalsets.age_heldout >= 100
    ('smollm2', True)
    >>> cfg.corpus_path().name      # no corpus given: the embedded sample
    'sample.jsonl.gz'

The corpus and its split belong to the training run (``[train] corpus``, ``held_out``,
``salt``, ``policy``): every stage reads them there, and the eval sets follow what
training consumed (:class:`emergence.evalsets.TrainingConsumption`). Nothing is copied
between sections, so a TOML file maps onto this model one to one and a dump reads back
to the same config.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from emergence.counterfactual import MemorisationConfig
from emergence.evalsets import EvalSetConfig
from emergence.probe.config import CurveConfig, ProbeConfig
from emergence.train.config import TrainConfig
from emergence.verdict.judge import VerdictConfig

__all__ = [
    "PROFILE_NAMES", "ExperimentConfig", "LmEvalConfig", "ReportConfig", "config_diff",
    "default_profile", "digest", "load_experiment_config", "load_profile", "profile_path",
]

PROFILES_DIR = Path(__file__).resolve().parent.parent / "profiles"
PROFILE_NAMES = ("cpu-demo", "seed")
# a profile names the run directory: a plain name, never a path
_PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class LmEvalConfig(BaseModel):
    """The lm-eval stage: our tasks through lm-eval's hf model, on this run's eval sets."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Run the lm-eval stage (false: skip it).")
    tasks: list[str] = Field(
        default_factory=lambda: ["emergence"],
        description="lm-eval task or group names (ours: age_rating, age_rating_mc, "
        "author_intent_seen, author_intent_heldout, groups author_intent and emergence).")
    limit: int | float | None = Field(
        None, description="Documents per task: an int >= 1, a share below 1, or None for all.")
    models: list[Literal["base", "tuned"]] = Field(
        default_factory=lambda: ["base", "tuned"],
        description="Which models lm-eval scores: the base, the base with the adapter, or both.")
    batch_size: int = Field(8, ge=1, description="lm-eval batch size.")
    bootstrap_iters: int = Field(
        1000, ge=0, description="lm-eval's bootstrap draws for its standard errors (0: none).")
    apply_chat_template: bool = Field(
        True, description="Send the chat-templated question (chat models) rather than the bare one.")


class ReportConfig(BaseModel):
    """What the report shows."""

    model_config = ConfigDict(extra="forbid")

    answers_in_report: int = Field(40, ge=0, description="Probe answers shown per set in the report's "
                                   "table (all are in answers.jsonl).")


class ExperimentConfig(BaseModel):
    """One experiment: training (with its corpus and split), eval sets, probes, lm-eval, verdicts, report.

    TOML files map onto it one to one: top-level keys, then ``[train]``, ``[evalsets]``,
    ``[probe]``, ``[curve]``, ``[lmeval]``, ``[verdict]`` (with ``[[verdict.hypotheses]]``) and ``[report]``.
    """

    model_config = ConfigDict(extra="forbid")

    profile: str | None = Field(
        None, description="Name of the profile this config started from; names the run directory "
        "(letters, digits, '.', '_' and '-').")
    train: TrainConfig = Field(
        default_factory=TrainConfig,
        description="The fine-tuning run (emergence.train.TrainConfig), with the corpus and its split "
        "that every stage reads; its output_dir is the run directory's train/ folder.")
    evalsets: EvalSetConfig = Field(default_factory=EvalSetConfig, description="Sizes and seed of the eval sets.")
    probe: ProbeConfig = Field(default_factory=ProbeConfig, description="Questions, decoding and measures of the probes.")
    base_probe: Literal["before_training", "with_tuned"] = Field(
        "before_training",
        description="'before_training': probe the base model in its own stage before training; "
        "'with_tuned': probe base and tuned after training from one load of the base weights "
        "(adapter off, then on), which saves a model load on big models. Base answers are the "
        "same either way.")
    curve: CurveConfig = Field(default_factory=CurveConfig, description="The emergence curve: checkpoints probed "
                               "along training.")
    lmeval: LmEvalConfig = Field(default_factory=LmEvalConfig, description="The lm-eval stage.")
    verdict: VerdictConfig = Field(default_factory=VerdictConfig, description="Hypotheses and controls.")
    memorisation: MemorisationConfig = Field(default_factory=MemorisationConfig, description="Options of the "
                                             "memorisation panel (counterfactual memorisation, off by default).")
    report: ReportConfig = Field(default_factory=ReportConfig, description="What the report shows.")
    out_dir: Path | None = Field(
        None, description="The run directory; None: runs_root/<profile>-<config hash>.")
    runs_root: Path = Field(
        Path("runs"), description="Where run directories named from the config go when out_dir is None.")

    @field_validator("profile")
    @classmethod
    def _profile_is_a_name(cls, value: str | None) -> str | None:
        if value is not None and not _PROFILE_NAME.match(value):
            raise ValueError(f"profile {value!r} must be a plain name (letters, digits, '.', '_', '-'; "
                             "no path): it names the run directory")
        return value

    def corpus_path(self) -> Path:
        """The corpus this experiment reads (the embedded sample when train.corpus is None); a URL
        comes as a CorpusURL carrying train.storage."""
        if self.train.corpus is not None:
            from emergence.corpus.remote import corpus_source

            return corpus_source(self.train.corpus, self.train.storage)
        from emergence.corpus.sample import sample_path

        return Path(sample_path())

    def semantic_dump(self) -> dict[str, Any]:
        """Everything that shapes the results (not where they are written, nor terminal settings)."""
        data = self.model_dump(mode="json", exclude={"out_dir", "runs_root"})
        data["probe"].pop("progress", None)
        for key in ("output_dir", "resume", "overwrite", "report_to"):  # set by the runner; trackers only record
            data["train"].pop(key, None)
        return data

    def fingerprint(self) -> str:
        """Hash of everything that shapes the results."""
        return digest(self.semantic_dump())

    def run_dir(self) -> Path:
        """out_dir, or runs_root/<profile>-<first 10 hex digits of the fingerprint>."""
        if self.out_dir is not None:
            return Path(self.out_dir).expanduser()
        return Path(self.runs_root).expanduser() / f"{self.profile or 'custom'}-{self.fingerprint()[:10]}"


def digest(data: Any) -> str:
    """sha256 of data's canonical JSON."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def profile_path(name: str) -> Path:
    """The TOML file of a built-in profile."""
    path = PROFILES_DIR / f"{name}.toml"
    if not _PROFILE_NAME.match(name) or not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROFILES_DIR.glob("*.toml")))
        raise ValueError(f"unknown profile {name!r}: use one of {known}")
    return path


def load_profile(name: str, overrides: dict[str, Any] | None = None) -> ExperimentConfig:
    """A built-in profile (``cpu-demo``, ``seed``) with dotted-key overrides."""
    return load_experiment_config(profile=name, overrides=overrides)


def default_profile() -> str:
    """``seed`` where CUDA is available, else ``cpu-demo``."""
    try:
        import torch
    except ImportError:
        return "cpu-demo"
    return "seed" if torch.cuda.is_available() else "cpu-demo"


def load_experiment_config(path: str | Path | None = None, *, profile: str | None = None,
                           overrides: dict[str, Any] | None = None) -> ExperimentConfig:
    """Profile (by name, or the file's top-level ``profile`` key when it names a built-in
    one), then the file, then overrides. Without a profile a file is read onto the
    ExperimentConfig defaults (the seed study's training settings)."""
    from emergence.configio import load_config, read_config_file

    if profile is None and path is not None:
        # a file naming a built-in profile builds on it; any other name only names the run
        named = read_config_file(path).get("profile")
        profile = str(named) if isinstance(named, str) and named in PROFILE_NAMES else None
    base = None
    if profile is not None:
        base = load_config(ExperimentConfig, profile_path(profile))
        if base.profile is None:
            base = base.model_copy(update={"profile": profile})
    return load_config(ExperimentConfig, path, overrides, base=base)


def config_diff(before: Any, after: Any, prefix: str = "") -> list[str]:
    """Dotted ``key: old -> new`` lines where two config dumps differ."""
    out: list[str] = []
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after)):
            name = f"{prefix}.{key}" if prefix else str(key)
            if key not in before:
                out.append(f"{name}: (unset) -> {after[key]!r}")
            elif key not in after:
                out.append(f"{name}: {before[key]!r} -> (unset)")
            else:
                out.extend(config_diff(before[key], after[key], name))
    elif before != after:
        out.append(f"{prefix}: {before!r} -> {after!r}")
    return out
