"""Check a TrainConfig against this machine before any heavy work, and resolve it to a Plan.

    >>> from emergence.train.preflight import is_path_like
    >>> [is_path_like(s) for s in ("./models/x", "/abs/x", "~/x", "org/name", "smollm2")]
    [True, True, True, False, False]

Every failure is a :class:`TrainSetupError` whose message names the fix: unsloth without
a GPU, 4-bit or 8-bit optimisers without CUDA/bitsandbytes, a model path that does not
exist, a tokenizer without a chat template, an empty train split, an unknown LoRA target,
an output directory that already holds a run, that is a file, that cannot be written, or
that holds anything but an emergence training run (a model folder's ``config.json`` is
never taken for a run, nor replaced). The checks read configs, the tokenizer and the
first records of the corpus; no weights are loaded. :func:`check_setup` is the same
checks without the output directory's, for ``emergence run``'s preflight.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from emergence.corpus.remote import CorpusURL
from emergence.train.config import TrainConfig

__all__ = ["Plan", "TrainSetupError", "check_setup", "check_writable", "is_path_like", "is_train_run", "preflight",
           "resolve_chat_template"]

log = logging.getLogger("emergence.train")

# Fields that may change when a run resumes: they do not change what was trained so far.
RESUMABLE_CHANGES = frozenset(
    {"max_steps", "logging_steps", "save_steps", "save_total_limit", "eval_steps", "eval_records",
     "eval_batch_size", "resume", "overwrite", "output_dir", "device", "backend", "report_to"}
)
RUN_OUTPUTS = ("checkpoints", "adapter", "metrics.jsonl", "summary.json", "loss.png", "config.json", "env.json",
               "exposure.json", "logs")


class TrainSetupError(ValueError):
    """The config cannot run here; the message says how to fix it."""


class Plan(BaseModel):
    """A TrainConfig resolved against this machine: what will actually run."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    backend: str = Field(description="'unsloth' or 'hf'.")
    device: str = Field(description="The torch device training runs on ('cpu', 'cuda:0').")
    dtype: str = Field(description="Compute dtype name ('float32', 'bfloat16', 'float16').")
    model_path: str = Field(description="The resolved model: a local folder or a cached hub id.")
    corpus: Path | CorpusURL = Field(description="The training corpus: a file, or a URL with its storage options.")
    chat_template: str | None = Field(description="The chat template override, if any (its text).")
    targets: list[str] = Field(description="LoRA target leaf names, mapped onto this architecture.")
    rank: int = Field(0, description="This process's rank (DDP).")
    local_rank: int = Field(0, description="This process's GPU index on its host (DDP).")
    world: int = Field(1, description="Number of processes (DDP).")
    run_dir: Path = Field(description="The output directory.")
    resume_from: Path | None = Field(None, description="The checkpoint to resume from, if any.")
    tokenizer: Any = Field(None, exclude=True, description="The tokenizer read during the checks.")

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def is_path_like(spec: str) -> bool:
    """True for specs that can only mean a local path (a hub id is ``name`` or ``org/name``)."""
    return (
        spec.startswith(("/", "./", "../", "~", ".\\"))
        or spec in (".", "..")
        or "\\" in spec
        or spec.count("/") > 1
    )


def _distributed() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    return rank, local_rank, world


def _resolve_device(config: TrainConfig, local_rank: int, world: int) -> str:
    import torch

    cuda = torch.cuda.is_available()
    if config.device is None:
        return f"cuda:{local_rank}" if cuda else "cpu"
    if config.device.startswith("cuda"):
        if not cuda:
            raise TrainSetupError(
                f"device={config.device!r} but no CUDA GPU is visible here: use --set device=cpu "
                "(with --profile cpu) or run on a GPU machine"
            )
        return f"cuda:{local_rank}" if world > 1 else config.device
    return config.device


