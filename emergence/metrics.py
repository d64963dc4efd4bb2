"""Per-item metrics and the METRICS registry: the single source of every metric's key,
words, kind, direction and format (tables, plots, CLIs, verdicts and tasks/ read it).

    >>> from emergence.metrics import METRICS, keys, score_age, score_intent
    >>> s = score_age("Suitable for ages 4 and up.", label_age=5.0)
    >>> s["inferred"], s["abs_error"], s["within_2y"], s["band_correct"]
    (1.0, 1.0, 1.0, 1.0)
    >>> score_age("I cannot say.", label_age=5.0)["inferred"]
    0.0
    >>> round(score_intent("the cat sat on the mat", "The cat sat on the mat today.")["rouge_l"], 3)
    0.923
    >>> METRICS["within_2y"].kind, METRICS["abs_error"].better, keys("age")
    ('binary', 'lower', ('inferred', 'abs_error', 'within_2y', 'band_correct'))

A metric is one :class:`Metric` entry: its per-item function reads the inputs of its
*family* (``age``: a free answer's parsed age and the label; ``age_choice``: the band
log-likelihoods; ``intent``: an answer and the training content; ``extract``: generated
and true token ids; ``membership``: the scores of one forward pass over a record's training
exchange, :mod:`emergence.memorisation.scores`, the reference score being tuned minus base). Adding a metric is one :func:`register` call; every table, chart,
CLI summary and score dict that lists a family picks it up. Parsing of free answers lives
in :mod:`emergence.agecues`; aggregation goes through :mod:`emergence.stats`.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any, Iterator, Literal

import numpy as np

from emergence.memorisation.scores import MEMBERSHIP_SCORES
from emergence.stats import Estimate, interval

Family = Literal["age", "age_choice", "intent", "extract", "membership"]
WITHIN_YEARS = 2.0
NGRAM = 8


@dataclass(frozen=True)
class Metric:
    """One metric: what it is called, how it is read, and its per-item function."""

    key: str
    label: str  # words for sentences and chart axes
    column: str  # a short table header
    family: Family  # which per-item inputs its function reads
    kind: Literal["binary", "continuous"]  # 0/1 per item (score intervals) or a real value
    better: Literal["higher", "lower"]
    fn: Callable[[Any], float]
    unit: str = ""  # "years", "characters", or "" for rates and scores
    digits: int = 2  # decimals shown (for rates: of the percentage, less 2)

    @property
    def percent(self) -> bool:
        """Shown as a percentage (every binary metric is a rate)."""
        return self.kind == "binary"


METRICS: dict[str, Metric] = {}


def register(metric: Metric) -> Metric:
    """Add a metric to the registry (its key must be new); returns it."""
    if metric.key in METRICS:
        raise ValueError(f"metric {metric.key!r} is registered already")
    METRICS[metric.key] = metric
    return metric


@contextmanager
def registered(metric: Metric) -> Iterator[Metric]:
    """Register ``metric`` for the duration of a ``with`` block (tests, experiments)."""
    register(metric)
    try:
        yield metric
    finally:
        METRICS.pop(metric.key, None)


def family(name: Family) -> tuple[Metric, ...]:
    """The metrics of one family, in registration order."""
    return tuple(m for m in METRICS.values() if m.family == name)


def keys(name: Family) -> tuple[str, ...]:
    """The keys of one family's metrics, in registration order."""
    return tuple(m.key for m in family(name))


def is_binary(key: str) -> bool:
    """True for 0/1 metrics (summarised as proportions with score intervals)."""
    metric = METRICS.get(key)
    return metric is not None and metric.kind == "binary"


def label(key: str) -> str:
    """The metric's words, or the key itself for an unregistered one."""
    metric = METRICS.get(key)
    return metric.label if metric else key


# --------------------------------------------------------------------------- bands
@cache
def band_names() -> tuple[str, ...]:
    """Band names in AGE_BANDS order (the order of multiple-choice log-likelihoods)."""
    from emergence.agecues import AGE_BANDS

    return tuple(name for name, _, _ in AGE_BANDS)


