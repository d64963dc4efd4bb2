"""lm-eval integration: the tasks' folder and data, ``evaluate()``, tasks install/uninstall.

    >>> from emergence.lmeval import tasks_path, TASK_NAMES
    >>> (tasks_path() / "age_rating.yaml").is_file()
    True
    >>> TASK_NAMES
    ('age_rating', 'age_rating_mc', 'author_intent_seen', 'author_intent_heldout', 'author_intent_mia')

Three ways to run the tasks (all offline; ``RUN`` is a run directory of ``emergence run``):

    $ lm_eval --model hf --model_args pretrained=$(emergence models path smollm2),peft=RUN/train/adapter \\
        --tasks emergence --include_path "$(python -m emergence.tasks)" --apply_chat_template
    $ emergence eval --model smollm2 --adapter RUN/train/adapter --tasks emergence --limit 20
    $ emergence tasks install && lm_eval --model hf --model_args pretrained=BASE,peft=ADAPTER \\
        --tasks emergence --apply_chat_template

Every checkpoint of a run, one table step × metric: ``emergence eval --checkpoints RUN``
(:mod:`emergence.lmeval_checkpoints`; its documents carry the run's band scoring,
:func:`band_scoring`).

Which documents the tasks read (:func:`task_dataset`, :func:`documents`), first match wins:
``--metadata '{"eval_dir": DIR}'`` (sets written by ``write_eval_sets``); the eval sets of
the run the adapter belongs to (``RUN/evalsets`` beside ``RUN/train/adapter``: lm-eval
hands the tasks its ``--model_args``, ``peft=`` included); ``--metadata '{"corpus": FILE}'``
(built from that corpus); else the embedded sample's sets, for the age tasks only: the
author-intent tasks compare titles the adapter was trained on with titles it was not, so
without the run's own sets they refuse, naming the flag.
lm_eval, datasets and torch are imported inside the functions that need them.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "GROUP_NAMES",
    "RUN_ONLY_TASKS",
    "TASK_NAMES",
    "TaskDataError",
    "band_scoring",
    "documents",
    "evaluate",
    "find_run_eval_dir",
    "format_results",
    "install_tasks",
    "installed_tasks_dir",
    "lm_eval_tasks_dir",
    "memorisation_gaps",
    "task_dataset",
    "tasks_path",
    "uninstall_tasks",
]

TASK_NAMES: tuple[str, ...] = ("age_rating", "age_rating_mc", "author_intent_seen",
                               "author_intent_heldout", "author_intent_mia")
GROUP_NAMES: tuple[str, ...] = ("author_intent", "emergence")
# tasks whose documents exist only in a training run's directory (not in any group)
RUN_ONLY_TASKS: tuple[str, ...] = ("author_intent_mia",)
INTENT_TASKS = ("author_intent_seen", "author_intent_heldout")
# the eval sets the author-intent tasks read: meaningful only as the training run's own
INTENT_SETS = ("intent_seen", "intent_heldout")
EVAL_DIR_FLAG = """--metadata '{"eval_dir": "RUN/evalsets"}'"""
# the documents of author_intent_mia: the run's members and non-members (emergence.lmeval_membership)
MEMBERSHIP = "membership"

log = logging.getLogger("emergence.tasks")


class TaskDataError(ValueError):
    """The tasks cannot tell which documents to read; the message names the flag."""

# What `emergence tasks install` writes into lm_eval/tasks/: one folder, named for us, with
# links to our task files and a marker listing exactly what was added.
INSTALL_DIRNAME = "emergence"
MARKER = ".emergence-tasks.json"
_INSTALLED_GLOBS = ("*.yaml", "utils.py", "README.md")


def tasks_path() -> Path:
    """The folder holding the task YAMLs (the installed ``emergence.tasks`` package)."""
    from emergence.tasks import TASKS_DIR

    return TASKS_DIR


# --------------------------------------------------------------------------- task data


@functools.lru_cache(maxsize=8)
def _built_sets(corpus: str, config_json: str) -> dict[str, list[Any]]:
    # lm-eval loads each task's data separately; building once per process serves all.
    from emergence.evalsets import EvalSetConfig, build_eval_sets

    return dict(build_eval_sets(corpus, EvalSetConfig.model_validate_json(config_json)))


def find_run_eval_dir(adapter: str | Path) -> Path | None:
    """The ``evalsets/`` of the run an adapter belongs to (``RUN/train/adapter`` -> ``RUN/evalsets``), or None."""
    folder = Path(str(adapter)).expanduser()
    for parent in (folder, *list(folder.parents)[:2]):
        if (parent / "evalsets" / "manifest.json").is_file():
            return (parent / "evalsets").resolve()
    return None


def documents(metadata: Mapping[str, Any], sets: Sequence[str] = ("age_heldout", *INTENT_SETS)
              ) -> tuple[dict[str, Any], str]:
    """Where the tasks' documents come from: (metadata to read them with, a sentence saying which).

    Raises :class:`TaskDataError` when an author-intent set is asked for and neither an
    eval dir (given, or found beside the ``peft`` adapter) nor a corpus is given.
    """
    meta = dict(metadata)
    if meta.get("eval_dir"):
        return meta, f"the eval sets in {meta['eval_dir']} (--metadata eval_dir)"
    adapter = meta.get("peft")
    found = find_run_eval_dir(adapter) if adapter else None
    if found is not None:
        meta["eval_dir"] = str(found)
        return meta, f"the run's own eval sets, {found} (found beside the adapter {adapter})"
    if meta.get("corpus"):
        return meta, f"eval sets built from {meta['corpus']} (--metadata corpus; seen = its train split)"
    wanted = [s for s in sets if s in INTENT_SETS or s == MEMBERSHIP]
    if wanted:
        where = f"the adapter {adapter} has no run's evalsets/ beside it" if adapter else "no adapter was given"
        raise TaskDataError(
            f"the author-intent tasks ({', '.join(wanted)}) need the training run's eval sets, or 'seen' titles are "
            f"not the ones the model was trained on; {where}: pass {EVAL_DIR_FLAG} (the run directory of "
            "`emergence run`, or a folder written by `emergence probe`), or run only the age tasks")
    return meta, "the embedded sample's eval sets (held-out titles only; --metadata eval_dir names others)"


_SAID: set[str] = set()


def _eval_items(name: str, metadata: Mapping[str, Any]) -> list[Any]:
    from emergence.evalsets import EvalSetConfig, read_eval_set

    metadata, source = documents(metadata, (name,))
    if name == MEMBERSHIP:
        from emergence.lmeval_membership import membership_documents

        if not metadata.get("eval_dir"):
            raise TaskDataError(f"author_intent_mia needs the training run's eval sets (its members are the records "
                                f"that run trained on): pass {EVAL_DIR_FLAG} or peft=RUN/train/adapter")
        return membership_documents(metadata["eval_dir"])
    if source not in _SAID:  # once per process: lm-eval loads each task's data separately
        _SAID.add(source)
        log.warning("emergence tasks: documents from %s", source)
    eval_dir = metadata.get("eval_dir")
    if eval_dir:
        path = Path(str(eval_dir)).expanduser() / f"{name}.jsonl"
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: eval_dir must hold eval sets written by "
                "emergence.evalsets.write_eval_sets (or `emergence probe`)")
        return read_eval_set(path)
    corpus = metadata.get("corpus")
    if corpus:
        corpus = str(Path(str(corpus)).expanduser().resolve())
    else:
        from emergence.corpus.sample import sample_path

        corpus = str(sample_path())
    config = EvalSetConfig(**dict(metadata.get("eval_config") or {}))
    return _built_sets(corpus, config.model_dump_json())[name]


def task_dataset(name: str, **metadata: Any) -> dict[str, Any]:
    """``{"test": datasets.Dataset}`` of one eval set, for a task's ``custom_dataset``.

    ``metadata`` is what lm-eval passes (``--metadata`` JSON merged with model args); read
    here: ``eval_dir`` (a folder of ``<set>.jsonl``), else the run's eval sets beside the
    ``peft`` adapter, else ``corpus`` (a corpus file, with optional ``eval_config``:
    EvalSetConfig fields), else the embedded sample (age sets only; see :func:`documents`).
    Each document is an :class:`~emergence.evalsets.EvalItem` as a dict; with
    ``band_scoring`` (see :func:`band_scoring`) each age document carries it too, and the
    multiple-choice task scores that document on the probes' band scores.
    """
    import datasets

    items = _eval_items(name, metadata)
    if not items:
        raise ValueError(f"eval set {name!r} is empty: lm-eval needs at least one document")
    rows = [item if isinstance(item, dict) else item.model_dump(mode="json") for item in items]
    scoring = metadata.get(BAND_SCORING)
    if scoring and name in AGE_DOCUMENT_SETS:
        scoring = _checked_scoring(scoring)
        rows = [{**row, BAND_SCORING: scoring} for row in rows]
    return {"test": datasets.Dataset.from_list(rows)}


# The band normalisations (ProbeConfig.band_normalise) under which lm-eval's multiple-choice
# log-likelihoods give the probes' band scores. lm-eval moves the chat template's trailing
# whitespace (the newline after the assistant header) from the context into every answer
# (its _encode_pair), so each band's log-likelihood gains the same log p(newline | question);
# a 'sum' or 'domain' score then differs from the probe's by that one constant per question,
# which the softmax over bands and the argmax ignore. 'mean' divides the constant by each
# band text's token count, so it does not cancel there: no such metadata is made for it.
SPLIT_INVARIANT: tuple[str, ...] = ("domain", "sum")
BAND_SCORING = "band_scoring"  # the metadata key and the document field
AGE_DOCUMENT_SETS: tuple[str, ...] = ("age_heldout", "age_seen")


def _checked_scoring(scoring: Mapping[str, Any]) -> dict[str, Any]:
    from emergence.metrics import band_names

    how = scoring.get("normalise") if isinstance(scoring, Mapping) else None
    if how not in SPLIT_INVARIANT:
        raise TaskDataError(f"{BAND_SCORING} must be {{'normalise': one of {SPLIT_INVARIANT}, 'reference': "
                            f"{{band: log-likelihood}} for 'domain'}}, got {scoring!r}")
    out: dict[str, Any] = {"normalise": how}
    if how == "domain":
        reference = scoring.get("reference") or {}
        missing = [b for b in band_names() if b not in reference]
        if missing:
            raise TaskDataError(f"{BAND_SCORING}: 'domain' needs the neutral question's log-likelihood of every "
                                f"band; missing {missing}")
        out["reference"] = {b: float(reference[b]) for b in band_names()}
    return out


def band_scoring(results: Any, model: str) -> dict[str, Any]:
    """The ``band_scoring`` metadata that makes ``age_rating_mc`` score like ``results`` for ``model``.

    ``results`` is a :class:`~emergence.probe.run.ProbeResults` of a run (``probe_base``,
    ``curve`` or ``probe_tuned``), ``model`` the probe's name for the checkpoint (``base``,
    ``step-<k>``, ``tuned``): its normalisation and, for 'domain', that model's band
    log-likelihoods after the neutral question. Raises ValueError when lm-eval cannot
    reproduce them ('mean', or no reference for that model).
    """
    how = results.config.band_normalise
    if how not in SPLIT_INVARIANT:
        raise ValueError(f"band_normalise {how!r} divides by each band's token count, which lm-eval's answers "
                         f"(with the moved newline) do not share; lm-eval can match {' or '.join(SPLIT_INVARIANT)}")
    if how == "sum":
        return {"normalise": how}
    reference = (results.band_reference or {}).get(model)
    if not reference:
        raise ValueError(f"no neutral-question band log-likelihoods for {model!r} in that probe run "
                         "('domain' band scores need them)")
    return _checked_scoring({"normalise": how, "reference": reference})


# --------------------------------------------------------------------------- evaluate


def _task_list(tasks: str | Sequence[str]) -> list[str]:
    names = tasks.split(",") if isinstance(tasks, str) else [
        part for task in tasks for part in str(task).split(",")]
    names = [n.strip() for n in names if n.strip()]
    if not names:
        raise ValueError("no tasks given")
    return names


# the eval set each of our tasks and groups reads
_TASK_SETS: dict[str, tuple[str, ...]] = {
    "age_rating": ("age_heldout",), "age_rating_mc": ("age_heldout",),
    "author_intent_seen": ("intent_seen",), "author_intent_heldout": ("intent_heldout",),
    "author_intent": INTENT_SETS, "emergence": ("age_heldout", *INTENT_SETS),
    "author_intent_mia": (MEMBERSHIP,),
}


def sets_of(tasks: str | Sequence[str]) -> tuple[str, ...]:
    """The eval sets our tasks among ``tasks`` read (lm-eval's own tasks read none of them)."""
    out: list[str] = []
    for name in _task_list(tasks):
        out.extend(s for s in _TASK_SETS.get(name, ()) if s not in out)
    return tuple(out)


def memorisation_gaps(samples: Mapping[str, Sequence[Mapping[str, Any]]], *,
                      n_boot: int = 2000) -> dict[str, Any]:
    """Seen minus held-out of each intent metric, from lm-eval's logged samples.

    Returns ``{metric: Estimate}`` (unpaired bootstrap through
    :func:`emergence.metrics.memorisation_gap`); empty unless both intent subtasks ran.
    """
    from emergence.metrics import keys, memorisation_gap

    seen, held = (samples.get(task) for task in INTENT_TASKS)
    if not seen or not held:
        return {}
    return {key: memorisation_gap(seen, held, key, n_boot=n_boot) for key in keys("intent")}


def evaluate(
    model: str,
    *,
    adapter: str | Path | None = None,
    tasks: str | Sequence[str] = ("emergence",),
    limit: int | float | None = None,
    out_dir: str | Path | None = None,
    metadata: Mapping[str, Any] | None = None,
    batch_size: int | str = 8,
    device: str | None = None,
    apply_chat_template: bool = True,
    bootstrap_iters: int = 1000,
    gen_kwargs: str | dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run lm-eval's ``hf`` model on our tasks and return lm-eval's results dict.

    ``model`` goes through :func:`emergence.models.resolve_model` first (so ``"smollm2"``
    works); ``adapter`` is a PEFT folder (lm-eval's ``peft=``). ``tasks`` are task or group
    names (a comma-separated string or a list); lm-eval's own tasks are indexed only when
    a name is not ours. The chat template is applied by default (chat models).
    The documents are chosen by :func:`documents` (an adapter of an ``emergence run``
    brings its run's eval sets); :class:`TaskDataError` before anything loads when the
    author-intent tasks have none. The result carries lm-eval's
    ``results``/``groups``/``configs``/``samples`` plus ``emergence.documents`` (which
    sets were read) and ``emergence.memorisation_gap`` ({metric: Estimate as dict}) when
    both intent subtasks ran. ``out_dir`` receives ``results.json`` and ``samples_<task>.jsonl``.
    """
    from emergence.models import resolve_model

    names = _task_list(tasks)
    peft: dict[str, str] = {}
    if adapter is not None:
        adapter_path = Path(adapter).expanduser()
        if not (adapter_path / "adapter_config.json").is_file():
            raise TaskDataError(f"adapter folder {adapter_path} is not a PEFT adapter (no adapter_config.json): "
                                "point --adapter at a training run's adapter/ folder")
        peft["peft"] = str(adapter_path.resolve())
    given = dict(metadata or {})
    meta, source = documents({**given, **peft}, sets_of(names))
    if "peft" not in given:
        meta.pop("peft", None)
    log.info("emergence eval: documents from %s", source)

    import lm_eval
    from lm_eval.tasks import TaskManager

    if device is None:
        import torch

        # lm-eval's hf model treats an explicit None as "cuda" on a CPU-only torch
        device = "cuda" if torch.cuda.is_available() else "cpu"
    model_args: dict[str, Any] = {"pretrained": resolve_model(str(model)), **peft}
    ours = set(TASK_NAMES) | set(GROUP_NAMES)
    manager = TaskManager(include_path=str(tasks_path()),
                          include_defaults=not set(names) <= ours,
                          metadata=meta)
    known = set(manager.all_tasks) | set(manager.all_groups) | set(getattr(manager, "all_tags", ()))
    unknown = [n for n in names if n not in known]
    if unknown:  # before the model loads, not after
        raise TaskDataError(f"unknown task(s) {', '.join(unknown)}: ours are {', '.join(TASK_NAMES + GROUP_NAMES)} "
                            "(lm-eval's own tasks by their lm-eval names)")
    results = lm_eval.simple_evaluate(
        model="hf", model_args=model_args, tasks=names, task_manager=manager, limit=limit,
        batch_size=batch_size, device=device, apply_chat_template=apply_chat_template,
        bootstrap_iters=bootstrap_iters, gen_kwargs=gen_kwargs, log_samples=True,
    )
    gaps = memorisation_gaps(results.get("samples") or {})
    results["emergence"] = {
        "model": str(model),
        "adapter": model_args.get("peft"),
        "documents": source,
        "eval_dir": meta.get("eval_dir"),
        "memorisation_gap": {k: e.model_dump() for k, e in gaps.items()},
    }
    if out_dir is not None:
        _write_results(results, Path(out_dir))
    return results


def _write_results(results: Mapping[str, Any], out: Path) -> None:
    from lm_eval.utils import handle_non_serializable

    out.mkdir(parents=True, exist_ok=True)
    summary = {k: v for k, v in results.items() if k != "samples"}
    (out / "results.json").write_text(
        json.dumps(summary, indent=2, default=handle_non_serializable) + "\n", encoding="utf-8")
    for task, rows in (results.get("samples") or {}).items():
        with open(out / f"samples_{task}.jsonl", "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, default=handle_non_serializable) + "\n")


def format_results(results: Mapping[str, Any]) -> str:
    """lm-eval's results table (and groups table), then the memorisation gaps."""
    from lm_eval.utils import make_table

    text = make_table(results)
    if results.get("groups"):
        text += "\n" + make_table(results, "groups")
    gaps = (results.get("emergence") or {}).get("memorisation_gap") or {}
    if gaps:
        from emergence.stats import Estimate

        text += "\nmemorisation gap (author_intent_seen minus author_intent_heldout):\n"
        for key, est in gaps.items():
            text += f"  {key:<15} {Estimate.model_validate(est).format(3, signed=True)}\n"
    return text


# --------------------------------------------------------------------------- install


def lm_eval_tasks_dir() -> Path:
    """The ``lm_eval/tasks`` folder of the lm-eval that this interpreter imports.

    Not symlink-resolved: lm-eval's TaskManager scans ``Path(__file__).parent`` as is.
    Found without importing ``lm_eval.tasks`` (which pulls in torch and datasets).
    """
    import importlib.util

    try:
        spec = importlib.util.find_spec("lm_eval.tasks")
    except ModuleNotFoundError:
        spec = None
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("lm-eval is not installed here: pip install 'emergence[eval]'")
    return Path(spec.origin).absolute().parent


def installed_tasks_dir(tasks_dir: str | Path | None = None) -> Path:
    """Where :func:`install_tasks` puts our tasks: ``lm_eval/tasks/emergence``."""
    return Path(tasks_dir or lm_eval_tasks_dir()) / INSTALL_DIRNAME


def install_tasks(tasks_dir: str | Path | None = None) -> Path:
    """Register the tasks with the current environment's lm-eval (opt-in; see uninstall).

    lm-eval only discovers tasks under its own ``lm_eval/tasks`` folder (or
    ``--include_path``), so this creates ``lm_eval/tasks/emergence/`` with symlinks to our
    YAMLs, ``utils.py`` and README (copies where symlinks are not allowed) and a marker
    file listing them. A linked YAML is read from its real path, so ``!function utils.*``
    resolves to this package's ``utils.py``. Re-installing refreshes the links; a foreign
    folder of the same name is never touched. Returns the folder.
    """
    target = installed_tasks_dir(tasks_dir)
    if target.exists() or target.is_symlink():
        if not (target / MARKER).is_file():
            raise FileExistsError(f"{target} exists and was not made by `emergence tasks "
                                  "install`; remove it yourself if it should go")
        uninstall_tasks(tasks_dir)
    source = tasks_path()
    files = sorted({p for pattern in _INSTALLED_GLOBS for p in source.glob(pattern)})
    target.mkdir(parents=True)
    added: list[str] = []
    try:
        for src in files:
            dest = target / src.name
            try:
                os.symlink(src, dest)
            except OSError:  # e.g. Windows without developer mode
                shutil.copy2(src, dest)
            added.append(src.name)
    finally:
        import emergence

        (target / MARKER).write_text(json.dumps(
            {"source": str(source), "files": added, "emergence_version": emergence.__version__},
            indent=2) + "\n", encoding="utf-8")
    return target


def uninstall_tasks(tasks_dir: str | Path | None = None) -> list[Path]:
    """Remove exactly what :func:`install_tasks` added; returns the removed paths.

    Files the marker does not list stay (and then so does the folder). A no-op returning
    ``[]`` when nothing is installed.
    """
    target = installed_tasks_dir(tasks_dir)
    marker = target / MARKER
    if not marker.is_file():
        return []
    listed = json.loads(marker.read_text(encoding="utf-8")).get("files", [])
    removed: list[Path] = []
    for name in listed:
        path = target / Path(name).name  # never outside the folder, whatever the marker says
        if path.is_symlink() or path.is_file():
            path.unlink()
            removed.append(path)
    marker.unlink()
    removed.append(marker)
    cache = target / "__pycache__"  # lm-eval may have imported a copied utils.py
    if cache.is_dir():
        shutil.rmtree(cache)
    try:
        target.rmdir()
        removed.append(target)
    except OSError:  # something else was put there: leave it
        pass
    return removed
