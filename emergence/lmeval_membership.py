"""The lm-eval task ``author_intent_mia``: the memorisation panel's membership AUC through lm-eval.

    >>> from emergence.lmeval_membership import membership_auc
    >>> membership_auc([(1, -0.5), (1, -0.7), (0, -1.5), (0, -1.2), (1, -0.6), (0, -1.1), (1, -0.4), (0, -2.0)])
    1.0

Each document is one record of the run's ``members`` or ``nonmembers`` set, rendered as
training rendered it: the user turn is the title in the run's prompt template (lm-eval's
``--apply_chat_template`` turns it into the chat prompt, as :func:`emergence.train.data.render_chat`
does), the continuation everything the conversation adds after that prompt — the content as
the exposure arm left it and the template's end of turn, the tokens training put loss on. A
``loglikelihood`` request scores it; per document the task keeps ``(member, score)`` and the
aggregate is :func:`emergence.memorisation.auc`'s AUC, the panel's own code:

- ``neg_loss``: AUC of the log-likelihood per target token (the loss attack);
- ``reference``: AUC of that minus the base model's log-likelihood per token of the same tokens,
  read from the run's ``probe_base`` rows (the panel's primary score; NaN where the run has
  no base rows). Scoring the base model through the task gives 0.5 here: the base-only control.

Records whose training exchange was cut at ``max_seq_length`` are left out (lm-eval would
score tokens training never saw), and counted in the log. Needs the run's eval sets (the
split is the run's own) and ``--apply_chat_template``.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["MEMBERSHIP_TASK_SETS", "membership_auc", "membership_documents", "process_membership"]

MEMBERSHIP_TASK_SETS = ("members", "nonmembers")
log = logging.getLogger("emergence.tasks")


def _target_tokens(labels: Sequence[int]) -> int:
    from emergence.train.data import IGNORE_INDEX

    return sum(label != IGNORE_INDEX for label in labels[1:])  # as emergence.memorisation.scores counts them


def membership_documents(eval_dir: str | Path) -> list[dict[str, Any]]:
    """The task's documents from a run's ``evalsets/`` (the run directory is its parent)."""
    from transformers import AutoTokenizer

    from emergence.configio import load_config
    from emergence.evalsets import read_eval_set
    from emergence.experiment.config import ExperimentConfig
    from emergence.exposure import Exposure
    from emergence.models import resolve_model
    from emergence.probe.run import ProbeResults
    from emergence.train.data import chat_messages, encode_example, render_chat

    eval_dir = Path(eval_dir).expanduser()
    run_dir = eval_dir.parent
    config_file = run_dir / "config.toml"
    if not config_file.is_file():
        raise FileNotFoundError(f"{config_file} is missing: author_intent_mia reads the run's training settings "
                                "(prompt template, exposure arm, max_seq_length) beside its evalsets/")
    train = load_config(ExperimentConfig, config_file).train
    exposure = Exposure.of(train)
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(train.model))
    base: dict[tuple[str, str], Any] = {}
    if (run_dir / "probe_base" / "probe_run.json").is_file():
        base = {(r.set, r.item_id): r.membership for r in ProbeResults.read(run_dir / "probe_base").rows
                if r.variant == "membership" and r.membership}
    docs, cut = [], 0
    for name in MEMBERSHIP_TASK_SETS:
        for item in read_eval_set(eval_dir / f"{name}.jsonl"):
            messages = chat_messages(exposure.training_text(item), train.prompt_template)
            prompt, full = render_chat(tokenizer, messages)
            trained = encode_example(tokenizer, messages, max_seq_length=train.max_seq_length)
            whole = encode_example(tokenizer, messages, max_seq_length=10**9)
            if trained is None or whole is None or len(trained["input_ids"]) != len(whole["input_ids"]) \
                    or not full.startswith(prompt):
                cut += 1
                continue
            n_tokens = _target_tokens(trained["labels"])
            b = base.get((name, item.id))
            base_ll = float(b["loglik"]) if b is not None and int(b["n_tokens"]) == n_tokens else math.nan
            docs.append({"id": item.id, "set": name, "member": int(name == "members"), "title": item.title,
                         "prompt": messages[0]["content"], "target": full[len(prompt):], "n_tokens": n_tokens,
                         "base_loglik": base_ll})
    if cut:
        log.warning("author_intent_mia: %d records left out: their training exchange was cut at max_seq_length=%d",
                    cut, train.max_seq_length)
    return docs


def process_membership(doc: dict[str, Any], results: Sequence[tuple[float, bool]]) -> dict[str, tuple[int, float]]:
    """Per document: (member, score) for each AUC the task aggregates."""
    loglik = float(results[0][0])
    n = max(int(doc["n_tokens"]), 1)
    base = doc.get("base_loglik")
    reference = (loglik - float(base)) / n if base is not None and not math.isnan(float(base)) else math.nan
    return {"neg_loss": (int(doc["member"]), loglik / n), "reference": (int(doc["member"]), reference)}


def membership_auc(items: Sequence[tuple[int, float]]) -> float:
    """AUC of members over non-members (emergence.memorisation.auc); NaN scores left out."""
    from emergence.memorisation import auc

    members = [s for m, s in items if m and not math.isnan(s)]
    nonmembers = [s for m, s in items if not m and not math.isnan(s)]
    if not members or not nonmembers:
        return math.nan
    return float(auc(members, nonmembers).mean)