@cache
def band_midpoints() -> tuple[float, ...]:
    """A representative age per band: the midpoint of a closed band, the lower bound of
    the open adult band (a minimum reading age of "18+" is 18)."""
    from emergence.agecues import AGE_BANDS

    return tuple(lo if hi is None else (lo + hi) / 2.0 for _, lo, hi in AGE_BANDS)


def _band(age: float) -> str:
    from emergence.agecues import band_of

    return band_of(age)


# --------------------------------------------------------------------------- age (free answer)
@dataclass(frozen=True)
class AgeAnswer:
    """The inputs of the ``age`` family: the stated age (None: no age) and the true one."""

    parsed_age: float | None
    label_age: float


def _inferred(x: AgeAnswer) -> float:
    return 0.0 if x.parsed_age is None else 1.0


def _abs_error(x: AgeAnswer) -> float:
    return math.nan if x.parsed_age is None else abs(float(x.parsed_age) - x.label_age)


def _within(x: AgeAnswer) -> float:
    return 0.0 if x.parsed_age is None else float(abs(float(x.parsed_age) - x.label_age) <= WITHIN_YEARS)


def _band_correct(x: AgeAnswer) -> float:
    return 0.0 if x.parsed_age is None else float(_band(float(x.parsed_age)) == _band(x.label_age))


def _check_label(label_age: float | None) -> float:
    if label_age is None or (isinstance(label_age, float) and math.isnan(label_age)):
        raise ValueError("score_age needs a label age (got none)")
    return float(label_age)


def score_age(answer: str, label_age: float, *, title: str | None = None) -> dict[str, float]:
    """Score one free answer against the item's true minimum age (years): every ``age``
    metric, plus ``parsed_age`` (NaN when the answer states no age). ``title``: the title
    the question named, removed from the answer before its numbers are read."""
    from emergence.agecues import parse_age_answer

    return score_parsed_age(parse_age_answer(answer or "", title=title), label_age)


def score_parsed_age(parsed_age: float | None, label_age: float) -> dict[str, float]:
    """Every ``age`` metric of an already parsed answer (baselines and re-scoring use it)."""
    x = AgeAnswer(None if parsed_age is None else float(parsed_age), _check_label(label_age))
    out = {m.key: float(m.fn(x)) for m in family("age")}
    out["parsed_age"] = math.nan if parsed_age is None else float(parsed_age)
    return out


# --------------------------------------------------------------------------- age (band choice)
@dataclass(frozen=True)
class BandScores:
    """The inputs of the ``age_choice`` family: band probabilities and the truth."""

    logliks: tuple[float, ...]  # one per band, AGE_BANDS order
    probs: np.ndarray  # softmax of logliks
    truth: int  # index of the label band
    target_age: float  # the label age (or the label band's midpoint)


def _loglik(value: Any) -> float:
    # lm-eval hands loglikelihood results as (logprob, is_greedy) pairs
    if isinstance(value, (tuple, list)):
        value = value[0]
    return float(value)


def softmax(logits: Sequence[float]) -> np.ndarray:
    """Numerically stable softmax."""
    x = np.asarray(logits, dtype=float)
    x = np.exp(x - np.max(x))
    return x / x.sum()


def score_age_choice(loglikelihoods: Sequence[float], label_band: str,
                     label_age: float | None = None) -> dict[str, float]:
    """Score the log-likelihoods a model gives each AGE_BANDS answer (in AGE_BANDS order).

    Every ``age_choice`` metric, plus ``mc_band`` (the argmax band's index). Probabilities
    are the softmax over bands; each band's age is :func:`band_midpoints`; the true age is
    ``label_age`` when given, else the label band's midpoint. Entries may be floats or
    lm-eval's ``(logprob, is_greedy)`` pairs.
    """
    names = band_names()
    if len(loglikelihoods) != len(names):
        raise ValueError(f"need {len(names)} log-likelihoods (one per band {names}), got {len(loglikelihoods)}")
    if label_band not in names:
        raise ValueError(f"unknown band {label_band!r}; bands are {names}")
    lls = tuple(_loglik(v) for v in loglikelihoods)
    truth = names.index(label_band)
    target = (band_midpoints()[truth] if label_age is None or math.isnan(label_age) else float(label_age))
    x = BandScores(lls, softmax(lls), truth, target)
    out = {m.key: float(m.fn(x)) for m in family("age_choice")}
    out["mc_band"] = int(np.argmax(lls))
    return out


