"""Counterfactual memorisation (Zhang et al. 2021), an option of the memorisation panel.

    >>> from emergence.counterfactual import MemorisationConfig, halves
    >>> MemorisationConfig().counterfactual_pairs            # off by default: 2 trainings a pair
    0
    >>> halves(["t:a", "t:b", "t:c", "t:d"], pair=0, seed=0)
    ([True, False, False, True], 2)

How much does the model's fit of a record owe to that record having been trained on? For
pair p, a subset S of the records training consumed (the first ``counterfactual_records``
of the ``members`` eval set) is split in two halves by a stable hash; adapter ``in_a`` is
trained on everything the run consumed except half B, adapter ``in_b`` on everything except
half A, each with the run's own settings and as many passes over its records as the run made. For a
record of half A, its counterfactual memorisation in pair p is its log-likelihood per token
under ``in_a`` (trained on it) minus under ``in_b`` (not trained on it, otherwise the same
data), and the other way round for half B; the pairs are averaged. Records are excluded by
their split key, so an excluded record's title variants go too.

Cost: two training runs per pair, each as long as the run's training stage (the record
budget less half of S), plus a forward pass over S per adapter: ``benchmarks/README.md``
gives the seconds a pair takes on the GPU and on the CPU demo.
"""
from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from pathlib import Path
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from emergence.stats import Estimate, interval

__all__ = ["CounterfactualResult", "MemorisationConfig", "counterfactual_scores", "halves", "run_counterfactual"]


class MemorisationConfig(BaseModel):
    """Options of the memorisation panel beyond its forward passes."""

    model_config = ConfigDict(extra="forbid")

    counterfactual_pairs: int = Field(
        0, ge=0, description="Pairs of adapters trained on complementary halves of a record subset for counterfactual "
        "memorisation (emergence.counterfactual); each pair costs two training runs. 0: off.")
    counterfactual_records: int = Field(
        200, ge=4, description="Records in the subset: the first of the members eval set (records training consumed).")
    counterfactual_seed: int = Field(0, description="Seed of the hash that splits the subset, pair by pair.")


def halves(keys: Sequence[str], *, pair: int, seed: int) -> tuple[list[bool], int]:
    """Per key, whether it falls in half A of pair ``pair``; and how many do (a stable hash draw)."""
    in_a = [hashlib.blake2b(f"{seed}\x1f{pair}\x1f{k}".encode(), digest_size=8).digest()[0] % 2 == 0 for k in keys]
    return in_a, sum(in_a)


class CounterfactualResult(BaseModel):
    """Per-record counterfactual memorisation and its mean over records."""

    model_config = ConfigDict(ser_json_inf_nan="constants")

    pairs: int = Field(description="Pairs of adapters trained.")
    records: int = Field(description="Records scored (the subset S).")
    per_record: dict[str, float] = Field(description="item id -> mean over pairs of IN - OUT log-likelihood per token.")
    mean: Estimate = Field(description="Mean over records, with its interval (emergence.stats.interval).")
    positive: Estimate = Field(description="Share of records whose IN - OUT is above 0, Wilson interval.")
    top: list[tuple[str, float]] = Field(description="The ten most counterfactually memorised titles with their score.")
    train_seconds: float = Field(description="Seconds the 2 x pairs training runs took in all.")
    text: str = Field(description="The outcome in one sentence, for the report.")


def counterfactual_scores(in_a: Sequence[Sequence[bool]], fit_a: Sequence[Sequence[float]],
                          fit_b: Sequence[Sequence[float]]) -> list[float]:
    """Per record, the mean over pairs of IN - OUT: ``fit_a[p][i]`` is record i's
    log-likelihood per token under pair p's adapter trained without half B (so with half
    A), ``fit_b[p][i]`` under the one trained without half A.

        >>> counterfactual_scores([[True, False]], [[-1.0, -3.0]], [[-2.0, -1.5]])
        [1.0, 1.5]
    """
    out = []
    for i in range(len(fit_a[0]) if fit_a else 0):
        diffs = [(a[i] - b[i]) if side[i] else (b[i] - a[i]) for side, a, b in zip(in_a, fit_a, fit_b)
                 if not (math.isnan(a[i]) or math.isnan(b[i]))]
        out.append(sum(diffs) / len(diffs) if diffs else math.nan)
    return out


def _write_corpus(corpus: Any, rule: Any, policy: str, exclude: set[str], path: Path) -> tuple[int, int]:
    """The records training consumed (``rule``: emergence.evalsets.TrainingConsumption), in
    stream order, less those whose split key is in ``exclude``, as a JSON Lines corpus;
    returns (written, consumed in all)."""
    from emergence.corpus.split import split_key
    from emergence.corpus.stream import stream_records

    tracker = rule.tracker()
    stream = stream_records(corpus, policy=policy)
    kept = consumed = 0
    with open(path, "w", encoding="utf-8") as fh:
        for record in stream:
            if tracker.done():
                break
            if not tracker.consumed(record, stream.stats.read - 1):
                continue
            consumed += 1
            if split_key(record) in exclude:
                continue
            fh.write(json.dumps({"uid": record.uid, "title": record.title, "content": record.content}) + "\n")
            kept += 1
    return kept, consumed


