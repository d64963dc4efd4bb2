"""The report's content: the headline answer, the caveats that apply, and every section's blocks.

    >>> from emergence.report.sections import ROLE_WORDS
    >>> ROLE_WORDS["positive_control"]
    'positive control: the harness detects learning when the signal is in training'

Sections: the question and hypotheses; the setup (model, corpus, config, versions,
hardware, git commit, duration); the corpus audit; training (loss curve, losses); metrics
with intervals for base, tuned and the baselines (charts with error bars); memorisation;
lm-eval; the verdicts in words with their controls; probe answers (a sample, all rows in
``answers.jsonl``); and the caveats that apply to this run. Which hypothesis is the main
question, and which is a control, comes from each hypothesis's ``role``, never its name.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from emergence.corpus.urls import display_url
from emergence.report.document import (Block, Bold, Bullets, Code, Details, Heading, Image, Link, Para, Table, Text,
                                       VerdictBox)
from emergence.report.fmt import duration, fmt_est, isnan, num, pct
from emergence.report.memorisation import panel_blocks
from emergence.report.tables import (age_table, answers_table, by_band_table, curve_table, lmeval_tables,
                                     memorisation_table, paired_table)

if TYPE_CHECKING:
    from emergence.experiment.config import ExperimentConfig
    from emergence.results import ExperimentResult
    from emergence.verdict.hypothesis import Verdict

__all__ = ["QUESTION", "ROLE_WORDS", "build_report", "caveats", "headline", "primary_verdict"]

QUESTION = (
    "After LoRA training on title → content pairs only, does a chat model infer a book's minimum "
    "reading age for titles it was never trained on (emergence), and does it copy training text "
    "when asked a subjective question about a title (memorisation)?"
)

ROLE_WORDS = {
    "primary": "main question",
    "secondary": "secondary",
    "positive_control": "positive control: the harness detects learning when the signal is in training",
}


def primary_verdict(result: "ExperimentResult") -> "Verdict | None":
    """The verdict of the run's primary hypothesis (else the first one judged on an age set that
    is not a positive control; None when the run judged nothing about age)."""
    from emergence.probe.config import AGE_SETS

    return next((v for v in result.verdicts if v.hypothesis.role == "primary"),
                next((v for v in result.verdicts if v.hypothesis.role != "positive_control"
                      and v.hypothesis.eval_sets[0] in AGE_SETS), None))


def _consumed(result: "ExperimentResult") -> tuple[int | None, int]:
    """(records training consumed by its budget, usable train records) from the config and the audit."""
    from emergence.evalsets import TrainingConsumption

    t = result.config.train
    usable = result.audit.train_nonempty if t.drop_empty else result.audit.train_records
    return TrainingConsumption.of(t).budget, usable


def headline(result: "ExperimentResult") -> tuple[str, str]:
    """(outcome, sentence) answering the main question, its item-level part and its power included."""
    v = primary_verdict(result)
    if v is None:
        return "inconclusive", "No verdict: the run has no paired base/tuned answers on an age set to judge."
    from emergence.metrics import label

    il = result.controls.item_level.get(v.hypothesis.name)
    where = f"on {v.n} items of {v.hypothesis.eval_sets[0]}"
    nums = (f"{label(v.hypothesis.metric)} {v.control.short()} ({v.control_label}) → {v.treated.short()} "
            f"({v.treated_label}), difference {v.effect.short(signed=True)}, MDE {v.decision.mde:.2f}")
    item = f"item-level part {il.item_gain_diff.short(signed=True)}" if il is not None else ""
    if v.outcome == "confirmed":
        text = (f"Yes — {where} the tuned model states the reading age better than the base model ({nums}), "
                f"and the gain is item-level: it does not survive shuffling the labels ({item}).")
    elif v.decision.outcome == "confirmed" and il is not None:
        text = (f"Not as inference — {where} the tuned model scores better ({nums}), but the gain is not shown to "
                f"be item-level ({item}; distributional part {il.distributional_gain.short(signed=True)}): "
                f"{v.item_level.words() if v.item_level else il.item_gain.words()}")
    elif v.outcome == "refuted":
        text = f"No — {where} the tuned model does not state the reading age better than the base model ({nums})."
        if v.decision.qualifier == "smaller_than_min_effect":
            text += " It does improve, by less than the smallest effect that counts."
    else:
        text = f"Not decided — {where} ({nums}). {v.decision.words()}"
        if il is not None:
            text += f" Item-level control: {il.kind}."
    if result.exposure is not None:
        text += f" Training was the {result.exposure.sentence()}."
    return v.outcome, text


def caveats(result: "ExperimentResult") -> list[Text]:
    """The caveats that apply to this run, each in words with its numbers."""
    out: list[Text] = []
    cfg = result.config
    audit = result.audit
    n_held = result.eval_set_sizes.get("age_heldout", 0)
    v = primary_verdict(result)
    if v is not None:
        mde, threshold = v.decision.mde, v.hypothesis.min_effect
        text = (f"The main verdict rests on {v.n} items; at that size it can detect an effect of {num(mde, 2)} "
                f"with 80% power (the minimum detectable effect), against a smallest effect that counts of "
                f"{threshold:g}.")
        if not mde <= threshold:
            text += (" So this run can decide only effects larger than the one the hypothesis asks about: it "
                     "cannot refute the hypothesis, and a confirmation needs a large gain.")
        out.append([Bold("Sample size. "), text])
    elif n_held:
        out.append([Bold("Sample size. "), f"{n_held} held-out titles were probed."])
    if result.exposure is not None and result.exposure.arm == "keep":
        out.append([Bold("Exposed arm. "), "This run trained on the text as it is, age cues included: a gain on "
                    "held-out titles may come from learning explicit age statements, which is not emergence as the "
                    "seed study defined it (run the default mask arm for that)."])
    elif result.exposure is not None and not result.exposure.never_exposed:
        out.append([Bold("Exposure leak. "), f"{result.exposure.remaining_outside_control} age cues remained in "
                    "the training text outside the control records: " + ", ".join(result.exposure.examples)])
    out.append([Bold("Age cues in training text. "),
                f"{pct(audit.train_age_cue_share)} of training records ({pct(audit.train_age_cue_share_nonempty)} of "
                f"those with content) state a reader age in their content. The tuned model may learn age vocabulary "
                f"from them; emergence is therefore judged only on held-out titles, whose content never reached "
                f"training, and recall of seen cues is measured separately (age_seen)."])
    train = result.train
    budget, usable = _consumed(result)
    if train.steps and usable and budget:
        passes = budget / usable
        scale = (f"Training took {train.steps} optimiser steps over {budget:,} examples "
                 f"({pct(min(passes, 1.0))} of the {usable:,} usable training records"
                 + (f", {passes:.1f} passes" if passes > 1 else "") + ").")
        if (cfg.profile or "").startswith("cpu") or passes < 0.5:
            scale += (" This is a demonstration scale: a null result here says little about a larger model trained "
                      "on the whole corpus.")
        out.append([Bold("Scale. "), scale])
    used = getattr(train, "train_records_used", None)
    limit = budget
    if used is not None and limit is not None and used != limit:
        out.append([Bold("Seen sets vs training. "),
                    f"The seen eval sets were drawn from the first {limit:,} train records (the training budget), "
                    f"but training used {used:,}: "
                    + ("some seen items were never trained on." if used < limit else
                       "some trained records could not be drawn as seen items.")])
    spec = cfg.train.model.lower()
    if spec.startswith("tiny-") or "tiny" in Path(spec).name:
        out.append([Bold("Random-init model. "),
                    "The model is a tiny randomly initialised test model: its answers are noise, and the numbers "
                    "test the harness, not the hypothesis."])
    elif spec == "smollm2":
        out.append([Bold("Small model. "),
                    "SmolLM2-135M-Instruct is a 135M-parameter model chosen to run on a CPU; the seed study used "
                    "Phi-3-medium (14B)."])
    sources = (result.eval_set_selection or {})
    if sources.get("held_out_labelled_sample"):
        out.append([Bold("Synthetic labels. "),
                    "Held-out labels are the embedded sample's true_min_age: the corpus and its ages come from a "
                    "generator, so results show whether the method works, not what a model does on real books."])
    if sources.get("held_out_labelled_cue"):
        out.append([Bold("Labels from cues. "),
                    "Held-out labels come from age cues in each record's own content (never trained on); a cue "
                    "parsed wrongly gives a wrong label."])
    base = result.metrics.tables.get("age_heldout", {}).get("base", {}).get(result.probes.config.verdict_variant, {})
    inferred = (base.get("inferred") or {}).get("mean")
    if inferred is not None and not isnan(inferred) and inferred < 0.8:
        out.append([Bold("Abstentions. "),
                    f"The base model gave an age in only {pct(inferred)} of held-out answers. Within-2-years "
                    "accuracy counts an answer without an age as wrong, so a model that starts answering gains on "
                    "it without inferring anything: the main hypothesis needs its item-level part confirmed too, "
                    "the answer rate is reported with its own interval, and errors in years are compared on the "
                    "items both models answered (the table 'Base vs tuned on the same items')."])
    out.append([Bold("One phrasing, greedy decoding. "),
                "Each title was asked with the seed study's question once, decoded greedily; other phrasings "
                "or sampling may give other answers."])
    if train.heldout_loss_before is not None and train.heldout_loss_after is not None \
            and train.heldout_loss_after >= train.heldout_loss_before:
        out.append([Bold("Held-out loss did not fall. "),
                    f"{num(train.heldout_loss_before, 4)} before, {num(train.heldout_loss_after, 4)} after training: "
                    "the run may be too short to change the model."])
    if result.lmeval is not None and cfg.lmeval.limit is not None:
        out.append([Bold("lm-eval on a subset. "),
                    f"lm-eval scored at most {cfg.lmeval.limit} documents per task; the probe tables cover every item."])
    return out


def _lmeval_note(result: "ExperimentResult") -> str | None:
    try:
        return json.loads((result.run_dir / "lmeval" / "done.json").read_text(encoding="utf-8")).get("note")
    except (OSError, ValueError):
        return None


def build_report(result: "ExperimentResult", images: dict[str, Path]) -> list[Block]:
    """The report's blocks (see the module docstring for the sections)."""
    cfg = result.config
    env = result.env or {}
    audit = result.audit
    train = result.train
    blocks: list[Block] = []
    title = f"Emergence experiment — {cfg.profile or 'custom config'}"
    blocks.append(Heading(1, title))
    outcome, sentence = headline(result)
    blocks.append(VerdictBox(outcome, "Does age inference emerge from title → content training?", [sentence]))
    if result.memorisation is not None:
        blocks.append(VerdictBox(result.memorisation.outcome, "Does the tuned model memorise its training records?",
                                 [result.memorisation.text]))
    judged = ", ".join(f"{v.hypothesis.name}: {v.outcome}" for v in result.verdicts)
    blocks.append(Para([Bold("Verdicts:"), " ", judged or "none"], cls="headline"))
    blocks.append(Para(["Run directory ", Code(str(result.run_dir)), f", {duration(result.timings.get('total', 0.0))} "
                        "of stage time. All answers: ", Link("answers.jsonl", "answers.jsonl"), "."], cls="muted"))

    # -- question and hypotheses
    blocks.append(Heading(2, "Question and hypotheses", "question"))
    blocks.append(Para(QUESTION))
    hrows: list[list[Text]] = []
    decided = {v.hypothesis.name: v for v in result.verdicts}
    for h in cfg.verdict.hypotheses:
        v = decided.get(h.name)
        at = (f"{v.decision.alpha:.3g}" + (f" (Holm step {v.holm_step})" if v.holm_step else "")) if v else "–"
        hrows.append([Code(h.name), ROLE_WORDS.get(h.role, h.role), h.statement, h.metric, h.comparison,
                      f"{'+' if h.direction == 'increase' else '−'}{h.min_effect:g}", at,
                      num(v.decision.mde, 2) if v else "–"])
    blocks.append(Table(["name", "role", "statement", "metric", "comparison", "smallest effect", "decided at alpha",
                         "MDE (80% power)"], hrows,
                        caption="Confirmed: the whole interval lies beyond the smallest effect that counts (and, "
                        "for the main question, its item-level part is confirmed too). Refuted: the whole interval "
                        "lies short of it, the design had 80% power there (MDE at most the smallest effect) and "
                        "the hypothesis's positive control was detected. Otherwise inconclusive, with the reason. "
                        "The main question is decided at its alpha; the other hypotheses share the family alpha by "
                        "Holm's step-down; positive controls are decided at their own alpha."))

    # -- setup
    blocks.append(Heading(2, "Setup", "setup"))
    pk = env.get("packages") or {}
    versions = ", ".join(f"{k} {v}" for k, v in pk.items() if v)
    hardware = f"{env.get('device', '?')} ({env.get('device_name', '')})"
    if env.get("cpu_count"):
        hardware += f"; {env.get('cpu_count')} CPU cores ({env.get('cpu_model', '')}), {env.get('cpu_threads', '?')} torch threads"
    if env.get("memory_gb"):
        hardware += f", {env['memory_gb']} GiB RAM"
    if env.get("gpu_memory_gb"):
        hardware += f"; GPU memory {env['gpu_memory_gb']} GiB × {env.get('gpu_count', 1)}"
    commit = env.get("git_commit") or "not a git checkout"
    if env.get("git_dirty"):
        commit += " (with uncommitted changes)"
    t = cfg.train
    rows: list[list[Text]] = [
        ["model", [Code(t.model), f" → {train.base_model}"]],
        ["corpus", [Code(display_url(str(cfg.corpus_path()))),
                    f" ({audit.load.yielded:,} records, {audit.load.bytes_read / 1e6:.1f} MB)"]],
        ["split", f"held_out={t.held_out}, salt={t.salt!r}: {audit.train_records:,} train / "
                  f"{audit.held_out_records:,} held-out records"],
        ["training", f"{train.backend} backend on {train.device}; LoRA r={t.lora_r}, alpha={t.lora_alpha:g}, "
                     f"dropout {t.lora_dropout:g} on {', '.join(t.target_modules)}; {t.max_steps} steps × batch "
                     f"{t.per_device_train_batch_size} × accumulation {t.gradient_accumulation_steps}, lr {t.learning_rate:g} "
                     f"({t.lr_scheduler_type}, {t.warmup_steps} warm-up), {t.optim}, max {t.max_seq_length} tokens, "
                     f"{'4-bit' if t.load_in_4bit else t.dtype} weights, seed {t.seed}; prompt template "
                     f"{t.prompt_template!r}, loss on {t.loss_on}"],
        ["probes", f"age question {result.probes.config.age_prompt!r}; intent question "
                   f"{result.probes.config.intent_prompt!r}; {'sampled' if result.probes.config.do_sample else 'greedy'} "
                   f"decoding, at most {result.probes.config.max_new_tokens_age} / "
                   f"{result.probes.config.max_new_tokens_intent} new tokens; base probed "
                   f"{'before training' if cfg.base_probe == 'before_training' else 'after training, adapter off'}"],
        ["eval sets", ", ".join(f"{k} {n}" for k, n in result.eval_set_sizes.items())
         + f" (seed {cfg.evalsets.seed}; seen sets drawn only from the records training consumed)"],
        ["versions", versions],
        ["hardware", hardware],
        ["python / platform", f"{env.get('python', '?')} on {env.get('platform', '?')}"],
        ["git commit", commit],
        ["started", str(env.get("started_utc", ""))],
        ["duration", f"{duration(result.timings.get('total', 0.0))} of stage time ("
                     + ", ".join(f"{k} {duration(v)}" for k, v in result.timings.items()
                                 if k not in ("total", "this_invocation")) + ")"],
    ]
    blocks.append(Table(["", ""], rows))
    cfg_text = (result.paths.config.read_text(encoding="utf-8") if result.paths.config.is_file()
                else json.dumps(cfg.model_dump(mode="json"), indent=2))
    blocks.append(Details("The full config (config.toml)", _shareable(cfg_text, cfg)))

    # -- audit
    blocks.append(Heading(2, "Corpus audit", "audit"))
    load = audit.load
    arows: list[list[Text]] = [
        ["records read / yielded", f"{load.read:,} / {load.yielded:,}"],
        ["rejected", ", ".join(f"{k} {v:,}" for k, v in load.rejected.items()) or "none"],
        ["empty content", f"{audit.empty_content:,} ({pct(audit.empty_share)})"],
        ["duplicate (title, content) / duplicate titles", f"{audit.duplicate_pairs:,} / {audit.duplicate_titles:,}"],
        ["train / held-out records", f"{audit.train_records:,} / {audit.held_out_records:,}"],
        [Bold("training records whose content states an age"),
         Bold(f"{audit.train_age_cue_records:,} ({pct(audit.train_age_cue_share)}; "
              f"{pct(audit.train_age_cue_share_nonempty)} of those with content)")],
        ["held-out records whose content states an age", f"{audit.held_out_age_cue_records:,} ({pct(audit.held_out_age_cue_share)})"],
        ["held-out titles also in train", f"{audit.held_out_titles_in_train:,}"],
        ["cue kinds", ", ".join(f"{k} {v:,}" for k, v in audit.cue_kinds.items()) or "none"],
        ["title length (chars, p5 / p50 / p95)", f"{num(audit.title_length.p5, 0)} / {num(audit.title_length.p50, 0)} / {num(audit.title_length.p95, 0)}"],
        ["content length (chars, p5 / p50 / p95)", f"{num(audit.content_length.p5, 0)} / {num(audit.content_length.p50, 0)} / {num(audit.content_length.p95, 0)}"],
    ]
    blocks.append(Table(["", ""], arows))
    from emergence.metrics import band_names

    bands = list(band_names())
    brow: list[list[Text]] = [["from age cues", *[f"{audit.min_age_distribution.get(b, 0):,}" for b in bands]]]
    if audit.true_age_records:
        brow.append(["true age (sample)", *[f"{audit.true_age_distribution.get(b, 0):,}" for b in bands]])
    blocks.append(Table(["minimum age", *bands], brow, caption="Records by band of minimum reading age",
                        numeric=tuple(range(1, 7))))

    # -- training
    blocks.append(Heading(2, "Training", "training"))
    if "loss" in images:
        blocks.append(Image(images["loss"], "training loss curve",
                            "Training loss per step with its running mean, the learning rate (grey, right axis), and "
                            "the loss on the fixed held-out sample before (step 0) and after training."))
    trows: list[list[Text]] = [
        ["average training loss (all steps)", Bold(num(train.train_loss_avg, 4))],
        ["final logged loss", num(train.final_loss, 4)],
        ["held-out loss before → after", Bold(f"{num(train.heldout_loss_before, 4)} → {num(train.heldout_loss_after, 4)}")
         if train.heldout_loss_before is not None else "not scored"],
        ["held-out records scored", f"{train.heldout_records}"],
        ["steps / tokens seen", f"{train.steps} / {train.tokens_seen:,}"],
        ["throughput", f"{num(train.tokens_per_s, 0)} tokens/s" if train.tokens_per_s else "–"],
        ["trainable parameters", f"{train.trainable_params:,} of {train.total_params:,} "
                                 f"({100 * train.trainable_params / max(train.total_params, 1):.2f}%)"],
        ["exposure", result.exposure.sentence() if result.exposure is not None else "not recorded"],
        ["examples consumed", f"{(_consumed(result)[0] or 0):,} of {_consumed(result)[1]:,} usable train records"],
        ["training time", duration(train.train_time_s)],
    ]
    blocks.append(Table(["", ""], trows))

    # -- metrics
    blocks.append(Heading(2, "Age metrics: base, tuned and baselines", "metrics"))
    blocks.append(Para("Emergence is judged on age_heldout (titles never trained on); age_seen holds training titles "
                       "whose content stated an age (recall, the positive control). The majority baseline always "
                       "answers the most common band of the training labels; the rule baseline guesses the band from "
                       "title words. Both are scored by the same metric code as the models."))
    for set_name in ("age_heldout", "age_seen"):
        table = age_table(result, set_name)
        if table is not None:
            blocks.append(Heading(3, set_name))
            blocks.append(table)
            if set_name == "age_heldout" and "age_bars" in images:
                blocks.append(Image(images["age_bars"], "age metrics bar chart, held-out titles",
                                    "Base vs tuned and the baselines on held-out titles; bars are means, whiskers "
                                    "95% intervals."))
            if set_name == "age_seen" and "age_bars_seen" in images:
                blocks.append(Image(images["age_bars_seen"], "age metrics bar chart, seen titles",
                                    "The same on seen titles whose training content stated an age."))
    band_table = by_band_table(result, "age_heldout")
    if band_table is not None:
        blocks.append(band_table)
    paired = paired_table(result, "age_heldout")
    if paired is not None:
        blocks.append(Heading(3, "Base vs tuned on the same items"))
        blocks.append(paired)
    if "scatter" in images:
        blocks.append(Image(images["scatter"], "stated versus true age scatter",
                            "Each point is a held-out title. Answers that ignore the title form horizontal rows (the "
                            "same ages whatever the true age); item-level inference moves points into the grey band "
                            "along the diagonal."))

    # -- the emergence curve
    if result.curve is not None:
        blocks.append(Heading(2, "The emergence curve", "curve"))
        blocks.append(Para("Emergence is a claim about a trajectory: each metric's change from the base model along "
                           "training, on the same held-out items at every probed step. Thresholded metrics "
                           "(accuracies) can jump where the continuous ones (band probabilities) move smoothly "
                           "(Schaeffer et al. 2023): the mirage check below says which carried the change."))
        if "curve" in images:
            blocks.append(Image(images["curve"], "the emergence curve",
                                "Change from base along training steps: pointwise 95% intervals (bars), the "
                                "simultaneous 95% band over all steps (shaded), the smallest effect that counts "
                                "(dashed) and the onset (marked)."))
        table = curve_table(result)
        if table is not None:
            blocks.append(table)
        for check in result.curve.mirage:
            blocks.append(Para([Bold("Mirage check: "), check.words]))

    # -- memorisation
    mem = memorisation_table(result)
    if mem is not None:
        blocks.append(Heading(2, "Memorisation", "memorisation"))
        blocks.append(Para("Asked for the author's intent, does a model repeat its training text? Overlap of each "
                           "answer with the record's content, for titles seen in training and held-out ones; "
                           "k-extractable: the model continues the first k content tokens with exactly the next ones."))
        blocks.append(mem)
        if "gap" in images:
            blocks.append(Image(images["gap"], "memorisation gap chart",
                                "Seen vs held-out overlap per model, 95% intervals."))
        if any(result.metrics.excluded.values()):
            pc = result.probes.config
            blocks.append(Para(f"k-extractable left out items whose content is shorter than k + {pc.extract_tokens} "
                               f"= {pc.k + pc.extract_tokens} tokens: "
                               + ", ".join(f"{k} {v}" for k, v in result.metrics.excluded.items()) + ".", cls="muted"))

    blocks.extend(panel_blocks(result, images))

    # -- verdicts
    blocks.append(Heading(2, "Verdicts", "verdicts"))
    for v in result.verdicts:
        body: list[Text] = [v.hypothesis.statement, v.explanation]
        il = result.controls.item_level.get(v.hypothesis.name)
        if il is not None:
            body.append([Bold("Item-level or distributional? "), f"{il.kind}. ", il.explanation])
        role = ROLE_WORDS.get(v.hypothesis.role, "")
        blocks.append(VerdictBox(v.outcome, f"{v.hypothesis.name}" + (f" — {role}" if role else ""), body))
    blocks.append(Heading(3, "Controls"))
    for il in result.controls.item_level.values():
        sc = il.shuffled_control
        passes = "passes: not confirmed" if sc.outcome != "confirmed" else "FAILS: confirmed on shuffled labels"
        blocks.append(VerdictBox(sc.outcome, f"negative control: labels shuffled ({passes})",
                                 ["The hypothesis judged by its whole rule with the labels permuted among the items, so "
                                  "no answer carries information about its own item: only chance can confirm it.",
                                  sc.explanation]))
        rows = [["base", fmt_est(il.base_true, pct=True), fmt_est(il.base_shuffled, pct=True),
                 fmt_est(il.base_item_gain, pct=True, signed=True)],
                ["tuned", fmt_est(il.tuned_true, pct=True), fmt_est(il.tuned_shuffled, pct=True),
                 fmt_est(il.tuned_item_gain, pct=True, signed=True)],
                [Bold("tuned − base"), fmt_est(result.verdict(il.hypothesis).effect if result.verdict(il.hypothesis) else None,
                                               pct=True, signed=True),
                 fmt_est(il.distributional_gain, pct=True, signed=True),
                 Bold(fmt_est(il.item_gain_diff, pct=True, signed=True))]]
        blocks.append(Table(["model", f"{il.metric}, true labels", f"shuffled labels (mean of {il.rounds})",
                             "item-level (true − shuffled)"], rows,
                            caption=f"Item-level control on {il.eval_set} ({il.n} items, paired): the bottom right cell "
                            "is the item-level part of the tuned model's gain", numeric=(1, 2, 3)))
        blocks.append(Para([Bold(f"Verdict on the gain: {il.kind}. "), il.explanation]))
    for p in result.controls.positive.values():
        blocks.append(Para([Bold(f"Positive control ({p.hypothesis.name}): "), f"{p.outcome}. ", p.explanation]))

    # -- lm-eval
    lm = lmeval_tables(result)
    blocks.append(Heading(2, "lm-eval", "lmeval"))
    if lm:
        blocks.append(Para("The same eval sets through lm-eval's tasks (age_rating, age_rating_mc, author_intent), "
                           "scored by the same metric functions; results files are in lmeval/."))
        blocks.extend(lm)
    else:
        note = (_lmeval_note(result) or "the lm-eval stage was off for this run") + "."
        blocks.append(Para(note[0].upper() + note[1:], cls="muted"))

    # -- answers
    blocks.append(Heading(2, "Probe answers", "answers"))
    blocks.append(Para(["A sample of answers, base and tuned side by side; every answer of every set, with its "
                        "scores, is in ", Link("answers.jsonl", "answers.jsonl"), "."]))
    limit = cfg.report.answers_in_report
    for set_name, n in (("age_heldout", limit), ("age_seen", max(limit // 2, 1)),
                        ("intent_seen", max(limit // 4, 1)), ("intent_heldout", max(limit // 4, 1))):
        table, _ = answers_table(result, set_name, n)
        if table is not None:
            blocks.append(Heading(3, set_name))
            blocks.append(table)

    # -- caveats and files
    blocks.append(Heading(2, "Caveats", "caveats"))
    blocks.append(Bullets(caveats(result)))
    blocks.append(Heading(2, "Files", "files"))
    files = [
        [Link("config.toml", "config.toml"), "the config as run (loads back with --config)"],
        [Link("env.json", "env.json"), "versions, hardware, git commit"],
        [Link("answers.jsonl", "answers.jsonl"), "every probe answer with its scores"],
        [Code("evalsets/"), "the eval sets with their manifest"],
        [Code("train/"), "adapter, metrics.jsonl, loss.png, summary.json, checkpoints"],
        [Code("verdicts/"), "metrics.json, verdicts.json, controls.json, memorisation.json, curve.json"],
        [Code("lmeval/"), "lm-eval results and samples"],
        [Code("run.json"), "stage fingerprints and times (resume)"],
    ]
    blocks.append(Table(["file", "what"], files))
    return blocks


def _shareable(config_text: str, cfg: ExperimentConfig) -> str:
    """The config as a report shows it: a corpus URL without its user:password@ or query string
    (a presigned URL's query is a credential, and reports get passed around). The run
    directory's config.toml keeps the URL whole, so the run still resumes from it."""
    corpus = cfg.train.corpus
    shown = None if corpus is None else display_url(str(corpus))
    if shown is None or shown == str(corpus):
        return config_text
    return ("# the corpus URL is shown without its credentials and query string; config.toml has it whole\n"
            + config_text.replace(str(corpus), shown))
