"""Corpus records: the validated `Record`, `clean_text`, `true_age`, the `LoadStats` of a pass, `LoadError`.

    >>> from emergence.corpus.records import Record, LoadStats, clean_text, true_age
    >>> clean_text("  Ages 4&#8211;8\\n\\tpicture\\x00  book ")
    'Ages 4–8 picture book'
    >>> from emergence.corpus.stream import record_from
    >>> rec = record_from({"uid": "7", "title": "War &amp; Peace", "true_min_age": 12})
    >>> rec.title, rec.content, rec.extras, true_age(rec)
    ('War & Peace', '', {'true_min_age': 12}, 12.0)
    >>> LoadStats(read=3, yielded=1, rejected={"malformed_json": 1}, filtered={"duplicate": 1}).reconciles()
    True

`Record` is a msgspec struct: `msgspec.json.Decoder(Record)` checks the types of a line in
the same C pass that parses it (strict: a numeric title is rejected, not coerced). The
corpus's other fields (`target_ind`, `target_rel`, and the sample's `true_min_age` and
`category`) are kept as their raw JSON and decoded when read: the experiment never reads
the label lists, and building their ~44 numbers was 40% of the parse. Other fields are
ignored. Cleaning is not part of the schema: the loader cleans only lines whose bytes
can need it (`emergence.corpus.stream`).
"""
from __future__ import annotations

import functools
import html
import math
import re
from collections.abc import Mapping
from typing import Any

import msgspec
from pydantic import BaseModel, Field

__all__ = ["FATAL_REASONS", "FILTER_REASONS", "REJECT_REASONS", "LoadError", "LoadStats", "Record",
           "clean_field", "clean_text", "collapse_spaces", "true_age"]

# Why a record can be rejected (policy="skip" counts them, policy="strict" raises).
REJECT_REASONS: tuple[str, ...] = (
    "malformed_json",  # the line (or array item) is not valid JSON
    "invalid_utf8",  # its bytes are not UTF-8
    "too_deep",  # nested deeper than MAX_DEPTH levels, or than the decoder goes (Python's recursion limit)
    "not_object",  # valid JSON, but not a JSON object
    "missing_title",  # no "title" field, or "title": null
    "empty_title",  # the title is empty after cleaning
    "wrong_type",  # a field has the wrong type (a numeric title, a list as content)
    "line_too_long",  # a line (or array item) longer than max_line_bytes; never held whole
)
# Why a valid record was not yielded.
FILTER_REASONS: tuple[str, ...] = ("empty_content", "duplicate", "shard", "skipped")
# Problems that end the stream under both policies: nothing after them can be read.
FATAL_REASONS: tuple[str, ...] = (
    "not_json",  # the stream does not start like UTF-8 JSON (CSV, Parquet, UTF-16, plain text)
    "truncated_gzip",  # the gzip stream ends before its end-of-stream marker
    "bad_gzip",  # corrupt gzip data (bad header, CRC or length check)
    "malformed_array",  # the JSON array is broken between items (an empty item, content after it)
    "truncated_array",  # the stream ends inside the top-level JSON array
    # a URL (emergence.corpus.remote)
    "read_failed",  # requests failed Retry.tries times in a row (or for good: a 4xx), at a byte offset
    "source_changed",  # the object changed (size, ETag, mtime) while it was read
    "no_range_support",  # the server ignores Range requests: a read cannot resume where it stopped
    "access_denied",  # the storage refused the credentials
    "bad_url",  # a scheme fsspec does not know, or a compression other than gzip
    "missing_backend",  # the scheme's fsspec package (s3fs, gcsfs, huggingface_hub) is not installed
    "resume_mismatch",  # the byte offset a resume starts at is not the start of a line (the file changed)
)
MAX_DEPTH = 1024  # nesting levels a record may have (the object itself is level 1)

