"""The whole experiment in one call, resumable, in one run directory.

    >>> from emergence.experiment import load_profile
    >>> cfg = load_profile("cpu-demo")
    >>> cfg.train.model, cfg.evalsets.age_heldout >= 100
    ('smollm2', True)
    >>> cfg.train.held_out == cfg.evalsets.held_out == cfg.held_out  # one source of truth
    True
    >>> cfg.evalsets.train_records_limit == cfg.train.max_steps * 2 * 2  # what training consumes
    True

``run_experiment(config)`` runs the stages in order, each writing into the run directory:

    audit -> split -> evalsets -> probe_base -> train -> probe_tuned -> lmeval -> verdicts -> report

(with ``base_probe = "with_tuned"`` the base is probed after training, from the same load
as the tuned model: ``... -> train -> probes -> ...``). Every stage has a fingerprint: a
hash of the config parts it depends on and of its inputs' fingerprints. A stage whose
recorded fingerprint matches and whose outputs exist is skipped, so running the same
command again resumes an interrupted run (training itself resumes from its last
checkpoint). The run directory's ``config.toml`` is the config as run; a different config
pointed at the same directory is refused with the list of changed fields.

Each stage calls its module (``emergence.corpus.audit``, ``evalsets``, ``probes``, ``train``,
``lmeval``, ``hypothesis``, ``report``); nothing here re-implements one. Heavy imports
happen inside the stage functions.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field, model_serializer, model_validator

from emergence.corpus.audit import AuditReport
from emergence.evalsets import EvalSetConfig
from emergence.hypothesis import BUILTIN_HYPOTHESES, Hypothesis, ItemLevelControl, Verdict, item_level_control
from emergence.probes import ProbeConfig, ProbeMetrics, ProbeResults
from emergence.train.config import TrainConfig
from emergence.train.recipe import TrainResult

if TYPE_CHECKING:  # rich is imported when a run starts
    from rich.console import Console

__all__ = [
    "PROFILE_NAMES",
    "ConfigChangedError",
    "Controls",
    "RunLockedError",
    "RunPaths",
    "ExperimentConfig",
    "ExperimentResult",
    "LmEvalConfig",
    "SplitSummary",
    "StageRecord",
    "config_diff",
    "config_hash",
    "default_profile",
    "load_experiment_config",
    "load_profile",
    "profile_path",
    "run_experiment",
]

# Bumped when a stage's outputs change for the same config, so old run directories
# re-run that stage (and everything downstream) instead of mixing versions.
STAGE_VERSION = 1
STATE_FILE = "run.json"
CONFIG_FILE = "config.toml"
LOCK_FILE = ".lock"

PROFILES_DIR = Path(__file__).with_name("profiles")
PROFILE_NAMES = ("cpu-demo", "seed")


# ---------------------------------------------------------------------------------------
# configuration


class LmEvalConfig(BaseModel):
    """The lm-eval stage: our tasks through lm-eval's hf model, on this run's eval sets."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Run the lm-eval stage (false: skip it).")
    tasks: list[str] = Field(
        default_factory=lambda: ["emergence"],
        description="lm-eval task or group names (ours: age_rating, age_rating_mc, "
        "author_intent_seen, author_intent_heldout, groups author_intent and emergence).",
    )
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


# Fields of the stage configs that the experiment owns: copied from one place so that
# split, training and eval sets can never disagree. They are left out of dumps (and so of
# config.toml); giving one in a sub-config with another value is an error.
_SHARED: dict[str, dict[str, str]] = {
    "train": {"corpus": "corpus", "held_out": "held_out", "salt": "salt"},
    "evalsets": {"held_out": "held_out", "salt": "salt", "policy": "policy",
                 "train_records_limit": "(the training budget)",
                 "limit_counts_empty": "(train.drop_empty)"},
    "probe": {"train_prompt_template": "train.prompt_template"},
}
# Fields of TrainConfig that the runner sets when training starts (the adapter goes to the
# run directory's train/; resume and overwrite follow the stage state): ignored if given.
_RUNNER_OWNED = {"train": ("output_dir", "resume", "overwrite")}


