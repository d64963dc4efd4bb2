"""Corpus records: the validated `Record`, the `LoadStats` of a pass, `LoadError`, `clean_text`.

    >>> from emergence.corpus.records import Record, LoadStats, clean_text
    >>> clean_text("  Ages 4&#8211;8\\n\\tpicture\\x00  book ")
    'Ages 4–8 picture book'
    >>> rec = Record.from_raw({"uid": "7", "title": "War &amp; Peace", "content": " ", "target_ind": [3]})
    >>> rec.title, rec.content, rec.model_extra
    ('War & Peace', '', {'target_ind': [3]})
    >>> LoadStats(read=3, yielded=1, rejected={"malformed_json": 1}, filtered={"duplicate": 1}).reconciles()
    True

Validation checks, cleaning transforms: `Record` validates types (strictly) and a
non-empty title; the loader (`emergence.corpus.stream`) cleans title and content to what
`clean_text` makes of them before validating, as does `Record.from_raw` for a mapping
built in code. Keeping the transformation out of the schema lets the loader skip
cleaning for lines its byte scan proves clean, and do only the steps it names in the
others (`unescape` is the first of them).
"""
from __future__ import annotations

import functools
import html
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from emergence.corpus import speedups

__all__ = [
    "FATAL_REASONS",
    "FILTER_REASONS",
    "REJECT_REASONS",
    "LoadError",
    "LoadStats",
    "Record",
    "clean_field",
    "clean_text",
    "collapse_spaces",
    "collapse_spaces_py",
    "unescape",
    "unescape_entities",
]

# Why a record can be rejected (policy="skip" counts them, policy="strict" raises).
REJECT_REASONS: tuple[str, ...] = (
    "malformed_json",  # the line (or array item) is not valid JSON
    "invalid_utf8",  # the line's bytes are not UTF-8
    "not_object",  # valid JSON, but not a JSON object
    "missing_title",  # no "title" field, or "title": null
    "empty_title",  # the title is empty after cleaning
    "wrong_type",  # a field has the wrong type (e.g. a numeric title, a list as content)
    "line_too_long",  # a JSON Lines line longer than max_line_bytes; never held whole
)
# Why a valid record was not yielded.
FILTER_REASONS: tuple[str, ...] = ("empty_content", "duplicate", "shard", "skipped")
# Problems that end the stream under both policies, after what was complete was yielded:
# nothing after them can be trusted (or read) any more.
FATAL_REASONS: tuple[str, ...] = (
    "not_json",  # the stream does not start like JSON at all (e.g. CSV, Parquet, plain text)
    "truncated_gzip",  # the gzip stream ends before its end-of-stream marker
    "bad_gzip",  # corrupt gzip data (bad header, CRC or length check)
    "malformed_array",  # a syntax error inside the top-level JSON array
    "truncated_array",  # the stream ends inside the top-level JSON array
    "item_too_large",  # an array item larger than max_line_bytes (the array cannot resync)
)

# Characters that are not printable and that cleaning changes: C0/C1 controls (removed)
# and whitespace other than " " (made a space, so the words it separates stay apart).
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
_REPLACEMENT = {
    ch: " " if ch.isspace() else ""
    for ch in map(chr, [*range(0x20), *range(0x7F, 0xA1), 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000])
}


# html.unescape's own entity pattern (Lib/html/__init__.py): entities are found exactly
# where it finds them, and replaced by its own result for each, cleaned.
_ENTITY = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)")


@functools.lru_cache(maxsize=4096)
def _clean_entity(entity: str) -> str:
    text = html.unescape(entity)
    if text.isprintable():
        return text
    return "".join(_REPLACEMENT.get(ch, ch) for ch in text)


def unescape_entities(text: str) -> str:
    """`text` with its HTML entities replaced as `clean_text` does, in Python: the twin the
    C one (`emergence.corpus.speedups.unescape`) is tested against, and the fallback of `unescape`.

        >>> unescape_entities("Tom &amp; Jerry&nbsp;")
        'Tom & Jerry '
    """
    if "&" not in text:  # most text has no entity: skip the regex
        return text
    return _ENTITY.sub(lambda match: _clean_entity(match.group()), text)


def unescape(text: str) -> str:
    """`text` with its HTML entities replaced as `clean_text` does: the C twin
    (`emergence.corpus.speedups`) when it was built, else `unescape_entities`.

        >>> unescape("Tom &amp; Jerry &#8211; &ampx")
        'Tom & Jerry – &x'
    """
    if "&" not in text:
        return text
    fast = speedups.unescape
    return fast(text, _clean_entity) if fast is not None else unescape_entities(text)


def clean_text(text: str) -> str:
    """Unescape HTML entities, remove control characters, collapse whitespace.

    Entities are unescaped first (as `html.unescape` does), so an escaped control
    character or space (`&#9;`, `&nbsp;`) is cleaned like a literal one. C0/C1 control
    characters are removed; whitespace (any Unicode space, tabs, newlines) becomes
    single spaces and the ends are stripped: the result equals
    `" ".join(text.split())` after unescaping and removing controls. Unescaping happens
    once: `&amp;amp;` becomes `&amp;`.

        >>> clean_text("Tom &amp; Jerry\\u00a0 &#8211;\\tthe\\x07 movie ")
        'Tom & Jerry – the movie'
    """
    text = unescape(text)
    # isprintable() is False for every control character and every whitespace but " ";
    # a printable string (the common case) only needs its spaces looked at
    if not text.isprintable():
        for ch in set(_UNPRINTABLE.findall(text)):
            text = text.replace(ch, _REPLACEMENT[ch])
    return collapse_spaces(text)


