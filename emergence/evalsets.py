"""Evaluation sets: which titles are probed, with which label, and where the label came from.

    >>> from emergence.evalsets import EvalSetConfig, build_eval_sets
    >>> from emergence.corpus.sample import sample_path
    >>> sets = build_eval_sets(sample_path(), EvalSetConfig(age_heldout=5, age_seen=5,
    ...                                                    intent_seen=3, intent_heldout=3))
    >>> sorted(sets)
    ['age_heldout', 'age_seen', 'intent_heldout', 'intent_seen']
    >>> all(item.split == "held_out" and item.label_age is not None
    ...     for item in sets["age_heldout"])
    True

Four sets, built in one streaming pass over a corpus:

- ``age_heldout``: held-out records with a known minimum age, from the sample corpus's
  ``true_min_age`` (``label_source="sample"``) or else from an age cue in the record's own
  content (``"cue"``). Held-out content never reaches training, so its cue is a fair label:
  emergence is judged here.
- ``age_seen``: train records whose content carries an age cue (label: that cue). A tuned
  model that answers these may be recalling its training text: recall, not emergence.
- ``intent_seen`` / ``intent_heldout``: train / held-out records with non-empty content,
  for the author-intent (memorisation) probes.

Selection is hash-ordered: each candidate gets a key from a seeded blake2b hash of its uid
(title when uid is missing) and each set keeps the ``n`` smallest keys in a bounded heap.
So the sets are deterministic, memory is O(sum of set sizes) whatever the corpus size, and
adding records to a corpus changes a set only where the new records win.
"""
from __future__ import annotations

import hashlib
import heapq
import json
import time
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Literal

from pydantic import BaseModel, ConfigDict, Field

from emergence.corpus.records import true_age as _true_age

__all__ = [
    "EVAL_SET_NAMES",
    "TrainingConsumption",
    "EvalItem",
    "EvalSetConfig",
    "EvalSets",
    "build_eval_sets",
    "read_eval_set",
    "read_eval_sets",
    "write_eval_sets",
]

EVAL_SET_NAMES: tuple[str, ...] = ("age_heldout", "age_seen", "intent_seen", "intent_heldout", "members",
                                   "nonmembers", "canaries", "canary_controls")
HELD_OUT_SETS: tuple[str, ...] = ("age_heldout", "intent_heldout", "nonmembers", "canary_controls")
MANIFEST = "manifest.json"


class EvalSetConfig(BaseModel):
    """How many items each set holds and how they are drawn."""

    model_config = ConfigDict(extra="forbid")

    age_heldout: int = Field(200, ge=0, description="Items in age_heldout: held-out records "
                             "with a known minimum age (the set emergence is judged on).")
    age_seen: int = Field(100, ge=0, description="Items in age_seen: records training consumed "
                          "whose content carries an age cue (recall of a memorised cue).")
    intent_seen: int = Field(50, ge=0, description="Items in intent_seen: records training consumed, "
                             "with non-empty content (author-intent memorisation, seen side).")
    intent_heldout: int = Field(50, ge=0, description="Items in intent_heldout: held-out records "
                                "with non-empty content (author-intent, unseen side).")
    members: int = Field(200, ge=0, description="Items in members: records training consumed, with content (the "
                         "memorisation panel's members; a forward pass each, no generation).")
    nonmembers: int = Field(200, ge=0, description="Items in nonmembers: held-out records with content (the "
                            "panel's non-members: an IID draw from the same corpus by the same split hash).")
    canaries: int = Field(200, ge=0, description="Items in canaries: consumed records whose training content ended "
                          "with their canary sentence (the panel's positive control).")
    canary_controls: int = Field(200, ge=0, description="Items in canary_controls: held-out records drawn for a "
                                 "canary by the same rule, never trained on (the canaries' comparison).")
    seed: int = Field(0, description="Seed of the hash that orders candidates; another seed "
                      "draws other items from the same corpus.")
    seen_from: Literal["training", "train_split"] = Field(
        "training", description="'training': seen sets hold only records the training run consumed "
        "(TrainingConsumption); 'train_split': any train-split record (no training run to follow, "
        "e.g. probing a base model alone).")

    def sizes(self) -> dict[str, int]:
        """Requested size of each set, by name."""
        return {name: getattr(self, name) for name in EVAL_SET_NAMES}


