"""lm-eval on every checkpoint of a run, as one table step × metric (``emergence eval --checkpoints RUN``).

    >>> from emergence.lmeval_checkpoints import CheckpointRow, CheckpointTable
    >>> table = CheckpointTable(run_dir="runs/x", model="smollm2", tasks=["age_rating_mc"],
    ...     metrics=["age_rating_mc/mc_rps"], rows=[
    ...     CheckpointRow(step=0, band_scores="domain", values={"age_rating_mc/mc_rps": 0.2104}),
    ...     CheckpointRow(step=40, adapter="runs/x/train/adapter", band_scores="domain",
    ...                   values={"age_rating_mc/mc_rps": 0.1871})])
    >>> print(table.format())
    step  band scores  age_rating_mc/mc_rps
       0  domain                     0.2104
      40  domain                     0.1871

Why: lm-eval scores one checkpoint per call; a researcher who wants the ability along
training needs every checkpoint on the same documents in one table. The checkpoints are
the run's own: step 0 the base (no adapter), each ``train/curve/step-NNNNNN`` adapter, and
``train/adapter`` at ``max_steps``; the documents are the run's ``evalsets/``. The
multiple-choice task is scored on the run's band scores (:func:`emergence.lmeval.band_scoring`:
the normalisation, and each checkpoint's neutral-question reference from the run's probe
files), so its metrics are the curve's; the table says how far they are from
``verdicts/curve.json`` and checks that lm-eval's log-likelihoods differ from the probe's by
one constant per question (the only difference the softmax over bands ignores).
"""
from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CURVE_TASKS", "Checkpoint", "CheckpointRow", "CheckpointTable", "evaluate_checkpoints",
           "read_table", "run_checkpoints"]

# lm-eval task -> the metric family of the curve (emergence.curve.runs) that it shares: the
# generation-free band measure. The generated answers are lm-eval's own (its age_rating caps
# them at its own token count), so the age family is not compared.
CURVE_TASKS: dict[str, str] = {"age_rating_mc": "age_choice"}
# largest spread across bands of (lm-eval - probe) log-likelihood within one question that
# still reads as one constant: float32 logits from differently batched passes (~1e-6 measured)
SPLIT_TOLERANCE = 1e-3
TABLE_JSON, TABLE_CSV = "table.json", "table.csv"


class Checkpoint(BaseModel):
    """One checkpoint of a run: its step, its adapter and where the run's probe of it is."""

    model_config = ConfigDict(frozen=True)

    step: int = Field(description="Training step (0: the base model).")
    adapter: Path | None = Field(description="The PEFT adapter folder; None for the base.")
    probe_dir: Path = Field(description="The run's probe output holding this checkpoint's rows.")
    probe_model: str = Field(description="The probe's name for it: base, step-<k> or tuned.")


class CheckpointRow(BaseModel):
    """One checkpoint's lm-eval results."""

    model_config = ConfigDict(ser_json_inf_nan="constants")

    step: int = Field(description="Training step (0: the base model).")
    adapter: str | None = Field(None, description="The adapter folder scored (None: the base).")
    band_scores: str = Field(description="How age_rating_mc scored the bands: the run's normalisation "
                             "('domain', 'sum') or 'raw' (lm-eval's log-likelihood sums; see notes).")
    values: dict[str, float] = Field(default_factory=dict, description="'task/metric' -> lm-eval's aggregate.")
    stderr: dict[str, float] = Field(default_factory=dict, description="'task/metric' -> lm-eval's bootstrap "
                                     "standard error (absent with bootstrap_iters = 0).")
    split_spread: float | None = Field(None, description="Largest spread across bands, over the questions, of "
                                       "lm-eval's band log-likelihood minus the probe's (0 up to float noise when "
                                       "they differ by one constant per question); None without both.")


