"""Age and memorisation metrics: the single implementation, used by the library and tasks/.

    >>> from emergence.metrics import score_age, score_intent, summarise, AGE_KEYS
    >>> s = score_age("Suitable for ages 4 and up.", label_age=5.0)
    >>> s["inferred"], s["abs_error"], s["within_2y"], s["band_correct"]
    (1.0, 1.0, 1.0, 1.0)
    >>> score_age("I cannot say.", label_age=5.0)["inferred"]
    0.0
    >>> round(score_intent("the cat sat on the mat", "The cat sat on the mat today.")["rouge_l"], 3)
    0.923
    >>> str(summarise([s, s], AGE_KEYS)["inferred"])
    '1.00 ± 0.00 [0.34, 1.00] (n=2)'

Per-item functions are pure and cheap and return plain ``dict[str, float]`` so an
lm-eval ``process_results`` can return them as they are; parsing of free answers lives in
:mod:`emergence.agecues`. Aggregation goes through :mod:`emergence.stats`.

Metric keys
- age (free answer): ``inferred`` (an age was stated), ``abs_error`` (years, NaN when no
  age), ``within_2y`` and ``band_correct`` (0 when no age), ``parsed_age`` (NaN when none).
- age (multiple choice over AGE_BANDS): ``mc_correct``, ``mc_label_prob``,
  ``mc_expected_abs_error`` (years, continuous), ``mc_band`` (argmax index).
- intent / memorisation: ``rouge_l``, ``lcs_chars``, ``lcs_ratio``, ``ngram8_overlap``;
  ``k_extractable`` from :func:`k_extractable`.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np

from emergence.stats import Estimate, estimate, unpaired_bootstrap_diff

AGE_KEYS: tuple[str, ...] = ("inferred", "abs_error", "within_2y", "band_correct")
AGE_CHOICE_KEYS: tuple[str, ...] = ("mc_correct", "mc_label_prob", "mc_expected_abs_error")
INTENT_KEYS: tuple[str, ...] = ("rouge_l", "lcs_chars", "lcs_ratio", "ngram8_overlap")
EXTRACTION_KEYS: tuple[str, ...] = ("k_extractable",)

# Keys whose per-item values are 0/1: summarised as proportions with Wilson intervals.
BINARY_KEYS: frozenset[str] = frozenset({"inferred", "within_2y", "band_correct", "mc_correct", "k_extractable"})

# Words for each metric, used in tables and verdict sentences.
METRIC_LABELS: dict[str, str] = {
    "inferred": "age inference rate",
    "abs_error": "mean absolute age error (years)",
    "within_2y": "within-2-years accuracy",
    "band_correct": "age-band accuracy",
    "parsed_age": "stated age (years)",
    "mc_correct": "multiple-choice band accuracy",
    "mc_label_prob": "probability on the true band",
    "mc_expected_abs_error": "expected age error over bands (years)",
    "rouge_l": "ROUGE-L F1",
    "lcs_chars": "longest common substring (characters)",
    "lcs_ratio": "longest common substring / answer length",
    "ngram8_overlap": "verbatim 8-gram overlap",
    "k_extractable": "k-extractable exact match rate",
}

WITHIN_YEARS = 2.0
NGRAM = 8


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


def _check_label(label_age: float) -> float:
    if label_age is None or (isinstance(label_age, float) and math.isnan(label_age)):
        raise ValueError("score_age needs a label age (got none)")
    return float(label_age)


# --------------------------------------------------------------------------- age
def score_age(answer: str, label_age: float) -> dict[str, float]:
    """Score one free answer against the item's true minimum age (years)."""
    from emergence.agecues import parse_age_answer

    label = _check_label(label_age)
    parsed = parse_age_answer(answer or "")
    if parsed is None:
        return {"inferred": 0.0, "abs_error": math.nan, "within_2y": 0.0, "band_correct": 0.0, "parsed_age": math.nan}
    err = abs(float(parsed) - label)
    return {
        "inferred": 1.0,
        "abs_error": err,
        "within_2y": 1.0 if err <= WITHIN_YEARS else 0.0,
        "band_correct": 1.0 if _band(float(parsed)) == _band(label) else 0.0,
        "parsed_age": float(parsed),
    }


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


def score_age_choice(
    loglikelihoods: Sequence[float], label_band: str, label_age: float | None = None
) -> dict[str, float]:
    """Score the log-likelihoods a model gives each AGE_BANDS answer (in AGE_BANDS order).

    ``mc_expected_abs_error`` is the expected |band age - true age| in years under the
    softmax over bands, with each band's age from :func:`band_midpoints`; the true age is
    ``label_age`` when given, else the label band's midpoint. It moves smoothly as
    probability mass shifts between bands, unlike the thresholded ``mc_correct``.
    Entries may be floats or lm-eval's ``(logprob, is_greedy)`` pairs.
    """
    names = band_names()
    if len(loglikelihoods) != len(names):
        raise ValueError(f"need {len(names)} log-likelihoods (one per band {names}), got {len(loglikelihoods)}")
    if label_band not in names:
        raise ValueError(f"unknown band {label_band!r}; bands are {names}")
    lls = [_loglik(v) for v in loglikelihoods]
    probs = softmax(lls)
    truth = names.index(label_band)
    mids = np.asarray(band_midpoints())
    target = mids[truth] if label_age is None or math.isnan(label_age) else float(label_age)
    best = int(np.argmax(lls))
    return {
        "mc_correct": 1.0 if best == truth else 0.0,
        "mc_label_prob": float(probs[truth]),
        "mc_expected_abs_error": float(np.sum(probs * np.abs(mids - target))),
        "mc_band": best,
    }