class TrainingConsumption(BaseModel):
    """Which corpus records a training run consumes: the one rule (training, the audit and the
    seen sets all ask it).

    A record is *trainable* when ``split_of`` puts it in the train split and its content is
    non-empty (or empty contents are kept). Training reads trainable records in stream
    order; with ``world`` processes, record ``i`` of the input belongs to shard
    ``i % world`` and each shard takes its first ``per_shard`` trainable records (None: all
    of them, possibly over several passes).

        >>> from emergence.train.config import TrainConfig
        >>> rule = TrainingConsumption.of(TrainConfig(max_steps=10))   # batch 2 x accumulation 4
        >>> rule.per_shard, rule.budget
        (80, 80)
    """

    model_config = ConfigDict(frozen=True)

    held_out: float = Field(0.1, ge=0.0, le=1.0, description="Held-out share of emergence.split_of.")
    salt: str = Field("emergence", description="Salt of emergence.split_of.")
    drop_empty: bool = Field(True, description="Records with empty content are not trained on.")
    per_shard: int | None = Field(None, ge=0, description="Trainable records each shard consumes "
                                  "(None: every one).")
    world: int = Field(1, ge=1, description="Processes training reads the corpus with (DDP ranks).")

    @classmethod
    def of(cls, train: Any, *, world: int = 1, records_used: int | None = None) -> "TrainingConsumption":
        """The rule of a training run (an emergence TrainConfig): per shard, at most
        ``max_steps × batch × accumulation`` records, and at most ``max_records``;
        ``records_used`` (TrainResult.train_records_used, one process) when known."""
        per_shard = (train.max_steps * train.per_device_train_batch_size * train.gradient_accumulation_steps)
        if train.max_records is not None:
            per_shard = min(per_shard, train.max_records)
        if records_used is not None:
            per_shard = records_used
        return cls(held_out=train.held_out, salt=train.salt, drop_empty=train.drop_empty,
                   per_shard=per_shard, world=world)

    @property
    def budget(self) -> int | None:
        """Trainable records consumed in all (None: every one)."""
        return None if self.per_shard is None else self.per_shard * self.world

    def in_train_split(self, record: Any) -> bool:
        """split_of puts the record in the train split."""
        from emergence.corpus.split import split_of

        return split_of(record, held_out=self.held_out, salt=self.salt) == "train"

    def trainable(self, record: Any) -> bool:
        """The record would be trained on if its turn came (train split, content as required)."""
        return self.in_train_split(record) and (bool(record.content) or not self.drop_empty)

    def tracker(self) -> "ConsumptionTracker":
        """A fresh pass over the corpus: says, record by record, which ones training consumed."""
        return ConsumptionTracker(self)


class ConsumptionTracker:
    """One pass of :class:`TrainingConsumption` over a stream (call in stream order)."""

    def __init__(self, rule: TrainingConsumption) -> None:
        self.rule = rule
        self.taken = [0] * rule.world

    def consumed(self, record: Any, input_index: int) -> bool:
        """Training consumed this record; ``input_index`` is its 0-based position among the
        input's records (``stream.stats.read - 1`` right after it was yielded)."""
        if not self.rule.trainable(record):
            return False
        shard = input_index % self.rule.world
        if self.rule.per_shard is not None and self.taken[shard] >= self.rule.per_shard:
            return False
        self.taken[shard] += 1
        return True

    def done(self) -> bool:
        """Every shard has taken its share: no later record is consumed."""
        per_shard = self.rule.per_shard
        return per_shard is not None and all(t >= per_shard for t in self.taken)


class EvalItem(BaseModel):
    """One probed record: its text, its split and its age label with the label's origin."""

    id: str = Field(description="Stable item id: the set name and the record's position "
                    "in the corpus stream.")
    uid: str | None = Field(None, description="The record's uid, when the corpus has one.")
    title: str = Field(description="The record's cleaned title (what probes ask about).")
    content: str = Field(description="The record's cleaned content (memorisation reference).")
    split: Literal["train", "held_out"] = Field(description="The record's split.")
    label_age: float | None = Field(None, description="Known minimum reading age in years.")
    label_band: str | None = Field(None, description="The age band of label_age "
                                   "(emergence.agecues.band_of).")
    label_source: Literal["cue", "sample"] | None = Field(
        None, description="'sample': the sample corpus's true_min_age; 'cue': an age cue in "
        "the record's own content; None: no label.")
    index: int = Field(-1, description="0-based position of the record among those the "
                       "corpus stream yielded (provenance).")


