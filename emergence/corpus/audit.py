"""Corpus audit: one streaming pass that counts what the experiment needs to know.

    >>> from emergence.corpus.audit import audit_corpus
    >>> from emergence.corpus.sample import sample_path
    >>> report = audit_corpus(sample_path())
    >>> report.load.read == report.load.yielded == 4000 and report.load.reconciles()
    True
    >>> 0.2 < report.age_cue_share_nonempty < 0.4
    True
    >>> report.train_records + report.held_out_records == report.load.yielded
    True

What it reports (``AuditReport``): the loader's ``LoadStats`` (records read, yielded,
rejected by reason with the first examples), empty contents, duplicate (title, content)
pairs and duplicate titles, records whose content states a reader age (count, share
overall, in the train split, which is the leakage figure: a tuned model that answers an
age for a training title may be recalling its description, and in the held-out split),
the distribution of those minimum ages by ``AGE_BANDS`` band and by whole year, the same
for the sample corpus's ``true_min_age`` when records carry it, title and content length
percentiles, and the train / held-out sizes of ``split_of``.

Age cues are searched in the content, as ``emergence.evalsets`` does (titles are counted
separately in ``title_age_cue_records``).

Memory is bounded whatever the corpus size:

- duplicates are counted with the loader's dedupe table (64-bit fingerprints in an
  open-addressing table, at most 64 MiB for ``DEDUPE_CAPACITY`` = 4,194,304 distinct
  keys; 32 MiB for the 2.25M lines of trn.json), four of them: (title, content) pairs,
  titles, split keys and repeated split keys; past the capacity new keys are not
  remembered, and ``duplicates_exact`` turns False;
- cross-split twins (split keys, contents) are found from one 8-byte fingerprint per
  record and field, compared once at the end (at most ``DEDUPE_CAPACITY`` per side and
  field, 32 MiB each; past that, later records are not compared and ``duplicates_exact``
  turns False);
- length percentiles come from a uniform reservoir sample of ``RESERVOIR_SIZE`` (10,000)
  lengths per field (exact when there are fewer values; the maximum is always exact);
"""
from __future__ import annotations

import random
import statistics
from array import array
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal

from pydantic import BaseModel, Field

from emergence.corpus.records import LoadStats
from emergence.corpus.records import true_age as _true_age

if TYPE_CHECKING:  # rich is imported only when rendering
    from rich.console import Console

__all__ = ["RESERVOIR_SIZE", "AuditReport", "LengthSummary", "audit_corpus", "render_audit"]

RESERVOIR_SIZE = 10_000


class LengthSummary(BaseModel):
    """Percentiles of a length in characters (of the cleaned text)."""

    n: int = Field(description="Number of values summarised (all of them, not only the reservoir).")
    p5: float | None = Field(description="5th percentile, characters; None when n == 0.")
    p50: float | None = Field(description="Median, characters; None when n == 0.")
    p95: float | None = Field(description="95th percentile, characters; None when n == 0.")
    max: int | None = Field(description="Longest value, characters (always exact); None when n == 0.")
    exact: bool = Field(
        description="True when every value was kept (n <= reservoir size); else the percentiles "
        "are those of a uniform random sample of reservoir-size values."
    )


