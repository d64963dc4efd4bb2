"""Score probe answers: per-item scores on each row, then tables of every metric with its interval.

    >>> from emergence.scoring import band_scores
    >>> band_scores({"0-2": -9.0, "3-5": -5.0}, "domain", reference={"0-2": -8.0, "3-5": -8.0},
    ...             tokens={"0-2": 3, "3-5": 3})
    [-1.0, 3.0]

:func:`score_rows` fills each row's ``parsed_age`` and ``scores`` through
:mod:`emergence.metrics` (the single implementation of every metric); :func:`score`
aggregates a scored run per set × model × variant, per true band, for the baselines and
as the memorisation gap. Band log-likelihoods are turned into band scores here (the
probe stores raw log-likelihoods), so the normalisation is a scoring choice that a run
can change without probing again.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from pydantic import BaseModel, Field

from emergence.probe.config import AGE_SETS
from emergence.probe.run import ProbeResults, ProbeRow

__all__ = ["ProbeMetrics", "add_reference_scores", "band_scores", "paired_rows", "score", "score_row", "score_rows", "variant_of"]


def variant_of(family: str, verdict_variant: str) -> str:
    """The row variant a metric family is read from: age metrics from the judged age
    question, intent metrics from the author-intent answers, extraction from 'extract'."""
    return {"age": verdict_variant, "age_choice": verdict_variant, "intent": "intent",
            "extract": "extract", "membership": "membership"}[family]


def band_scores(logliks: Mapping[str, float], how: str, *, reference: Mapping[str, float] | None = None,
                tokens: Mapping[str, int] | None = None) -> list[float]:
    """Band scores in AGE_BANDS order from raw band log-likelihoods (see ProbeConfig.band_normalise)."""
    from emergence.metrics import band_names

    names = band_names()
    raw = [float(logliks[b]) for b in names]
    if how == "sum":
        return raw
    if how == "mean":
        if not tokens:
            raise ValueError("'mean' band scoring needs each band text's token count")
        return [x / max(int(tokens[b]), 1) for x, b in zip(raw, names)]
    if how == "domain":
        if not reference:
            raise ValueError("'domain' band scoring needs the neutral question's band log-likelihoods")
        return [x - float(reference[b]) for x, b in zip(raw, names)]
    raise ValueError(f"unknown band scoring {how!r}")


def paired_rows(results: ProbeResults, set_name: str, variant: str,
                models: tuple[str, str] = ("base", "tuned")) -> list[tuple[ProbeRow, ProbeRow]]:
    """(control row, treated row) per item answered by both models, in the control's item order."""
    first, second = models
    treated = {r.item_id: r for r in results.select(set=set_name, model=second, variant=variant)}
    return [(r, treated[r.item_id]) for r in results.select(set=set_name, model=first, variant=variant)
            if r.item_id in treated]


def score_row(row: ProbeRow, item: Any, results: ProbeResults) -> ProbeRow:
    """The row with its ``parsed_age`` and per-item ``scores`` filled in (a new row)."""
    from emergence.agecues import parse_age_answer
    from emergence.metrics import score_age_choice, score_extraction, score_intent, score_membership, score_parsed_age

    scores: dict[str, Any] = {}
    parsed = None
    if row.variant == "membership":
        scores.update(score_membership(row.membership or {}))
    elif row.variant == "extract":
        ids = row.token_ids or {}
        if ids.get("truth"):
            scores.update(score_extraction(ids.get("generated", []), ids["truth"]))
        else:  # a row written before token ids were kept: its score stands
            scores.update(row.scores)
    elif row.variant == "bands":  # generation-free: the band measure alone
        if row.band_loglikelihoods and row.label_band is not None:
            lls = band_scores(row.band_loglikelihoods, results.config.band_normalise,
                              reference=results.band_reference.get(row.model), tokens=results.band_tokens)
            scores.update(score_age_choice(lls, row.label_band, row.label_age))
    elif row.variant == "intent":
        parsed = parse_age_answer(row.answer, title=row.title)
        scores.update(score_intent(row.answer, getattr(item, "content", "") or ""))
    else:
        # the title the question named is removed before numbers are read ("…Bees: 50 Facts…")
        parsed = parse_age_answer(row.answer, title=row.title)
        if row.label_age is not None:
            scores.update(score_parsed_age(parsed, row.label_age))
        if row.band_loglikelihoods and row.label_band is not None:
            cfg = results.config
            lls = band_scores(row.band_loglikelihoods, cfg.band_normalise,
                              reference=results.band_reference.get(row.model), tokens=results.band_tokens)
            scores.update(score_age_choice(lls, row.label_band, row.label_age))
    clean = {k: (None if isinstance(v, float) and math.isnan(v) else float(v)) for k, v in scores.items()}
    return row.model_copy(update={"parsed_age": parsed, "scores": clean})