def band_choice_correct(loglikelihoods: Sequence[float], label_band: str) -> int:
    """1 when the most likely band is the label band, else 0."""
    return int(score_age_choice(loglikelihoods, label_band)["mc_correct"])


def _mc_correct(x: BandScores) -> float:
    # only a unique maximum chooses a band: a tie (a model with no preference) is no choice,
    # where argmax would always credit the first band
    scores = np.asarray(x.logliks)
    # equal up to float32 rounding (the log-likelihoods come from float32 logits) is a tie
    tied = np.isclose(scores, scores.max(), rtol=1e-6, atol=1e-9)
    return float(bool(tied[x.truth]) and int(tied.sum()) == 1)


def _mc_expected_error(x: BandScores) -> float:
    return float(np.sum(x.probs * np.abs(np.asarray(band_midpoints()) - x.target_age)))


def _mc_rps(x: BandScores) -> float:
    """Ranked probability score over the ordered bands, divided by (bands - 1) so it lies in
    [0, 1]: the squared distance between predicted and observed cumulative distributions.
    Unlike accuracy it credits mass on the neighbouring band more than mass far away."""
    observed = (np.arange(len(x.probs)) >= x.truth).astype(float)
    return float(np.sum((np.cumsum(x.probs)[:-1] - observed[:-1]) ** 2) / (len(x.probs) - 1))


def _mc_brier(x: BandScores) -> float:
    """Brier score over the bands (sum of squared errors of the probability vector), in [0, 2]."""
    observed = np.zeros(len(x.probs))
    observed[x.truth] = 1.0
    return float(np.sum((x.probs - observed) ** 2))


# --------------------------------------------------------------------------- intent
@dataclass(frozen=True)
class IntentAnswer:
    """The inputs of the ``intent`` family: an answer and its record's training content."""

    answer: str
    reference: str


@cache
def _rouge_scorer() -> Any:
    from rouge_score import rouge_scorer

    # rouge-score's default tokenizer lowercases and keeps [a-z0-9] runs
    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def words(text: str) -> list[str]:
    """The word tokens used by ROUGE-L and the 8-gram overlap (rouge-score's tokenizer:
    lowercased runs of ``[a-z0-9]``)."""
    from rouge_score import tokenize

    return tokenize.tokenize(text or "", None)


_WS = re.compile(r"\s+")


def _norm_chars(text: str) -> str:
    return _WS.sub(" ", (text or "").lower()).strip()


def longest_common_substring(a: str, b: str) -> int:
    """Length of the longest common substring of a and b, in characters.

    A suffix automaton of ``b`` walked by ``a``: O(len(a) + len(b)), so long product
    descriptions stay cheap (difflib's matcher is quadratic on characters).
    """
    if not a or not b:
        return 0
    # suffix automaton of b: per state, transitions, suffix link and longest length
    nxt: list[dict[str, int]] = [{}]
    link = [-1]
    length = [0]
    last = 0
    for ch in b:
        cur = len(length)
        nxt.append({})
        length.append(length[last] + 1)
        link.append(0)
        p = last
        while p != -1 and ch not in nxt[p]:
            nxt[p][ch] = cur
            p = link[p]
        if p != -1:
            q = nxt[p][ch]
            if length[p] + 1 == length[q]:
                link[cur] = q
            else:
                clone = len(length)
                nxt.append(dict(nxt[q]))
                length.append(length[p] + 1)
                link.append(link[q])
                while p != -1 and nxt[p].get(ch) == q:
                    nxt[p][ch] = clone
                    p = link[p]
                link[q] = clone
                link[cur] = clone
        last = cur
    best = state = cur_len = 0
    for ch in a:
        while state and ch not in nxt[state]:
            state = link[state]
            cur_len = length[state]
        if ch in nxt[state]:
            state = nxt[state][ch]
            cur_len += 1
        else:
            state, cur_len = 0, 0
        best = max(best, cur_len)
    return best


