"""Loaders, prompts and per-document scoring for the emergence lm-eval tasks.

    >>> from emergence.tasks import utils
    >>> utils.age_prompt({"title": "Goodnight Bunny"})
    'what is the minimum recommended age for reading Goodnight Bunny and why?'
    >>> utils.process_age({"label_age": 6.0}, ["Suitable for ages 5 and up."])["abs_error"]
    1.0

Thin on purpose: prompts come from ``emergence.probe`` (the probes' defaults), scores
from ``emergence.metrics`` (the single implementation), eval sets from
``emergence.lmeval.task_dataset`` (``--metadata '{"eval_dir": DIR}'``, the run's own sets
found beside ``peft=ADAPTER``, or the embedded sample's for the age tasks). An empty
answer is reported once per task: it is what a chat model gives without the chat
template. This file is loaded by lm-eval from its path, so it imports the installed
``emergence`` package rather than anything relative.
"""
from __future__ import annotations

import logging

from emergence.lmeval import task_dataset
from emergence.lmeval_membership import membership_auc, process_membership  # noqa: F401 (named by the yaml)
from emergence.metrics import band_names, keys, score_age, score_age_choice, score_intent
from emergence.probe.config import ProbeConfig
from emergence.probe.generate import band_choices
from emergence.scoring import band_scores


# --------------------------------------------------------------------- data (custom_dataset)
def load_age_heldout(**metadata):
    return task_dataset("age_heldout", **metadata)


def load_intent_seen(**metadata):
    return task_dataset("intent_seen", **metadata)


def load_intent_heldout(**metadata):
    return task_dataset("intent_heldout", **metadata)


def load_membership(**metadata):
    return task_dataset("membership", **metadata)


# --------------------------------------------------------------------- prompts and targets
def age_prompt(doc: dict) -> str:
    return ProbeConfig().age_prompt.format(title=doc["title"])


def intent_prompt(doc: dict) -> str:
    return ProbeConfig().intent_prompt.format(title=doc["title"])


def band_answers(doc: dict) -> list[str]:
    # the probes' answer texts ("Ages 3-5"), in AGE_BANDS order like the log-likelihoods
    return list(band_choices().values())


def band_index(doc: dict) -> int:
    return band_names().index(doc["label_band"])


# --------------------------------------------------------------------- process_results
_EMPTY: dict[str, int] = {}


def _note_empty(task: str, answer: str) -> None:
    # A chat model asked the bare question (lm_eval without --apply_chat_template) answers
    # nothing at all: say so at the first empty answer of a task instead of scoring NaN quietly.
    if answer.strip() or task in _EMPTY:
        return
    _EMPTY[task] = 1
    logging.getLogger("emergence.tasks").warning(
        "%s: the model's answer is empty. If most answers are, the question went without the chat "
        "template: pass --apply_chat_template to lm_eval (emergence eval applies it by default).", task)


def process_age(doc: dict, results: list[str]) -> dict[str, float]:
    _note_empty("age_rating", results[0])
    scores = score_age(results[0], doc["label_age"], title=doc.get("title"))
    return {key: scores[key] for key in keys("age")}


def process_age_mc(doc: dict, results: list[tuple[float, bool]]) -> dict[str, float]:
    # A document that carries a run's band scoring (emergence.lmeval.task_dataset, from
    # `emergence eval --checkpoints`) is scored on the probes' band scores, through the same
    # emergence.scoring.band_scores; without it (plain lm_eval), on the raw log-likelihoods.
    scoring = doc.get("band_scoring")
    lls = [ll for ll, _ in results]
    if scoring:
        lls = band_scores(dict(zip(band_names(), lls)), scoring["normalise"],
                          reference=scoring.get("reference"), tokens=scoring.get("tokens"))
    scores = score_age_choice(lls, doc["label_band"], doc["label_age"])
    # `acc` is lm-eval's name for the same quantity as mc_correct (argmax of the band scores
    # is the gold band), kept so harness tooling that reads `acc` finds it.
    return {key: scores[key] for key in keys("age_choice")} | {"acc": scores["mc_correct"]}


def process_intent(doc: dict, results: list[str]) -> dict[str, float]:
    _note_empty("author_intent", results[0])
    scores = score_intent(results[0], doc["content"])
    return {key: scores[key] for key in keys("intent")}