class ExperimentConfig(BaseModel):
    """One experiment: corpus and split, training, eval sets, probes, lm-eval, hypotheses.

    TOML files map onto it one to one: top-level keys, then ``[train]``, ``[evalsets]``,
    ``[probe]``, ``[lmeval]`` tables and ``[[hypotheses]]`` entries. The corpus, split
    (``held_out``, ``salt``) and bad-record ``policy`` are set once at the top and copied
    into the sub-configs; the eval sets' ``train_records_limit`` is derived from the
    training budget, so seen sets only hold records that training consumed.
    """

    model_config = ConfigDict(extra="forbid")

    profile: str | None = Field(
        None, description="Name of the profile this config started from; names the run directory.")
    corpus: Path | None = Field(
        None, description="Corpus file (JSON Lines or a JSON array, optionally gzipped); None: the "
        "embedded sample (emergence.corpus.sample.sample_path()).")
    held_out: float = Field(
        0.1, ge=0, lt=1, description="Share of records held out of training (emergence.split_of); "
        "shared by split, training and eval sets.")
    salt: str = Field("emergence", description="Salt of the stable train/held-out hash; shared.")
    policy: Literal["skip", "strict"] = Field(
        "skip", description="Bad-record policy of every corpus pass (skip and count, or stop).")
    train: TrainConfig = Field(
        default_factory=TrainConfig,
        description="The fine-tuning run (emergence.train.TrainConfig); its output_dir is the "
        "run directory's train/ folder.")
    evalsets: EvalSetConfig = Field(
        default_factory=EvalSetConfig, description="Sizes and seed of the eval sets.")
    probe: ProbeConfig = Field(
        default_factory=ProbeConfig, description="Questions, decoding and measures of the probes.")
    base_probe: Literal["before_training", "with_tuned"] = Field(
        "before_training",
        description="'before_training': probe the base model in its own stage before training; "
        "'with_tuned': probe base and tuned after training from one load of the base weights "
        "(adapter off, then on), which saves a model load on big models. Base answers are the "
        "same either way.")
    lmeval: LmEvalConfig = Field(default_factory=LmEvalConfig, description="The lm-eval stage.")
    hypotheses: list[Hypothesis] = Field(
        default_factory=lambda: list(BUILTIN_HYPOTHESES),
        description="Hypotheses judged on the probe answers (default: emergence.hypothesis."
        "BUILTIN_HYPOTHESES: age_emergence, age_emergence_mc, age_recall, intent_memorisation).")
    control_seed: int = Field(
        0, description="Seed of the label permutations of the shuffled-label and item-level controls.")
    control_rounds: int = Field(
        20, ge=1, description="Label permutations averaged per item by the item-level control "
        "(round 0 is the shuffled-label control's permutation).")
    answers_in_report: int = Field(
        40, ge=0, description="Probe answers shown per set in the report's table (all are in answers.jsonl).")
    out_dir: Path | None = Field(
        None, description="The run directory; None: runs_root/<profile>-<config hash>.")
    runs_root: Path = Field(
        Path("runs"), description="Where run directories named from the config go when out_dir is None.")

    @model_serializer(mode="wrap")
    def _without_derived(self, handler: Any) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            for section in {*_SHARED, *_RUNNER_OWNED}:
                sub = data.get(section)
                if isinstance(sub, dict):
                    for key in (*_SHARED.get(section, ()), *_RUNNER_OWNED.get(section, ())):
                        sub.pop(key, None)
        return data

    @model_validator(mode="after")
    def _share(self) -> "ExperimentConfig":
        derived = self.derived_values()
        problems = []
        for section, values in derived.items():
            sub = getattr(self, section)
            for key, value in values.items():
                if key in sub.model_fields_set and _jsonable(getattr(sub, key)) != _jsonable(value):
                    source = _SHARED[section][key]
                    where = f"set {source} at the top level" if not source.startswith(("(", "train.")) \
                        else f"it follows {source.strip('()')}"
                    problems.append(f"{section}.{key} = {getattr(sub, key)!r} conflicts with the "
                                    f"experiment's {value!r}: {where}")
        if problems:
            raise ValueError("; ".join(problems))
        for section, values in derived.items():
            sub = getattr(self, section)
            merged = {**sub.__dict__, **values}
            # model_construct keeps the sub-config's own fields_set: the copied values stay
            # "not given", so dumping and loading again never reads them as user input
            object.__setattr__(self, section, type(sub).model_construct(_fields_set=set(sub.model_fields_set), **merged))
        return self

    def derived_values(self) -> dict[str, dict[str, Any]]:
        """The values the experiment writes into its sub-configs."""
        budget = EvalSetConfig.from_train_config(self.train)
        return {
            "train": {"corpus": self.corpus, "held_out": self.held_out, "salt": self.salt},
            "evalsets": {"held_out": self.held_out, "salt": self.salt, "policy": self.policy,
                         "train_records_limit": budget.train_records_limit,
                         "limit_counts_empty": budget.limit_counts_empty},
            "probe": {"train_prompt_template": self.train.prompt_template},
        }

    def corpus_path(self) -> Path:
        """The corpus file this experiment reads (the embedded sample when corpus is None)."""
        if self.corpus is not None:
            return Path(self.corpus).expanduser()
        from emergence.corpus.sample import sample_path

        return Path(sample_path())

    def fingerprint(self) -> str:
        """Hash of everything that shapes the results (not where they are written)."""
        return _digest(_semantic_dump(self))

    def run_dir(self) -> Path:
        """out_dir, or runs_root/<profile>-<first 10 hex digits of the fingerprint>."""
        if self.out_dir is not None:
            return Path(self.out_dir).expanduser()
        return Path(self.runs_root).expanduser() / f"{self.profile or 'custom'}-{self.fingerprint()[:10]}"


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    return value


def _semantic_dump(config: ExperimentConfig) -> dict[str, Any]:
    data = config.model_dump(mode="json", exclude={"out_dir", "runs_root"})
    data.get("probe", {}).pop("progress", None)  # a terminal setting, not a result
    return data


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def profile_path(name: str) -> Path:
    """The TOML file of a built-in profile."""
    path = PROFILES_DIR / f"{name}.toml"
    if not path.is_file():
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


