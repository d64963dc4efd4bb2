"""What training is exposed to: age cues masked out of training text, and the planted positive control.

    >>> from emergence.exposure import Exposure
    >>> from emergence.corpus.records import Record
    >>> arm = Exposure(age_cues="mask", control_share=0.0)
    >>> arm.training_text(Record(uid="1", title="Bunny Book", content="A bunny hops. Ages 3-5.")).content
    'A bunny hops.'
    >>> Exposure(age_cues="keep").training_text(Record(uid="1", title="B", content="Ages 3-5.")).content
    'Ages 3-5.'

The seed study's hypothesis is that age inference emerges *without* age information in
training. In the default ``mask`` arm every span :func:`emergence.agecues.find_age_cues`
finds is removed from a training record's title and content before it is rendered and
tokenised (:func:`emergence.agecues.mask_age_cues`), except on the *control* records: a
stable, hash-drawn ``control_share`` of the records whose content states an age keep it,
so the run can show that the harness detects learning where the signal *is* in training
(the ``age_recall`` hypothesis, on the ``age_seen`` set, is measured on exactly these).
The ``keep`` arm trains on the text as it is (the exposed arm, for comparison).

One rule serves training (:class:`emergence.train.data.TrainStream` asks
:meth:`Exposure.training_text`), the seen eval sets (:meth:`Exposure.is_control`) and the
proof written beside the adapter (:func:`audit_exposure` re-scans the exact training text
of every record training consumed: no cue may remain outside the control records).
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, BinaryIO, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Exposure", "ExposureReport", "TrainingText", "audit_exposure"]

_SCALE = float(1 << 64)


class TrainingText(BaseModel):
    """A record's text as training sees it."""

    model_config = ConfigDict(frozen=True)

    title: str = Field(description="The title, cues removed in the mask arm (outside control records).")
    content: str = Field(description="The content, likewise.")
    removed: int = Field(description="Age cues removed from title and content.")
    control: bool = Field(description="A control record: its cues were kept on purpose.")
    canary: str | None = Field(None, description="The canary sentence appended to the content, if any.")


class Exposure(BaseModel):
    """The exposure arm of a training run (from its TrainConfig: ``age_cues``, ``age_cue_control``)."""

    model_config = ConfigDict(frozen=True)

    age_cues: Literal["mask", "keep"] = Field("mask", description="'mask': remove age cues from training text; "
                                              "'keep': train on the text as it is (the exposed arm).")
    control_share: float = Field(0.25, ge=0.0, le=1.0, description="Share of the records whose content states an "
                                 "age that keep it in the mask arm (the positive control).")
    canary_share: float = Field(0.0, ge=0.0, le=1.0, description="Share of records (drawn by a stable hash, either "
                                "split) whose content ends with their canary sentence; on train records training "
                                "sees it, on held-out ones it is the never-trained comparison.")
    salt: str = Field("emergence", description="Salt of the control and canary draws (the split's salt).")

    @classmethod
    def of(cls, train: Any) -> "Exposure":
        """The arm of a training run (an emergence TrainConfig)."""
        return cls(age_cues=train.age_cues, control_share=train.age_cue_control, canary_share=train.canary_share,
                   salt=train.salt)

    def _point(self, domain: str, record: Any) -> float:
        from emergence.corpus.split import split_key

        key = f"{domain}\x00{self.salt}\x00{split_key(record)}".encode("utf-8")
        return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") / _SCALE

    def _drawn(self, record: Any) -> bool:
        return self._point("control", record) < self.control_share

    def canary(self, record: Any) -> str | None:
        """The record's canary sentence, when it is drawn to carry one (and has content)."""
        if not (record.content or "") or self._point("canary", record) >= self.canary_share:
            return None
        from emergence.corpus.split import split_key
        from emergence.memorisation.canaries import canary_sentence

        return canary_sentence(split_key(record), self.salt)

    def is_control(self, record: Any) -> bool:
        """The record keeps its age cue on purpose: drawn for the positive control, and its
        content states an age. In the keep arm every record with a cue is exposed, so every
        one is a control."""
        from emergence.agecues import find_age_cues

        content = record.content or ""
        if not content or (self.age_cues == "mask" and not self._drawn(record)):
            return False
        return bool(find_age_cues(content))

    def training_text(self, record: Any) -> TrainingText:
        """The title and content training renders for this record (its canary appended)."""
        text = self._masked(record)
        canary = self.canary(record)
        if canary is None:
            return text
        return text.model_copy(update={"content": f"{text.content} {canary}".strip(), "canary": canary})

    def _masked(self, record: Any) -> TrainingText:
        title, content = record.title, record.content or ""
        if self.age_cues == "keep":
            return TrainingText(title=title, content=content, removed=0, control=self.is_control(record))
        if self.is_control(record):
            return TrainingText(title=title, content=content, removed=0, control=True)
        from emergence.agecues import mask_age_cues

        # a title that is all cue ("For Ages 3 and Up") trains as an empty user turn: no leak
        t, c = mask_age_cues(title), mask_age_cues(content)
        return TrainingText(title=t.text, content=c.text, removed=t.count + c.count, control=False)