def score_rows(results: ProbeResults, eval_sets: Mapping[str, Sequence[Any]]) -> ProbeResults:
    """The run with every row scored (intent rows read their item's content from ``eval_sets``).

    A tuned model's membership row also gets the reference-calibrated score, its
    log-likelihood minus the base model's on the same item and tokens
    (:func:`emergence.memorisation.reference_scores`); it is left out where the base did
    not score that item."""
    items = {it.id: it for name in eval_sets for it in eval_sets[name]}
    rows = [score_row(r, items.get(r.item_id), results) for r in results.rows]
    return add_reference_scores(results.model_copy(update={"rows": rows}))


def add_reference_scores(results: ProbeResults) -> ProbeResults:
    """The run with the reference-calibrated score on every scored non-base membership row
    whose item the base model scored too (tuned minus base log-likelihood)."""
    return results.model_copy(update={"rows": _with_reference(results.rows)})


def _with_reference(rows: list[ProbeRow]) -> list[ProbeRow]:
    from emergence.memorisation import MembershipScores, reference_scores

    base = {(r.set, r.item_id): r for r in rows if r.variant == "membership" and r.model == "base" and r.membership}
    out = []
    for r in rows:
        b = base.get((r.set, r.item_id))
        if r.variant == "membership" and r.model != "base" and r.membership and b is not None:
            ref = reference_scores([MembershipScores(**r.membership)], [MembershipScores(**b.membership)])[0]
            r = r.model_copy(update={"scores": {**r.scores, "reference": float(ref)}})
        out.append(r)
    return out


# ---------------------------------------------------------------------------- tables


class ProbeMetrics(BaseModel):
    """Every aggregate of a probe run, each an Estimate with its interval."""

    tables: dict[str, dict[str, dict[str, dict[str, Any]]]] = Field(
        description="set -> model -> variant -> metric -> Estimate.")
    by_band: dict[str, dict[str, dict[str, dict[str, Any]]]] = Field(
        default_factory=dict, description="age set -> model -> true band -> metric -> Estimate (main variant).")
    baselines: dict[str, dict[str, dict[str, Any]]] = Field(
        default_factory=dict, description="baseline -> age set -> metric -> Estimate "
        "(answers scored by the same metrics.score_age).")
    memorisation_gap: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="model -> metric -> Estimate of seen minus held-out "
        "(intent answers and k-extractable).")
    paired: dict[str, dict[str, dict[str, Any]]] = Field(
        default_factory=dict, description="set -> metric -> base vs tuned on the items both have a value for "
        "(a mean error over the items both models answered): {'n', 'base', 'tuned', 'difference'} Estimates.")
    majority_band: str | None = Field(None, description="The majority baseline's band.")
    excluded: dict[str, int] = Field(default_factory=dict, description="k-extractable items left out "
                                     "per set (content too short).")
    set_sizes: dict[str, int] = Field(default_factory=dict, description="Items per set.")


def _dump(estimates: dict[str, Any]) -> dict[str, Any]:
    return {k: v.model_dump(mode="json") for k, v in estimates.items()}