class CheckpointTable(BaseModel):
    """Every checkpoint of a run scored by lm-eval: step × metric."""

    model_config = ConfigDict(ser_json_inf_nan="constants")

    run_dir: str = Field(description="The run directory.")
    model: str = Field(description="The base model spec of the run.")
    tasks: list[str] = Field(description="The lm-eval tasks or groups run.")
    limit: int | float | None = Field(None, description="Documents per task (None: all).")
    metrics: list[str] = Field(description="Column order: 'task/metric'.")
    rows: list[CheckpointRow] = Field(description="One row per checkpoint, by step.")
    curve_difference: dict[str, float] = Field(
        default_factory=dict, description="'task/metric' -> largest |table - curve| over the steps both have, "
        "against verdicts/curve.json's per-step value (the metrics the curve shares; empty when not compared).")
    notes: list[str] = Field(default_factory=list, description="What the reader must know: raw band scores, a "
                             "split that is not one constant, why the curve was not compared.")

    def format(self, digits: int = 4) -> str:
        """The table as text: one line per step, then the curve comparison and the notes."""
        head = ["step", "band scores", *self.metrics]
        lines = [[str(r.step), r.band_scores, *(_num(r.values.get(m), digits) for m in self.metrics)]
                 for r in self.rows]
        widths = [max(len(x) for x in col) for col in zip(head, *lines)]
        text = [_line(head, widths)] + [_line(row, widths) for row in lines]
        if self.curve_difference:
            worst = ", ".join(f"{m} {d:.1e}" for m, d in self.curve_difference.items())
            text.append(f"largest difference from the curve (verdicts/curve.json): {worst}")
        text += [f"note: {n}" for n in self.notes]
        return "\n".join(text)

    def write(self, out: str | Path) -> Path:
        """``table.json`` (this model) and ``table.csv`` (step, band scores, the metrics) in ``out``."""
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / TABLE_JSON).write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
        with open(folder / TABLE_CSV, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["step", "adapter", "band_scores", *self.metrics])
            for r in self.rows:
                writer.writerow([r.step, r.adapter or "", r.band_scores, *(r.values.get(m, "") for m in self.metrics)])
        return folder / TABLE_JSON


def _num(x: float | None, digits: int) -> str:
    return "-" if x is None or math.isnan(x) else f"{x:.{digits}f}"


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    # the step right-aligned, the band-score label left, the numbers right
    parts = [cells[0].rjust(widths[0]), cells[1].ljust(widths[1])] + [c.rjust(w) for c, w in zip(cells[2:], widths[2:])]
    return "  ".join(parts).rstrip()


# --------------------------------------------------------------------------- the run's checkpoints


def run_checkpoints(run_dir: str | Path, max_steps: int) -> list[Checkpoint]:
    """Step 0 (the base), each ``train/curve/step-NNNNNN`` adapter, then ``train/adapter`` at ``max_steps``.

    Raises FileNotFoundError when the run has no trained adapter."""
    run = Path(run_dir)
    final = run / "train" / "adapter"
    if not (final / "adapter_config.json").is_file():
        raise FileNotFoundError(f"{final} is not a trained adapter (no adapter_config.json): the run's train "
                                "stage has not finished")
    out = [Checkpoint(step=0, adapter=None, probe_dir=run / "probe_base", probe_model="base")]
    curve = run / "train" / "curve"
    found = sorted((int(p.name.split("-", 1)[1]), p) for p in (curve.glob("step-*") if curve.is_dir() else ())
                   if p.name.split("-", 1)[1].isdigit() and (p / "adapter_config.json").is_file())
    out += [Checkpoint(step=k, adapter=p, probe_dir=run / "curve", probe_model=f"step-{k}")
            for k, p in found if 0 < k < max_steps]
    out.append(Checkpoint(step=max_steps, adapter=final, probe_dir=run / "probe_tuned", probe_model="tuned"))
    return out


