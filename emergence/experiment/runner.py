"""Run (or resume) the experiment's stages in one run directory.

    >>> from emergence.experiment.runner import run_experiment   # doctest: +SKIP
    >>> result = run_experiment(load_profile("cpu-demo"))       # doctest: +SKIP

Every stage of :data:`emergence.experiment.stages.STAGES` has a fingerprint: a hash of
the config parts it depends on and of its inputs' identities. A stage whose recorded
fingerprint matches and whose outputs exist is skipped, so running the same command again
resumes an interrupted run (training itself resumes from its last checkpoint). The run
directory's ``config.toml`` is the config as run; another config pointed at the same
directory is refused with the list of changed fields.

Before the first stage, :func:`check_run_setup` checks everything the run will need (the
run directory writable, the model resolvable, the training backend, device and
bitsandbytes usable, the chat template, the LoRA targets, the corpus readable), so a
setting that cannot work fails in seconds with the fix named, not after minutes of probing.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from emergence.experiment.config import ExperimentConfig, config_diff, digest
from emergence.experiment.rundir import (CONFIG_FILE, ENV_FILE, RunLock, RunState, check_not_foreign, start_over,
                                         write_json_atomic)
from emergence.experiment.collect import collect
from emergence.experiment.stages import STAGE_VERSION, STAGES, remove, stage_order
from emergence.results import StageRecord

if TYPE_CHECKING:  # rich is imported when a run starts
    from rich.console import Console

__all__ = ["ConfigChangedError", "Run", "RunSetupError", "check_run_setup", "run_experiment"]


class ConfigChangedError(ValueError):
    """A run directory holds a run of another config; the message lists the changed fields."""


class RunSetupError(ValueError):
    """Something the run needs is missing or unusable here; the message names the fix."""


class Run:
    """State of one invocation: config, directory, stage records, console."""

    def __init__(self, config: ExperimentConfig, run_dir: Path, console: "Console", progress: bool,
                 external: dict[str, Path] | None = None) -> None:
        self.config = config
        # inputs made outside this run, by the stage name that would have made them
        # ("train": an adapter folder, "evalsets": a folder of eval sets)
        self.external = dict(external or {})
        self.dir = run_dir
        self.console = console
        self.progress = progress
        self.fps: dict[str, str] = {}
        self.records: list[StageRecord] = []
        self.state = RunState.load(run_dir)
        self.started = time.perf_counter()
        from emergence.probe.parallel import distributed

        # under accelerate launch / torchrun: every rank runs the runner; rank 0 alone writes
        # files, the others wait for it (barrier) and read its state
        self.rank, self.world, self._dist = distributed()

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self._dist is not None:
            self._dist.wait_for_everyone()

    def path(self, *parts: str) -> Path:
        return self.dir.joinpath(*parts)

    @property
    def adapter(self) -> Path:
        """The tuned model's adapter: this run's, or the one given from outside."""
        return Path(self.external.get("train") or self.path("train", "adapter"))

    def fresh_dir(self, name: str) -> Path:
        """An empty folder for a stage's outputs (its earlier contents removed), recorded as written."""
        path = self.path(name)
        remove(path)
        path.mkdir(parents=True)
        self.state.record_written(name)
        return path

    def say(self, text: str) -> None:
        if self.is_main:
            self.console.print(text, markup=False, highlight=False)

    @contextlib.contextmanager
    def status(self, text: str) -> Iterator[None]:
        if self.progress:
            with self.console.status(text, spinner="dots"):
                yield
        else:
            yield