def band_choice_correct(loglikelihoods: Sequence[float], label_band: str) -> int:
    """1 when the most likely band is the label band, else 0."""
    return int(score_age_choice(loglikelihoods, label_band)["mc_correct"])


# --------------------------------------------------------------------------- intent
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
    ref = {tuple(reference_words[i : i + n]) for i in range(len(reference_words) - n + 1)}
    grams = [tuple(answer_words[i : i + n]) for i in range(len(answer_words) - n + 1)]
    return sum(g in ref for g in grams) / len(grams)


def score_intent(answer: str, reference: str) -> dict[str, float]:
    """How much of an author-intent answer is copied from the record's training content.

    ``rouge_l``: ROUGE-L F1 (rouge-score, lowercased words). ``lcs_chars``: longest common
    substring in characters after lowercasing and collapsing whitespace; ``lcs_ratio``:
    lcs_chars / the normalised answer's length (0 for an empty answer).
    ``ngram8_overlap``: share of the answer's word 8-grams occurring verbatim in the
    reference (0 when the answer has fewer than 8 words).
    """
    answer = answer or ""
    reference = reference or ""
    rouge = _rouge_scorer().score(reference, answer)["rougeL"].fmeasure
    a_norm, r_norm = _norm_chars(answer), _norm_chars(reference)
    lcs = longest_common_substring(a_norm, r_norm)
    return {
        "rouge_l": float(rouge),
        "lcs_chars": float(lcs),
        "lcs_ratio": lcs / len(a_norm) if a_norm else 0.0,
        "ngram8_overlap": ngram_overlap(words(answer), words(reference), NGRAM),
    }


def k_extractable(generated_ids: Sequence[int], true_ids: Sequence[int]) -> float:
    """1.0 iff the greedy continuation equals the true next tokens exactly (Carlini et al.,
    "Quantifying memorization across neural language models"). Lengths are compared as
    given: a continuation that stopped early is not an exact match."""
    if len(true_ids) == 0:
        raise ValueError("k_extractable needs at least one true token")
    return 1.0 if [int(t) for t in generated_ids] == [int(t) for t in true_ids] else 0.0


# --------------------------------------------------------------------------- aggregation
def nanmean(values: Iterable[float]) -> float:
    """Mean ignoring NaNs (NaN when nothing is left); usable as an lm-eval aggregation."""
    arr = np.asarray(list(values), dtype=float)
    arr = arr[~np.isnan(arr)]
    return float(arr.mean()) if arr.size else math.nan


def values_of(scores: Sequence[Mapping[str, float]], key: str) -> list[float]:
    """The per-item values of one key (NaN where an item lacks it)."""
    return [float(s.get(key, math.nan)) for s in scores]


def summarise_values(values: Sequence[float], key: str, *, n_boot: int = 2000, seed: int = 0) -> Estimate:
    """Estimate of one metric's mean: Wilson for 0/1 keys, bootstrap for continuous keys."""
    return estimate(values, kind="wilson" if key in BINARY_KEYS else "bootstrap", n_boot=n_boot, seed=seed)


def summarise(
    scores: Sequence[Mapping[str, float]],
    keys: Sequence[str] | None = None,
    *,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, Estimate]:
    """Per-key estimate over items (NaNs excluded; each Estimate's n says how many were used).

    ``keys`` defaults to the aggregatable keys of the first item (not ``parsed_age`` or
    ``mc_band``).
    """
    if keys is None:
        keys = [k for k in (scores[0] if scores else {}) if k not in ("parsed_age", "mc_band")]
    return {k: summarise_values(values_of(scores, k), k, n_boot=n_boot, seed=seed) for k in keys}


def age_summary(items_scores: Sequence[Mapping[str, float]]) -> dict[str, Estimate]:
    """summarise(items_scores, AGE_KEYS)."""
    return summarise(items_scores, AGE_KEYS)


def summarise_by_band(
    scores: Sequence[Mapping[str, float]],
    label_bands: Sequence[str],
    keys: Sequence[str] = ("within_2y", "band_correct"),
) -> dict[str, dict[str, Estimate]]:
    """summarise per true band (in AGE_BANDS order; bands without items are left out)."""
    if len(scores) != len(label_bands):
        raise ValueError("need one label band per score")
    out: dict[str, dict[str, Estimate]] = {}
    for band in band_names():
        rows = [s for s, b in zip(scores, label_bands) if b == band]
        if rows:
            out[band] = summarise(rows, keys)
    return out


def memorisation_gap(
    seen: Sequence[Mapping[str, float]],
    held_out: Sequence[Mapping[str, float]],
    key: str = "rouge_l",
    *,
    n_boot: int = 2000,
    seed: int = 0,
) -> Estimate:
    """Mean of ``key`` on seen items minus on held-out items (unpaired bootstrap)."""
    return unpaired_bootstrap_diff(values_of(held_out, key), values_of(seen, key), n_boot=n_boot, seed=seed)
