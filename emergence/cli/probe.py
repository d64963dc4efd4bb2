"""``emergence probe``: build eval sets, ask base (and tuned) models, score, judge, summarise.

    $ emergence probe --model smollm2 --n 40 --out runs/probe-smollm2

Writes into ``--out``: ``evalsets/`` (one JSONL per set + manifest.json),
``answers.jsonl`` (every answer), ``probe_run.json``, ``metrics.json``, ``verdicts.json``
and ``probe_config.json``; prints a summary table. With ``--adapter`` the base weights are
loaded once and the adapter switched off for the base answers. The train/held-out split
must be the training run's: ``--held-out``/``--salt``/``--train-records-limit``, or a
training config found beside the adapter (``--train-config`` names one explicitly).
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

# training writes its resolved config under one of these names in its run directory
_TRAIN_CONFIG_NAMES = ("train_config.json", "config.json", "train_config.toml", "config.toml",
                       "config.yaml")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "probe",
        help="probe base (and tuned) models on eval sets; write answers, metrics, verdicts",
        description="Build the eval sets from a corpus, probe the base model (and base + "
        "adapter from one load), score through emergence.metrics, judge the hypotheses and "
        "print a summary table.",
    )
    p.add_argument("--model", required=True, help="base model: hub id, local folder, "
                   "'smollm2', 'tiny-llama' or 'tiny-phi3'")
    p.add_argument("--adapter", default=None, help="PEFT adapter folder of the tuned model")
    p.add_argument("--corpus", default=None, help="corpus (JSON Lines / array, optionally "
                   "gzipped); default: the embedded sample")
    p.add_argument("--eval-sets", default=None, metavar="DIR", help="use eval sets already "
                   "written to DIR instead of building them")
    p.add_argument("--out", default=None, help="output folder (default runs/probe-<time>)")
    p.add_argument("--n", type=int, default=None, help="items per eval set (all four sets)")
    p.add_argument("--batch-size", type=int, default=None, help="prompts per generate call")
    p.add_argument("--config", default=None, help="TOML/YAML/JSON file with [probe] and "
                   "[evalsets] tables (top-level keys go to [probe])")
    p.add_argument("--train-config", default=None, help="the training run's config file, "
                   "for its split (held_out, salt), record cap and prompt template")
    p.add_argument("--held-out", type=float, default=None, help="held-out share of the split")
    p.add_argument("--salt", default=None, help="salt of the split hash")
    p.add_argument("--train-records-limit", type=int, default=None,
                   help="seen sets only from the first N train records (what training used)")
    p.add_argument("--completion", action="store_true", help="also ask the age sets with the "
                   "training prompt template alone (recall of training text)")
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
    summary = run_dir / "summary.json"
    if not summary.is_file():
        return None
    try:
        value = json.loads(summary.read_text()).get("train_records_used")
    except (OSError, ValueError):
        return None
    return value if isinstance(value, int) else None


def build_configs(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """EvalSetConfig, ProbeConfig and the training run's TrainConfig (or None), from
    defaults, the training config, --config and flags (later wins)."""
    from emergence.configio import load_config, read_config_file
    from emergence.evalsets import EvalSetConfig
    from emergence.probes import ProbeConfig

    raw: dict[str, Any] = read_config_file(args.config) if args.config else {}
    probe_raw = raw.get("probe", {k: v for k, v in raw.items() if k != "evalsets"})
    eval_raw = raw.get("evalsets", {})
    train_cfg, records_used = _find_train_config(args.adapter, args.train_config)
    eval_base = (EvalSetConfig.from_train_config(train_cfg, records_used=records_used)
                 if train_cfg else EvalSetConfig())
    eval_over: dict[str, Any] = dict(eval_raw)
    if args.n is not None:
        eval_over.update({name: args.n for name in eval_base.sizes()})
    for flag, key in (("held_out", "held_out"), ("salt", "salt"),
                      ("train_records_limit", "train_records_limit")):
        if getattr(args, flag) is not None:
            eval_over[key] = getattr(args, flag)
    eval_cfg = load_config(EvalSetConfig, overrides=eval_over, base=eval_base)
    probe_over: dict[str, Any] = dict(probe_raw)
    if train_cfg is not None and "train_prompt_template" not in probe_over:
        probe_over["train_prompt_template"] = train_cfg.prompt_template
    if args.batch_size is not None:
        probe_over["batch_size"] = args.batch_size
    if args.completion:
        probe_over["completion_variant"] = True
    if args.device is not None:
        probe_over["device"] = args.device
    probe_cfg = load_config(ProbeConfig, overrides=probe_over)
    return eval_cfg, probe_cfg, train_cfg


def _run(args: argparse.Namespace) -> int:
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from rich.console import Console

    from emergence.evalsets import build_eval_sets, read_eval_sets, write_eval_sets
    from emergence.probes import run_probes, score, verdicts

    import sys

    stream = sys.stderr if args.json else sys.stdout
    # piped or redirected output gets a wide table rather than rich's 80-column default
    console = Console(stderr=args.json, width=None if stream.isatty() else 150)
    eval_cfg, probe_cfg, train_cfg = build_configs(args)
    out = Path(args.out or f"runs/probe-{time.strftime('%Y%m%d-%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    if args.eval_sets:
        sets = read_eval_sets(args.eval_sets)
    else:
        from emergence.corpus.sample import sample_path

        train_corpus = getattr(train_cfg, "corpus", None)
        corpus = args.corpus or (str(train_corpus) if train_corpus else str(sample_path()))
        with console.status(f"building eval sets from {corpus}"):
            sets = build_eval_sets(corpus, eval_cfg)
    write_eval_sets(sets, out / "evalsets")
    (out / "probe_config.json").write_text(probe_cfg.model_dump_json(indent=2) + "\n")
    console.print("eval sets: " + ", ".join(f"{k} {len(v)}" for k, v in sets.items()))

    results = run_probes(args.model, sets, probe_cfg, adapter=args.adapter)
    results.write(out)
    metrics = score(results)
    judged = verdicts(results)
    (out / "metrics.json").write_text(metrics.model_dump_json(indent=2) + "\n")
    (out / "verdicts.json").write_text(
        json.dumps([v.model_dump(mode="json") for v in judged], indent=2) + "\n")
    if args.json:
        print(json.dumps({"metrics": metrics.model_dump(mode="json"),
                          "verdicts": [v.model_dump(mode="json") for v in judged],
                          "out": str(out)}, indent=2))
    else:
        render_summary(metrics, judged, console, timings=results.timings)
        console.print(f"written to [bold]{out}[/bold]")
    return 0


def _fmt(est: dict[str, Any] | None, digits: int = 2) -> str:
    if not est or est.get("n", 0) == 0 or est.get("mean") is None or (
            isinstance(est.get("mean"), float) and math.isnan(est["mean"])):
        return "–"
    text = f"{est['mean']:.{digits}f}"
    lo, hi = est.get("ci_low"), est.get("ci_high")
    if lo is not None and hi is not None and not (math.isnan(lo) or math.isnan(hi)):
        text += f" [{lo:.{digits}f}, {hi:.{digits}f}]"
    return text


def render_summary(metrics: Any, judged: list[Any], console: Any, *,
                   timings: dict[str, float] | None = None) -> None:
    """Rich tables: age metrics per set × model (and baselines), memorisation, verdicts."""
    from rich.table import Table

    age = Table(title="Age probes (mean [95% CI])", show_lines=False)
    for col in ("set", "model", "variant", "n", "inferred", "MAE (years)", "±2y acc",
                "band acc", "band MC acc", "MC exp. error (y)"):
        age.add_column(col, justify="left" if col in ("set", "model", "variant") else "right")
    for set_name in ("age_heldout", "age_seen"):
        per_model = metrics.tables.get(set_name, {})
        for which, per_variant in per_model.items():
            for variant, m in per_variant.items():
                age.add_row(set_name, which, variant, str(m.get("inferred", {}).get("n", "")),
                            _fmt(m.get("inferred")), _fmt(m.get("abs_error"), 1),
                            _fmt(m.get("within_2y")), _fmt(m.get("band_correct")),
                            _fmt(m.get("mc_correct")), _fmt(m.get("mc_expected_abs_error"), 1))
        for kind, per_set in metrics.baselines.items():
            m = per_set.get(set_name)
            if m:
                name = kind + (f" ({metrics.majority_band})" if kind == "majority" else "")
                age.add_row(set_name, f"baseline: {name}", "", str(m["inferred"]["n"]),
                            _fmt(m.get("inferred")), _fmt(m.get("abs_error"), 1),
                            _fmt(m.get("within_2y")), _fmt(m.get("band_correct")), "", "")
    console.print(age)

    mem = Table(title="Memorisation: author-intent answers vs training content")
    for col in ("model", "set", "n", "ROUGE-L", "LCS ratio", "8-gram overlap", "k-extractable"):
        mem.add_column(col, justify="left" if col in ("model", "set") else "right")
    models = sorted({m for s in ("intent_seen", "intent_heldout")
                     for m in metrics.tables.get(s, {})}, key=["base", "tuned"].index)
    for which in models:
        for set_name in ("intent_seen", "intent_heldout"):
            per_variant = metrics.tables.get(set_name, {}).get(which, {})
            m = per_variant.get("intent", {})
            x = per_variant.get("extract", {})
            if m or x:
                mem.add_row(which, set_name, str(m.get("rouge_l", {}).get("n", "")),
                            _fmt(m.get("rouge_l")), _fmt(m.get("lcs_ratio")),
                            _fmt(m.get("ngram8_overlap")), _fmt(x.get("k_extractable")))
        gap = metrics.memorisation_gap.get(which, {})
        if gap:
            mem.add_row(which, "gap (seen − held-out)", "", _fmt(gap.get("rouge_l")),
                        _fmt(gap.get("lcs_ratio")), _fmt(gap.get("ngram8_overlap")),
                        _fmt(gap.get("k_extractable")))
    if mem.row_count:
        console.print(mem)
    if metrics.excluded:
        console.print("k-extractable: items left out (content shorter than k + extract_tokens tokens): "
                      + ", ".join(f"{k} {v}" for k, v in metrics.excluded.items()))
    if timings:
        console.print("throughput: " + ", ".join(
            f"{k.split('_')[0]} {v:.2f} answers/s" for k, v in timings.items()
            if k.endswith("answers_per_s")))
    if judged:
        console.print("[bold]Verdicts[/bold]")
        colour = {"confirmed": "green", "refuted": "red", "inconclusive": "yellow"}
        for v in judged:
            console.print(f"- [{colour[v.outcome]}]{v.outcome.upper()}[/] "
                          f"[bold]{v.hypothesis.name}[/bold]: {v.explanation}")
    else:
        console.print("no verdicts: the paired hypotheses need a tuned model (--adapter)")