class AuditReport(BaseModel):
    """Everything one pass over a corpus says about it; ``model_dump_json()`` is ``--json``."""

    source: str = Field(description="Path or name of the corpus audited.")
    held_out: float = Field(description="Held-out share passed to split_of.")
    salt: str = Field(description="Salt passed to split_of.")
    policy: Literal["skip", "strict"] = Field(description="Bad-record policy of the stream.")
    load: LoadStats = Field(
        description="The loader's counts: read, yielded, rejected by reason with the first "
        "examples, bytes read, format. No record is filtered (no drop_empty, no dedupe)."
    )
    empty_content: int = Field(description="Yielded records whose cleaned content is empty.")
    empty_share: float = Field(description="empty_content / yielded (0 when nothing was yielded).")
    duplicate_pairs: int = Field(
        description="Yielded records whose cleaned (title, content) pair repeats an earlier "
        "record's: what stream_records(dedupe=True) would drop."
    )
    duplicate_titles: int = Field(
        description="Yielded records whose cleaned title repeats an earlier record's "
        "(other editions of a book, or identical records)."
    )
    duplicates_exact: bool = Field(
        description="False when more distinct pairs or titles than the dedupe capacity were "
        "met, so later repeats of unremembered keys were not counted (duplicate_pairs, "
        "duplicate_titles and held_out_titles_in_train are then lower bounds)."
    )
    age_cue_records: int = Field(description="Yielded records whose content has at least one age cue.")
    age_cue_share: float = Field(description="age_cue_records / yielded.")
    age_cue_share_nonempty: float = Field(description="age_cue_records / records with non-empty content.")
    title_age_cue_records: int = Field(description="Yielded records whose title has an age cue.")
    cue_kinds: dict[str, int] = Field(
        description="Age cues found in contents, by kind (age_range, grade, reading_age, ...); "
        "a content may hold several."
    )
    train_records: int = Field(description="Yielded records in the train split.")
    held_out_records: int = Field(description="Yielded records in the held-out split.")
    train_nonempty: int = Field(description="Train records with non-empty content (training examples).")
    train_age_cue_records: int = Field(description="Train records whose content has an age cue.")
    train_age_cue_share: float = Field(
        description="train_age_cue_records / train_records: the share of training text that "
        "states a reader age (the leakage figure)."
    )
    train_age_cue_share_nonempty: float = Field(
        description="train_age_cue_records / train_nonempty: the same share among training "
        "examples that have content."
    )
    held_out_age_cue_records: int = Field(description="Held-out records whose content has an age cue.")
    held_out_age_cue_share: float = Field(description="held_out_age_cue_records / held_out_records.")
    held_out_titles_in_train: int = Field(
        description="Held-out records whose normalised title (the split's key) also occurs on a "
        "train record: 0 by construction, since the split keys on the title; counted, not assumed."
    )
    titles_with_several_records: int = Field(
        description="Normalised titles carried by more than one record (product variants, editions); "
        "the split keeps each on one side."
    )
    held_out_contents_in_train: int = Field(
        description="Held-out records with non-empty content identical to a train record's content "
        "(under another title): the eval sets leave them out of held-out sets."
    )
    min_age_distribution: dict[str, int] = Field(
        description="Records with an age cue, by AGE_BANDS band of their smallest cued minimum age."
    )
    min_age_histogram: dict[int, int] = Field(
        description="Records with an age cue, by whole years (floor) of their smallest cued minimum age."
    )
    true_age_records: int = Field(
        description="Yielded records carrying a numeric true_min_age (the sample corpus); 0 otherwise."
    )
    true_age_distribution: dict[str, int] = Field(
        description="Records with a true_min_age, by AGE_BANDS band of that age."
    )
    true_age_histogram: dict[int, int] = Field(
        description="Records with a true_min_age, by whole years (floor) of that age."
    )
    cue_agrees_with_true_age: int = Field(
        description="Records with both a cue and a true_min_age whose smallest cued minimum age "
        "equals the true age."
    )
    cue_with_true_age: int = Field(description="Records with both an age cue and a true_min_age.")
    title_length: LengthSummary = Field(description="Length of cleaned titles, all yielded records.")
    content_length: LengthSummary = Field(description="Length of cleaned contents, non-empty ones only.")
    reservoir_size: int = Field(description="Size of the reservoir sample behind the length percentiles.")