class ExposureReport(BaseModel):
    """The proof of an arm: every record training consumed, re-scanned as trained on."""

    arm: Literal["mask", "keep"] = Field(description="The exposure arm.")
    control_share: float = Field(description="Share drawn for the positive control (mask arm).")
    records: int = Field(description="Records training consumed (scanned here).")
    records_with_cues: int = Field(description="Of those, records whose title or content stated an age as stored.")
    cues_removed: int = Field(description="Age cues removed from their training text.")
    records_masked: int = Field(description="Records whose training text lost at least one cue.")
    control_records: int = Field(description="Records that kept their cue on purpose (the positive control).")
    canaries: int = Field(0, description="Records whose training content ended with their canary sentence.")
    remaining_outside_control: int = Field(
        description="Age cues found again in the exact training text of non-control records: 0 in the mask arm.")
    examples: list[str] = Field(default_factory=list, description="The first remaining cues found, if any.")

    @property
    def never_exposed(self) -> bool:
        """The mask arm held: no cue left outside the control records."""
        return self.arm == "mask" and self.remaining_outside_control == 0

    def sentence(self) -> str:
        """The arm in words, for the report's headline and the CLI."""
        if self.arm == "keep":
            return (f"exposed arm: training text kept its age cues ({self.records_with_cues:,} of "
                    f"{self.records:,} training records state an age)")
        control = (f"; {self.control_records:,} control records ({self.control_records / max(self.records, 1):.1%}) "
                   "kept theirs on purpose, as the positive control") if self.control_records else ""
        proof = ("re-scanning the exact training text found none left" if self.remaining_outside_control == 0 else
                 f"re-scanning the exact training text still found {self.remaining_outside_control} (a leak)")
        canaries = f"; {self.canaries:,} carried a canary sentence" if self.canaries else ""
        return (f"never-exposed arm: {self.cues_removed:,} age cues removed from {self.records_masked:,} of "
                f"{self.records:,} training records{control}; {proof}{canaries}")


def audit_exposure(source: str | Path | BinaryIO, consumption: Any, exposure: Exposure, *,
                   policy: str = "skip") -> ExposureReport:
    """Re-scan the exact training text of every record ``consumption`` says training
    consumed (stops once every shard has its share)."""
    from emergence.agecues import find_age_cues
    from emergence.corpus.stream import stream_records

    counts = {"records": 0, "with_cues": 0, "removed": 0, "masked": 0, "control": 0, "remaining": 0, "canaries": 0}
    examples: list[str] = []
    tracker = consumption.tracker()
    stream = stream_records(source, policy=policy)
    with stream:
        for record in stream:
            if not tracker.consumed(record, stream.stats.read - 1):
                if tracker.done():
                    break
                continue
            text = exposure.training_text(record)
            counts["records"] += 1
            counts["with_cues"] += bool(find_age_cues(record.title) or find_age_cues(record.content or ""))
            counts["removed"] += text.removed
            counts["masked"] += text.removed > 0
            counts["control"] += text.control
            counts["canaries"] += text.canary is not None
            if not text.control:
                left = find_age_cues(text.title) + find_age_cues(text.content)
                counts["remaining"] += len(left)
                examples.extend(c.text for c in left[: max(0, 5 - len(examples))])
    return ExposureReport(arm=exposure.age_cues, control_share=exposure.control_share, records=counts["records"],
                          records_with_cues=counts["with_cues"], cues_removed=counts["removed"],
                          records_masked=counts["masked"], control_records=counts["control"],
                          canaries=counts["canaries"],
                          remaining_outside_control=counts["remaining"] if exposure.age_cues == "mask" else 0,
                          examples=examples if exposure.age_cues == "mask" else [])
