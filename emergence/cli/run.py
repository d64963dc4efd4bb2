"""``emergence run``: the whole experiment in one command, resumable, with a report.

    $ emergence run                                   # cpu-demo without CUDA, seed with it
    $ emergence run --profile seed --corpus trn.json --out runs/seed
    $ emergence run --config my.toml --set train.max_steps=20 --set evalsets.age_heldout=50

Configuration layers: the profile (``--profile``, else the file's top-level ``profile``
key, else ``cpu-demo`` without CUDA and ``seed`` with it), then ``--config``, then
``--corpus``, then each ``--set key=value`` (dotted keys of ExperimentConfig). Running the
same command again resumes the run; a changed config with the same ``--out`` is refused
with the changed fields listed. Ends with a one-screen summary and the report's path
(``--json``: the verdicts, metrics and paths as JSON on stdout). Everything the run needs
is checked before the first stage; a user error is one line and exit status 2 (3: the
directory is refused), never a traceback.
"""
from __future__ import annotations

import argparse
import math
import sys
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "run",
        help="run the whole experiment (audit, eval sets, probes, training, lm-eval, verdicts, report)",
        description="Audit the corpus, split it, build eval sets, probe the base model, train, probe the "
        "tuned model, run the lm-eval tasks, judge the hypotheses and write report.md / report.html, all "
        "in one run directory. Re-running resumes; finished stages are skipped.",
    )
    p.add_argument("--config", default=None, help="experiment TOML/YAML/JSON (keys of ExperimentConfig)")
    p.add_argument("--profile", default=None,
                   help="built-in profile: cpu-demo (default without CUDA) or seed (default with CUDA)")
    p.add_argument("--corpus", default=None, help="corpus file (e.g. trn.json); default: the profile's")
    p.add_argument("--out", default=None,
                   help="run directory (default: runs/<profile>-<config hash>, so a changed config gets a fresh one)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. train.max_steps=20 (repeatable)")
    p.add_argument("--no-resume", dest="resume", action="store_false",
                   help="start the run directory over instead of resuming it")
    p.add_argument("--print-config", action="store_true", help="print the resolved config as TOML and exit")
    p.add_argument("--json", action="store_true",
                   help="print the result (verdicts, metrics, training summary, paths) as JSON on stdout")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from emergence.cli.common import log_to_stderr, quiet_library_bars, user_errors

    quiet_library_bars()  # the run prints its own progress; tqdm bars would interleave with it
    from rich.console import Console
    from rich.markup import escape

    from emergence.configio import parse_set
    from emergence.experiment.config import default_profile, load_experiment_config
    from emergence.experiment.rundir import ForeignDirectoryError, RunLockedError
    from emergence.experiment.runner import ConfigChangedError, run_experiment

    err = Console(stderr=True, soft_wrap=True)
    errors = user_errors()
    try:
        overrides: dict[str, Any] = {}
        if args.corpus is not None:
            overrides["train.corpus"] = args.corpus
        overrides.update(parse_set(args.sets))
        profile = args.profile
        if profile is None and args.config is None:
            profile = default_profile()
        config = load_experiment_config(args.config, profile=profile, overrides=overrides)
    except (*errors, ValueError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        return 2
    if args.print_config:
        _print_toml(config)
        return 0
    corpus = config.corpus_path()
    if not corpus.is_file():
        what = "is a folder, not a file" if corpus.is_dir() else "does not exist"
        err.print(f"[red]error:[/red] corpus {escape(str(corpus))} {what}: pass --corpus PATH "
                  "(or --set train.corpus=PATH)")
        return 2
    log_to_stderr()
    try:
        result = run_experiment(config, out_dir=args.out, resume=args.resume, console=err)
    except (ConfigChangedError, ForeignDirectoryError, FileExistsError, RunLockedError) as exc:
        err.print(f"[red]refused:[/red] {escape(str(exc))}")
        return 3
    except errors as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        return 2
    except OSError as exc:  # a disk that filled up, a folder that vanished: the path is in the message
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        return 1
    if args.json:
        from emergence.cli.common import print_json

        print_json(result_json(result))
        return 0
    out = Console()
    if not out.is_terminal:  # logs and pipes: room for the summary table on one line a row
        out = Console(width=110)
    render_summary(result, out)
    return 0


def result_json(result: Any) -> dict[str, Any]:
    """The run's result for --json: headline, verdicts, metrics, controls, training, paths, stages
    (every probe answer is in answers.jsonl, not here)."""
    from emergence.report.sections import headline

    outcome, sentence = headline(result)
    data = result.model_dump(mode="json", exclude={"probes", "loss_curve", "config"})
    return {"outcome": outcome, "headline": sentence, **data}


def _print_toml(config: Any) -> None:
    import tempfile
    from pathlib import Path

    from emergence.configio import dump_config

    with tempfile.TemporaryDirectory() as tmp:
        path = dump_config(config, Path(tmp) / "config.toml")
        sys.stdout.write(path.read_text(encoding="utf-8"))


def render_summary(result: Any, console: Any) -> None:
    """One screen: verdicts, key numbers with intervals, where the report is."""
    from rich import box
    from rich.markup import escape
    from rich.panel import Panel
    from rich.table import Table

    from emergence.report.fmt import fmt_metric
    from emergence.report.sections import headline
    from emergence.report.tables import metric_columns

    outcome, sentence = headline(result)
    colour = {"confirmed": "green", "refuted": "red", "inconclusive": "yellow"}
    console.print(Panel(escape(sentence), title=f"[bold]emergence: {outcome.upper()}[/bold]",
                        border_style=colour.get(outcome, "white")))

    variant = result.probes.config.verdict_variant
    for set_name in ("age_heldout", "age_seen"):
        per_model = result.metrics.tables.get(set_name, {})
        columns = [(which, per_model.get(which, {}).get(variant)) for which in ("base", "tuned")]
        if set_name == "age_heldout":
            columns += [(f"{kind} baseline", per_set.get(set_name)) for kind, per_set in result.metrics.baselines.items()]
        columns = [(name, m) for name, m in columns if m]
        if not columns:
            continue
        # one row a registered metric (a metric added to the registry shows up here), one column a model
        table = Table(title=f"{set_name}: mean [95% interval]", title_justify="left", box=box.SIMPLE_HEAD,
                      pad_edge=False)
        table.add_column("metric", no_wrap=True)
        for name, _ in columns:
            table.add_column(name, justify="right", no_wrap=True)
        for metric in metric_columns("age", "age_choice"):
            cells = [fmt_metric(m.get(metric.key), metric.key) for _, m in columns]
            if any(c != "–" for c in cells):
                table.add_row(metric.column + (" (%)" if metric.percent else ""), *cells)
        console.print(table)

    train = result.train
    console.print(f"training: {train.steps} steps, average loss {_num(train.train_loss_avg)}, held-out loss "
                  f"{_num(train.heldout_loss_before)} → {_num(train.heldout_loss_after)}")
    gap = result.metrics.memorisation_gap.get("tuned", {}).get("rouge_l")
    if gap:
        console.print(f"memorisation (tuned, ROUGE-L seen − held-out): {fmt_metric(gap, 'rouge_l', signed=True)}")
    for name, il in result.controls.item_level.items():
        console.print(f"item-level control ({name}): {il.kind} (item-level part {il.item_gain_diff.short(signed=True)}, "
                      f"distributional part {il.distributional_gain.short(signed=True)})")

    console.print("[bold]Verdicts[/bold]")
    for v in result.verdicts:
        console.print(f"  [{colour.get(v.outcome, 'white')}]{v.outcome.upper():<12}[/] {v.hypothesis.name}: "
                      f"effect {v.effect.short(signed=True)} (n={v.n})")
    ran = [s for s in result.stages if s.status == "ran"]
    console.print(f"stages run now: {len(ran)} of {len(result.stages)}; stage time "
                  f"{result.timings.get('total', 0.0):.0f} s, this invocation "
                  f"{result.timings.get('this_invocation', 0.0):.0f} s")
    if result.paths.report_html is not None:
        console.print(f"report: [bold]{escape(str(result.paths.report_html))}[/bold]  (and "
                      f"{result.paths.report_md.name})")


def _num(x: float | None) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4f}"
