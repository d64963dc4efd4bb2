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

from pydantic import BaseModel, Field

from emergence.corpus.records import true_age as _true_age

__all__ = [
    "EVAL_SET_NAMES",
    "EvalItem",
    "EvalSetConfig",
    "EvalSets",
    "build_eval_sets",
    "read_eval_set",
    "read_eval_sets",
    "write_eval_sets",
]

EVAL_SET_NAMES: tuple[str, ...] = ("age_heldout", "age_seen", "intent_seen", "intent_heldout")
MANIFEST = "manifest.json"


class EvalSetConfig(BaseModel):
    """How many items each set holds and how the corpus is split (must match training's)."""

    age_heldout: int = Field(200, ge=0, description="Items in age_heldout: held-out records "
                             "with a known minimum age (the set emergence is judged on).")
    age_seen: int = Field(100, ge=0, description="Items in age_seen: train records whose "
                          "content carries an age cue (recall of a memorised cue).")
    intent_seen: int = Field(50, ge=0, description="Items in intent_seen: train records with "
                             "non-empty content (author-intent memorisation, seen side).")
    intent_heldout: int = Field(50, ge=0, description="Items in intent_heldout: held-out records "
                                "with non-empty content (author-intent, unseen side).")
    seed: int = Field(0, description="Seed of the hash that orders candidates; another seed "
                      "draws other items from the same corpus.")
    held_out: float = Field(0.1, ge=0.0, le=1.0, description="Held-out share passed to "
                            "emergence.split_of; must equal the training run's.")
    salt: str = Field("emergence", description="Split salt passed to emergence.split_of; must "
                      "equal the training run's.")
    train_records_limit: int | None = Field(
        None, ge=0,
        description="Seen sets are drawn only from the first N train-split records in stream "
        "order, i.e. those a training run capped by max_records/max_steps actually consumed. "
        "None: all train records.",
    )
    limit_counts_empty: bool = Field(
        False,
        description="Whether train records with empty content count toward "
        "train_records_limit. False matches a trainer that drops empty contents before "
        "taking its first N records.",
    )
    policy: Literal["skip", "strict"] = Field("skip", description="Bad-record policy of the "
                                               "corpus stream (emergence.stream_records).")

    @classmethod
    def from_train_config(cls, train_config: Any, *, records_used: int | None = None,
                          world_size: int = 1, **overrides: Any) -> "EvalSetConfig":
        """The split and record cap of a training run (an emergence TrainConfig).

        ``records_used`` is the run's own count (``TrainResult.train_records_used``) when
        known. Otherwise training consumed at most ``max_steps × batch × accumulation ×
        world_size`` records (and at most ``max_records``), in stream order, empty contents
        skipped when it drops them; seen sets are drawn from those alone.
        """
        consumed = (train_config.max_steps * train_config.per_device_train_batch_size
                    * train_config.gradient_accumulation_steps * world_size)
        if train_config.max_records is not None:
            consumed = min(consumed, train_config.max_records)
        if records_used is not None:
            consumed = records_used
        values: dict[str, Any] = dict(held_out=train_config.held_out, salt=train_config.salt,
                                      train_records_limit=consumed,
                                      limit_counts_empty=not train_config.drop_empty)
        values.update(overrides)
        return cls(**values)

    def sizes(self) -> dict[str, int]:
        """Requested size of each set, by name."""
        return {name: getattr(self, name) for name in EVAL_SET_NAMES}


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
    """Keeps the ``n`` candidates with the smallest (hash, index) key: a bounded max-heap."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.heap: list[tuple[int, int, EvalItem]] = []  # (-hash, -index, item)
        self.candidates = 0

    def offer(self, key: int, index: int, make: Any) -> None:
        self.candidates += 1
        if self.n <= 0:
            return
        entry = (-key, -index)
        if len(self.heap) < self.n:
            heapq.heappush(self.heap, (*entry, make()))
        elif entry > self.heap[0][:2]:  # smaller (hash, index) than the largest kept
            heapq.heapreplace(self.heap, (*entry, make()))

    def items(self) -> list[EvalItem]:
        return sorted((item for _, _, item in self.heap), key=lambda it: it.index)


def build_eval_sets(source: str | Path | BinaryIO, config: EvalSetConfig | None = None
                    ) -> EvalSets:
    """Build the four eval sets from a corpus in one streaming pass (see the module doc).

    Items in each set are in corpus stream order. The returned mapping carries
    ``.config``, ``.source`` and ``.stats`` (the stream's LoadStats) for the manifest.
    """
    from emergence.agecues import band_of, min_age_from_cues
    from emergence.corpus.split import split_of
    from emergence.corpus.stream import stream_records

    config = config or EvalSetConfig()
    pools = {name: _Reservoir(n) for name, n in config.sizes().items()}
    label_counts = {"held_out_labelled_sample": 0, "held_out_labelled_cue": 0,
                    "train_with_cue": 0, "train_considered": 0, "train_beyond_limit": 0}
    train_seen = 0
    train_bands: dict[str, int] = {}  # labels of train records: the majority baseline's prior
    stream = stream_records(source, policy=config.policy)
    for index, record in enumerate(stream):
        split = split_of(record, held_out=config.held_out, salt=config.salt)
        content = record.content or ""
        if split == "train":
            cue_age = min_age_from_cues(content) if content else None
            true_age = _true_age(record)
            train_label = true_age if true_age is not None else cue_age
            if train_label is not None:
                band = band_of(train_label)
                train_bands[band] = train_bands.get(band, 0) + 1
            counts_toward_limit = bool(content) or config.limit_counts_empty
            within = (config.train_records_limit is None
                      or train_seen < config.train_records_limit)
            if counts_toward_limit:
                train_seen += 1
            if not within:
                label_counts["train_beyond_limit"] += 1
                continue
            label_counts["train_considered"] += 1
            if not content:
                continue
            if cue_age is not None:
                label_counts["train_with_cue"] += 1
                pools["age_seen"].offer(
                    _hash_key(config.seed, "age_seen", record), index,
                    lambda: _item("age_seen", index, record, split, cue_age, "cue", band_of))
            label, source_kind = ((true_age, "sample") if true_age is not None
                                  else (cue_age, "cue") if cue_age is not None else (None, None))
            pools["intent_seen"].offer(
                _hash_key(config.seed, "intent_seen", record), index,
                lambda: _item("intent_seen", index, record, split, label, source_kind, band_of))
            continue
        # held-out: never trained on, so a cue in its own content is a fair label
        true_age = _true_age(record)
        if true_age is not None:
            label, source_kind = true_age, "sample"
        else:
            cue_age = min_age_from_cues(content) if content else None
            label, source_kind = (cue_age, "cue") if cue_age is not None else (None, None)
        if label is not None:
            label_counts[f"held_out_labelled_{source_kind}"] += 1
            pools["age_heldout"].offer(
                _hash_key(config.seed, "age_heldout", record), index,
                lambda: _item("age_heldout", index, record, split, label, source_kind, band_of))
        if content:
            pools["intent_heldout"].offer(
                _hash_key(config.seed, "intent_heldout", record), index,
                lambda: _item("intent_heldout", index, record, split, label, source_kind,
                              band_of))
    sets = EvalSets({name: pools[name].items() for name in EVAL_SET_NAMES})
    sets.config = config
    sets.source = source if isinstance(source, str) else (
        str(source) if isinstance(source, Path) else getattr(source, "name", "<stream>"))
    sets.stats = _stats_dict(stream.stats)
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
    sets.source = (manifest.get("corpus") or {}).get("path")
    sets.stats = (manifest.get("corpus") or {}).get("stats")
    sets.extra = dict(manifest.get("selection") or {})
    return sets
