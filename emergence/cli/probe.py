"""``emergence probe``: the experiment's eval-set, probe and verdict stages on a given model.

    $ emergence probe --model smollm2 --n 40 --out runs/probe-smollm2
    $ emergence probe --model smollm2 --adapter runs/x/train/adapter --out runs/probe-x

A thin layer over :func:`emergence.experiment.runner.run_experiment` with
``stages=["evalsets", "probe_base", "probe_tuned", "verdicts"]``: ``--out`` becomes a run
directory like ``emergence run``'s (``evalsets/``, ``probe_base/``, ``probe_tuned/``,
``verdicts/``, ``config.toml``). The corpus, its split, the prompt template and what
training consumed come from the training run's config found beside ``--adapter`` (or
``--train-config``); flags override them.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

# training writes its resolved config under one of these names in its run directory
_TRAIN_CONFIG_NAMES = ("train_config.json", "config.json", "train_config.toml", "config.toml", "config.yaml")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "probe",
        help="probe base (and tuned) models on eval sets; write answers, metrics, verdicts",
        description="Build the eval sets from a corpus, probe the base model (and base + adapter from one "
        "load), score through emergence.metrics, judge the hypotheses and print a summary table.",
    )
    p.add_argument("--model", required=True, help="base model: hub id, local folder, 'smollm2', 'tiny-llama' "
                   "or 'tiny-phi3'")
    p.add_argument("--adapter", default=None, help="PEFT adapter folder of the tuned model")
    p.add_argument("--corpus", default=None, help="corpus (JSON Lines / array, optionally gzipped); default: "
                   "the training run's, else the embedded sample")
    p.add_argument("--eval-sets", default=None, metavar="DIR", help="use eval sets already written to DIR "
                   "instead of building them")
    p.add_argument("--out", default=None, help="output folder (default runs/probe-<time>)")
    p.add_argument("--n", type=int, default=None, help="items per eval set (every set)")
    p.add_argument("--batch-size", type=int, default=None, help="prompts per generate call")
    p.add_argument("--config", default=None, help="TOML/YAML/JSON file with [probe], [evalsets] and "
                   "[verdict] tables")
    p.add_argument("--train-config", default=None, help="the training run's config file, for its corpus, "
                   "split, record cap and prompt template")
    p.add_argument("--held-out", type=float, default=None, help="held-out share of the split")
    p.add_argument("--salt", default=None, help="salt of the split hash")
    p.add_argument("--train-records-limit", type=int, default=None,
                   help="seen sets only from the first N train records (what training used)")
    p.add_argument("--completion", action="store_true", help="also ask the age sets with the training prompt "
                   "template alone (recall of training text)")
    p.add_argument("--device", default=None, help="torch device (default: CUDA when present)")
    p.add_argument("--json", action="store_true", help="print metrics and verdicts as JSON")
    p.set_defaults(handler=_run)


def _find_train_config(adapter: str | None, explicit: str | None) -> tuple[Any, int | None]:
    """The training run's TrainConfig and its train_records_used (from summary.json)."""
    from emergence.configio import ConfigError
    from emergence.train.config import TrainConfig

    if explicit:
        return TrainConfig.from_file(explicit), _records_used(Path(explicit).parent)
    if not adapter:
        return None, None
    for folder in (Path(adapter), Path(adapter).parent):
        for name in _TRAIN_CONFIG_NAMES:
            path = folder / name
            if path.is_file():
                try:
                    return TrainConfig.from_file(path), _records_used(folder)
                except ConfigError:  # a file of that name that is not a TrainConfig
                    continue
    return None, None


def _records_used(run_dir: Path) -> int | None:
    try:
        value = json.loads((run_dir / "summary.json").read_text()).get("train_records_used")
    except (OSError, ValueError):
        return None
    return value if isinstance(value, int) else None


def build_config(args: argparse.Namespace) -> Any:
    """The ExperimentConfig these arguments describe: the training run's config (when found),
    then --config's [probe] / [evalsets] / [verdict] tables, then the flags."""
    from emergence.configio import load_config, read_config_file
    from emergence.experiment.config import ExperimentConfig

    raw: dict[str, Any] = read_config_file(args.config) if args.config else {}
    train_cfg, records_used = _find_train_config(args.adapter, args.train_config)
    over: dict[str, Any] = {"profile": "probe", "lmeval.enabled": False, "train.model": args.model}
    if train_cfg is not None:
        over.update({f"train.{k}": v for k, v in train_cfg.model_dump(mode="json").items()
                     if k in ("corpus", "held_out", "salt", "policy", "prompt_template", "drop_empty",
                              "max_steps", "per_device_train_batch_size", "gradient_accumulation_steps",
                              "max_records", "chat_template")})
        if records_used is not None:  # what training actually consumed, from its own count
            over["train.max_records"] = records_used
    else:  # no training run to follow: seen sets from the whole train split, and no canary was planted
        over["evalsets.seen_from"] = "train_split"
        over["train.canary_share"] = 0.0
    for section in ("probe", "evalsets", "verdict"):
        over.update({f"{section}.{k}": v for k, v in (raw.get(section) or {}).items()})
    if args.corpus is not None:
        over["train.corpus"] = args.corpus
    if args.n is not None:
        from emergence.evalsets import EVAL_SET_NAMES

        over.update({f"evalsets.{name}": args.n for name in EVAL_SET_NAMES})
    if args.train_records_limit is not None:
        # seen sets from the first N train records: a run that consumed exactly N (max_records
        # caps it; max_steps = N makes the step budget no smaller)
        over.update({"evalsets.seen_from": "training", "train.max_records": args.train_records_limit,
                     "train.max_steps": max(args.train_records_limit, 1)})
    for flag, key in (("held_out", "train.held_out"), ("salt", "train.salt"), ("batch_size", "probe.batch_size"),
                      ("device", "probe.device")):
        if getattr(args, flag) is not None:
            over[key] = getattr(args, flag)
    if args.completion:
        over["probe.completion_variant"] = True
    return load_config(ExperimentConfig, overrides=over)