def _resolve_backend(config: TrainConfig, device: str) -> str:
    on_gpu = device.startswith("cuda")
    has_unsloth = importlib.util.find_spec("unsloth") is not None
    if config.backend == "unsloth":
        if not on_gpu:
            raise TrainSetupError(
                "backend='unsloth' needs a CUDA GPU and this run is on "
                f"{device!r}: use --backend hf (or --backend auto), e.g. with --profile cpu"
            )
        if not has_unsloth:
            raise TrainSetupError(
                "backend='unsloth' but unsloth is not installed: pip install 'emergence[gpu]', "
                "or use --backend hf"
            )
        from emergence.train.backends import unsloth as unsloth_backend

        # imported here, before anything below touches transformers, so its patches apply
        error = unsloth_backend.try_import()
        if error is not None:
            raise TrainSetupError(f"backend='unsloth' but unsloth does not import here ({error}): use --backend hf")
        return "unsloth"
    if config.backend == "hf":
        return "hf"
    # auto: unsloth where it can run and imports cleanly, else the plain HF stack
    if on_gpu and has_unsloth:
        from emergence.train.backends import unsloth as unsloth_backend

        error = unsloth_backend.try_import()
        if error is None:
            return "unsloth"
        log.warning("unsloth is installed but does not import (%s); using the hf backend", error)
    return "hf"


def _resolve_dtype(config: TrainConfig, device: str) -> str:
    if config.dtype != "auto":
        return config.dtype
    if device.startswith("cuda"):
        import torch

        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    return "float32"


def _check_bitsandbytes(config: TrainConfig, device: str) -> None:
    wants_4bit = config.load_in_4bit
    wants_8bit_optim = "8bit" in config.optim or config.optim.startswith(("paged_", "bnb"))
    if not (wants_4bit or wants_8bit_optim):
        return
    what = "load_in_4bit=true" if wants_4bit else f"optim={config.optim!r}"
    fix = "--set load_in_4bit=false" if wants_4bit else "--set optim=adamw_torch"
    if not device.startswith("cuda"):
        raise TrainSetupError(
            f"{what} needs a CUDA GPU with bitsandbytes, and this run is on {device!r}: "
            f"use {fix} (--profile cpu sets fp32 LoRA with adamw_torch)"
        )
    if importlib.util.find_spec("bitsandbytes") is None:
        raise TrainSetupError(f"{what} needs bitsandbytes: pip install bitsandbytes, or use {fix}")


def _resolve_model(spec: str) -> str:
    from emergence.models import resolve_model

    expanded = str(Path(spec).expanduser()) if spec.startswith("~") else spec
    if is_path_like(spec) and not Path(expanded).is_dir():
        raise TrainSetupError(
            f"model path {spec!r} does not exist: point --model at a model folder, or give a hub id "
            "(org/name), 'smollm2' or 'tiny-llama'/'tiny-phi3'"
        )
    try:
        resolved = resolve_model(expanded)
    except FileNotFoundError as exc:  # e.g. the bundled SmolLM2 package is missing
        raise TrainSetupError(str(exc)) from exc
    if Path(resolved).is_dir():
        if not (Path(resolved) / "config.json").is_file():
            raise TrainSetupError(f"model folder {resolved} has no config.json: is it a Hugging Face model folder?")
        return resolved
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(resolved)
    except HFValidationError as exc:
        raise TrainSetupError(
            f"model {spec!r} is neither an existing folder nor a valid hub id ({exc}): fix --model"
        ) from exc
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    if offline:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(resolved, "config.json")
        if not isinstance(cached, str):
            raise TrainSetupError(
                f"model {resolved!r} is not a local folder and is not in the Hugging Face cache, and "
                "HF_HUB_OFFLINE is set: download it first (huggingface-cli download "
                f"{resolved}) or point --model at a local folder"
            )
    return resolved


def resolve_chat_template(value: str | None) -> str | None:
    """The template text of ``chat_template``: a path to a .jinja file is read."""
    if value is None:
        return None
    if "{" not in value and Path(value).expanduser().is_file():
        return Path(value).expanduser().read_text(encoding="utf-8")
    if "{" not in value:
        raise TrainSetupError(f"chat_template {value!r} is neither a Jinja template nor an existing file")
    return value


