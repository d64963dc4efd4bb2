"""``emergence eval`` (lm-eval on our tasks) and ``emergence tasks install|uninstall|path``.

    $ emergence eval --model smollm2 --adapter runs/cpu-demo-x/train/adapter --tasks emergence --limit 20
    $ emergence eval --model smollm2 --tasks age_rating --out runs/eval-base --json
    $ emergence eval --checkpoints runs/cpu-demo-x     # every checkpoint: one table step x metric
    $ emergence tasks install      # then a bare `lm_eval --tasks age_rating ...` works
    $ emergence tasks uninstall

Handlers parse flags and call :mod:`emergence.lmeval` (and :mod:`emergence.lmeval_checkpoints`);
lm_eval is imported only there. The documents are the adapter's run's own eval sets when it
has them (and the command says which it used); a missing adapter, an author-intent task
without the run's eval sets or an unknown task is one line and exit status 2, not a traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(sub: Any) -> None:
    ev = sub.add_parser(
        "eval", help="run the lm-eval tasks (age_rating, age_rating_mc, author_intent)",
        description="Run lm-eval's hf model on the emergence tasks and print lm-eval's "
        "results table. Data: --metadata eval_dir (prepared sets), else the eval sets of the run the "
        "--adapter belongs to (RUN/evalsets beside RUN/train/adapter), else --metadata corpus, else the "
        "embedded sample's (age tasks only).")
    ev.add_argument("--model", default=None,
                    help="model spec: smollm2, tiny-llama, a local folder or a hub id (not with --checkpoints)")
    ev.add_argument("--adapter", default=None, help="PEFT adapter folder (lm-eval's peft=)")
    ev.add_argument("--checkpoints", default=None, metavar="RUN",
                    help="score every checkpoint of the run directory RUN (step 0 = the base, each curve "
                    "checkpoint, the final adapter) on its own eval sets and write one table step x metric "
                    "(RUN/lmeval-checkpoints/table.{json,csv}, or --out); model, tasks, batch size, chat "
                    "template and bootstrap draws default to the run's")
    ev.add_argument("--tasks", default=None,
                    help="comma-separated task or group names (default: emergence, all three; with "
                    "--checkpoints the run's [lmeval] tasks)")
    ev.add_argument("--limit", type=float, default=None,
                    help="documents per task (a fraction below 1 is a share; default all)")
    ev.add_argument("--out", default=None, help="folder for results.json and samples_*.jsonl "
                    "(with --checkpoints: the table and a step-NNNNNN/ folder per checkpoint)")
    ev.add_argument("--metadata", default=None,
                    help='JSON passed to the tasks, e.g. \'{"eval_dir": "/path/to/evalsets"}\'')
    ev.add_argument("--batch-size", default=None, help="lm-eval batch size (an int or 'auto'; default 8)")
    ev.add_argument("--device", default=None, help="torch device (default: cuda if present)")
    ev.add_argument("--no-chat-template", dest="chat_template", action="store_false", default=None,
                    help="send the bare question instead of the chat-templated turn")
    ev.add_argument("--bootstrap-iters", type=int, default=None,
                    help="lm-eval's bootstrap draws for standard errors (0: none; default 1000)")
    ev.add_argument("--json", action="store_true",
                    help="print the results (lm-eval's, without the per-document samples) as JSON")
    ev.set_defaults(handler=_eval)

    tasks = sub.add_parser("tasks", help="register the lm-eval tasks with this environment",
                           description="Manage the emergence lm-eval tasks.")
    action = tasks.add_subparsers(dest="tasks_command", metavar="ACTION", required=True)
    install = action.add_parser(
        "install", help="add the tasks to this environment's lm_eval/tasks (opt-in)")
    install.set_defaults(handler=_install)
    uninstall = action.add_parser("uninstall", help="remove exactly what install added")
    uninstall.set_defaults(handler=_uninstall)
    path = action.add_parser("path", help="print the tasks folder (for --include_path)")
    path.set_defaults(handler=_path)


def _limit(value: float | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value >= 1 else value


def _eval(args: argparse.Namespace) -> int:
    from emergence.cli.common import error_line, log_to_stderr, print_json, quiet_library_bars

    quiet_library_bars(keep_on_terminal=True)  # lm-eval's bars are this command's only progress
    if args.checkpoints is not None:
        return _eval_checkpoints(args)
    if args.model is None:
        print("emergence eval: error: --model is required (or --checkpoints RUN)", file=sys.stderr)
        return 2
    metadata = None
    if args.metadata:
        try:
            metadata = json.loads(args.metadata)
        except json.JSONDecodeError as exc:
            print(f"emergence eval: error: --metadata is not JSON: {exc}", file=sys.stderr)
            return 2
        if not isinstance(metadata, dict):
            print("emergence eval: error: --metadata must be a JSON object", file=sys.stderr)
            return 2
    batch = _batch(args.batch_size or "8")
    if batch is None:
        return 2
    log_to_stderr()  # which documents the tasks read
    from emergence.lmeval import TaskDataError, evaluate, format_results
    from emergence.train.preflight import TrainSetupError, _resolve_model

    try:
        model = _resolve_model(args.model)  # a folder that is not there, a hub id offline: said now
        results = evaluate(
            model, adapter=args.adapter, tasks=args.tasks or "emergence", limit=_limit(args.limit),
            out_dir=args.out, metadata=metadata, batch_size=batch, device=args.device,
            apply_chat_template=args.chat_template is not False,
            bootstrap_iters=1000 if args.bootstrap_iters is None else args.bootstrap_iters,
        )
    except (TaskDataError, TrainSetupError, FileNotFoundError) as exc:
        print(error_line("emergence eval", exc), file=sys.stderr)
        return 2
    except OSError as exc:  # a model that cannot be loaded (hub id offline, broken folder)
        print(error_line("emergence eval", exc), file=sys.stderr)
        return 2
    if args.json:
        print_json({k: v for k, v in results.items() if k != "samples"})
    else:
        print(format_results(results))
        print(f"documents: {results['emergence']['documents']}")
    if args.out:
        print(f"results written to {args.out}/results.json", file=sys.stderr if args.json else sys.stdout)
    return 0


def _batch(value: str) -> int | str | None:
    try:
        return value if value.startswith("auto") else int(value)
    except ValueError:
        print(f"emergence eval: error: --batch-size must be an int or 'auto', got {value!r}", file=sys.stderr)
        return None


def _eval_checkpoints(args: argparse.Namespace) -> int:
    from emergence.cli.common import error_line, log_to_stderr, print_json

    given = [flag for flag, value in (("--model", args.model), ("--adapter", args.adapter),
                                      ("--metadata", args.metadata)) if value is not None]
    if given:
        print(f"emergence eval: error: {', '.join(given)} cannot go with --checkpoints: the run's config names the "
              "model, its checkpoints are the adapters and its eval sets the documents", file=sys.stderr)
        return 2
    batch = _batch(args.batch_size) if args.batch_size is not None else None
    if args.batch_size is not None and batch is None:
        return 2
    log_to_stderr()
    from emergence.lmeval import TaskDataError
    from emergence.lmeval_checkpoints import evaluate_checkpoints
    from emergence.train.preflight import TrainSetupError

    try:
        table = evaluate_checkpoints(
            args.checkpoints, tasks=args.tasks, limit=_limit(args.limit), out_dir=args.out, batch_size=batch,
            device=args.device, apply_chat_template=args.chat_template, bootstrap_iters=args.bootstrap_iters,
            say=lambda line: print(f"emergence eval: {line}", file=sys.stderr))
    except (TaskDataError, TrainSetupError, OSError) as exc:  # no run, no adapter, a model that cannot load
        print(error_line("emergence eval", exc), file=sys.stderr)
        return 2
    if args.json:
        print_json(table.model_dump(mode="json"))
    else:
        print(table.format())
    from emergence.lmeval_checkpoints import TABLE_CSV, TABLE_JSON

    out = args.out or f"{args.checkpoints}/lmeval-checkpoints"
    print(f"table written to {out}/{TABLE_JSON} and {TABLE_CSV}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _install(args: argparse.Namespace) -> int:
    from emergence.lmeval import install_tasks

    target = install_tasks()
    print(f"installed the emergence tasks into {target}")
    print("undo with: emergence tasks uninstall")
    return 0


def _uninstall(args: argparse.Namespace) -> int:
    from emergence.lmeval import installed_tasks_dir, uninstall_tasks

    removed = uninstall_tasks()
    if removed:
        print(f"removed {len(removed)} paths from {installed_tasks_dir()}")
    else:
        print("nothing to remove: the emergence tasks were not installed")
    return 0


def _path(args: argparse.Namespace) -> int:
    from emergence.lmeval import tasks_path

    print(tasks_path())
    return 0