def _values(results: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, float]]:
    """'task/metric' -> value and -> stderr, from lm-eval's results of the leaf tasks."""
    values: dict[str, float] = {}
    stderr: dict[str, float] = {}
    groups = set(results.get("groups") or {})
    for task, row in (results.get("results") or {}).items():
        if task in groups:
            continue
        for key, value in row.items():
            metric, sep, filt = key.partition(",")
            if not sep or not isinstance(value, (int, float)) or isinstance(value, bool):
                continue  # the alias, or lm-eval's "N/A" standard error
            target = stderr if metric.endswith("_stderr") else values
            name = f"{task}/{metric.removesuffix('_stderr')}" + ("" if filt == "none" else f",{filt}")
            target[name] = float(value)
    return values, stderr


def _split_spread(samples: Sequence[Mapping[str, Any]], probe: Any, model: str) -> float | None:
    """Largest spread across bands of (lm-eval - probe) log-likelihood over the questions both scored."""
    from emergence.metrics import band_names

    names = band_names()
    probe_lls = {r.item_id: r.band_loglikelihoods for r in probe.rows
                 if r.model == model and r.band_loglikelihoods and r.set == "age_heldout"}
    spreads = []
    for sample in samples:
        ours = probe_lls.get(sample["doc"]["id"])
        if ours is None:
            continue
        # lm-eval logs one response per choice: [[loglikelihood, is_greedy]]
        theirs = [float(resp[0][0]) for resp in sample["resps"]]
        diffs = [t - float(ours[b]) for t, b in zip(theirs, names)]
        spreads.append(max(diffs) - min(diffs))
    return max(spreads) if spreads else None


def _curve_difference(table: CheckpointTable, curve_json: Path) -> tuple[dict[str, float], list[str]]:
    """Largest |table - curve| per shared metric, or why it was not compared."""
    from emergence.curve.build import EmergenceCurve
    from emergence.metrics import keys

    if not curve_json.is_file():
        return {}, [f"no {curve_json} (the run's verdicts stage has not run): not compared with the curve"]
    if table.limit is not None:
        return {}, [f"limit {table.limit}: the curve reads every document, so the table was not compared with it"]
    curve = EmergenceCurve.model_validate_json(curve_json.read_text(encoding="utf-8"))
    by_metric = {m.metric: {p.step: p.value.mean for p in m.points} for m in curve.metrics}
    out: dict[str, float] = {}
    for name in table.metrics:
        task, _, metric = name.partition("/")
        family = CURVE_TASKS.get(task)
        if family is None or metric not in keys(family) or metric not in by_metric:  # type: ignore[arg-type]
            continue
        diffs = [abs(r.values[name] - by_metric[metric][r.step]) for r in table.rows
                 if r.band_scores != "raw" and name in r.values and r.step in by_metric[metric]]
        if diffs:
            out[name] = max(diffs)
    return out, []