class _Reservoir:
    """A uniform sample of at most ``size`` values (algorithm R), seeded: same input, same sample."""

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.values: list[int] = []
        self.seen = 0
        self.max: int | None = None
        self._rng = random.Random(seed)

    def add(self, value: int) -> None:
        self.seen += 1
        if self.max is None or value > self.max:
            self.max = value
        if len(self.values) < self.size:
            self.values.append(value)
        else:
            j = self._rng.randrange(self.seen)
            if j < self.size:
                self.values[j] = value

    def summary(self) -> LengthSummary:
        values = self.values
        exact = self.seen <= self.size
        if not values:
            return LengthSummary(n=0, p5=None, p50=None, p95=None, max=None, exact=True)
        if len(values) == 1:
            v = float(values[0])
            return LengthSummary(n=self.seen, p5=v, p50=v, p95=v, max=self.max, exact=exact)
        cuts = statistics.quantiles(values, n=20, method="inclusive")  # 5% steps
        return LengthSummary(n=self.seen, p5=cuts[0], p50=cuts[9], p95=cuts[18], max=self.max, exact=exact)


def _in_train(fingerprints: dict[str, array]) -> int:
    """Held-out records whose fingerprint is among the train records' (each counted once per record)."""
    import numpy as np

    held = np.frombuffer(fingerprints["held_out"], dtype=np.int64)
    train = np.frombuffer(fingerprints["train"], dtype=np.int64)
    return int(np.isin(held, train).sum()) if held.size and train.size else 0


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def audit_corpus(
    source: str | Path | BinaryIO,
    *,
    held_out: float = 0.1,
    salt: str = "emergence",
    policy: Literal["skip", "strict"] = "skip",
    progress: bool | None = None,
) -> AuditReport:
    """Stream ``source`` once and return its ``AuditReport``.

    ``source``, ``policy`` and ``progress`` go to ``stream_records`` (a path or a binary
    file object, standard input included; under "strict" the first bad record raises
    ``LoadError``, as does a stream that is not JSON or a truncated gzip under both
    policies). ``held_out`` and ``salt`` go to ``split_of``.
    """
    from emergence.agecues import band_of, find_age_cues
    from emergence.corpus.split import split_key, split_point
    from emergence.corpus.stream import DEDUPE_CAPACITY, SeenPairs, stream_records

    if not 0.0 <= held_out <= 1.0:
        raise ValueError(f"held_out must be in [0, 1], got {held_out}")
    pairs, titles = SeenPairs(DEDUPE_CAPACITY), SeenPairs(DEDUPE_CAPACITY)
    split_keys, repeated_keys = SeenPairs(DEDUPE_CAPACITY), SeenPairs(DEDUPE_CAPACITY)
    # 8-byte fingerprints of each side's split keys and contents, compared once at the end
    keys = {"train": array("q"), "held_out": array("q")}
    contents = {"train": array("q"), "held_out": array("q")}
    title_lengths, content_lengths = _Reservoir(RESERVOIR_SIZE, 0), _Reservoir(RESERVOIR_SIZE, 1)
    counts: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    cue_years: Counter[int] = Counter()
    true_years: Counter[int] = Counter()

    stream = stream_records(source, policy=policy, progress=progress)
    with stream:
        for record in stream:
            title, content = record.title, record.content
            # Python's hash, as the loader's dedupe: salted per process, but one pass is
            # one process, and it costs nothing beside the strings' cached hashes
            title_key = hash(title)
            if not pairs.add(hash((title, content))):
                counts["duplicate_pairs"] += 1
            if not titles.add(title_key):
                counts["duplicate_titles"] += 1
            title_lengths.add(len(title))
            if find_age_cues(title):
                counts["title_cue"] += 1

            key = split_key(record)
            key_hash = hash(key)
            if not split_keys.add(key_hash) and repeated_keys.add(key_hash):
                counts["titles_repeated"] += 1
            split = "held_out" if split_point(key, salt=salt) < held_out else "train"
            counts[split] += 1
            if len(keys[split]) < DEDUPE_CAPACITY:
                keys[split].append(key_hash)
            if content and len(contents[split]) < DEDUPE_CAPACITY:
                contents[split].append(hash(content))

            cue_age = None
            if content:
                content_lengths.add(len(content))
                cues = find_age_cues(content)
                if cues:
                    kinds.update(c.kind for c in cues)
                    cue_age = min(c.min_age for c in cues)
                    cue_years[int(cue_age)] += 1  # bands follow from whole years at the end
                    counts[f"{split}_cue"] += 1
                if split == "train":
                    counts["train_nonempty"] += 1
            else:
                counts["empty"] += 1

            true_age = _true_age(record)
            if true_age is not None:
                counts["true_age"] += 1
                true_years[int(true_age)] += 1
                if cue_age is not None:
                    counts["cue_with_true"] += 1
                    counts["cue_agrees"] += cue_age == true_age
    exact = all(t.size < t.capacity for t in (pairs, titles, split_keys)) and all(
        len(a) < DEDUPE_CAPACITY for a in (*keys.values(), *contents.values()))
    in_train = _in_train(keys)
    contents_in_train = _in_train(contents)

    stats = stream.stats
    yielded = stats.yielded
    nonempty = yielded - counts["empty"]
    cue_records = counts["train_cue"] + counts["held_out_cue"]
    band_order = _band_order()
    # band_of looks only at floor(age), so the whole-year histograms give the bands
    cue_bands: Counter[str] = Counter()
    true_bands: Counter[str] = Counter()
    for years, bands in ((cue_years, cue_bands), (true_years, true_bands)):
        for age, n in years.items():
            bands[band_of(age)] += n
    return AuditReport(
        source=stats.source or str(source),
        held_out=held_out,
        salt=salt,
        policy=policy,
        load=stats,
        empty_content=counts["empty"],
        empty_share=_share(counts["empty"], yielded),
        duplicate_pairs=counts["duplicate_pairs"],
        duplicate_titles=counts["duplicate_titles"],
        duplicates_exact=exact,
        age_cue_records=cue_records,
        age_cue_share=_share(cue_records, yielded),
        age_cue_share_nonempty=_share(cue_records, nonempty),
        title_age_cue_records=counts["title_cue"],
        cue_kinds=dict(kinds.most_common()),
        train_records=counts["train"],
        held_out_records=counts["held_out"],
        train_nonempty=counts["train_nonempty"],
        train_age_cue_records=counts["train_cue"],
        train_age_cue_share=_share(counts["train_cue"], counts["train"]),
        train_age_cue_share_nonempty=_share(counts["train_cue"], counts["train_nonempty"]),
        held_out_age_cue_records=counts["held_out_cue"],
        held_out_age_cue_share=_share(counts["held_out_cue"], counts["held_out"]),
        held_out_titles_in_train=in_train,
        titles_with_several_records=counts["titles_repeated"],
        held_out_contents_in_train=contents_in_train,
        min_age_distribution={b: cue_bands[b] for b in band_order if cue_bands[b]},
        min_age_histogram=dict(sorted(cue_years.items())),
        true_age_records=counts["true_age"],
        true_age_distribution={b: true_bands[b] for b in band_order if true_bands[b]},
        true_age_histogram=dict(sorted(true_years.items())),
        cue_agrees_with_true_age=counts["cue_agrees"],
        cue_with_true_age=counts["cue_with_true"],
        title_length=title_lengths.summary(),
        content_length=content_lengths.summary(),
        reservoir_size=RESERVOIR_SIZE,
    )