# Characters cleaning changes besides entities: C0/C1 controls (removed) and whitespace
# other than " " (made a space, so the words it separates stay apart). All are
# non-printable, so `str.isprintable()` (the common, clean case) rules them out at once.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
_REPLACEMENT = {
    ch: " " if ch.isspace() else ""
    for ch in map(chr, [*range(0x20), *range(0x7F, 0xA1), 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029,
                        0x202F, 0x205F, 0x3000])
}
# html.unescape's own entity pattern (Lib/html/__init__.py), each match replaced by its result
_ENTITY = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)")


@functools.lru_cache(maxsize=4096)
def _entity(entity: str) -> str:
    """What html.unescape makes of one entity, cleaned as clean_text cleans: printable text stays printable."""
    text = html.unescape(entity)
    return text if text.isprintable() else "".join(_REPLACEMENT.get(ch, ch) for ch in text)


def _unescape(match: re.Match) -> str:
    return _entity(match.group())


def clean_text(text: str) -> str:
    """Unescape HTML entities, remove control characters, collapse whitespace.

    Entities are unescaped once, first (`&amp;amp;` becomes `&amp;`), so an escaped
    control character or space (`&#9;`, `&nbsp;`) is cleaned like a literal one. C0/C1
    controls are removed; whitespace (any Unicode space, tabs, newlines) becomes single
    spaces, ends stripped: `" ".join(text.split())` after unescaping and removing controls.

        >>> clean_text("Tom &amp; Jerry\\u00a0 &#8211;\\tthe\\x07 movie ")
        'Tom & Jerry – the movie'
    """
    return clean_field(text, True)


def clean_field(text: str, escaped: bool) -> str:
    """`clean_text`, told whether `text` may hold characters besides printable ASCII and
    entities: a string of a JSON line without a backslash or DEL (`escaped` False) holds
    no control character when it is ASCII, so only its entities and spaces need work."""
    if "&" in text:
        text = _ENTITY.sub(_unescape, text)
    if (escaped or not text.isascii()) and not text.isprintable():
        for ch in set(_UNPRINTABLE.findall(text)):
            text = text.replace(ch, _REPLACEMENT[ch])
    return collapse_spaces(text)


def collapse_spaces(text: str) -> str:
    """Runs of spaces (U+0020) made one, both ends stripped: `clean_text` of printable text without entities."""
    text = text.strip(" ")
    if "  " in text:
        # each split/join pass halves every run; a text with runs is the rare case
        parts = text.split("  ")
        while len(parts) > 1:
            text = " ".join(parts)
            parts = text.split("  ")
    return text


_NO_JSON = msgspec.Raw()
_EXTRA = msgspec.json.Decoder(float_hook=float)  # a number beyond a double reads as inf, never fails


def _extra(name: str) -> Any:
    def get(self: Record) -> Any:
        raw = getattr(self, "raw_" + name)
        return _EXTRA.decode(raw) if raw else None

    return property(get, doc=f"The line's {name!r}, decoded from its raw JSON when read; None when absent.")


