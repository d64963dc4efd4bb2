"""Probe runs: ask base and tuned models the same questions about the same titles; answer rows only.

    >>> from emergence.probe.run import ProbeRow
    >>> row = ProbeRow(set="age_heldout", item_id="age_heldout-0000001", title="Dune",
    ...                model="base", variant="seed", prompt="…", answer="Ages 13 and up.")
    >>> row.scores   # filled later by emergence.scoring.score_rows
    {}

What is asked, per eval set (emergence.evalsets):

- ``age_heldout`` / ``age_seen``: the seed study's question verbatim, optional extra
  phrasings, optionally the ``completion`` variant (the training prompt alone), and the
  generation-free log-probability of each age band's answer after the question.
- ``intent_seen`` / ``intent_heldout``: "What was the author's intent in writing {title}?",
  and the k-extractable test: the first k content tokens in their training context, then
  greedy decoding of the next ones (their token ids are kept for scoring).

Base and tuned answers come from ONE load of the base weights: the adapter is attached
with PEFT and switched off (``model.disable_adapter()``) for the base answers. Nothing here
scores: :func:`emergence.scoring.score_rows` parses and scores the rows.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from pydantic import BaseModel, ConfigDict, Field

from emergence.probe.config import AGE_SETS, ProbeConfig
from emergence.probe.engine import EngineChoice
from emergence.probe.membership import CANARY_SETS, MEMBERSHIP_SETS, membership_measures
from emergence.probe.parallel import distributed, gather, shard

__all__ = ["ModelAnswers", "ProbeResults", "ProbeRow", "probe_checkpoints", "probe_model", "run_probes"]

log = logging.getLogger("emergence")


class ProbeRow(BaseModel):
    """One answer: which item, which model, which question, what came back, how it scored."""

    model_config = ConfigDict(extra="forbid")

    set: str = Field(description="Eval set name (age_heldout, age_seen, intent_seen, intent_heldout).")
    item_id: str = Field(description="EvalItem.id; the same for base and tuned rows.")
    uid: str | None = Field(None, description="The record's uid.")
    title: str = Field(description="The title asked about.")
    label_age: float | None = Field(None, description="The item's minimum-age label (years).")
    label_band: str | None = Field(None, description="The label's age band.")
    label_source: str | None = Field(None, description="'sample', 'cue' or None.")
    model: str = Field(description="'base' (base weights) or 'tuned' (base plus adapter).")
    variant: str = Field(description="Age prompt variant ('seed', extra names, 'completion'), "
                         "'intent', or 'extract' (k-extractable).")
    prompt: str = Field(description="The user prompt (before the chat template), or for "
                        "'extract' the k-token content prefix.")
    answer: str = Field(description="The decoded new tokens (eos and specials dropped).")
    parsed_age: float | None = Field(None, description="The age the answer states "
                                     "(emergence.agecues.parse_age_answer), None if none.")
    scores: dict[str, float | None] = Field(
        default_factory=dict, description="Per-item metric values from emergence.metrics "
        "(None stands for NaN, e.g. abs_error when no age was stated).")
    band_loglikelihoods: dict[str, float] | None = Field(
        None, description="Band -> log-prob of its answer text after the age question "
        "(age sets, main variant only).")
    token_ids: dict[str, list[int]] | None = Field(
        None, description="'extract' rows: the greedy continuation ('generated') and the "
        "content's true next tokens ('truth').")
    membership: dict[str, float] | None = Field(
        None, description="'membership' rows: the membership scores of the item's training exchange "
        "(emergence.memorisation.membership_scores: loglik, neg_loss, zlib, min_k, min_k_pp, n_tokens).")

    def metric_scores(self) -> dict[str, float]:
        """scores with None mapped back to NaN, as emergence.metrics/stats expect."""
        return {k: (math.nan if v is None else float(v)) for k, v in self.scores.items()}


class ProbeResults(BaseModel):
    """Every answer of one probe run, plus what is needed to score and judge it."""

    model: str = Field(description="The base model spec probed.")
    adapter: str | None = Field(None, description="The adapter folder of the tuned model.")
    models: list[str] = Field(description="Which of base/tuned were probed.")
    config: ProbeConfig = Field(description="The probe configuration used.")
    rows: list[ProbeRow] = Field(default_factory=list, description="Every answer, one per "
                                 "item × model × variant.")
    excluded: dict[str, int] = Field(
        default_factory=dict, description="k-extractable: items per set left out because "
        "their content is shorter than k + extract_tokens tokens.")
    set_sizes: dict[str, int] = Field(default_factory=dict, description="Items per eval set probed.")
    train_band_counts: dict[str, int] = Field(
        default_factory=dict, description="Band counts of training-side labels, for the "
        "majority-band baseline (never held-out labels).")
    timings: dict[str, float] = Field(default_factory=dict, description="Seconds spent per "
                                      "model and stage, and answers/s.")
    band_reference: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="Model -> band -> log-likelihood of the band's answer "
        "text after the age question about the neutral title (config.neutral_title): what "
        "'domain' band scoring subtracts.")
    band_tokens: dict[str, int] = Field(default_factory=dict, description="Band -> tokens of "
                                        "its answer text (what 'mean' band scoring divides by).")
    engine: EngineChoice | None = Field(None, description="How the model was loaded (emergence.probe.engine).")

    def select(self, *, set: str | None = None, model: str | None = None,
               variant: str | None = None) -> list[ProbeRow]:
        """Rows matching every given field, in run order."""
        return [r for r in self.rows if (set is None or r.set == set)
                and (model is None or r.model == model)
                and (variant is None or r.variant == variant)]

    def only(self, which: str) -> "ProbeResults":
        """The rows, timings and adapter of one model."""
        return self.model_copy(update={
            "rows": [r for r in self.rows if r.model == which], "models": [which],
            "timings": {k: v for k, v in self.timings.items() if k.startswith(which)},
            "band_reference": {k: v for k, v in self.band_reference.items() if k == which},
            "adapter": self.adapter if which != "base" else None})

    @classmethod
    def combine(cls, parts: Sequence["ProbeResults"]) -> "ProbeResults":
        """One result from per-model parts (their rows in order, models and timings merged)."""
        first = parts[0]
        return first.model_copy(update={
            "adapter": next((p.adapter for p in parts if p.adapter), None),
            "models": [m for p in parts for m in p.models],
            "rows": [r for p in parts for r in p.rows],
            "excluded": {k: v for p in parts for k, v in p.excluded.items()},
            "timings": {k: v for p in parts for k, v in p.timings.items()},
            "band_reference": {k: v for p in parts for k, v in p.band_reference.items()},
            "band_tokens": {k: v for p in parts for k, v in p.band_tokens.items()}})

    def write(self, out_dir: str | Path) -> Path:
        """Write ``answers.jsonl`` (one ProbeRow per line) and ``probe_run.json`` (the rest)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        path = out / "answers.jsonl"
        with open(path, "w", encoding="utf-8") as fh:
            for row in self.rows:
                fh.write(row.model_dump_json(exclude_none=False) + "\n")
        meta = self.model_dump(mode="json", exclude={"rows"})
        (out / "probe_run.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def read(cls, out_dir: str | Path) -> "ProbeResults":
        """Read what :meth:`write` wrote."""
        out = Path(out_dir)
        meta = json.loads((out / "probe_run.json").read_text(encoding="utf-8"))
        rows = [ProbeRow.model_validate_json(line)
                for line in (out / "answers.jsonl").read_text(encoding="utf-8").splitlines()
                if line.strip()]
        return cls(**meta, rows=rows)


# ---------------------------------------------------------------------------- progress


class _Progress:
    """A bar on a terminal; elsewhere (logs, CI) a log line at every tenth of the work."""

    def __init__(self, enabled: bool | None, total: int) -> None:
        self.total, self.done, self.next_log = total, 0, 0.1
        self.bar = None
        self.description = "probing"
        self.started = time.perf_counter()
        if enabled is None:
            enabled = sys.stderr.isatty()
        if enabled and total > 0:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)

            self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                                transient=True)
            self.task = self.bar.add_task("probing", total=total)

    def __enter__(self) -> "_Progress":
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def describe(self, text: str) -> None:
        self.description = text
        if self.bar is not None:
            self.bar.update(self.task, description=text)

    def advance(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.advance(self.task, n)
        elif self.total and self.done / self.total >= self.next_log:
            while self.done / self.total >= self.next_log:
                self.next_log += 0.1
            log.info("probing: %d of %d answers (%s), %.0f s", self.done, self.total,
                     self.description, time.perf_counter() - self.started)


# ---------------------------------------------------------------------------- probing


def _train_band_counts(eval_sets: Any) -> dict[str, int]:
    extra = getattr(eval_sets, "extra", None) or {}
    if extra.get("train_band_counts"):
        return dict(extra["train_band_counts"])
    # read back from files: the seen sets' labels are training-side labels too
    counts: dict[str, int] = {}
    seen: set[str] = set()
    for name in ("intent_seen", "age_seen"):
        for item in eval_sets.get(name, []):
            key = item.uid or item.title
            if item.label_band and key not in seen:
                seen.add(key)
                counts[item.label_band] = counts.get(item.label_band, 0) + 1
    return counts


def _row(name: str, item: Any, which: str, variant: str, prompt: str, answer: str, **extra: Any) -> ProbeRow:
    return ProbeRow(set=name, item_id=item.id, uid=item.uid, title=item.title, label_age=item.label_age,
                    label_band=item.label_band, label_source=item.label_source, model=which,
                    variant=variant, prompt=prompt, answer=answer, **extra)


def _answers_per_model(sets: dict[str, list[Any]], config: ProbeConfig, train_prompt_template: str) -> int:
    variants = len(config.age_prompts(train_prompt_template))
    return sum(len(items) * (variants if name in AGE_SETS else 1 if name in MEMBERSHIP_SETS and name != "members"
                             else 1 + int(config.extractable))
               for name, items in sets.items())


class ModelAnswers(BaseModel):
    """What one model (as loaded, adapter on or off) answered."""

    rows: list[ProbeRow] = Field(default_factory=list, description="Answer rows, unscored.")
    excluded: dict[str, int] = Field(default_factory=dict, description="k-extractable exclusions per set.")
    band_reference: dict[str, float] | None = Field(
        None, description="Band -> log-likelihood after the neutral question (None without band scoring).")


def probe_model(model: Any, tokenizer: Any, sets: dict[str, list[Any]], config: ProbeConfig, which: str,
                *, train_prompt_template: str = "{title}", progress: Any = None, generate_answers: bool = True,
                exposure: Any = None, max_seq_length: int = 2048) -> ModelAnswers:
    """Every answer row of one model (as loaded, adapter on or off) on the given sets.

    ``generate_answers=False`` takes only the generation-free measure: band log-likelihoods on
    the age sets, in rows of variant ``"bands"`` (no answer), for the cheap points of the curve.
    """
    from emergence.probe.generate import band_choices, band_loglikelihoods, generate

    out = ModelAnswers()
    rows, excluded = out.rows, out.excluded
    choices = band_choices(config)
    if config.band_loglik and any(name in AGE_SETS for name in sets):
        neutral = config.age_prompt.format(title=config.neutral_title)
        out.band_reference = dict(zip(choices, band_loglikelihoods(model, tokenizer, [neutral],
                                                                   list(choices.values()))[0]))
    variants = config.age_prompts(train_prompt_template)
    advance = progress.advance if progress is not None else None
    for name, items in sets.items():
        if progress is not None:
            progress.describe(f"{which} · {name}")
        if name in MEMBERSHIP_SETS:
            if not generate_answers:
                continue
            measures = membership_measures(model, tokenizer, items, exposure=exposure, template=train_prompt_template,
                                           max_seq_length=max_seq_length, canary_only=name in CANARY_SETS,
                                           batch_size=config.batch_size)
            excluded[f"{name}_membership"] = sum(m is None for m in measures)
            rows.extend(_row(name, it, which, "membership", "", "", membership=m)
                        for it, m in zip(items, measures) if m is not None)
            if name == "members" and config.extractable:
                _extract(rows, excluded, model, tokenizer, name, items, which, config, train_prompt_template,
                         exposure)
            if advance is not None:
                advance(len(items))
            continue
        if name in AGE_SETS:
            lls = (band_loglikelihoods(model, tokenizer, [config.age_prompt.format(title=it.title) for it in items],
                                       list(choices.values()))
                   if config.band_loglik else None)
            if not generate_answers:
                if lls is not None:
                    rows.extend(_row(name, it, which, "bands", config.age_prompt.format(title=it.title), "",
                                     band_loglikelihoods=dict(zip(choices, ll))) for it, ll in zip(items, lls))
                if advance is not None:
                    advance(len(items))
                continue
            for variant, template in variants.items():
                prompts = [template.format(title=it.title) for it in items]
                answers = generate(model, tokenizer, prompts, config, max_new_tokens=config.max_new_tokens_age,
                                   on_batch=advance)
                for i, (it, prompt, answer) in enumerate(zip(items, prompts, answers)):
                    band_ll = dict(zip(choices, lls[i])) if lls is not None and variant == "seed" else None
                    rows.append(_row(name, it, which, variant, prompt, answer, band_loglikelihoods=band_ll))
            continue
        if not generate_answers:
            continue
        prompts = [config.intent_prompt.format(title=it.title) for it in items]
        answers = generate(model, tokenizer, prompts, config, max_new_tokens=config.max_new_tokens_intent,
                           on_batch=advance)
        rows.extend(_row(name, it, which, "intent", p, a) for it, p, a in zip(items, prompts, answers))
        if config.extractable:
            _extract(rows, excluded, model, tokenizer, name, items, which, config, train_prompt_template, exposure)
            if advance is not None:
                advance(len(items))
    return out


def _extract(rows: list[ProbeRow], excluded: dict[str, int], model: Any, tokenizer: Any, name: str,
             items: Sequence[Any], which: str, config: ProbeConfig, template: str, exposure: Any) -> None:
    """k-extractable rows of a set: the first k tokens of each item's content as trained, then
    greedy decoding of the next ones (token ids kept for scoring)."""
    from emergence.probe.generate import extract_continuations

    contents = [exposure.training_text(it).content if exposure is not None else it.content for it in items]
    pairs = extract_continuations(model, tokenizer, [it.title for it in items], contents, config,
                                  train_prompt_template=template)
    excluded[name] = sum(p is None for p in pairs)
    for it, pair in zip(items, pairs):
        if pair is not None:
            prefix, generated, truth = pair
            rows.append(_row(name, it, which, "extract", tokenizer.decode(prefix, skip_special_tokens=True),
                             tokenizer.decode(generated, skip_special_tokens=True),
                             token_ids={"generated": list(generated), "truth": list(truth)}))


def _longest_prompt(sets: dict[str, list[Any]], config: ProbeConfig, train_prompt_template: str) -> str:
    prompts = [t.format(title=it.title) for name, items in sets.items() for it in items
               for t in ([config.intent_prompt] if name not in AGE_SETS else config.age_prompts(train_prompt_template).values())]
    return max(prompts, key=len, default=config.age_prompt.format(title=""))


def _load(model_spec: str | Path, sets: dict[str, list[Any]], config: ProbeConfig, adapter: Any,
          train_prompt_template: str) -> tuple[Any, Any, ProbeConfig, EngineChoice]:
    """The model and tokenizer through the engine choice, and the config with the batch
    size found on the card (``max_batch_size``)."""
    from emergence.probe.engine import find_batch_size, load_for_probing
    from emergence.probe.generate import encode, generate_tokens, render

    new_tokens = max(config.max_new_tokens_age, config.max_new_tokens_intent)
    model, tokenizer, choice = load_for_probing(model_spec, engine=config.engine, device=config.device,
                                                dtype=config.dtype, adapter=adapter,
                                                batch_size=config.max_batch_size or config.batch_size,
                                                tokens=256 + new_tokens)
    if config.max_batch_size and str(next(model.parameters()).device).startswith("cuda"):
        prompt = _longest_prompt(sets, config, train_prompt_template)
        length = len(encode(tokenizer, render(tokenizer, prompt)))
        trial = config.model_copy(update={"min_new_tokens": new_tokens})

        def runs(batch: int) -> None:
            generate_tokens(model, tokenizer, [prompt] * batch, trial.model_copy(update={"batch_size": batch}),
                            max_new_tokens=new_tokens)

        batch = find_batch_size(runs, config.max_batch_size)
        config = config.model_copy(update={"batch_size": batch})
        choice = choice.model_copy(update={"batch_size": batch, "reason": choice.reason + (
            f"; batch {batch} found to fit ({length} prompt + {new_tokens} new tokens)")})
    return model, tokenizer, config, choice


def run_probes(model_spec: str | Path, eval_sets: dict[str, list[Any]], config: ProbeConfig | None = None, *,
               adapter: str | Path | None = None, models: Sequence[str] | None = None,
               train_prompt_template: str = "{title}", exposure: Any = None,
               max_seq_length: int = 2048) -> ProbeResults:
    """Probe the base model (and base + adapter) on the eval sets, from ONE load of the base.

    ``models`` defaults to ``("base", "tuned")`` with an adapter and ``("base",)`` without.
    Base answers with an adapter attached are taken inside ``model.disable_adapter()``, so
    base and tuned rows answer the same items with the same decoding.
    ``train_prompt_template`` is the training run's user-turn template (the completion
    variant and the k-extractable context use it). The rows are not scored yet. Under
    several processes (``accelerate launch``) each answers a shard of the items and rank 0
    returns every row in single-process order (:mod:`emergence.probe.parallel`); the other
    ranks return None.
    """
    from emergence.probe.generate import band_choices, band_token_counts

    config = config or ProbeConfig()
    models = tuple(models) if models is not None else (("base", "tuned") if adapter else ("base",))
    if "tuned" in models and adapter is None:
        raise ValueError("the tuned model needs an adapter: pass adapter=<adapter dir>")
    if not set(models) <= {"base", "tuned"}:
        raise ValueError(f"models must be drawn from ('base', 'tuned'), got {models}")
    full = {name: list(eval_sets.get(name, [])) for name in config.sets if eval_sets.get(name)}
    rank, world, state = distributed()
    sets = shard(full, rank=rank, world=world) if world > 1 else full
    if world > 1 and config.device in (None, "cuda"):
        config = config.model_copy(update={"device": str(state.device)})
    model, tokenizer, config, choice = _load(model_spec, full, config, adapter, train_prompt_template)
    if models == ("tuned",) and choice.engine != "hf-4bit":
        # nothing needs the adapter switched off, so it is folded into the weights once
        model = model.merge_and_unload()
        choice = choice.model_copy(update={"adapter_merged": True})
    results = ProbeResults(model=str(model_spec), adapter=str(adapter) if adapter else None, models=list(models),
                           config=config, set_sizes={name: len(items) for name, items in sets.items()},
                           train_band_counts=_train_band_counts(eval_sets), engine=choice)
    if config.band_loglik:
        choices = band_choices(config)
        results.band_tokens = dict(zip(choices, band_token_counts(tokenizer, list(choices.values()))))
    total = _answers_per_model(sets, config, train_prompt_template) * len(models)
    with _Progress(config.progress, total) as progress:
        for which in models:
            switch = (model.disable_adapter() if which == "base" and adapter is not None
                      else contextlib.nullcontext())
            started = time.perf_counter()
            with switch:
                answers = probe_model(model, tokenizer, sets, config, which,
                                      train_prompt_template=train_prompt_template, progress=progress,
                                      exposure=exposure, max_seq_length=max_seq_length)
            elapsed = time.perf_counter() - started
            results.rows.extend(answers.rows)
            results.excluded.update(answers.excluded)
            if answers.band_reference is not None:
                results.band_reference[which] = answers.band_reference
            results.timings[f"{which}_seconds"] = round(elapsed, 3)
            results.timings[f"{which}_answers_per_s"] = (round(len(answers.rows) / elapsed, 3)
                                                         if elapsed else 0.0)
    if world > 1:
        return gather(results, full, world=world, state=state, train_prompt_template=train_prompt_template)
    return results


def probe_checkpoints(model_spec: str | Path, eval_sets: dict[str, list[Any]], config: ProbeConfig,
                      checkpoints: dict[int, str | Path], *, generate_at: Sequence[int] = (),
                      train_prompt_template: str = "{title}", exposure: Any = None,
                      max_seq_length: int = 2048) -> ProbeResults:
    """Probe each checkpoint adapter of a training run from ONE load of the base model.

    The base is loaded once with the first adapter; each further checkpoint is attached
    with PEFT's ``load_adapter`` and made active with ``set_adapter`` (the previous one is
    deleted, so memory holds one adapter at a time). Rows are named ``step-<k>``. Steps in
    ``generate_at`` are probed in full (generated answers, memorisation); the others take
    only the generation-free band log-likelihoods (variant ``"bands"``). Unscored rows.
    """
    from emergence.probe.generate import band_choices, band_token_counts

    steps = sorted(checkpoints)
    full = {name: list(eval_sets.get(name, [])) for name in config.sets if eval_sets.get(name)}
    rank, world, state = distributed()
    sets = shard(full, rank=rank, world=world) if world > 1 else full
    if world > 1 and config.device in (None, "cuda"):
        config = config.model_copy(update={"device": str(state.device)})
    names = [f"step-{k}" for k in steps]
    results = ProbeResults(model=str(model_spec), models=names, config=config,
                           set_sizes={name: len(items) for name, items in sets.items()},
                           train_band_counts=_train_band_counts(eval_sets))
    if not steps:
        return results
    model, tokenizer, config, results.engine = _load(model_spec, full, config, checkpoints[steps[0]],
                                                     train_prompt_template)
    results.config = config
    if config.band_loglik:
        choices = band_choices(config)
        results.band_tokens = dict(zip(choices, band_token_counts(tokenizer, list(choices.values()))))
    active = "default"
    total = sum(_answers_per_model(sets, config, train_prompt_template) if k in generate_at
                else sum(len(v) for n, v in sets.items() if n in AGE_SETS) for k in steps)
    with _Progress(config.progress, total) as progress:
        for k, name in zip(steps, names):
            if k != steps[0]:
                model.load_adapter(str(checkpoints[k]), adapter_name=name)
                model.set_adapter(name)
                model.delete_adapter(active)
                active = name
            started = time.perf_counter()
            answers = probe_model(model, tokenizer, sets, config, name, train_prompt_template=train_prompt_template,
                                  progress=progress, generate_answers=k in generate_at, exposure=exposure,
                                  max_seq_length=max_seq_length)
            results.rows.extend(answers.rows)
            results.excluded.update(answers.excluded)
            if answers.band_reference is not None:
                results.band_reference[name] = answers.band_reference
            results.timings[f"{name}_seconds"] = round(time.perf_counter() - started, 3)
    if world > 1:
        return gather(results, full, world=world, state=state, train_prompt_template=train_prompt_template)
    return results