def _band_order() -> list[str]:
    from emergence.agecues import AGE_BANDS

    return [name for name, _, _ in AGE_BANDS]


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def render_audit(report: AuditReport, console: Console | None = None) -> None:
    """Print ``report`` as rich tables (to ``console``, or a new one on standard output)."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    load = report.load
    yielded = load.yielded

    overview = Table(title=f"Corpus audit: {report.source}", show_header=False, title_justify="left")
    overview.add_column("what", style="bold")
    overview.add_column("value", justify="right")
    overview.add_column("note")
    rejected = sum(load.rejected.values())
    rows = [
        ("format", load.format or "-", ""),
        ("records read", f"{load.read:,}", f"{load.bytes_read / 1e6:,.1f} MB read"),
        ("yielded", f"{yielded:,}", "counts reconcile" if load.reconciles() else "COUNTS DO NOT RECONCILE"),
        ("rejected", f"{rejected:,}", f"policy {report.policy}"),
        ("empty content", f"{report.empty_content:,}", _pct(report.empty_share)),
        ("duplicate (title, content)", f"{report.duplicate_pairs:,}", _pct(_share(report.duplicate_pairs, yielded))),
        ("duplicate titles", f"{report.duplicate_titles:,}",
         "" if report.duplicates_exact else "lower bound: dedupe capacity reached"),
        ("train / held-out", f"{report.train_records:,} / {report.held_out_records:,}",
         f"held_out={report.held_out}, salt={report.salt!r}"),
        ("held-out titles also in train", f"{report.held_out_titles_in_train:,}",
         _pct(_share(report.held_out_titles_in_train, report.held_out_records)) + " of held-out"),
    ]
    for row in rows:
        overview.add_row(*row)
    console.print(overview)

    if load.rejected:
        bad = Table(title="Rejected records", title_justify="left")
        bad.add_column("reason", style="bold")
        bad.add_column("count", justify="right")
        bad.add_column("first examples", overflow="fold")
        for reason, n in sorted(load.rejected.items(), key=lambda kv: -kv[1]):
            bad.add_row(reason, f"{n:,}", "\n".join(load.examples.get(reason, [])))
        console.print(bad)

    cues = Table(title="Age cues in contents", title_justify="left")
    cues.add_column("where", style="bold")
    cues.add_column("records with a cue", justify="right")
    cues.add_column("share", justify="right")
    cues.add_column("of non-empty", justify="right")
    cues.add_row("all", f"{report.age_cue_records:,}", _pct(report.age_cue_share),
                 _pct(report.age_cue_share_nonempty))
    cues.add_row("train (leakage)", f"{report.train_age_cue_records:,}", _pct(report.train_age_cue_share),
                 _pct(report.train_age_cue_share_nonempty))
    cues.add_row("held-out", f"{report.held_out_age_cue_records:,}", _pct(report.held_out_age_cue_share), "")
    cues.add_row("titles", f"{report.title_age_cue_records:,}",
                 _pct(_share(report.title_age_cue_records, yielded)), "")
    console.print(cues)
    if report.cue_kinds:
        console.print("cue kinds: " + ", ".join(f"{k} {v:,}" for k, v in report.cue_kinds.items()))

    ages = Table(title="Minimum age by band", title_justify="left")
    ages.add_column("band", style="bold")
    ages.add_column("from cues", justify="right")
    show_true = report.true_age_records > 0
    if show_true:
        ages.add_column("true (sample)", justify="right")
    for band in _band_order():
        row = [band, f"{report.min_age_distribution.get(band, 0):,}"]
        if show_true:
            row.append(f"{report.true_age_distribution.get(band, 0):,}")
        ages.add_row(*row)
    console.print(ages)
    if report.min_age_histogram:
        console.print("cued minimum age, whole years: "
                      + ", ".join(f"{age}: {n:,}" for age, n in report.min_age_histogram.items()))
    if report.cue_with_true_age:
        console.print(f"cue agrees with true_min_age: {report.cue_agrees_with_true_age:,} of "
                      f"{report.cue_with_true_age:,}")

    lengths = Table(title=f"Lengths in characters (reservoir of {report.reservoir_size:,})",
                    title_justify="left")
    for col in ("field", "n", "p5", "p50", "p95", "max"):
        lengths.add_column(col, justify="left" if col == "field" else "right")
    for name, s in (("title", report.title_length), ("content (non-empty)", report.content_length)):
        lengths.add_row(name + ("" if s.exact else " ~"), f"{s.n:,}", _num(s.p5), _num(s.p50),
                        _num(s.p95), _num(s.max))
    console.print(lengths)