def score(results: ProbeResults) -> ProbeMetrics:
    """Aggregate a scored probe run through emergence.metrics: per set × model × variant, per
    true band, the baselines on the age sets, and the memorisation gap (seen - held-out)."""
    from emergence.baselines import baseline_answers, majority_band
    from emergence.metrics import METRICS, keys, memorisation_gap, score_age, summarise, summarise_by_band

    verdict_variant = results.config.verdict_variant
    tables: dict[str, Any] = {}
    by_band: dict[str, Any] = {}
    for row in results.rows:
        tables.setdefault(row.set, {}).setdefault(row.model, {}).setdefault(row.variant, [])
    for set_name, per_model in tables.items():
        for which, per_variant in per_model.items():
            for variant in list(per_variant):
                rows = results.select(set=set_name, model=which, variant=variant)
                scores = [r.metric_scores() for r in rows]
                present = [k for k in METRICS if any(k in s for s in scores)]
                per_variant[variant] = _dump(summarise(scores, present))
                if set_name in AGE_SETS and variant == verdict_variant:
                    labelled = [(s, r.label_band) for s, r in zip(scores, rows) if r.label_band]
                    if labelled:
                        by_band.setdefault(set_name, {})[which] = {
                            band: _dump(est) for band, est in summarise_by_band(
                                [s for s, _ in labelled], [b for _, b in labelled],
                                keys=("inferred", "within_2y", "band_correct")).items()}

    majority = (majority_band([b for b, c in results.train_band_counts.items() for _ in range(c)])
                if results.train_band_counts else None)
    baselines: dict[str, Any] = {}
    first = results.models[0] if results.models else "base"
    for set_name in AGE_SETS:
        items = [r for r in results.select(set=set_name, model=first, variant=verdict_variant)
                 if r.label_age is not None]
        if not items:
            continue
        for kind in (("majority", "rule") if majority else ("rule",)):
            answers = baseline_answers(items, kind, majority=majority)
            scores = [score_age(a, r.label_age) for a, r in zip(answers, items)]
            baselines.setdefault(kind, {})[set_name] = _dump(summarise(scores, keys("age")))

    gaps: dict[str, Any] = {}
    for which in results.models:
        for fam in ("intent", "extract"):
            variant = variant_of(fam, verdict_variant)
            seen = [r.metric_scores() for r in results.select(set="intent_seen", model=which, variant=variant)]
            held = [r.metric_scores() for r in results.select(set="intent_heldout", model=which, variant=variant)]
            if seen and held:
                for key in keys(fam):  # type: ignore[arg-type]
                    gaps.setdefault(which, {})[key] = memorisation_gap(seen, held, key).model_dump(mode="json")
    return ProbeMetrics(tables=tables, by_band=by_band, baselines=baselines, memorisation_gap=gaps,
                        paired=_paired_tables(results), majority_band=majority, excluded=dict(results.excluded),
                        set_sizes=dict(results.set_sizes))


def _paired_tables(results: ProbeResults) -> dict[str, dict[str, dict[str, Any]]]:
    """Base vs tuned on the same items, per set and metric: like-for-like, NaNs dropped pairwise."""
    import math

    from emergence.metrics import METRICS
    from emergence.stats import interval

    if not {"base", "tuned"} <= set(results.models):
        return {}
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for set_name in sorted({r.set for r in results.rows}):
        for metric in METRICS.values():
            pairs = paired_rows(results, set_name, variant_of(metric.family, results.config.verdict_variant))
            both = [(b.metric_scores().get(metric.key, math.nan), t.metric_scores().get(metric.key, math.nan))
                    for b, t in pairs]
            both = [(x, y) for x, y in both if not (math.isnan(x) or math.isnan(y))]
            if len(both) < 2:
                continue
            base, tuned = [x for x, _ in both], [y for _, y in both]
            out.setdefault(set_name, {})[metric.key] = {
                "n": len(both),
                "base": interval(base, kind=metric.kind).model_dump(mode="json"),
                "tuned": interval(tuned, kind=metric.kind).model_dump(mode="json"),
                "difference": interval(base, tuned, design="paired", kind=metric.kind).model_dump(mode="json")}
    return out