def run_experiment(config: ExperimentConfig, *, out_dir: str | Path | None = None, resume: bool = True,
                   console: "Console | None" = None, progress: bool | None = None,
                   stages: list[str] | None = None, external: dict[str, Path] | None = None) -> Any:
    """Run (or resume) the experiment; returns what it produced.

    ``out_dir`` overrides ``config.out_dir``; with neither, the run directory is named from
    the profile and the config's hash, so the same config resumes its own directory and a
    changed one starts a fresh one. ``resume=False`` deletes what an earlier run of this
    directory wrote (only that) and starts over. ``progress`` shows progress bars (None: on
    a terminal). Raises :class:`ConfigChangedError` when ``out_dir`` holds another config's
    run, and ``ForeignDirectoryError`` when it is not a run directory at all.

    ``stages`` runs only those stages (in the config's order; ``emergence probe`` runs the
    eval-set, probe and verdict stages) and returns the :class:`Run` instead of a result;
    ``external`` gives inputs made outside the run by the stage that would have made them
    (``{"train": adapter_dir, "evalsets": eval_sets_dir}``).
    """
    from rich.console import Console

    if out_dir is not None:
        config = config.model_copy(update={"out_dir": Path(out_dir)})
    config = ExperimentConfig.model_validate(config.model_dump())
    console = console or Console(stderr=True, soft_wrap=True)
    if progress is None:
        progress = sys.stderr.isatty()
    run_dir = config.run_dir()
    order = stage_order(config)
    if stages is not None:
        unknown = set(stages) - set(order)
        if unknown:
            raise ValueError(f"unknown stages {sorted(unknown)}: this config runs {order}")
        order = [s for s in order if s in stages]
    from emergence.probe.parallel import distributed

    rank, _, dist = distributed()
    if rank != 0:  # rank 0 checks, locks and prepares the directory; the others follow it
        dist.wait_for_everyone()
        run = _run_locked(config, run_dir, console, progress, order, external)
        return run if stages is not None else None
    check_not_foreign(run_dir)
    check_run_setup(config, order, external)
    run_dir.mkdir(parents=True, exist_ok=True)
    with RunLock(run_dir):
        if not resume:
            start_over(run_dir)
        else:
            _refuse_other_config(config, run_dir)
        if dist is not None:
            dist.wait_for_everyone()
        run = _run_locked(config, run_dir, console, progress, order, external)
        return run if stages is not None else collect(run)


def check_run_setup(config: ExperimentConfig, order: list[str], external: dict[str, Path] | None = None) -> None:
    """Check what the stages in ``order`` will need, before any of them runs.

    Raises :class:`RunSetupError` naming the fix. With the train stage: every check of
    ``emergence train``'s preflight but its output directory's (the run directory's
    ``train/`` is the runner's); without it (``emergence probe``): the model, the corpus
    and the inputs given from outside.
    """
    from emergence.train.preflight import TrainSetupError, _check_corpus, _resolve_model, check_setup, check_writable

    external = dict(external or {})
    try:
        check_writable(config.run_dir(), "the run directory", "--out")
        if "train" in order:
            check_setup(config.train)
        else:
            _resolve_model(config.train.model)
            if "evalsets" not in external and any(s in order for s in ("audit", "evalsets")):
                _check_corpus(config.train)
    except TrainSetupError as exc:
        raise RunSetupError(str(exc)) from exc
    adapter = external.get("train")
    if adapter is not None and not (Path(adapter) / "adapter_config.json").is_file():
        raise RunSetupError(f"adapter {adapter} is not a PEFT adapter folder (no adapter_config.json): "
                            "point --adapter at a training run's adapter/ folder")
    sets = external.get("evalsets")
    if sets is not None and not (Path(sets) / "manifest.json").is_file():
        raise RunSetupError(f"eval sets folder {sets} has no manifest.json: give a folder written by emergence "
                            "(a run's evalsets/)")
    device = config.probe.device or config.train.device
    if device and str(device).startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise RunSetupError(f"probe device {device!r} but no CUDA GPU is visible here: "
                                "--set probe.device=cpu (or run on a GPU machine)")


def _refuse_other_config(config: ExperimentConfig, run_dir: Path) -> None:
    from emergence.configio import ConfigError, load_config

    saved = run_dir / CONFIG_FILE
    if not saved.is_file():
        return
    try:
        before = load_config(ExperimentConfig, saved)
    except ConfigError as exc:
        raise ConfigChangedError(f"{saved} cannot be read ({exc}); use --no-resume to start over") from exc
    changes = config_diff(before.semantic_dump(), config.semantic_dump())
    if changes:
        shown = "\n  ".join(changes[:30]) + ("\n  ..." if len(changes) > 30 else "")
        raise ConfigChangedError(
            f"{run_dir} holds a run of another config; changed fields:\n  {shown}\n"
            "Use another --out, leave --out out (a fresh directory is named from the config), or pass "
            "--no-resume to start this directory over.")


