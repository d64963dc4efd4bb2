"""Probes: ask base and tuned models the same questions about the same titles.

    >>> from emergence.probes import ProbeConfig, generate
    >>> from emergence.models import build_tiny_model, load_model_and_tokenizer
    >>> import tempfile
    >>> model, tok = load_model_and_tokenizer(build_tiny_model("llama", tempfile.mkdtemp()))
    >>> answers = generate(model, tok, ["what is the minimum recommended age for reading "
    ...                                 "Goodnight Bunny and why?"], ProbeConfig(max_new_tokens_age=8))
    >>> len(answers) == 1 and isinstance(answers[0], str)
    True

What is probed, per eval set (emergence.evalsets):

- ``age_heldout`` / ``age_seen``: the seed study's question verbatim ("what is the minimum
  recommended age for reading {title} and why?"), optional extra phrasings, and optionally
  the ``completion`` variant: the training prompt template alone (the title), which asks
  the tuned model to write its training text and so measures recall of planted cues. Each
  answer is parsed for an age (``emergence.agecues.parse_age_answer``) and scored by
  ``emergence.metrics``. Beside free generation, a generation-free measure: the summed
  log-probability the model gives each age band's answer ("Ages 3-5") after the question.
- ``intent_seen`` / ``intent_heldout``: "What was the author's intent in writing {title}?",
  scored for overlap with the record's content, and the k-extractable test (Carlini et al.):
  feed the first k tokens of the content in its training context, greedy-decode the next
  50, exact match with the true next 50.

Base and tuned answers come from ONE load of the base weights: the adapter is attached
with PEFT and switched off (``with model.disable_adapter():``) for the base answers, so the
two answer the same items with the same decoding. Metrics are never computed here: every
number goes through ``emergence.metrics`` (per item) and ``emergence.stats`` (intervals).
torch / transformers / peft are imported inside the functions that need them.
"""
from __future__ import annotations

import contextlib
import json
import math
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal, Sequence

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "SEED_AGE_PROMPT",
    "INTENT_PROMPT",
    "ProbeConfig",
    "ProbeRow",
    "ProbeResults",
    "ProbeMetrics",
    "band_choices",
    "band_loglikelihoods",
    "extract_continuations",
    "generate",
    "generate_tokens",
    "generation_config",
    "paired_scores",
    "run_probes",
    "score",
    "verdicts",
]

SEED_AGE_PROMPT = "what is the minimum recommended age for reading {title} and why?"
INTENT_PROMPT = "What was the author's intent in writing {title}?"
AGE_SETS = ("age_heldout", "age_seen")
INTENT_SETS = ("intent_seen", "intent_heldout")