def _check_tokenizer(config: TrainConfig, model_path: str, template: str | None) -> Any:
    from transformers import AutoTokenizer

    from emergence.train.data import chat_messages, render_chat

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if template is not None:
        tokenizer.chat_template = template
    if not tokenizer.chat_template:
        raise TrainSetupError(
            f"the tokenizer of {config.model!r} has no chat template, so title/content cannot be "
            "rendered as a conversation: use a chat/instruct model, or set chat_template to a Jinja "
            "template (or a .jinja file)"
        )
    probe = chat_messages({"title": "TITLE", "content": "CONTENT"}, config.prompt_template)
    try:
        prompt, full = render_chat(tokenizer, probe)
    except Exception as exc:  # jinja errors come in many types
        raise TrainSetupError(
            f"the chat template of {config.model!r} cannot render a user/assistant exchange ({exc}): "
            "set chat_template to one that can"
        ) from exc
    if "CONTENT" not in full or "TITLE" not in prompt:
        raise TrainSetupError(
            f"the chat template of {config.model!r} drops the title or the content: set chat_template"
        )
    return tokenizer


def _check_corpus(config: TrainConfig) -> Path | CorpusURL:
    from emergence.corpus.remote import corpus_source
    from emergence.train.data import first_train_record

    if config.corpus is None:
        from emergence.corpus.sample import sample_path

        corpus = sample_path()
    else:
        corpus = corpus_source(config.corpus, config.storage)
    if not corpus.is_file():
        what = "is a folder, not a file" if corpus.is_dir() else "does not exist"
        raise TrainSetupError(f"corpus {corpus} {what}: fix --corpus (or leave it out for the embedded sample)")
    from emergence.corpus.records import LoadError

    try:
        record = first_train_record(corpus, drop_empty=config.drop_empty, held_out=config.held_out,
                                    salt=config.salt, policy=config.policy)
    except (LoadError, OSError) as exc:
        raise TrainSetupError(f"corpus {corpus} cannot be read: {exc}; check the file (emergence data audit "
                              f"{corpus} reports every bad record)") from exc
    if record is None:
        raise TrainSetupError(
            f"the train split of {corpus} is empty (held_out={config.held_out}, drop_empty="
            f"{config.drop_empty}): no record would reach training; check the file, lower held_out "
            "or set drop_empty=false"
        )
    return corpus


def _check_trackers(config: TrainConfig) -> None:
    if not config.report_to:
        return
    from transformers.integrations.integration_utils import (INTEGRATION_TO_CALLBACK,
                                                             get_available_reporting_integrations)

    known = sorted(INTEGRATION_TO_CALLBACK)
    installed = set(get_available_reporting_integrations())
    for name in config.report_to:
        if name not in INTEGRATION_TO_CALLBACK:
            raise TrainSetupError(f"report_to {name!r} is not a tracker transformers knows: use one of {', '.join(known)}")
        if name not in installed:
            raise TrainSetupError(f"report_to {name!r} needs its package installed here (pip install {name}), or "
                                  "leave it out of report_to")


def _check_targets(config: TrainConfig, model_path: str) -> list[str]:
    from emergence.train.targets import TargetError, map_target_modules, meta_linear_shapes

    shapes = meta_linear_shapes(model_path)
    try:
        return map_target_modules(config.target_modules, [s.name for s in shapes])
    except TargetError as exc:
        raise TrainSetupError(str(exc)) from exc


def _latest_complete_checkpoint(checkpoints: Path, world: int) -> Path | None:
    from emergence.train.callbacks import data_state_name

    if not checkpoints.is_dir():
        return None
    candidates = []
    for folder in checkpoints.glob("checkpoint-*"):
        try:
            step = int(folder.name.split("-", 1)[1])
        except ValueError:
            continue
        complete = (folder / "trainer_state.json").is_file() and all(
            (folder / data_state_name(r, world)).is_file() for r in range(world)
        )
        if complete:
            candidates.append((step, folder))
    return max(candidates)[1] if candidates else None