class EvalSets(dict):
    """``dict[name, list[EvalItem]]`` that also remembers how it was built (for the manifest)."""

    config: EvalSetConfig | None = None
    consumption: TrainingConsumption | None = None
    source: str | None = None
    stats: dict[str, Any] | None = None
    extra: dict[str, Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.extra = {}


def _hash_key(seed: int, set_name: str, record: Any) -> int:
    ident = record.uid if getattr(record, "uid", None) else record.title
    digest = hashlib.blake2b(f"{seed}\x1f{set_name}\x1f{ident}".encode("utf-8"),
                             digest_size=8).digest()
    return int.from_bytes(digest, "big")


class _Reservoir:
    """Keeps the ``n + slack`` candidates with the smallest (hash, index) key: a bounded max-heap.

    The slack stands in for candidates removed at the end (held-out records whose content a
    train record carries under another title, found only once the whole corpus is read).
    """

    def __init__(self, n: int, slack: int = 0) -> None:
        self.n = n
        self.keep = n + (slack if n > 0 else 0)
        self.heap: list[tuple[int, int, int, EvalItem]] = []  # (-hash, -index, content fingerprint, item)
        self.candidates = 0

    def offer(self, key: int, index: int, make: Any, fingerprint: int = 0) -> None:
        self.candidates += 1
        if self.keep <= 0:
            return
        entry = (-key, -index)
        if len(self.heap) < self.keep:
            heapq.heappush(self.heap, (*entry, fingerprint, make()))
        elif entry > self.heap[0][:2]:  # smaller (hash, index) than the largest kept
            heapq.heapreplace(self.heap, (*entry, fingerprint, make()))

    def items(self, exclude: Any = None) -> tuple[list[EvalItem], int]:
        """The ``n`` smallest-key items whose content fingerprint is not in ``exclude``, in
        stream order, and how many were excluded among those considered."""
        ranked = sorted(self.heap, key=lambda e: (-e[0], -e[1]))
        kept = [e[3] for e in ranked if exclude is None or e[2] not in exclude]
        dropped = len(ranked) - len(kept)
        return sorted(kept[: self.n], key=lambda it: it.index), dropped


def build_eval_sets(source: str | Path | BinaryIO, config: EvalSetConfig | None = None, *,
                    consumption: TrainingConsumption | None = None, exposure: Any = None,
                    policy: Literal["skip", "strict"] = "skip") -> EvalSets:
    """Build the four eval sets from a corpus in one streaming pass (see the module doc).

    ``consumption`` is the training run's rule (default: every train-split record with
    content, split at held_out 0.1 with the default salt): seen sets hold only records it
    says training consumed, held-out sets only records it holds out. ``exposure`` is the
    training run's arm (:class:`emergence.exposure.Exposure`; default: every record keeps its
    cues): ``age_seen`` holds only records whose cue training kept. Held-out items whose
    content a train record carries (under another title) are left out, and so are
    ``age_heldout`` candidates whose *title* states an age (asking for it would be reading,
    not inferring). Items in each set are in corpus stream order. The returned mapping
    carries ``.config``, ``.source``, ``.stats`` (the stream's LoadStats) and
    ``.consumption`` for the manifest.
    """
    from array import array

    import numpy as np

    from emergence.agecues import band_of, find_age_cues, min_age_from_cues
    from emergence.corpus.stream import stream_records

    config = config or EvalSetConfig()
    rule = consumption or TrainingConsumption()
    consumed = rule.tracker()
    pools = {name: _Reservoir(n, slack=max(8, n // 10) if name in HELD_OUT_SETS else 0)
             for name, n in config.sizes().items()}
    label_counts = {"held_out_labelled_sample": 0, "held_out_labelled_cue": 0, "held_out_title_states_age": 0,
                    "train_with_cue": 0, "train_considered": 0, "train_beyond_limit": 0}
    train_bands: dict[str, int] = {}  # labels of train records: the majority baseline's prior
    train_contents = array("q")  # fingerprints of train contents, for the held-out twins at the end
    stream = stream_records(source, policy=policy)
    for index, record in enumerate(stream):
        content = record.content or ""
        if rule.in_train_split(record):
            if content:
                train_contents.append(hash(content))
            cue_age = min_age_from_cues(content) if content else None
            true_age = _true_age(record)
            train_label = true_age if true_age is not None else cue_age
            if train_label is not None:
                band = band_of(train_label)
                train_bands[band] = train_bands.get(band, 0) + 1
            if not consumed.consumed(record, stream.stats.read - 1):
                label_counts["train_beyond_limit"] += bool(content) or not rule.drop_empty
                continue
            label_counts["train_considered"] += 1
            if not content:
                continue
            if cue_age is not None and (exposure is None or exposure.is_control(record)):
                label_counts["train_with_cue"] += 1
                pools["age_seen"].offer(
                    _hash_key(config.seed, "age_seen", record), index,
                    lambda: _item("age_seen", index, record, "train", cue_age, "cue", band_of))
            label, source_kind = ((true_age, "sample") if true_age is not None
                                  else (cue_age, "cue") if cue_age is not None else (None, None))
            pools["intent_seen"].offer(
                _hash_key(config.seed, "intent_seen", record), index,
                lambda: _item("intent_seen", index, record, "train", label, source_kind, band_of))
            pools["members"].offer(_hash_key(config.seed, "members", record), index,
                                   lambda: _item("members", index, record, "train", label, source_kind, band_of))
            if exposure is not None and exposure.canary(record) is not None:
                pools["canaries"].offer(_hash_key(config.seed, "canaries", record), index,
                                        lambda: _item("canaries", index, record, "train", label, source_kind, band_of))
            continue
        # held-out: never trained on, so a cue in its own content is a fair label
        true_age = _true_age(record)
        if true_age is not None:
            label, source_kind = true_age, "sample"
        else:
            cue_age = min_age_from_cues(content) if content else None
            label, source_kind = (cue_age, "cue") if cue_age is not None else (None, None)
        fingerprint = hash(content) if content else 0
        if label is not None:
            if find_age_cues(record.title):
                label_counts["held_out_title_states_age"] += 1
            else:
                label_counts[f"held_out_labelled_{source_kind}"] += 1
                pools["age_heldout"].offer(
                    _hash_key(config.seed, "age_heldout", record), index,
                    lambda: _item("age_heldout", index, record, "held_out", label, source_kind, band_of), fingerprint)
        if content:
            pools["intent_heldout"].offer(
                _hash_key(config.seed, "intent_heldout", record), index,
                lambda: _item("intent_heldout", index, record, "held_out", label, source_kind, band_of), fingerprint)
            pools["nonmembers"].offer(
                _hash_key(config.seed, "nonmembers", record), index,
                lambda: _item("nonmembers", index, record, "held_out", label, source_kind, band_of), fingerprint)
            if exposure is not None and exposure.canary(record) is not None:
                pools["canary_controls"].offer(
                    _hash_key(config.seed, "canary_controls", record), index,
                    lambda: _item("canary_controls", index, record, "held_out", label, source_kind, band_of),
                    fingerprint)
    trained = set(np.unique(np.frombuffer(train_contents, dtype=np.int64)).tolist()) if train_contents else set()
    chosen: dict[str, list[EvalItem]] = {}
    for name in EVAL_SET_NAMES:
        # only held-out candidates can carry a train record's content; the set ignores the empty content's 0
        exclude = {f for f in (e[2] for e in pools[name].heap) if f and f in trained} if name in HELD_OUT_SETS else None
        chosen[name], dropped = pools[name].items(exclude)
        if name in HELD_OUT_SETS:
            label_counts[f"{name}_content_in_train_left_out"] = dropped
    sets = EvalSets(chosen)
    sets.config = config
    sets.source = source if isinstance(source, str) else (
        str(source) if isinstance(source, Path) else getattr(source, "name", "<stream>"))
    sets.stats = _stats_dict(stream.stats)
    sets.consumption = rule
    sets.extra = {"candidates": {name: pools[name].candidates for name in EVAL_SET_NAMES},
                  **label_counts, "train_band_counts": train_bands}
    return sets


def _item(set_name: str, index: int, record: Any, split: str, age: float | None,
          source_kind: str | None, band_of: Any) -> EvalItem:
    return EvalItem(
        id=f"{set_name}-{index:07d}",
        uid=record.uid,
        title=record.title,
        content=record.content or "",
        split=split,
        label_age=age,
        label_band=band_of(age) if age is not None else None,
        label_source=source_kind,
        index=index,
    )


def _stats_dict(stats: Any) -> dict[str, Any]:
    if stats is None:
        return {}
    if hasattr(stats, "model_dump"):
        return stats.model_dump(mode="json")
    import dataclasses

    if dataclasses.is_dataclass(stats):
        return dataclasses.asdict(stats)
    return {k: v for k, v in vars(stats).items() if not k.startswith("_")}


def write_eval_sets(
    sets: dict[str, list[EvalItem]],
    out_dir: str | Path,
    *,
    config: EvalSetConfig | None = None,
    source: str | Path | None = None,
    stats: dict[str, Any] | None = None,
) -> Path:
    """Write ``<name>.jsonl`` per set and ``manifest.json``; returns the manifest's path.

    The manifest holds the config, the counts, the corpus path with its size and load
    stats, label-source counts and provenance (emergence version, time). Config, source and
    stats default to those remembered by :func:`build_eval_sets`.
    """
    import emergence

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config = config or getattr(sets, "config", None)
    source = source if source is not None else getattr(sets, "source", None)
    stats = stats if stats is not None else getattr(sets, "stats", None)
    files: dict[str, str] = {}
    for name, items in sets.items():
        path = out / f"{name}.jsonl"
        with open(path, "w", encoding="utf-8") as fh:
            for item in items:
                fh.write(item.model_dump_json() + "\n")
        files[name] = path.name
    corpus: dict[str, Any] = {"path": str(source) if source is not None else None}
    if source is not None and Path(str(source)).is_file():
        corpus["bytes"] = Path(str(source)).stat().st_size
    corpus["stats"] = stats or {}
    manifest = {
        "config": config.model_dump(mode="json") if config is not None else None,
        "consumption": (sets.consumption.model_dump(mode="json")
                        if getattr(sets, "consumption", None) is not None else None),
        "counts": {name: len(items) for name, items in sets.items()},
        "label_sources": {
            name: _count_by(items, lambda it: it.label_source or "none")
            for name, items in sets.items()
        },
        "files": files,
        "corpus": corpus,
        "selection": getattr(sets, "extra", {}),
        "provenance": {
            "emergence_version": emergence.__version__,
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "method": "hash-ordered selection (blake2b of seed, set name and uid or title)",
        },
    }
    path = out / MANIFEST
    path.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


def _count_by(items: Iterable[EvalItem], key: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        k = key(item)
        counts[k] = counts.get(k, 0) + 1
    return counts


def read_eval_set(path: str | Path) -> list[EvalItem]:
    """Read one set written by :func:`write_eval_sets` (one EvalItem per JSON line)."""
    items = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                items.append(EvalItem.model_validate_json(line))
    return items


def read_eval_sets(out_dir: str | Path) -> EvalSets:
    """Read every set named in ``out_dir``'s manifest (or every ``*.jsonl`` without one).

    With a manifest, the result carries ``.config``, ``.source``, ``.stats`` and the
    selection counts (``.extra``) again, as :func:`build_eval_sets` returned them.
    """
    out = Path(out_dir)
    manifest_path = out / MANIFEST
    if not manifest_path.is_file():
        return EvalSets({p.stem: read_eval_set(p) for p in sorted(out.glob("*.jsonl"))})
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    sets = EvalSets({name: read_eval_set(out / fname)
                     for name, fname in manifest.get("files", {}).items()})
    if manifest.get("config"):
        sets.config = EvalSetConfig.model_validate(manifest["config"])
    if manifest.get("consumption"):
        sets.consumption = TrainingConsumption.model_validate(manifest["consumption"])
    sets.source = (manifest.get("corpus") or {}).get("path")
    sets.stats = (manifest.get("corpus") or {}).get("stats")
    sets.extra = dict(manifest.get("selection") or {})
    return sets