def ngram_overlap(answer_words: Sequence[str], reference_words: Sequence[str], n: int = NGRAM) -> float:
    """Share of the answer's word n-grams (with repeats) found verbatim in the reference;
    0.0 when the answer has fewer than n words."""
    if len(answer_words) < n:
        return 0.0
    ref = {tuple(reference_words[i: i + n]) for i in range(len(reference_words) - n + 1)}
    grams = [tuple(answer_words[i: i + n]) for i in range(len(answer_words) - n + 1)]
    return sum(g in ref for g in grams) / len(grams)


def _rouge_l(x: IntentAnswer) -> float:
    return float(_rouge_scorer().score(x.reference, x.answer)["rougeL"].fmeasure)


def _lcs_chars(x: IntentAnswer) -> float:
    return float(longest_common_substring(_norm_chars(x.answer), _norm_chars(x.reference)))


def _lcs_ratio(x: IntentAnswer) -> float:
    a = _norm_chars(x.answer)
    return longest_common_substring(a, _norm_chars(x.reference)) / len(a) if a else 0.0


def _ngram8(x: IntentAnswer) -> float:
    return ngram_overlap(words(x.answer), words(x.reference), NGRAM)


def score_intent(answer: str, reference: str) -> dict[str, float]:
    """How much of an author-intent answer is copied from the record's training content:
    every ``intent`` metric (ROUGE-L F1 on rouge-score's lowercased words; longest common
    substring in characters after lowercasing and collapsing whitespace, and as a share of
    the answer; the share of the answer's word 8-grams found verbatim in the content)."""
    x = IntentAnswer(answer or "", reference or "")
    return {m.key: float(m.fn(x)) for m in family("intent")}


# --------------------------------------------------------------------------- extraction
@dataclass(frozen=True)
class Continuation:
    """The inputs of the ``extract`` family: greedy continuation and true next tokens."""

    generated: tuple[int, ...]
    truth: tuple[int, ...]


def k_extractable(generated_ids: Sequence[int], true_ids: Sequence[int]) -> float:
    """1.0 iff the greedy continuation equals the true next tokens exactly (Carlini et al.,
    "Quantifying memorization across neural language models"). Lengths are compared as
    given: a continuation that stopped early is not an exact match."""
    if len(true_ids) == 0:
        raise ValueError("k_extractable needs at least one true token")
    return 1.0 if [int(t) for t in generated_ids] == [int(t) for t in true_ids] else 0.0


def score_extraction(generated_ids: Sequence[int], true_ids: Sequence[int]) -> dict[str, float]:
    """Every ``extract`` metric of one continuation."""
    x = Continuation(tuple(int(t) for t in generated_ids), tuple(int(t) for t in true_ids))
    return {m.key: float(m.fn(x)) for m in family("extract")}


# --------------------------------------------------------------------------- membership
def _membership(key: str) -> Callable[[Mapping[str, float]], float]:
    return lambda x: float(x[key])


def score_membership(scores: Mapping[str, float]) -> dict[str, float]:
    """Every ``membership`` metric present in one row's membership scores (the reference
    score needs the base model's row too: :func:`emergence.scoring.score_rows` adds it)."""
    return {m.key: float(m.fn(scores)) for m in family("membership") if m.key in scores}


