"""ProbeConfig: what the probes ask, how they decode, which measures they take.

    >>> from emergence.probe.config import ProbeConfig
    >>> ProbeConfig().age_prompts()
    {'seed': 'what is the minimum recommended age for reading {title} and why?'}
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AGE_SETS", "INTENT_PROMPT", "INTENT_SETS", "CurveConfig", "ProbeConfig", "SEED_AGE_PROMPT", "default_checkpoints"]

SEED_AGE_PROMPT = "what is the minimum recommended age for reading {title} and why?"
INTENT_PROMPT = "What was the author's intent in writing {title}?"
AGE_SETS = ("age_heldout", "age_seen")
INTENT_SETS = ("intent_seen", "intent_heldout")
MEMBERSHIP_SETS = ("members", "nonmembers", "canaries", "canary_controls")


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
    max_batch_size: int | None = Field(
        None, ge=1, description="On CUDA: find the largest batch up to this that fits the card (a trial "
        "generation at the longest prompt and the full token cap, halving on out-of-memory) and use it "
        "instead of batch_size; None: batch_size as given.")
    engine: Literal["auto", "hf-bf16", "hf-4bit"] = Field(
        "auto", description="How the model is loaded for probing (emergence.probe.engine): bf16 weights, or "
        "4-bit NF4; auto: bf16 where the card's free memory holds the weights and a batch's KV cache.")
    do_sample: bool = Field(False, description="Sample instead of greedy decoding.")
    temperature: float = Field(1.0, gt=0, description="Sampling temperature (do_sample only).")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling mass (do_sample only).")
    seed: int = Field(0, description="torch seed set before sampling (do_sample only).")
    band_loglik: bool = Field(True, description="Score each age band's answer text by "
                              "log-likelihood after the age question (no generation).")
    band_choice_template: str = Field("Ages {band}", description="Answer text of one band "
                                      "for the log-likelihood measure; {band} is e.g. '3-5'.")
    band_normalise: Literal["domain", "mean", "sum"] = Field(
        "domain", description="How band log-likelihoods become band scores: 'domain' subtracts "
        "each band's log-likelihood after the same question about a neutral title "
        "(domain-conditional PMI, Holtzman et al. 2021: a band's length and prior cancel, what "
        "is left is what the title says); 'mean' divides by the band text's token count; "
        "'sum' keeps the summed log-probability, which favours shorter band texts.")
    neutral_title: str = Field("this book", description="The title of the neutral question "
                               "whose band log-likelihoods 'domain' subtracts.")
    extractable: bool = Field(True, description="Run the k-extractable test on the intent sets.")
    k: int = Field(50, ge=1, description="k-extractable prefix length in tokens of the content "
                   "(Carlini et al. 2023 use 50 and 50; contents shorter than k + extract_tokens are "
                   "reported as not testable, and counted).")
    extract_tokens: int = Field(50, ge=1, description="Tokens greedily decoded after the "
                                "prefix and compared with the content's true next tokens.")
    sets: list[str] = Field(default_factory=lambda: list(AGE_SETS + INTENT_SETS + MEMBERSHIP_SETS),
                            description="Which eval sets to probe (those present are used).")
    device: str | None = Field(None, description="torch device; None: CUDA when present.")
    dtype: str | None = Field(None, description="torch dtype name; None: bf16 on CUDA, "
                              "fp32 on CPU.")
    verdict_variant: str = Field("seed", description="The age variant the verdicts judge.")
    progress: bool | None = Field(None, description="Show a progress bar; None: only on a "
                                  "terminal.")

    def age_prompts(self, train_prompt_template: str = "{title}") -> dict[str, str]:
        """Variant name -> template for the age sets, in the order they are asked
        (``train_prompt_template``: the training run's, for the completion variant)."""
        prompts = {"seed": self.age_prompt, **self.age_variants}
        if self.completion_variant:
            prompts["completion"] = train_prompt_template
        return prompts



class CurveConfig(BaseModel):
    """The emergence curve: which training steps are probed, and which of them generate answers."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Probe checkpoints along training (false: base and tuned only).")
    checkpoints: list[int] | None = Field(
        None, description="Optimiser steps to probe (0 is the base model, max_steps the tuned one); None: "
        "a geometric schedule of 6 points up to max_steps (emergence.probe.config.default_checkpoints).")
    generate_at: list[int] | None = Field(
        None, description="Steps probed in full (generated answers: the discrete metrics and the memorisation "
        "ones); the others take only the generation-free measures. None: the first, middle and last "
        "checkpoints.")
    log_x: bool = Field(True, description="Draw the curve's training-step axis on a log scale (symlog, 0 = base).")

    def steps(self, max_steps: int) -> list[int]:
        """The checkpoints, sorted, within [0, max_steps], always with 0 and max_steps."""
        chosen = self.checkpoints if self.checkpoints is not None else default_checkpoints(max_steps)
        return sorted({0, max_steps, *(k for k in chosen if 0 <= k <= max_steps)})

    def generated(self, max_steps: int) -> list[int]:
        """The steps probed in full."""
        steps = self.steps(max_steps)
        chosen = self.generate_at if self.generate_at is not None else [steps[0], steps[len(steps) // 2], steps[-1]]
        return sorted(k for k in set(chosen) if k in steps)


def default_checkpoints(max_steps: int, points: int = 6) -> list[int]:
    """0 and a geometric schedule of ``points - 1`` steps up to ``max_steps``: early steps,
    where a curve changes fastest, get the most points.

        >>> default_checkpoints(100), default_checkpoints(40)
        ([0, 3, 6, 16, 40, 100], [0, 2, 4, 9, 19, 40])
    """
    if max_steps <= 0:
        return [0]
    steps = {0, max_steps}
    for i in range(1, points - 1):
        steps.add(max(1, round(max_steps ** (i / (points - 1)))))
    return sorted(steps)