def _identity(path: Path) -> list[Any]:
    """Paths, sizes and modification times of a file or a folder's files."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return [[str(p), p.stat().st_size, p.stat().st_mtime_ns] for p in files]


def _run_locked(config: ExperimentConfig, run_dir: Path, console: "Console", progress: bool, order: list[str],
                external: dict[str, Path] | None) -> Run:
    from rich.markup import escape

    from emergence.configio import dump_config
    from emergence.experiment.environment import environment

    _offline_if_local(config)
    run = Run(config, run_dir, console, progress, external)
    for name, path in run.external.items():
        run.fps[name] = digest(_identity(Path(path)))
    if run.is_main:
        run.state.save()  # marks the directory as a run before anything else is written into it
        if not run.path(CONFIG_FILE).is_file():
            dump_config(config, run.path(CONFIG_FILE))
            run.state.record_written(CONFIG_FILE)
        if not run.path(ENV_FILE).is_file():
            write_json_atomic(run.path(ENV_FILE), environment(config.train.device))
            run.state.record_written(ENV_FILE)
        run.state.save()
        console.print(f"[bold]emergence run[/bold] {escape(config.profile or 'custom config')} -> "
                      f"{escape(str(run_dir))}" + (f" ({run.world} processes)" if run.world > 1 else ""))
    run.barrier()
    if not run.is_main:
        run.state = RunState.load(run_dir)
    for index, name in enumerate(order, 1):
        _do_stage(run, name, f"[{index}/{len(order)}] {STAGES[name].title}")
    return run


def _fingerprint(run: Run, name: str) -> str:
    stage = STAGES[name]
    return digest({"stage": name, "version": STAGE_VERSION, "config": stage.config(run.config),
                   "reads": {r: run.fps.get(r) for r in stage.reads}})


def _utc() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _utc_precise() -> str:
    # two runs of a stage within one second must still differ
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{time.time_ns() % 1_000_000_000:09d}Z"


def _do_stage(run: Run, name: str, label: str) -> None:
    stage = STAGES[name]
    fp = _fingerprint(run, name)
    record = run.state.stages.get(name) or {}
    if record.get("fingerprint") == fp and all(run.path(p).exists() for p in stage.outputs):
        run.records.append(StageRecord(name=name, fingerprint=fp, status="skipped",
                                       seconds=float(record.get("seconds", 0.0)),
                                       finished_utc=str(record.get("finished_utc", ""))))
        # downstream stages depend on this output's identity: its fingerprint and when it was
        # written, so a stage that ran again makes everything after it run again
        run.fps[name] = digest([fp, record.get("finished_utc")])
        if run.is_main:
            run.console.print(f"{label}: [dim]done earlier, skipped[/dim]")
        return
    if run.is_main:
        run.console.print(f"{label} ...")
        run.state.stages[name] = {"fingerprint": None, "started_fingerprint": fp, "started_utc": _utc(),
                                  # a train stage interrupted under this fingerprint may resume its checkpoint
                                  "resumable": record.get("started_fingerprint") == fp}
        run.state.save()
    run.barrier()
    if not run.is_main:
        run.state = RunState.load(run.dir)  # rank 0's record of the stage (the train stage reads "resumable")
    started = time.perf_counter()
    _reset_peak_memory()
    if stage.all_ranks or run.is_main:
        stage.run(run)
    seconds = round(time.perf_counter() - started, 3)
    if run.is_main:
        run.state.stages[name].update({"fingerprint": fp, "seconds": seconds, "finished_utc": _utc_precise(),
                                       **_peak_memory()})
        run.state.save()
    run.barrier()
    if not run.is_main:
        run.state = RunState.load(run.dir)
    run.fps[name] = digest([fp, run.state.stages[name]["finished_utc"]])
    run.records.append(StageRecord(name=name, fingerprint=fp, status="ran", seconds=seconds,
                                   finished_utc=run.state.stages[name]["finished_utc"]))
    if run.is_main:
        run.console.print(f"{label}: done in {_duration(seconds)}")


def _reset_peak_memory() -> None:
    import sys

    if "torch" in sys.modules and sys.modules["torch"].cuda.is_available():
        sys.modules["torch"].cuda.reset_peak_memory_stats()


def _peak_memory() -> dict[str, float]:
    """This process's peak GPU memory during the stage (GiB), where a GPU was used."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return {}
    return {"peak_gpu_allocated_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
            "peak_gpu_reserved_gib": round(torch.cuda.max_memory_reserved() / 2**30, 2)}


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(round(seconds)), 60)
    return f"{minutes} min {sec:02d} s"


def _offline_if_local(config: ExperimentConfig) -> None:
    # the bundled and tiny models, and local folders, need no hub: never let transformers
    # or datasets try to reach one (a hub id, e.g. the seed's Phi-3, must be downloadable)
    spec = config.train.model.strip().lower()
    if "hf://" in str(config.train.corpus or ""):  # a corpus on the Hub needs it
        return
    if spec in ("smollm2", "tiny-llama", "tiny-phi3") or Path(config.train.model).expanduser().is_dir():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