def evaluate_checkpoints(
    run_dir: str | Path,
    *,
    tasks: str | Sequence[str] | None = None,
    limit: int | float | None = None,
    out_dir: str | Path | None = None,
    batch_size: int | str | None = None,
    device: str | None = None,
    apply_chat_template: bool | None = None,
    bootstrap_iters: int | None = None,
    say: Callable[[str], None] | None = None,
) -> CheckpointTable:
    """Score every checkpoint of ``run_dir`` with lm-eval and write one table (step × metric).

    ``tasks`` default to the run's ``[lmeval] tasks``; so do the batch size, chat template
    and bootstrap draws, and the device to the run's probe (else train) device. ``limit``
    None reads every document (then the shared metrics are compared with the curve).
    Each checkpoint's lm-eval results and samples go to ``out/step-NNNNNN/``, the table to
    ``out/table.json`` and ``table.csv``; ``out`` defaults to ``RUN/lmeval-checkpoints``.
    """
    from emergence.experiment import load_experiment_config
    from emergence.lmeval import _task_list, band_scoring, evaluate
    from emergence.probe.run import ProbeResults

    run = Path(run_dir).expanduser()
    if not (run / "config.toml").is_file():
        raise FileNotFoundError(f"{run} is not a run directory of `emergence run` (no config.toml)")
    if not (run / "evalsets" / "manifest.json").is_file():
        raise FileNotFoundError(f"{run / 'evalsets'} is missing: the run's eval sets are the documents")
    cfg = load_experiment_config(run / "config.toml")
    names = _task_list(tasks if tasks is not None else cfg.lmeval.tasks)
    # beside lmeval/, which that stage clears when it runs again
    out = Path(out_dir) if out_dir is not None else run / "lmeval-checkpoints"
    checkpoints = run_checkpoints(run, cfg.train.max_steps)
    probes: dict[Path, Any] = {}
    rows: list[CheckpointRow] = []
    notes: list[str] = []
    for ck in checkpoints:
        if ck.probe_dir not in probes:
            probes[ck.probe_dir] = (ProbeResults.read(ck.probe_dir) if (ck.probe_dir / "probe_run.json").is_file()
                                    else None)
        probe = probes[ck.probe_dir]
        meta: dict[str, Any] = {"eval_dir": str((run / "evalsets").resolve())}
        label = "raw"
        try:
            if probe is None:
                raise ValueError(f"no probe of this checkpoint in the run ({ck.probe_dir} has no probe_run.json)")
            meta["band_scoring"] = band_scoring(probe, ck.probe_model)
            label = meta["band_scoring"]["normalise"]
        except ValueError as exc:
            notes.append(f"step {ck.step}: age_rating_mc scored on raw log-likelihood sums, not the curve's band "
                         f"scores: {exc}")
        if say is not None:
            say(f"step {ck.step}: {'the base' if ck.adapter is None else ck.adapter}")
        results = evaluate(cfg.train.model, adapter=ck.adapter, tasks=names, limit=limit,
                           out_dir=out / f"step-{ck.step:06d}", metadata=meta,
                           batch_size=batch_size if batch_size is not None else cfg.lmeval.batch_size,
                           device=device or cfg.probe.device or cfg.train.device,
                           apply_chat_template=(cfg.lmeval.apply_chat_template if apply_chat_template is None
                                                else apply_chat_template),
                           bootstrap_iters=cfg.lmeval.bootstrap_iters if bootstrap_iters is None else bootstrap_iters)
        values, stderr = _values(results)
        mc = (results.get("samples") or {}).get("age_rating_mc")
        spread = _split_spread(mc, probe, ck.probe_model) if mc and probe is not None else None
        if spread is not None and spread > SPLIT_TOLERANCE:
            notes.append(f"step {ck.step}: lm-eval's band log-likelihoods differ from the probe's by more than one "
                         f"constant per question (spread {spread:.2g} > {SPLIT_TOLERANCE:g}): the tokenizer splits "
                         "the answers differently after the chat template, so age_rating_mc is not the curve's")
        rows.append(CheckpointRow(step=ck.step, adapter=str(ck.adapter) if ck.adapter else None, band_scores=label,
                                  values=values, stderr=stderr, split_spread=spread))
    metrics = list(dict.fromkeys(m for r in rows for m in r.values))
    table = CheckpointTable(run_dir=str(run), model=cfg.train.model, tasks=names, limit=limit, metrics=metrics,
                            rows=rows, notes=notes)
    if any(CURVE_TASKS.get(m.partition("/")[0]) for m in metrics):
        difference, why = _curve_difference(table, run / "verdicts" / "curve.json")
        table = table.model_copy(update={"curve_difference": difference, "notes": notes + why})
    table.write(out)
    return table


def read_table(out: str | Path) -> CheckpointTable:
    """Read what :meth:`CheckpointTable.write` wrote."""
    return CheckpointTable.model_validate(json.loads((Path(out) / TABLE_JSON).read_text(encoding="utf-8")))