class ProbeConfig(BaseModel):
    """What to ask, how to decode, and which measures to take."""

    age_prompt: str = Field(SEED_AGE_PROMPT, description="The age question; {title} is "
                            "replaced by the title. Default: the seed study's, verbatim.")
    age_variants: dict[str, str] = Field(
        default_factory=dict,
        description="Extra named phrasings of the age question, e.g. {'how_old': 'How old "
        "should a reader be for {title}?'}; each is asked and scored like the main one.")
    completion_variant: bool = Field(
        False, description="Also ask the age sets with the training prompt template alone "
        "(variant 'completion'): a tuned model then writes its training text, which "
        "measures recall of cues planted there.")
    train_prompt_template: str = Field(
        "{title}", description="The training run's user-prompt template (the title alone by "
        "default); used by the completion variant and as the k-extractable context.")
    intent_prompt: str = Field(INTENT_PROMPT, description="The author-intent question; "
                               "{title} is replaced by the title.")
    max_new_tokens_age: int = Field(48, ge=1, description="New-token cap for age answers "
                                    "(short: an age is stated early or not at all).")
    max_new_tokens_intent: int = Field(64, ge=1, description="New-token cap for "
                                       "author-intent answers.")
    min_new_tokens: int | None = Field(
        None, ge=0, description="Force at least this many new tokens (benchmarks of "
        "random-init models set it to the cap so every run decodes the same length).")
    batch_size: int = Field(8, ge=1, description="Prompts per generate() call (left-padded).")
    do_sample: bool = Field(False, description="Sample instead of greedy decoding.")
    temperature: float = Field(1.0, gt=0, description="Sampling temperature (do_sample only).")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling mass (do_sample only).")
    seed: int = Field(0, description="torch seed set before sampling (do_sample only).")
    band_loglik: bool = Field(True, description="Score each age band's answer text by "
                              "log-likelihood after the age question (no generation).")
    band_choice_template: str = Field("Ages {band}", description="Answer text of one band "
                                      "for the log-likelihood measure; {band} is e.g. '3-5'.")
    extractable: bool = Field(True, description="Run the k-extractable test on the intent sets.")
    k: int = Field(32, ge=1, description="k-extractable prefix length in tokens of the "
                   "content (32 keeps most of the sample corpus's short contents, whose "
                   "median is about 90 tokens, eligible for k + 50).")
    extract_tokens: int = Field(50, ge=1, description="Tokens greedily decoded after the "
                                "prefix and compared with the content's true next tokens.")
    sets: list[str] = Field(default_factory=lambda: list(AGE_SETS + INTENT_SETS),
                            description="Which eval sets to probe (those present are used).")
    device: str | None = Field(None, description="torch device; None: CUDA when present.")
    dtype: str | None = Field(None, description="torch dtype name; None: bf16 on CUDA, "
                              "fp32 on CPU.")
    verdict_variant: str = Field("seed", description="The age variant the verdicts judge.")
    progress: bool | None = Field(None, description="Show a progress bar; None: only on a "
                                  "terminal.")

    def age_prompts(self) -> dict[str, str]:
        """Variant name -> template for the age sets, in the order they are asked."""
        prompts = {"seed": self.age_prompt, **self.age_variants}
        if self.completion_variant:
            prompts["completion"] = self.train_prompt_template
        return prompts


# ---------------------------------------------------------------------------- generation


def _render(tokenizer: Any, prompt: str) -> str:
    """The chat-templated text of one user turn, ending where the assistant would speak."""
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False)


def _encode(tokenizer: Any, text: str) -> list[int]:
    # The chat template already writes bos (where the model wants one): add nothing more.
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    ids: set[int] = set()
    gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in (gen_eos, tokenizer.eos_token_id):
        if value is None:
            continue
        ids.update(value if isinstance(value, (list, tuple)) else [value])
    return sorted(ids)


def generation_config(model: Any, tokenizer: Any, max_new_tokens: int, config: ProbeConfig,
                       *, greedy: bool = False) -> Any:
    """A fresh GenerationConfig: the model's own may carry sampling defaults we must not use."""
    from transformers import GenerationConfig

    sample = config.do_sample and not greedy
    kwargs: dict[str, Any] = dict(
        max_new_tokens=max_new_tokens,
        do_sample=sample,
        eos_token_id=_eos_ids(model, tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    if config.min_new_tokens:
        kwargs["min_new_tokens"] = min(config.min_new_tokens, max_new_tokens)
    if sample:
        kwargs.update(temperature=config.temperature, top_p=config.top_p, top_k=0)
    return GenerationConfig(**kwargs)


def _device_of(model: Any) -> Any:
    return next(model.parameters()).device


def _progress(enabled: bool | None, total: int) -> Any:
    """A rich progress bar on a terminal (or when asked); a no-op context otherwise."""
    import sys

    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled or total <= 0:
        return contextlib.nullcontext(None)
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                        transient=True)
    return progress


def _generate_ids(model: Any, tokenizer: Any, contexts: Sequence[list[int]],
                  gen_config: Any, batch_size: int, *, seed: int | None = None,
                  on_batch: Any = None) -> list[list[int]]:
    """Greedy/sampled continuations of token-id contexts, batched with left padding.

    Contexts are sorted by length so each batch pads little; results come back in input
    order, each cut at its first eos (eos itself dropped).
    """
    import torch

    if seed is not None:
        torch.manual_seed(seed)
    device = _device_of(model)
    pad = tokenizer.pad_token_id
    eos = set(gen_config.eos_token_id or [])
    order = sorted(range(len(contexts)), key=lambda i: (len(contexts[i]), i))
    out: list[list[int]] = [[] for _ in contexts]
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            width = max(len(contexts[i]) for i in idx)
            ids = torch.full((len(idx), width), pad, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for row, i in enumerate(idx):
                ctx = contexts[i]
                ids[row, width - len(ctx):] = torch.tensor(ctx, dtype=torch.long)
                mask[row, width - len(ctx):] = 1
            generated = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device),
                                       generation_config=gen_config)
            for row, i in enumerate(idx):
                new = generated[row, width:].tolist()
                cut = next((j for j, t in enumerate(new) if t in eos), len(new))
                out[i] = new[:cut]
            if on_batch is not None:
                on_batch(len(idx))
    return out