def collapse_spaces(text: str) -> str:
    """Every run of spaces (U+0020) made one, spaces stripped from both ends.

        >>> collapse_spaces("  Tom   &  Jerry ")
        'Tom & Jerry'

    The C twin (`emergence.corpus.speedups`) when it was built, else `collapse_spaces_py`.
    """
    fast = speedups.collapse_spaces
    return fast(text) if fast is not None else collapse_spaces_py(text)


def collapse_spaces_py(text: str) -> str:
    """`collapse_spaces` in Python: the twin the C one is tested against, and the fallback."""
    # split + join until one piece: each pass searches the text once (`"  " in` + replace
    # search it twice or more) and shortens every run of n spaces to ceil(n / 2); a text
    # without a run comes back as it is, and strip too (no copy)
    parts = text.split("  ")
    while len(parts) > 1:
        text = " ".join(parts)
        parts = text.split("  ")
    return text.strip(" ")


def clean_field(text: str, escaped: bool) -> str:
    """`clean_text` for a string decoded from a JSON line; `escaped`: the line has `\\` or DEL.

    JSON cannot hold a raw control character below 0x20, only an escape; so in a line
    without backslashes (and without DEL) an ASCII string is printable, entities aside,
    and entities come out of `_clean_entity` clean: only its spaces need a look. That
    skips `clean_text`'s scan of every character for most text.
    """
    if escaped or not text.isascii():
        return clean_text(text)
    return collapse_spaces(unescape(text))


class Record(BaseModel):
    """One corpus line: `uid`, cleaned `title` (non-empty) and `content`, extras kept.

    Types are strict (a numeric title or uid is rejected, not coerced). Other fields of
    the line (`target_ind`, `target_rel`, the sample corpus's `true_min_age` and
    `category`) are kept unvalidated in `model_extra`; training text is built from
    title and content only.
    """

    model_config = ConfigDict(extra="allow", strict=True)

    uid: str | None = Field(default=None, description="Identifier of the record (trn.json 'uid'); None when absent.")
    title: str = Field(min_length=1, description="Title, cleaned by clean_text; never empty.")
    content: str = Field(default="", description="Content (the product description), cleaned by clean_text; may be ''.")

    @classmethod
    def from_raw(cls, data: Mapping[str, Any]) -> Record:
        """Clean `title` and `content` of a raw mapping (a corpus line) with clean_text, then validate."""
        data = dict(data)
        for key in ("title", "content"):
            if isinstance(data.get(key), str):
                data[key] = clean_text(data[key])
        return cls.model_validate(data)


class LoadStats(BaseModel):
    """Counts of one pass over a corpus; `reconciles()` checks that every record read is accounted for.

    `read` counts records met in the input: non-blank lines of JSON Lines, items of a
    JSON array, including lines skipped by `skip` and lines of other shards (blank
    lines are not records). Each record read is exactly one of: yielded, rejected (bad
    input, by reason) or filtered (valid but not wanted, by reason).
    """

    source: str | None = Field(default=None, description="Path or name of the stream read.")
    format: str | None = Field(
        default=None, description="Format sniffed from the bytes: 'jsonl' or 'array', with '+gzip' when compressed."
    )
    read: int = Field(default=0, description="Records met in the input (blank lines excluded).")
    yielded: int = Field(default=0, description="Records yielded to the caller.")
    rejected: dict[str, int] = Field(
        default_factory=dict, description="Bad records skipped under policy='skip', by reason (see REJECT_REASONS)."
    )
    filtered: dict[str, int] = Field(
        default_factory=dict,
        description="Valid records not yielded, by reason: empty_content, duplicate, shard, skipped.",
    )
    examples: dict[str, list[str]] = Field(
        default_factory=dict,
        description="The first few rejected records per reason, as 'line N: excerpt' (or 'item N ...').",
    )
    bytes_read: int = Field(
        default=0, description="Bytes read from the source so far (compressed bytes when gzipped; includes read-ahead)."
    )

    def reconciles(self) -> bool:
        """True when read == yielded + sum(rejected) + sum(filtered)."""
        return self.read == self.yielded + sum(self.rejected.values()) + sum(self.filtered.values())


class LoadError(ValueError):
    """A corpus that cannot be read as asked: where (path, line or byte offset) and why (reason).

    `line` is the 1-based line number for JSON Lines; `offset` is a byte offset into the
    (decompressed) stream for the JSON-array form, where `item` is the 1-based position
    of the item in the array when the problem is an item's.
    """

    def __init__(
        self,
        reason: str,
        *,
        path: str | None = None,
        line: int | None = None,
        offset: int | None = None,
        item: int | None = None,
        detail: str = "",
    ) -> None:
        self.reason = reason
        self.path = path
        self.line = line
        self.offset = offset
        self.item = item
        self.detail = detail
        super().__init__(self._message())

    def _message(self) -> str:
        where = [self.path or "<stream>"]
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.item is not None:
            where.append(f"item {self.item}")
        if self.offset is not None:
            where.append(f"byte offset {self.offset}")
        text = f"{', '.join(where)}: {self.reason}"
        return f"{text}: {self.detail}" if self.detail else text

    def __reduce__(self) -> tuple[Any, ...]:
        # keyword-only __init__: rebuild from attributes so the error survives pickling
        # (multiprocessing data loaders send exceptions between processes)
        return (
            _rebuild_load_error,
            (self.reason, self.path, self.line, self.offset, self.item, self.detail),
        )


def _rebuild_load_error(reason, path, line, offset, item, detail) -> LoadError:
    return LoadError(reason, path=path, line=line, offset=offset, item=item, detail=detail)