def check_writable(path: Path, what: str, flag: str) -> None:
    """``path`` is a folder that exists or can be made, and can be written: else TrainSetupError."""
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise TrainSetupError(f"{what} {path} is a file, not a folder: choose another {flag}")
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise TrainSetupError(f"{what} {path} cannot be made: {existing} is a file; choose another {flag}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise TrainSetupError(f"{what} {path} cannot be written ({existing} is not writable): choose another {flag}")


def is_train_run(run_dir: Path) -> bool:
    """The folder holds a run of ``emergence train``: its ``config.json`` is a TrainConfig."""
    saved = Path(run_dir) / "config.json"
    if not saved.is_file():
        return False
    try:
        TrainConfig.model_validate(json.loads(saved.read_text(encoding="utf-8")))
    except (OSError, ValueError):  # pydantic's ValidationError is a ValueError
        return False
    return True


def _check_run_dir(config: TrainConfig, world: int) -> Path | None:
    run_dir = Path(config.output_dir)
    check_writable(run_dir, "output_dir", "--out")
    entries = sorted(p.name for p in run_dir.iterdir()) if run_dir.is_dir() else []
    if entries and not is_train_run(run_dir):
        shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
        raise TrainSetupError(
            f"output_dir {run_dir} is not empty ({shown}) and holds no emergence training run (no config.json "
            "of emergence train): nothing in it is touched, --resume and overwrite included; choose another --out")
    existing = [name for name in RUN_OUTPUTS if (run_dir / name).exists()]
    if not config.resume:
        if existing and not config.overwrite:
            raise TrainSetupError(
                f"output_dir {run_dir} already holds a run ({', '.join(existing)}): pass --resume to "
                "continue it, --set overwrite=true to start over, or choose another --output-dir"
            )
        return None
    checkpoint = _latest_complete_checkpoint(run_dir / "checkpoints", world)
    if checkpoint is None:
        log.warning("resume: no complete checkpoint in %s, starting from step 0", run_dir / "checkpoints")
        return None
    saved = run_dir / "config.json"
    if saved.is_file():
        before = json.loads(saved.read_text(encoding="utf-8"))
        now = config.model_dump(mode="json")
        changed = sorted(k for k in now if k not in RESUMABLE_CHANGES and before.get(k) != now[k])
        if changed:
            detail = ", ".join(f"{k}: {before.get(k)!r} -> {now[k]!r}" for k in changed)
            raise TrainSetupError(
                f"cannot resume {run_dir}: the config changed in ways that alter training ({detail}); "
                "restore them, or start a new run in another --output-dir"
            )
    return checkpoint


def preflight(config: TrainConfig) -> Plan:
    """All the checks, cheapest first; returns the resolved Plan or raises TrainSetupError."""
    rank, local_rank, world = _distributed()
    resume_from = _check_run_dir(config, world)
    return check_setup(config, resume_from=resume_from)


def check_setup(config: TrainConfig, *, resume_from: Path | None = None) -> Plan:
    """Every check but the output directory's: device, backend, bitsandbytes, model, chat
    template, corpus, LoRA targets and trackers. Raises TrainSetupError naming the fix."""
    rank, local_rank, world = _distributed()
    device = _resolve_device(config, local_rank, world)
    backend = _resolve_backend(config, device)
    _check_bitsandbytes(config, device)
    dtype = _resolve_dtype(config, device)
    _check_trackers(config)
    model_path = _resolve_model(config.model)
    template = resolve_chat_template(config.chat_template)
    tokenizer = _check_tokenizer(config, model_path, template)
    corpus = _check_corpus(config)
    targets = _check_targets(config, model_path)
    return Plan(
        backend=backend, device=device, dtype=dtype, model_path=model_path, corpus=corpus,
        chat_template=template, targets=targets, rank=rank, local_rank=local_rank, world=world,
        run_dir=Path(config.output_dir), resume_from=resume_from, tokenizer=tokenizer,
    )