def generate_tokens(model: Any, tokenizer: Any, prompts: Sequence[str],
                    config: ProbeConfig | None = None, *, max_new_tokens: int | None = None,
                    on_batch: Any = None) -> list[list[int]]:
    """The new token ids answering each user prompt (see :func:`generate`), eos cut off."""
    config = config or ProbeConfig()
    cap = max_new_tokens or config.max_new_tokens_age
    contexts = [_encode(tokenizer, _render(tokenizer, p)) for p in prompts]
    gen_config = generation_config(model, tokenizer, cap, config)
    return _generate_ids(model, tokenizer, contexts, gen_config, config.batch_size,
                         seed=config.seed if config.do_sample else None, on_batch=on_batch)


def generate(model: Any, tokenizer: Any, prompts: Sequence[str], config: ProbeConfig | None = None,
             *, max_new_tokens: int | None = None, on_batch: Any = None) -> list[str]:
    """Answer each user prompt: chat template applied, batched with left padding.

    Decodes only the new tokens, stopping on eos; greedy unless ``config.do_sample``.
    ``max_new_tokens`` defaults to ``config.max_new_tokens_age``.
    """
    ids = generate_tokens(model, tokenizer, prompts, config, max_new_tokens=max_new_tokens,
                          on_batch=on_batch)
    return [tokenizer.decode(x, skip_special_tokens=True).strip() for x in ids]


def band_choices(config: ProbeConfig | None = None) -> dict[str, str]:
    """Band name -> the answer text scored for it, in AGE_BANDS order ('3-5' -> 'Ages 3-5')."""
    from emergence.agecues import AGE_BANDS

    template = (config or ProbeConfig()).band_choice_template
    return {name: template.format(band=name) for name, *_ in AGE_BANDS}


def band_loglikelihoods(model: Any, tokenizer: Any, prompts: Sequence[str],
                        choices: Sequence[str], *, batch_size: int = 16) -> list[list[float]]:
    """Summed log-probability of each choice text as the answer to each chat-templated prompt.

    Returns ``[prompt][choice]``; no generation is involved. Each prompt is encoded once
    and its key/value cache is shared by every choice (the choices are a few tokens, the
    templated prompt ~50), which makes this several times cheaper than scoring
    ``prompt + choice`` sequences separately. Choices are right-padded after the shared
    prefix with explicit positions, so every real token sees exactly the context it would
    unpadded. ``batch_size`` is kept for callers; prompts go one at a time.
    """
    import torch

    del batch_size  # one prompt (times len(choices) continuations) per forward pass
    device = _device_of(model)
    choice_ids = [_encode(tokenizer, c) for c in choices]
    n, width = len(choice_ids), max(len(c) for c in choice_ids)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    cont = torch.full((n, width), pad, dtype=torch.long)
    cont_mask = torch.zeros((n, width), dtype=torch.long)
    for row, ids in enumerate(choice_ids):
        cont[row, :len(ids)] = torch.tensor(ids, dtype=torch.long)
        cont_mask[row, :len(ids)] = 1
    cont, cont_mask = cont.to(device), cont_mask.to(device)
    out: list[list[float]] = []
    with torch.inference_mode():
        for prompt in prompts:
            ctx = _encode(tokenizer, _render(tokenizer, prompt))
            length = len(ctx)
            first = model(input_ids=torch.tensor([ctx], device=device), use_cache=True)
            # the first choice token is predicted by the prompt's last position
            head = torch.log_softmax(first.logits[0, -1].float(), dim=-1)
            past = first.past_key_values
            past.batch_repeat_interleave(n)
            mask = torch.cat([torch.ones((n, length), dtype=torch.long, device=device), cont_mask], dim=1)
            positions = torch.arange(length, length + width, device=device).expand(n, width)
            logits = model(input_ids=cont, attention_mask=mask, position_ids=positions,
                           past_key_values=past, use_cache=True).logits
            logprobs = torch.log_softmax(logits.float(), dim=-1)
            row_scores = []
            for row, ids in enumerate(choice_ids):
                score = head[ids[0]]
                if len(ids) > 1:
                    targets = torch.tensor(ids[1:], device=logprobs.device)
                    # token t of the choice is predicted by the logits at t - 1
                    score = score + logprobs[row, :len(ids) - 1].gather(1, targets[:, None]).sum()
                row_scores.append(float(score))
            out.append(row_scores)
    return out