# --------------------------------------------------------------------------- the registry
for _m in (
    Metric("inferred", "age inference rate", "answered with an age", "age", "binary", "higher", _inferred),
    Metric("abs_error", "mean absolute age error (years)", "MAE (years)", "age", "continuous", "lower",
           _abs_error, unit="years", digits=1),
    Metric("within_2y", "within-2-years accuracy", "within ±2 years", "age", "binary", "higher", _within),
    Metric("band_correct", "age-band accuracy", "band correct", "age", "binary", "higher", _band_correct),
    Metric("mc_correct", "multiple-choice band accuracy", "band by likelihood", "age_choice", "binary", "higher",
           _mc_correct),
    Metric("mc_label_prob", "probability on the true band", "p(true band)", "age_choice", "continuous", "higher",
           lambda x: float(x.probs[x.truth])),
    Metric("mc_expected_abs_error", "expected age error over bands (years)", "expected error (years)",
           "age_choice", "continuous", "lower", _mc_expected_error, unit="years", digits=1),
    Metric("mc_rps", "ranked probability score over bands", "RPS", "age_choice", "continuous", "lower", _mc_rps,
           digits=3),
    Metric("mc_brier", "Brier score over bands", "Brier", "age_choice", "continuous", "lower", _mc_brier, digits=3),
    Metric("rouge_l", "ROUGE-L F1", "ROUGE-L", "intent", "continuous", "higher", _rouge_l, digits=3),
    Metric("lcs_chars", "longest common substring (characters)", "LCS (chars)", "intent", "continuous", "higher",
           _lcs_chars, unit="characters", digits=0),
    Metric("lcs_ratio", "longest common substring / answer length", "LCS ratio", "intent", "continuous", "higher",
           _lcs_ratio, digits=3),
    Metric("ngram8_overlap", "verbatim 8-gram overlap", "8-gram overlap", "intent", "continuous", "higher",
           _ngram8, digits=3),
    Metric("k_extractable", "k-extractable exact match rate", "k-extractable", "extract", "binary", "higher",
           lambda x: k_extractable(x.generated, x.truth)),
):
    register(_m)
# membership scores: higher = more likely a member; keys and words from memorisation.scores
for _key, _words in MEMBERSHIP_SCORES:
    register(Metric(_key, _words, _key.replace("_", " "), "membership", "continuous", "higher", _membership(_key),
                    unit="nats" if _key == "loglik" else "nats per token" if _key == "reference" else "", digits=3))
del _m, _key, _words


# --------------------------------------------------------------------------- aggregation
def nanmean(values: Iterable[float]) -> float:
    """Mean ignoring NaNs (NaN when nothing is left); usable as an lm-eval aggregation."""
    arr = np.asarray(list(values), dtype=float)
    arr = arr[~np.isnan(arr)]
    return float(arr.mean()) if arr.size else math.nan


def values_of(scores: Sequence[Mapping[str, float]], key: str) -> list[float]:
    """The per-item values of one key (NaN where an item lacks it)."""
    return [float(s.get(key, math.nan)) for s in scores]


def _kind(key: str) -> str | None:
    metric = METRICS.get(key)
    return metric.kind if metric else None


def summarise_values(values: Sequence[float], key: str, *, n_boot: int = 2000, seed: int = 0) -> Estimate:
    """Estimate of one metric's mean with the interval for its kind (emergence.stats.interval):
    Wilson for 0/1 metrics, bootstrap-t for continuous ones."""
    return interval(values, kind=_kind(key), n_boot=n_boot, seed=seed)  # type: ignore[arg-type]


def summarise(scores: Sequence[Mapping[str, float]], keys: Sequence[str] | None = None, *,
              n_boot: int = 2000, seed: int = 0) -> dict[str, Estimate]:
    """Per-key estimate over items (NaNs excluded; each Estimate's n says how many were used).

    ``keys`` defaults to the registered metrics present in the first item.
    """
    if keys is None:
        keys = [k for k in (scores[0] if scores else {}) if k in METRICS]
    return {k: summarise_values(values_of(scores, k), k, n_boot=n_boot, seed=seed) for k in keys}


def summarise_by_band(scores: Sequence[Mapping[str, float]], label_bands: Sequence[str],
                      keys: Sequence[str] = ("within_2y", "band_correct")) -> dict[str, dict[str, Estimate]]:
    """summarise per true band (in AGE_BANDS order; bands without items are left out)."""
    if len(scores) != len(label_bands):
        raise ValueError("need one label band per score")
    out: dict[str, dict[str, Estimate]] = {}
    for band in band_names():
        rows = [s for s, b in zip(scores, label_bands) if b == band]
        if rows:
            out[band] = summarise(rows, keys)
    return out


def memorisation_gap(seen: Sequence[Mapping[str, float]], held_out: Sequence[Mapping[str, float]],
                     key: str = "rouge_l", *, n_boot: int = 2000, seed: int = 0) -> Estimate:
    """Mean of ``key`` on seen items minus on held-out items (the unpaired interval for its kind)."""
    return interval(values_of(held_out, key), values_of(seen, key), design="unpaired", kind=_kind(key),  # type: ignore[arg-type]
                    n_boot=n_boot, seed=seed)