def load_experiment_config(
    path: str | Path | None = None,
    *,
    profile: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> ExperimentConfig:
    """Profile (by name, or the file's top-level ``profile`` key when it names a built-in
    one), then the file, then overrides.

    Without a profile a file is read onto the ExperimentConfig defaults (the seed study's
    training settings).
    """
    from emergence.configio import load_config, read_config_file

    if profile is None and path is not None:
        # a file naming a built-in profile builds on it; any other name only names the run
        named = read_config_file(path).get("profile")
        profile = str(named) if named and (PROFILES_DIR / f"{named}.toml").is_file() else None
    base = None
    if profile is not None:
        base = load_config(ExperimentConfig, profile_path(profile))
        if base.profile is None:
            base = base.model_copy(update={"profile": profile})
    cfg = load_config(ExperimentConfig, path, overrides, base=base)
    return cfg


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


def config_hash(config: ExperimentConfig) -> str:
    """The config's fingerprint (see :meth:`ExperimentConfig.fingerprint`)."""
    return config.fingerprint()


class ConfigChangedError(ValueError):
    """A run directory holds a run of another config; the message lists the changed fields."""


class RunLockedError(RuntimeError):
    """Another process is running an experiment in the same run directory."""


# ---------------------------------------------------------------------------------------
# results


class StageRecord(BaseModel):
    """What happened to one stage in this invocation."""

    name: str = Field(description="Stage name.")
    fingerprint: str = Field(description="Hash of the config parts the stage depends on and of the "
                             "identities of the outputs it reads.")
    status: Literal["ran", "skipped"] = Field(description="'skipped': outputs with this fingerprint existed.")
    seconds: float = Field(description="Wall time of the stage when it ran (the earlier run's, if skipped).")
    finished_utc: str = Field(description="When the stage's outputs were written.")


class SplitSummary(BaseModel):
    """The train/held-out split and what training consumes of it."""

    held_out: float = Field(description="Held-out share passed to split_of.")
    salt: str = Field(description="Salt passed to split_of.")
    records: int = Field(description="Records the corpus stream yielded.")
    train_records: int = Field(description="Records in the train split.")
    held_out_records: int = Field(description="Records in the held-out split.")
    train_examples: int = Field(
        description="Train records training can use (non-empty content when empty ones are dropped).")
    train_budget: int = Field(
        description="Examples the training run consumes: max_steps × batch × accumulation (capped by max_records).")
    train_passes: float = Field(description="train_budget / train_examples: passes over the train split.")
    held_out_digest: str = Field(
        description="blake2b of the held-out records' ids in stream order: equal digests, equal held-out sets.")
    held_out_titles_in_train: int = Field(
        description="Held-out records whose title also occurs on a train record (another edition).")


class Controls(BaseModel):
    """Checks that tell a real effect from an artefact."""

    item_level: ItemLevelControl | None = Field(
        None, description="Item-level vs distributional gain on held-out titles (None without a paired age hypothesis).")
    positive: Verdict | None = Field(
        None, description="The recall hypothesis on age_seen (positive control: cues seen in training must be recalled).")
    unseen_titles: Verdict | None = Field(
        None, description="The emergence hypothesis re-judged on held-out items whose title never occurs "
        "in training (no other edition was trained on); None when there are none to remove.")
    twin_titles: int = Field(0, description="age_heldout items whose title also occurs on a train record.")


class RunPaths(BaseModel):
    """Where the run's files are."""

    run_dir: Path = Field(description="The run directory.")
    config: Path = Field(description="config.toml: the ExperimentConfig as run.")
    env: Path = Field(description="env.json: versions, hardware, git commit.")
    evalsets: Path = Field(description="The eval sets (one JSONL per set + manifest.json).")
    train_dir: Path = Field(description="The training run directory.")
    adapter: Path = Field(description="The PEFT adapter.")
    answers: Path = Field(description="answers.jsonl: every probe answer, base and tuned.")
    metrics: Path = Field(description="verdicts/metrics.json: every aggregate with its interval.")
    verdicts: Path = Field(description="verdicts/verdicts.json.")
    report_md: Path | None = Field(None, description="report.md.")
    report_html: Path | None = Field(None, description="report.html (self-contained).")


class ExperimentResult(BaseModel):
    """Everything a run produced, typed; also what the report is rendered from."""

    run_dir: Path = Field(description="The run directory.")
    config: ExperimentConfig = Field(description="The config as run.")
    env: dict[str, Any] = Field(description="Versions, hardware, git commit (env.json).")
    audit: AuditReport = Field(description="The corpus audit.")
    split: SplitSummary = Field(description="The split and the training budget.")
    eval_set_sizes: dict[str, int] = Field(description="Items per eval set.")
    eval_set_selection: dict[str, Any] = Field(description="Candidates per set and label counts (manifest).")
    train: TrainResult = Field(description="The training run's summary.")
    loss_curve: list[dict[str, Any]] = Field(description="metrics.jsonl rows: step, loss, learning rate, ...")
    probes: ProbeResults = Field(description="Every probe answer of base and tuned.")
    metrics: ProbeMetrics = Field(description="Aggregates with intervals, baselines, memorisation gaps.")
    verdicts: list[Verdict] = Field(description="One verdict per hypothesis the answers can decide.")
    controls: Controls = Field(description="Item-level, positive and unseen-title controls.")
    lmeval: dict[str, dict[str, Any]] | None = Field(
        None, description="Per model ('base', 'tuned'): lm-eval's results.json (None when the stage is off).")
    paths: RunPaths = Field(description="Where the files are.")
    stages: list[StageRecord] = Field(description="Each stage, run or skipped, with its time.")
    timings: dict[str, float] = Field(description="Seconds per stage (when it ran), plus 'total' and 'this_invocation'.")

    def verdict(self, name: str) -> Verdict | None:
        """The verdict of the hypothesis named ``name``, if judged."""
        return next((v for v in self.verdicts if v.hypothesis.name == name), None)


# ---------------------------------------------------------------------------------------
# the runner


class _Run:
    """State of one invocation: config, directory, stage records, console."""

    def __init__(self, config: ExperimentConfig, run_dir: Path, console: Console, progress: bool) -> None:
        self.config = config
        self.dir = run_dir
        self.console = console
        self.progress = progress
        self.fps: dict[str, str] = {}
        self.records: list[StageRecord] = []
        self.state = _read_json(run_dir / STATE_FILE) or {"stages": {}}

    def path(self, *parts: str) -> Path:
        return self.dir.joinpath(*parts)

    def save_state(self) -> None:
        _write_json_atomic(self.path(STATE_FILE), self.state)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_json_atomic(path: Path, data: Any) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str, allow_nan=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def _utc() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _utc_precise() -> str:
    # two runs of a stage within one second must still differ
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{time.time_ns() % 1_000_000_000:09d}Z"


def _corpus_identity(path: Path) -> dict[str, Any]:
    # size and modification time identify a file cheaply; a content hash of a multi-GB
    # corpus would cost a pass of its own
    try:
        st = path.stat()
    except OSError:
        return {"path": str(path), "missing": True}
    return {"path": str(path.resolve()), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


def _stage_order(config: ExperimentConfig) -> list[str]:
    if config.base_probe == "with_tuned":
        probes = ["train", "probes"]
    else:
        probes = ["probe_base", "train", "probe_tuned"]
    return ["audit", "split", "evalsets", *probes, "lmeval", "verdicts", "report"]


def _stage_config(run: _Run, name: str) -> dict[str, Any]:
    """The config parts and input fingerprints a stage depends on."""
    cfg = run.config
    data = cfg.model_dump(mode="json")
    corpus = _corpus_identity(cfg.corpus_path())
    split = {"held_out": cfg.held_out, "salt": cfg.salt, "policy": cfg.policy}
    train = {k: v for k, v in cfg.train.model_dump(mode="json").items()
             if k not in ("output_dir", "resume", "overwrite")}
    probe = {k: v for k, v in cfg.probe.model_dump(mode="json").items() if k != "progress"}
    fp = run.fps
    parts: dict[str, Any] = {
        "audit": {"corpus": corpus, **split},
        "split": {"corpus": corpus, **split, "budget": cfg.evalsets.train_records_limit,
                  "drop_empty": cfg.train.drop_empty},
        "evalsets": {"corpus": corpus, "evalsets": cfg.evalsets.model_dump(mode="json")},
        "probe_base": {"model": cfg.train.model, "chat_template": cfg.train.chat_template,
                       "probe": probe, "evalsets": fp.get("evalsets")},
        "train": {"corpus": corpus, "train": train},
        "probe_tuned": {"probe": probe, "evalsets": fp.get("evalsets"), "train": fp.get("train")},
        "probes": {"probe": probe, "evalsets": fp.get("evalsets"), "train": fp.get("train")},
        "lmeval": {"lmeval": data["lmeval"], "evalsets": fp.get("evalsets"), "train": fp.get("train")},
        "verdicts": {"hypotheses": data["hypotheses"], "seed": cfg.control_seed,
                     "rounds": cfg.control_rounds, "probe_base": fp.get("probe_base"),
                     "probe_tuned": fp.get("probe_tuned"), "probes": fp.get("probes"),
                     "split": fp.get("split")},
        "report": {"all": {k: v for k, v in fp.items() if k != "report"},
                   "answers_in_report": cfg.answers_in_report},
    }
    return {"stage": name, "version": STAGE_VERSION, **parts[name]}


# Files whose presence shows a stage finished (besides its fingerprint in run.json).
_OUTPUTS: dict[str, tuple[str, ...]] = {
    "audit": ("audit/audit.json",),
    "split": ("split/split.json",),
    "evalsets": ("evalsets/manifest.json",),
    "probe_base": ("probe_base/answers.jsonl", "probe_base/probe_run.json"),
    "train": ("train/summary.json", "train/adapter/adapter_config.json"),
    "probe_tuned": ("probe_tuned/answers.jsonl", "probe_tuned/probe_run.json"),
    "probes": ("probe_base/answers.jsonl", "probe_tuned/answers.jsonl"),
    "lmeval": ("lmeval/done.json",),
    "verdicts": ("verdicts/verdicts.json", "verdicts/metrics.json", "verdicts/controls.json"),
    "report": ("report.md", "report.html", "answers.jsonl"),
}

_TITLES = {
    "audit": "audit the corpus",
    "split": "split train / held-out",
    "evalsets": "build the eval sets",
    "probe_base": "probe the base model",
    "train": "train (LoRA)",
    "probe_tuned": "probe the tuned model",
    "probes": "probe base and tuned (one load)",
    "lmeval": "lm-eval tasks",
    "verdicts": "metrics and verdicts",
    "report": "write the report",
}


def _check_not_foreign(run_dir: Path) -> None:
    """Refuse a non-empty directory that no run made: nothing of it may be touched."""
    if run_dir.is_dir() and any(p.name != LOCK_FILE for p in run_dir.iterdir()):
        if not ((run_dir / CONFIG_FILE).is_file() or (run_dir / STATE_FILE).is_file()):
            raise FileExistsError(
                f"{run_dir} exists and is not an emergence run directory (no {CONFIG_FILE}): "
                "choose another --out")
    elif run_dir.exists() and not run_dir.is_dir():
        raise FileExistsError(f"{run_dir} exists and is not a directory: choose another --out")


def _prepare_dir(config: ExperimentConfig, run_dir: Path, resume: bool) -> None:
    """Check or clear the run directory (under its lock); refuse another config's run."""
    from emergence.configio import ConfigError, load_config

    saved = run_dir / CONFIG_FILE
    if run_dir.exists() and any(p.name != LOCK_FILE for p in run_dir.iterdir()):
        if not resume:
            # start over: remove what a run writes, nothing else
            for name in (*{p.split("/")[0] for outs in _OUTPUTS.values() for p in outs},
                         CONFIG_FILE, STATE_FILE, "env.json", "report"):
                target = run_dir / name
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
        elif saved.is_file():
            try:
                before = load_config(ExperimentConfig, saved)
            except ConfigError as exc:
                raise ConfigChangedError(f"{saved} cannot be read ({exc}); use --no-resume to start over") from exc
            changes = config_diff(_semantic_dump(before), _semantic_dump(config))
            if changes:
                shown = "\n  ".join(changes[:30]) + ("\n  ..." if len(changes) > 30 else "")
                raise ConfigChangedError(
                    f"{run_dir} holds a run of another config; changed fields:\n  {shown}\n"
                    "Use another --out, leave --out out (a fresh directory is named from the "
                    "config), or pass --no-resume to start this directory over.")


def run_experiment(
    config: ExperimentConfig,
    *,
    out_dir: str | Path | None = None,
    resume: bool = True,
    console: Console | None = None,
    progress: bool | None = None,
) -> ExperimentResult:
    """Run (or resume) the experiment; returns what it produced.

    ``out_dir`` overrides ``config.out_dir``; with neither, the run directory is named from
    the profile and the config's hash, so the same config resumes its own directory and a
    changed one starts a fresh one. ``resume=False`` clears the stage outputs of an
    existing run directory first. ``progress`` shows progress bars (None: on a terminal).
    Raises :class:`ConfigChangedError` when ``out_dir`` holds another config's run.
    """
    from rich.console import Console

    if out_dir is not None:
        config = config.model_copy(update={"out_dir": Path(out_dir)})
    # re-validate from the dump: derived sub-config fields follow the current values even
    # if a sub-config was edited in place after construction
    config = ExperimentConfig.model_validate(config.model_dump())
    console = console or Console(stderr=True, soft_wrap=True)
    if progress is None:
        progress = sys.stderr.isatty()
    run_dir = config.run_dir()
    _check_not_foreign(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)

    from filelock import FileLock, Timeout

    lock = FileLock(str(run_dir / LOCK_FILE))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise RunLockedError(f"another emergence run is using {run_dir}; wait for it or choose another --out") from None
    try:
        _prepare_dir(config, run_dir, resume)
        return _run_locked(config, run_dir, console, progress)
    finally:
        lock.release()


def _run_locked(config: ExperimentConfig, run_dir: Path, console: Console, progress: bool) -> ExperimentResult:
    from emergence.configio import dump_config

    t0 = time.perf_counter()
    _offline_if_local(config)
    saved = run_dir / CONFIG_FILE
    if not saved.is_file():
        dump_config(config, saved)
    run = _Run(config, run_dir, console, progress)
    if not run.path("env.json").is_file():
        _write_json_atomic(run.path("env.json"), _environment(config))
    from rich.markup import escape

    console.print(f"[bold]emergence run[/bold] {escape(config.profile or 'custom config')} -> {escape(str(run_dir))}")
    order = _stage_order(config)
    for index, name in enumerate(order, 1):
        if name == "report":
            break
        _do_stage(run, name, index, len(order), _STAGES[name])
    result = _collect(run, t0)
    _do_stage(run, "report", len(order), len(order), lambda r: _stage_report(r, result))
    result = _collect(run, t0)
    return result


def _do_stage(run: _Run, name: str, index: int, total: int, fn: Callable[[_Run], None]) -> None:
    fp = _digest(_stage_config(run, name))
    stages = run.state.setdefault("stages", {})
    record = stages.get(name) or {}
    outputs = [run.path(p) for p in _OUTPUTS[name]]
    label = f"[{index}/{total}] {_TITLES[name]}"
    if record.get("fingerprint") == fp and all(p.exists() for p in outputs):
        run.records.append(StageRecord(name=name, fingerprint=fp, status="skipped",
                                       seconds=float(record.get("seconds", 0.0)),
                                       finished_utc=str(record.get("finished_utc", ""))))
        # downstream stages depend on this output's identity: its fingerprint and when it was
        # written, so a stage that ran again makes everything after it run again
        run.fps[name] = _digest([fp, record.get("finished_utc")])
        run.console.print(f"{label}: [dim]done earlier, skipped[/dim]")
        return
    run.console.print(f"{label} ...")
    stages[name] = {"fingerprint": None, "started_fingerprint": fp, "started_utc": _utc(),
                    # a train stage interrupted under this fingerprint may resume its checkpoint
                    "resumable": record.get("started_fingerprint") == fp}
    run.save_state()
    started = time.perf_counter()
    fn(run)
    seconds = round(time.perf_counter() - started, 3)
    stages[name].update({"fingerprint": fp, "seconds": seconds, "finished_utc": _utc_precise()})
    run.save_state()
    run.fps[name] = _digest([fp, stages[name]["finished_utc"]])
    run.records.append(StageRecord(name=name, fingerprint=fp, status="ran", seconds=seconds,
                                   finished_utc=stages[name]["finished_utc"]))
    run.console.print(f"{label}: done in {_duration(seconds)}")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(round(seconds)), 60)
    return f"{minutes} min {sec:02d} s"


def _offline_if_local(config: ExperimentConfig) -> None:
    # the bundled and tiny models, and local folders, need no hub: never let transformers
    # or datasets try to reach one (a hub id, e.g. the seed's Phi-3, must be downloadable)
    spec = config.train.model.strip().lower()
    if spec in ("smollm2", "tiny-llama", "tiny-phi3") or Path(config.train.model).expanduser().is_dir():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def _environment(config: ExperimentConfig) -> dict[str, Any]:
    import importlib.metadata
    import platform

    from emergence.train.outputs import environment

    device = config.train.device
    if device is None:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    env = environment(device)
    for name in ("lm_eval", "pydantic", "numpy", "matplotlib", "rich"):
        try:
            env["packages"][name] = importlib.metadata.version(name.replace("_", "-"))
        except importlib.metadata.PackageNotFoundError:
            env["packages"][name] = None
    env["cpu_count"] = os.cpu_count()
    env["cpu_model"] = _cpu_model() or platform.processor() or platform.machine()
    try:
        import psutil

        env["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:  # pragma: no cover - psutil comes with the train extra's stack
        env["memory_gb"] = None
    if str(device).startswith("cuda"):
        import torch

        props = torch.cuda.get_device_properties(torch.device(device).index or 0)
        env["gpu_memory_gb"] = round(props.total_memory / 2**30, 1)
        env["gpu_count"] = torch.cuda.device_count()
    env["started_utc"] = _utc()
    return env


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


# ---------------------------------------------------------------------------------------
# stages


def _stage_audit(run: _Run) -> None:
    from emergence.corpus.audit import audit_corpus

    cfg = run.config
    report = audit_corpus(cfg.corpus_path(), held_out=cfg.held_out, salt=cfg.salt,
                          policy=cfg.policy, progress=run.progress)
    run.path("audit").mkdir(exist_ok=True)
    run.path("audit", "audit.json").write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")


def _title_key(title: str) -> int:
    return int.from_bytes(hashlib.blake2b(title.encode("utf-8"), digest_size=8).digest(), "big", signed=True)


def _stage_split(run: _Run) -> None:
    """One pass: split sizes, the training budget, the held-out id digest, train title keys."""
    import numpy as np

    from emergence.corpus.split import split_of
    from emergence.corpus.stream import stream_records

    cfg = run.config
    digest = hashlib.blake2b(digest_size=16)
    counts = {"train": 0, "held_out": 0, "train_examples": 0}
    train_titles: list[int] = []
    held_titles: list[int] = []
    stream = stream_records(cfg.corpus_path(), policy=cfg.policy, progress=run.progress)
    with stream:
        for record in stream:
            side = split_of(record, held_out=cfg.held_out, salt=cfg.salt)
            counts[side] += 1
            key = _title_key(record.title)
            if side == "train":
                train_titles.append(key)
                if record.content or not cfg.train.drop_empty:
                    counts["train_examples"] += 1
            else:
                held_titles.append(key)
                digest.update((record.uid or record.title).encode("utf-8") + b"\x1f")
    train_keys = np.unique(np.asarray(train_titles, dtype=np.int64))
    held = np.asarray(held_titles, dtype=np.int64)
    twins = int(np.isin(held, train_keys).sum()) if held.size else 0
    budget = int(cfg.evalsets.train_records_limit or 0)
    summary = SplitSummary(
        held_out=cfg.held_out, salt=cfg.salt, records=stream.stats.yielded,
        train_records=counts["train"], held_out_records=counts["held_out"],
        train_examples=counts["train_examples"], train_budget=budget,
        train_passes=budget / counts["train_examples"] if counts["train_examples"] else 0.0,
        held_out_digest=digest.hexdigest(), held_out_titles_in_train=twins,
    )
    run.path("split").mkdir(exist_ok=True)
    # train title keys (8 bytes each) let later stages flag held-out items with a trained twin
    np.save(run.path("split", "train_title_keys.npy"), train_keys)
    run.path("split", "split.json").write_text(summary.model_dump_json(indent=2) + "\n", encoding="utf-8")


def _stage_evalsets(run: _Run) -> None:
    from emergence.evalsets import build_eval_sets, write_eval_sets

    cfg = run.config
    out = run.path("evalsets")
    if out.exists():
        shutil.rmtree(out)
    with run.console.status("building eval sets", spinner="dots") if run.progress else _null():
        sets = build_eval_sets(cfg.corpus_path(), cfg.evalsets)
    write_eval_sets(sets, out)
    sizes = {k: len(v) for k, v in sets.items()}
    run.console.print("    eval sets: " + ", ".join(f"{k} {n}" for k, n in sizes.items()))


def _null() -> Any:
    import contextlib

    return contextlib.nullcontext()


def _probe_config(run: _Run) -> ProbeConfig:
    cfg = run.config.probe
    update: dict[str, Any] = {"progress": run.progress if cfg.progress is None else cfg.progress}
    if cfg.device is None and run.config.train.device is not None:
        update["device"] = run.config.train.device
    return cfg.model_copy(update=update)


def _eval_sets(run: _Run) -> Any:
    from emergence.evalsets import read_eval_sets

    return read_eval_sets(run.path("evalsets"))


def _write_probe(results: ProbeResults, out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    results.write(out)


def _stage_probe_base(run: _Run) -> None:
    from emergence.probes import run_probes

    results = run_probes(run.config.train.model, _eval_sets(run), _probe_config(run), models=("base",))
    _write_probe(results, run.path("probe_base"))


def _adapter_dir(run: _Run) -> Path:
    return run.path("train", "adapter")


def _stage_probe_tuned(run: _Run) -> None:
    from emergence.probes import run_probes

    results = run_probes(run.config.train.model, _eval_sets(run), _probe_config(run),
                         adapter=_adapter_dir(run), models=("tuned",))
    _write_probe(results, run.path("probe_tuned"))


def _split_results(results: ProbeResults, which: str) -> ProbeResults:
    rows = [r for r in results.rows if r.model == which]
    timings = {k: v for k, v in results.timings.items() if k.startswith(which)}
    return results.model_copy(update={"rows": rows, "models": [which], "timings": timings,
                                      "adapter": results.adapter if which == "tuned" else None})


def _stage_probes(run: _Run) -> None:
    from emergence.probes import run_probes

    results = run_probes(run.config.train.model, _eval_sets(run), _probe_config(run),
                         adapter=_adapter_dir(run), models=("base", "tuned"))
    _write_probe(_split_results(results, "base"), run.path("probe_base"))
    _write_probe(_split_results(results, "tuned"), run.path("probe_tuned"))


def _stage_train(run: _Run) -> None:
    from emergence.train.recipe import train

    out = run.path("train")
    record = run.state["stages"]["train"]
    # an interrupted training run of this very config continues from its checkpoint
    resumable = bool(record.get("resumable")) and any(out.glob("checkpoints/checkpoint-*"))
    overrides: dict[str, Any] = {"output_dir": out, "resume": resumable, "overwrite": not resumable}
    config = run.config.train.model_copy(update=overrides)
    if resumable:
        run.console.print("    resuming training from its last checkpoint")
    result = train(TrainConfig.model_validate(config.model_dump()))
    run.console.print(
        f"    {result.steps} steps, average loss {_num(result.train_loss_avg, 4)}, held-out loss "
        f"{_num(result.heldout_loss_before, 4)} -> {_num(result.heldout_loss_after, 4)}")


def _num(x: float | None, digits: int = 2) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _stage_lmeval(run: _Run) -> None:
    out = run.path("lmeval")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir()
    cfg = run.config.lmeval
    done: dict[str, Any] = {"enabled": cfg.enabled, "models": []}
    if cfg.enabled and importlib.util.find_spec("lm_eval") is None:
        # lm-eval is an extra (emergence[eval]); the probes already measure everything
        done.update(enabled=False, note="lm-eval is not installed (pip install 'emergence[eval]')")
        run.console.print(f"    skipped: {done['note']}")
    elif cfg.enabled:
        from emergence.lmeval import evaluate

        device = run.config.probe.device or run.config.train.device
        for which in cfg.models:
            run.console.print(f"    lm-eval: {which} model, tasks {', '.join(cfg.tasks)}"
                              + (f", limit {cfg.limit}" if cfg.limit is not None else ""))
            evaluate(run.config.train.model, adapter=_adapter_dir(run) if which == "tuned" else None,
                     tasks=cfg.tasks, limit=cfg.limit, out_dir=out / which,
                     metadata={"eval_dir": str(run.path("evalsets").resolve())},
                     batch_size=cfg.batch_size, device=device,
                     apply_chat_template=cfg.apply_chat_template,
                     bootstrap_iters=cfg.bootstrap_iters)
            done["models"].append(which)
    _write_json_atomic(out / "done.json", done)


def _read_probes(run: _Run) -> ProbeResults:
    base = ProbeResults.read(run.path("probe_base"))
    tuned = ProbeResults.read(run.path("probe_tuned"))
    return base.model_copy(update={
        "adapter": tuned.adapter, "models": ["base", "tuned"], "rows": base.rows + tuned.rows,
        "excluded": {**base.excluded, **tuned.excluded},
        "timings": {**base.timings, **tuned.timings}})


def _age_pairs(results: ProbeResults, set_name: str, variant: str) -> list[tuple[Any, Any]]:
    """(base row, tuned row) per labelled item of a set, in item order."""
    tuned = {r.item_id: r for r in results.select(set=set_name, model="tuned", variant=variant)}
    return [(b, tuned[b.item_id]) for b in results.select(set=set_name, model="base", variant=variant)
            if b.item_id in tuned and b.label_age is not None]


def _stage_verdicts(run: _Run) -> None:
    import numpy as np

    from emergence.hypothesis import judge
    from emergence.metrics import AGE_KEYS, values_of
    from emergence.probes import score, verdicts

    cfg = run.config
    results = _read_probes(run)
    metrics = score(results)
    judged = verdicts(results, cfg.hypotheses)
    variant = results.config.verdict_variant
    out = run.path("verdicts")
    out.mkdir(exist_ok=True)

    controls = Controls()
    paired_age = [h for h in cfg.hypotheses if h.comparison == "paired_base_tuned"
                  and h.eval_sets and h.eval_sets[0] == "age_heldout" and h.metric in AGE_KEYS]
    emergence_h = next((h for h in paired_age if h.name == "age_emergence"), paired_age[0] if paired_age else None)
    pairs = _age_pairs(results, "age_heldout", variant)
    if emergence_h is not None and len(pairs) >= 2:
        controls.item_level = item_level_control(
            emergence_h, [b.answer for b, _ in pairs], [t.answer for _, t in pairs],
            [float(b.label_age) for b, _ in pairs], seed=cfg.control_seed, rounds=cfg.control_rounds)
    controls.positive = next((v for v in judged if v.hypothesis.eval_sets[:1] == ("age_seen",)
                              and v.hypothesis.comparison == "paired_base_tuned"), None)
    # held-out items whose title was trained on under another uid (another edition)
    keys_path = run.path("split", "train_title_keys.npy")
    if keys_path.is_file() and emergence_h is not None:
        train_keys = np.load(keys_path)
        twin_ids = {b.item_id for b, _ in pairs if np.isin(_title_key(b.title), train_keys)}
        controls.twin_titles = len(twin_ids)
        if twin_ids:
            keep = [(b, t) for b, t in pairs if b.item_id not in twin_ids]
            if keep:
                h = emergence_h.model_copy(update={
                    "name": f"{emergence_h.name}_unseen_titles",
                    "statement": emergence_h.statement + " (held-out items whose title never occurs in training)"})
                controls.unseen_titles = judge(h, values_of([b.metric_scores() for b, _ in keep], h.metric),
                                               values_of([t.metric_scores() for _, t in keep], h.metric))
    (out / "metrics.json").write_text(metrics.model_dump_json(indent=2) + "\n", encoding="utf-8")
    (out / "verdicts.json").write_text(
        json.dumps([v.model_dump(mode="json") for v in judged], indent=2) + "\n", encoding="utf-8")
    (out / "controls.json").write_text(controls.model_dump_json(indent=2) + "\n", encoding="utf-8")
    for v in judged:
        run.console.print(f"    {v.outcome.upper():<12} {v.hypothesis.name}")


def _stage_report(run: _Run, result: ExperimentResult) -> None:
    from emergence.report import write_report

    # every answer, base and tuned, beside the report (the report links it)
    with open(run.path("answers.jsonl"), "w", encoding="utf-8") as fh:
        for row in result.probes.rows:
            fh.write(row.model_dump_json() + "\n")
    write_report(result, run.dir)


_STAGES: dict[str, Callable[[_Run], None]] = {
    "audit": _stage_audit,
    "split": _stage_split,
    "evalsets": _stage_evalsets,
    "probe_base": _stage_probe_base,
    "train": _stage_train,
    "probe_tuned": _stage_probe_tuned,
    "probes": _stage_probes,
    "lmeval": _stage_lmeval,
    "verdicts": _stage_verdicts,
}


# ---------------------------------------------------------------------------------------
# collecting the result


def _collect(run: _Run, t0: float) -> ExperimentResult:
    from emergence.train.callbacks import read_metrics

    d = run.dir
    audit = AuditReport.model_validate_json(run.path("audit", "audit.json").read_text(encoding="utf-8"))
    split = SplitSummary.model_validate_json(run.path("split", "split.json").read_text(encoding="utf-8"))
    manifest = _read_json(run.path("evalsets", "manifest.json")) or {}
    train = TrainResult.model_validate_json(run.path("train", "summary.json").read_text(encoding="utf-8"))
    probes = _read_probes(run)
    metrics = ProbeMetrics.model_validate_json(run.path("verdicts", "metrics.json").read_text(encoding="utf-8"))
    verdicts = [Verdict.model_validate(v) for v in _read_json(run.path("verdicts", "verdicts.json")) or []]
    controls = Controls.model_validate_json(run.path("verdicts", "controls.json").read_text(encoding="utf-8"))
    lmeval = None
    done = _read_json(run.path("lmeval", "done.json")) or {}
    if done.get("enabled"):
        lmeval = {which: _read_json(run.path("lmeval", which, "results.json")) or {}
                  for which in done.get("models", [])}
    report_md, report_html = d / "report.md", d / "report.html"
    paths = RunPaths(
        run_dir=d, config=d / CONFIG_FILE, env=d / "env.json", evalsets=d / "evalsets",
        train_dir=d / "train", adapter=d / "train" / "adapter", answers=d / "answers.jsonl",
        metrics=d / "verdicts" / "metrics.json", verdicts=d / "verdicts" / "verdicts.json",
        report_md=report_md if report_md.is_file() else None,
        report_html=report_html if report_html.is_file() else None)
    stage_state = run.state.get("stages", {})
    timings = {name: float(rec.get("seconds", 0.0)) for name, rec in stage_state.items()
               if rec.get("fingerprint")}
    timings["total"] = round(sum(timings.values()), 3)
    timings["this_invocation"] = round(time.perf_counter() - t0, 3)
    return ExperimentResult(
        run_dir=d, config=run.config, env=_read_json(run.path("env.json")) or {}, audit=audit, split=split,
        eval_set_sizes=dict(manifest.get("counts") or {}), eval_set_selection=dict(manifest.get("selection") or {}),
        train=train, loss_curve=read_metrics(run.path("train", "metrics.jsonl")), probes=probes,
        metrics=metrics, verdicts=verdicts, controls=controls, lmeval=lmeval, paths=paths,
        stages=list(run.records), timings=timings)