def extract_continuations(model: Any, tokenizer: Any, titles: Sequence[str],
                          contents: Sequence[str], config: ProbeConfig | None = None
                          ) -> list[tuple[list[int], list[int]] | None]:
    """k-extractable inputs and outputs: ``(generated ids, true next ids)`` per item.

    The context is the training exchange (the title in the training prompt template, then
    the first ``k`` tokens of the content as the assistant's turn); the model decodes
    ``extract_tokens`` tokens greedily. Items whose content is shorter than
    ``k + extract_tokens`` tokens give None (excluded, and counted by the caller).
    """
    config = config or ProbeConfig()
    k, m = config.k, config.extract_tokens
    contexts: list[list[int]] = []
    truths: list[list[int]] = []
    where: list[int] = []
    for i, (title, content) in enumerate(zip(titles, contents)):
        content_ids = _encode(tokenizer, content)
        if len(content_ids) < k + m:
            continue
        prefix = _encode(tokenizer, _render(tokenizer, config.train_prompt_template.format(
            title=title)))
        contexts.append(prefix + content_ids[:k])
        truths.append(content_ids[k:k + m])
        where.append(i)
    gen_config = generation_config(model, tokenizer, m, config, greedy=True)
    generated = _generate_ids(model, tokenizer, contexts, gen_config, config.batch_size)
    out: list[tuple[list[int], list[int]] | None] = [None] * len(titles)
    for i, gen, truth in zip(where, generated, truths):
        out[i] = (gen, truth)
    return out


# ---------------------------------------------------------------------------- results