def run_counterfactual(cfg: Any, members: Sequence[Any], out: Path, *, rule: Any,
                       say: Callable[[str], None] = print) -> CounterfactualResult:
    """Train the pairs of an experiment config (``cfg``: ExperimentConfig) into ``out``, score
    its first ``members`` under each adapter, and write ``out/result.json``; ``rule`` is the
    run's TrainingConsumption (which records its training consumed)."""
    import time

    from emergence.corpus.split import split_key
    from emergence.exposure import Exposure
    from emergence.probe.run import probe_checkpoints
    from emergence.train.config import TrainConfig
    from emergence.train.recipe import train

    options = cfg.memorisation
    subset = list(members)[: options.counterfactual_records]
    keys = [split_key(it) for it in subset]
    t = cfg.train
    batch = t.per_device_train_batch_size * t.gradient_accumulation_steps
    adapters: dict[int, Path] = {}
    sides: list[list[bool]] = []
    started = time.perf_counter()
    for p in range(options.counterfactual_pairs):
        in_a, _ = halves(keys, pair=p, seed=options.counterfactual_seed)
        sides.append(in_a)
        for j, (name, left_out) in enumerate((("in_a", False), ("in_b", True))):
            # in_a leaves out half B (the records with in_a False), in_b leaves out half A
            exclude = {k for k, a in zip(keys, in_a) if a == left_out}
            folder = out / f"pair-{p}-{name}"
            folder.mkdir(parents=True, exist_ok=True)
            kept, consumed = _write_corpus(cfg.corpus_path(), rule, t.policy, exclude, folder / "corpus.jsonl")
            # as many passes over each record as the run made (several when its steps outran its records)
            passes = t.max_steps * batch / max(consumed, 1)
            steps = max(1, math.ceil(passes * kept / batch))
            say(f"    counterfactual pair {p}, {name}: {steps} steps on {kept} of the {consumed} records")
            config = TrainConfig.model_validate({
                **t.model_dump(), "storage": t.storage, "corpus": folder / "corpus.jsonl", "held_out": 0.0,
                "max_records": None, "max_steps": steps, "eval_records": 0,
                "output_dir": folder / "train", "resume": False, "overwrite": True})
            train(config)
            adapters[2 * p + j] = folder / "train" / "adapter"
    seconds = time.perf_counter() - started
    probe = cfg.probe.model_copy(update={"sets": ["members"], "extractable": False, "progress": False})
    results = probe_checkpoints(t.model, {"members": subset}, probe, adapters, generate_at=list(adapters),
                                train_prompt_template=t.prompt_template, exposure=Exposure.of(t),
                                max_seq_length=t.max_seq_length)
    fit: dict[str, dict[str, float]] = {}
    for row in results.rows if results is not None else []:
        if row.variant == "membership" and row.membership:
            fit.setdefault(row.model, {})[row.item_id] = row.membership["neg_loss"]
    names = results.models if results is not None else []
    per_pair_a = [[fit.get(names[2 * p], {}).get(it.id, math.nan) for it in subset] for p in range(len(sides))]
    per_pair_b = [[fit.get(names[2 * p + 1], {}).get(it.id, math.nan) for it in subset] for p in range(len(sides))]
    scores = counterfactual_scores(sides, per_pair_a, per_pair_b)
    result = summarise(subset, scores, pairs=len(sides), train_seconds=seconds)
    (out / "result.json").write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
    say(f"    {result.text}")
    return result


def summarise(items: Sequence[Any], scores: Sequence[float], *, pairs: int, train_seconds: float
              ) -> CounterfactualResult:
    """The result of per-record scores (NaN: a record no adapter could score)."""
    kept = [(it, s) for it, s in zip(items, scores) if not math.isnan(s)]
    values = [s for _, s in kept]
    mean = interval(values, kind="continuous")
    positive = interval([float(s > 0) for s in values], kind="binary")
    top = sorted(((it.title, s) for it, s in kept), key=lambda x: -x[1])[:10]
    text = (f"counterfactual memorisation over {pairs} pair(s) of adapters, {len(values)} records: mean IN − OUT "
            f"log-likelihood per token {mean.short(signed=True)}; above 0 for {positive.short(pct=True)} of them")
    return CounterfactualResult(pairs=pairs, records=len(values), per_record={it.id: s for it, s in kept}, mean=mean,
                                positive=positive, top=top, train_seconds=round(train_seconds, 3), text=text)