class Record(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """One corpus record: `uid`, cleaned `title` (non-empty) and `content`, and the corpus's extras.

    `target_ind`, `target_rel`, `true_min_age` and `category` read the line's value (None
    when absent); `extras` gives those present as a dict. Training text is built from
    title and content only. Build one in code with `emergence.corpus.stream.record_from`, which cleans and
    validates a mapping exactly as the loader does a line.
    """

    title: str
    content: str = ""
    uid: str | None = None
    raw_target_ind: msgspec.Raw = msgspec.field(default=_NO_JSON, name="target_ind")
    raw_target_rel: msgspec.Raw = msgspec.field(default=_NO_JSON, name="target_rel")
    raw_true_min_age: msgspec.Raw = msgspec.field(default=_NO_JSON, name="true_min_age")
    raw_category: msgspec.Raw = msgspec.field(default=_NO_JSON, name="category")

    target_ind = _extra("target_ind")
    target_rel = _extra("target_rel")
    true_min_age = _extra("true_min_age")
    category = _extra("category")

    @property
    def extras(self) -> dict[str, Any]:
        """The extras the line had (JSON null included), decoded."""
        return {name: _EXTRA.decode(raw) for name in EXTRAS if (raw := getattr(self, "raw_" + name))}


EXTRAS: tuple[str, ...] = ("target_ind", "target_rel", "true_min_age", "category")


def true_age(record: Record | Mapping[str, Any]) -> float | None:
    """The record's true minimum reading age (the sample corpus's `true_min_age`): a finite
    number >= 0, not a bool, as a float; else None.

        >>> true_age({"true_min_age": 4}), true_age({"true_min_age": "4"}), true_age({"true_min_age": True})
        (4.0, None, None)
    """
    value = record.get("true_min_age") if isinstance(record, Mapping) else getattr(record, "true_min_age", None)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        age = float(value)
    except OverflowError:  # an integer beyond a double
        return None
    return age if math.isfinite(age) and age >= 0 else None


class LoadStats(BaseModel):
    """Counts of one pass over a corpus; `reconciles()` checks that every record read is accounted for.

    `read` counts records met in the input: non-blank lines of JSON Lines (blank: only
    spaces, tabs and a carriage return), items of a JSON array, lines skipped by `skip`
    and lines of other shards included. Each is exactly one of: yielded, rejected (bad
    input, by reason) or filtered (valid but not wanted, by reason).
    """

    source: str | None = Field(None, description="Path or name of the stream read.")
    format: str | None = Field(None, description="Format sniffed from the bytes: 'jsonl' or 'array' (+'+gzip').")
    read: int = Field(0, description="Records met in the input (blank lines excluded).")
    yielded: int = Field(0, description="Records yielded to the caller.")
    rejected: dict[str, int] = Field({}, description="Bad records skipped (policy='skip'), by reason (REJECT_REASONS).")
    filtered: dict[str, int] = Field({}, description="Valid records not yielded, by reason (FILTER_REASONS).")
    examples: dict[str, list[str]] = Field({}, description="The first rejected records per reason: 'line N: excerpt'.")
    bytes_read: int = Field(0, description="Bytes read from the source (compressed bytes when gzipped).")
    trailing_bytes: int = Field(0, description="Bytes after the last gzip member that are not gzip (nor zero "
                                "padding): ignored with a warning, as `gzip -d` does.")
    retries: int = Field(0, description="Requests of a URL that failed and were asked again (the same bytes).")
    retry_log: list[str] = Field([], description="The first retries: 'byte N: error'.")

    def reconciles(self) -> bool:
        """True when read == yielded + sum(rejected) + sum(filtered)."""
        return self.read == self.yielded + sum(self.rejected.values()) + sum(self.filtered.values())


class LoadError(ValueError):
    """A corpus that cannot be read as asked: where (path, line and column, or item and byte offset) and why (reason).

    `line` and `column` are 1-based, for JSON Lines (the column counts bytes); `offset` is
    a byte offset into the (decompressed) stream, and `item` the 1-based position of an
    item in a JSON array.
    """

    def __init__(self, reason: str, *, path: str | None = None, line: int | None = None, column: int | None = None,
                 offset: int | None = None, item: int | None = None, detail: str = "") -> None:
        self.reason, self.path, self.line, self.column = reason, path, line, column
        self.offset, self.item, self.detail = offset, item, detail
        where = [path or "<stream>"]
        for label, value in (("line", line), ("column", column), ("item", item), ("byte offset", offset)):
            if value is not None:
                where.append(f"{label} {value}")
        text = f"{', '.join(where)}: {reason}"
        super().__init__(f"{text}: {detail}" if detail else text)

    def __reduce__(self) -> tuple[Any, ...]:
        # keyword-only __init__: rebuild from attributes so the error survives pickling
        # (multiprocessing data loaders send exceptions between processes)
        return _rebuild, (self.reason, self.path, self.line, self.column, self.offset, self.item, self.detail)


def _rebuild(reason, path, line, column, offset, item, detail) -> LoadError:
    return LoadError(reason, path=path, line=line, column=column, offset=offset, item=item, detail=detail)