def _nan_to_none(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


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
    model: Literal["base", "tuned"] = Field(description="Base weights, or base plus adapter.")
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
        None, description="Band -> summed log-prob of its answer text after the age question "
        "(age sets, main variant only).")

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
    set_sizes: dict[str, int] = Field(default_factory=dict, description="Items per eval set "
                                      "probed.")
    train_band_counts: dict[str, int] = Field(
        default_factory=dict, description="Band counts of training-side labels, for the "
        "majority-band baseline (never held-out labels).")
    timings: dict[str, float] = Field(default_factory=dict, description="Seconds spent per "
                                      "model and stage, and answers/s.")

    def select(self, *, set: str | None = None, model: str | None = None,
               variant: str | None = None) -> list[ProbeRow]:
        """Rows matching every given field, in run order."""
        return [r for r in self.rows if (set is None or r.set == set)
                and (model is None or r.model == model)
                and (variant is None or r.variant == variant)]

    def write(self, out_dir: str | Path) -> Path:
        """Write ``answers.jsonl`` (one ProbeRow per line) and ``probe_run.json`` (the rest)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        path = out / "answers.jsonl"
        with open(path, "w", encoding="utf-8") as fh:
            for row in self.rows:
                fh.write(row.model_dump_json() + "\n")
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


def _clean_scores(scores: dict[str, Any]) -> dict[str, float | None]:
    return {k: _nan_to_none(float(v)) for k, v in scores.items()}


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


def run_probes(model_spec: str | Path, eval_sets: dict[str, list[Any]],
               config: ProbeConfig | None = None, *, adapter: str | Path | None = None,
               models: Sequence[str] | None = None) -> ProbeResults:
    """Probe the base model (and base + adapter) on the eval sets, from ONE load of the base.

    ``models`` defaults to ``("base", "tuned")`` with an adapter and ``("base",)`` without.
    Base answers with an adapter attached are taken inside ``model.disable_adapter()``, so
    base and tuned rows answer the same items with the same decoding.
    """
    from emergence.agecues import parse_age_answer
    from emergence.metrics import score_age, score_age_choice, score_intent
    from emergence.models import load_model_and_tokenizer

    config = config or ProbeConfig()
    models = tuple(models) if models is not None else (("base", "tuned") if adapter else ("base",))
    if "tuned" in models and adapter is None:
        raise ValueError("the tuned model needs an adapter: pass adapter=<adapter dir>")
    if not set(models) <= {"base", "tuned"}:
        raise ValueError(f"models must be drawn from ('base', 'tuned'), got {models}")
    model, tokenizer = load_model_and_tokenizer(
        model_spec, device=config.device, dtype=config.dtype, adapter=adapter)
    sets = {name: list(eval_sets.get(name, [])) for name in config.sets if eval_sets.get(name)}
    results = ProbeResults(model=str(model_spec), adapter=str(adapter) if adapter else None,
                           models=list(models), config=config,
                           set_sizes={name: len(items) for name, items in sets.items()},
                           train_band_counts=_train_band_counts(eval_sets))
    choices = band_choices(config)
    variants = config.age_prompts()
    total = 0
    for name, items in sets.items():
        per_model = len(items) * (len(variants) if name in AGE_SETS else
                                  1 + int(config.extractable))
        total += per_model * len(models)

    progress_ctx = _progress(config.progress, total)
    with progress_ctx as progress:
        task = progress.add_task("probing", total=total) if progress is not None else None

        def advance(n: int) -> None:
            if progress is not None:
                progress.advance(task, n)

        for which in models:
            switch = (model.disable_adapter() if which == "base" and adapter is not None
                      else contextlib.nullcontext())
            started = time.perf_counter()
            answered = 0
            with switch:
                for name, items in sets.items():
                    if progress is not None:
                        progress.update(task, description=f"{which} · {name}")
                    if name in AGE_SETS:
                        lls = (band_loglikelihoods(model, tokenizer,
                                                   [config.age_prompt.format(title=it.title)
                                                    for it in items], list(choices.values()),
                                                   batch_size=config.batch_size)
                               if config.band_loglik else None)
                        for variant, template in variants.items():
                            prompts = [template.format(title=it.title) for it in items]
                            answers = generate(model, tokenizer, prompts, config,
                                               max_new_tokens=config.max_new_tokens_age,
                                               on_batch=advance)
                            answered += len(answers)
                            for i, (it, prompt, answer) in enumerate(zip(items, prompts, answers)):
                                scores: dict[str, Any] = {}
                                if it.label_age is not None:
                                    scores.update(score_age(answer, it.label_age))
                                band_ll = None
                                if lls is not None and variant == "seed":
                                    band_ll = dict(zip(choices, lls[i]))
                                    if it.label_band is not None:
                                        scores.update(score_age_choice(lls[i], it.label_band,
                                                                       it.label_age))
                                parsed = parse_age_answer(answer)
                                results.rows.append(_row(name, it, which, variant, prompt,
                                                         answer, parsed, scores, band_ll))
                    else:
                        prompts = [config.intent_prompt.format(title=it.title) for it in items]
                        answers = generate(model, tokenizer, prompts, config,
                                           max_new_tokens=config.max_new_tokens_intent,
                                           on_batch=advance)
                        answered += len(answers)
                        for it, prompt, answer in zip(items, prompts, answers):
                            results.rows.append(_row(name, it, which, "intent", prompt, answer,
                                                     parse_age_answer(answer),
                                                     score_intent(answer, it.content), None))
                        if config.extractable:
                            answered += _extract_rows(results, model, tokenizer, name, items,
                                                      which, config)
                            advance(len(items))
            elapsed = time.perf_counter() - started
            results.timings[f"{which}_seconds"] = round(elapsed, 3)
            results.timings[f"{which}_answers_per_s"] = round(answered / elapsed, 3) if elapsed else 0.0
    return results


def _row(name: str, item: Any, which: str, variant: str, prompt: str, answer: str,
         parsed: float | None, scores: dict[str, Any], band_ll: dict[str, float] | None
         ) -> ProbeRow:
    return ProbeRow(set=name, item_id=item.id, uid=item.uid, title=item.title,
                    label_age=item.label_age, label_band=item.label_band,
                    label_source=item.label_source, model=which, variant=variant,
                    prompt=prompt, answer=answer, parsed_age=parsed,
                    scores=_clean_scores(scores), band_loglikelihoods=band_ll)


def _extract_rows(results: ProbeResults, model: Any, tokenizer: Any, name: str,
                  items: Sequence[Any], which: str, config: ProbeConfig) -> int:
    from emergence.metrics import k_extractable

    pairs = extract_continuations(model, tokenizer, [it.title for it in items],
                                  [it.content for it in items], config)
    results.excluded[name] = sum(p is None for p in pairs)
    done = 0
    for it, pair in zip(items, pairs):
        if pair is None:
            continue
        generated, truth = pair
        prefix_ids = _encode(tokenizer, it.content)[:config.k]
        results.rows.append(_row(
            name, it, which, "extract", tokenizer.decode(prefix_ids, skip_special_tokens=True),
            tokenizer.decode(generated, skip_special_tokens=True), None,
            {"k_extractable": k_extractable(generated, truth)}, None))
        done += 1
    return done


# ---------------------------------------------------------------------------- scoring


class ProbeMetrics(BaseModel):
    """Every aggregate of a probe run, each an Estimate with its interval."""

    tables: dict[str, dict[str, dict[str, dict[str, Any]]]] = Field(
        description="set -> model -> variant -> metric -> Estimate.")
    by_band: dict[str, dict[str, dict[str, dict[str, Any]]]] = Field(
        default_factory=dict, description="age set -> model -> true band -> metric -> "
        "Estimate (main variant).")
    baselines: dict[str, dict[str, dict[str, Any]]] = Field(
        default_factory=dict, description="baseline -> age set -> metric -> Estimate "
        "(answers scored by the same metrics.score_age).")
    memorisation_gap: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="model -> metric -> Estimate of seen minus "
        "held-out (intent answers and k-extractable).")
    majority_band: str | None = Field(None, description="The majority baseline's band.")
    excluded: dict[str, int] = Field(default_factory=dict, description="k-extractable "
                                     "items left out per set (content too short).")
    set_sizes: dict[str, int] = Field(default_factory=dict, description="Items per set.")


def paired_scores(results: ProbeResults, set_name: str, variant: str
                  ) -> dict[str, list[dict[str, float]]]:
    """model -> per-item score dicts of one set and variant, in the same item order.

    Only items answered by every probed model are kept, so index i is one item throughout.
    """
    per_model: dict[str, dict[str, dict[str, float]]] = {}
    order: list[str] = []
    for row in results.select(set=set_name, variant=variant):
        if row.item_id not in per_model.setdefault(row.model, {}):
            per_model[row.model][row.item_id] = row.metric_scores()
            if row.model == results.models[0]:
                order.append(row.item_id)
    common = [i for i in order if all(i in per_model.get(m, {}) for m in results.models)]
    return {m: [per_model[m][i] for i in common] for m in results.models if m in per_model}


def _dump(estimates: dict[str, Any]) -> dict[str, Any]:
    return {k: v.model_dump(mode="json") for k, v in estimates.items()}


def score(results: ProbeResults) -> ProbeMetrics:
    """Aggregate a probe run through emergence.metrics: per set × model × variant, per true
    band, the baselines on the age sets, and the memorisation gap (seen - held-out)."""
    from emergence.baselines import baseline_answers, majority_band
    from emergence.metrics import (AGE_CHOICE_KEYS, AGE_KEYS, EXTRACTION_KEYS, INTENT_KEYS,
                                   memorisation_gap, score_age, summarise, summarise_by_band)

    tables: dict[str, Any] = {}
    by_band: dict[str, Any] = {}
    for row in results.rows:
        tables.setdefault(row.set, {}).setdefault(row.model, {}).setdefault(row.variant, [])
    for set_name, per_model in tables.items():
        for which, per_variant in per_model.items():
            for variant in list(per_variant):
                rows = results.select(set=set_name, model=which, variant=variant)
                scores = [r.metric_scores() for r in rows]
                keys = [k for k in (*AGE_KEYS, *AGE_CHOICE_KEYS, *INTENT_KEYS, *EXTRACTION_KEYS)
                        if any(k in s for s in scores)]
                per_variant[variant] = _dump(summarise(scores, keys))
                if set_name in AGE_SETS and variant == results.config.verdict_variant:
                    labelled = [(s, r.label_band) for s, r in zip(scores, rows) if r.label_band]
                    if labelled:
                        by_band.setdefault(set_name, {})[which] = {
                            band: _dump(est) for band, est in summarise_by_band(
                                [s for s, _ in labelled], [b for _, b in labelled],
                                keys=("inferred", "within_2y", "band_correct")).items()}

    majority = (majority_band([b for b, c in results.train_band_counts.items()
                               for _ in range(c)]) if results.train_band_counts else None)
    baselines: dict[str, Any] = {}
    first = results.models[0] if results.models else "base"
    for set_name in AGE_SETS:
        items = [r for r in results.select(set=set_name, model=first,
                                           variant=results.config.verdict_variant)
                 if r.label_age is not None]
        if not items:
            continue
        kinds = (("majority", "rule") if majority else ("rule",))
        for kind in kinds:
            answers = baseline_answers(items, kind, majority=majority)
            scores = [score_age(a, r.label_age) for a, r in zip(answers, items)]
            baselines.setdefault(kind, {})[set_name] = _dump(summarise(scores, AGE_KEYS))

    gaps: dict[str, Any] = {}
    for which in results.models:
        for variant, keys in (("intent", ("rouge_l", "lcs_ratio", "ngram8_overlap")),
                              ("extract", EXTRACTION_KEYS)):
            seen = [r.metric_scores() for r in results.select(set="intent_seen", model=which,
                                                               variant=variant)]
            held = [r.metric_scores() for r in results.select(set="intent_heldout", model=which,
                                                               variant=variant)]
            if seen and held:
                for key in keys:
                    gaps.setdefault(which, {})[key] = memorisation_gap(
                        seen, held, key).model_dump(mode="json")
    return ProbeMetrics(tables=tables, by_band=by_band, baselines=baselines,
                        memorisation_gap=gaps, majority_band=majority,
                        excluded=dict(results.excluded), set_sizes=dict(results.set_sizes))


def verdicts(results: ProbeResults, hypotheses: Iterable[Any] | None = None, *,
             variant: str | None = None) -> list[Any]:
    """Judge the built-in hypotheses (or those given) that this run's answers can decide.

    Paired hypotheses (base vs tuned) need both models and compare the same items of the
    age variant ``variant`` (default ``config.verdict_variant``); seen-minus-held-out
    hypotheses need the named model's intent answers (or k-extractable rows when the
    metric is ``k_extractable``).
    """
    from emergence.hypothesis import BUILTIN_HYPOTHESES, judge, judge_gap
    from emergence.metrics import values_of

    variant = variant or results.config.verdict_variant
    out = []
    for h in (BUILTIN_HYPOTHESES if hypotheses is None else hypotheses):
        if h.comparison == "paired_base_tuned":
            if not {"base", "tuned"} <= set(results.models):
                continue
            name = h.eval_sets[0]
            v = variant if name in AGE_SETS else ("extract" if h.metric == "k_extractable"
                                                  else "intent")
            paired = paired_scores(results, name, v)
            if not paired.get("base") or not any(h.metric in s for s in paired["base"]):
                continue
            out.append(judge(h, values_of(paired["base"], h.metric),
                             values_of(paired["tuned"], h.metric)))
        else:
            if h.model not in results.models:
                continue
            seen_set, held_set = h.eval_sets
            v = "extract" if h.metric == "k_extractable" else (
                variant if seen_set in AGE_SETS else "intent")
            seen = [r.metric_scores() for r in results.select(set=seen_set, model=h.model,
                                                               variant=v)]
            held = [r.metric_scores() for r in results.select(set=held_set, model=h.model,
                                                               variant=v)]
            if not seen or not held:
                continue
            out.append(judge_gap(h, values_of(seen, h.metric), values_of(held, h.metric)))
    return out