def _run(args: argparse.Namespace) -> int:
    import os

    from emergence.cli.common import error_line, log_to_stderr, quiet_library_bars, user_errors

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    quiet_library_bars()  # probing logs its own progress; tqdm bars would interleave with it
    from rich.console import Console

    from emergence.experiment.rundir import ForeignDirectoryError, RunLockedError
    from emergence.experiment.runner import ConfigChangedError, run_experiment

    stream = sys.stderr if args.json else sys.stdout
    # piped or redirected output gets a wide table rather than rich's 80-column default
    console = Console(stderr=args.json, width=None if stream.isatty() else 150)
    errors = user_errors()
    try:
        config = build_config(args)
    except (*errors, ValueError) as exc:
        print(error_line("emergence probe", exc), file=sys.stderr)
        return 2
    out = Path(args.out or f"runs/probe-{time.strftime('%Y%m%d-%H%M%S')}")
    external: dict[str, Path] = {}
    if args.adapter:
        external["train"] = Path(args.adapter)
    if args.eval_sets:
        external["evalsets"] = Path(args.eval_sets)
    stages = ["evalsets", "probe_base", *(["probe_tuned"] if args.adapter else []), "verdicts"]
    log_to_stderr()  # probing progress (a line every tenth of the answers) where no bar is drawn
    try:
        run = run_experiment(config, out_dir=out, stages=stages, external=external,
                             console=Console(stderr=True, soft_wrap=True))
    except (ConfigChangedError, ForeignDirectoryError, FileExistsError, RunLockedError) as exc:
        print(f"emergence probe: refused: {exc}", file=sys.stderr)
        return 3
    except errors as exc:
        print(error_line("emergence probe", exc), file=sys.stderr)
        return 2
    if not run.is_main:  # under several processes rank 0 reports
        return 0
    metrics = json.loads((out / "verdicts" / "metrics.json").read_text())
    verdicts = json.loads((out / "verdicts" / "verdicts.json").read_text())
    if args.json:
        print(json.dumps({"metrics": metrics, "verdicts": verdicts, "out": str(run.dir)}, indent=2))
    else:
        render_summary(metrics, verdicts, console)
        console.print(f"written to [bold]{out}[/bold]")
    return 0


def render_summary(metrics: dict[str, Any], verdicts: list[dict[str, Any]], console: Any) -> None:
    """Rich tables: every registered metric per set × model × variant (and baselines), then the verdicts."""
    from rich.markup import escape
    from rich.table import Table

    from emergence.report.fmt import fmt_metric
    from emergence.report.tables import metric_columns

    for title, sets, families in (("Age probes (mean [95% CI])", ("age_heldout", "age_seen"), ("age", "age_choice")),
                                  ("Memorisation: author-intent answers vs training content",
                                   ("intent_seen", "intent_heldout"), ("intent", "extract"))):
        cols = metric_columns(*families)
        table = Table(title=title)
        for col in ("set", "model", "variant", *[c.column for c in cols]):
            table.add_column(col, justify="left" if col in ("set", "model", "variant") else "right")
        for set_name in sets:
            for which, per_variant in metrics["tables"].get(set_name, {}).items():
                for variant, m in per_variant.items():
                    if any(c.key in m for c in cols):
                        table.add_row(set_name, which, variant, *[fmt_metric(m.get(c.key), c.key) for c in cols])
            for kind, per_set in metrics.get("baselines", {}).items():
                if per_set.get(set_name):
                    name = kind + (f" ({metrics.get('majority_band')})" if kind == "majority" else "")
                    table.add_row(set_name, f"baseline: {name}", "",
                                  *[fmt_metric(per_set[set_name].get(c.key), c.key) for c in cols])
        if table.row_count:
            console.print(table)
    if metrics.get("excluded"):
        console.print("k-extractable: items left out (content shorter than k + extract_tokens tokens): "
                      + ", ".join(f"{k} {v}" for k, v in metrics["excluded"].items()))
    if verdicts:
        console.print("[bold]Verdicts[/bold]")
        colour = {"confirmed": "green", "refuted": "red", "inconclusive": "yellow"}
        for v in verdicts:
            console.print(f"- [{colour[v['outcome']]}]{v['outcome'].upper()}[/] "
                          f"[bold]{escape(v['hypothesis']['name'])}[/bold]: {escape(v['explanation'])}")
    else:
        console.print("no verdicts: the paired hypotheses need a tuned model (--adapter)")
