"""Readers: the raw records in a corpus's bytes, for the one loop of `emergence.corpus.stream`.

    >>> [batch for batch in json_lines([b'{"title": "a"}\\n{"ti', b'tle": "b"}\\n'], limit=100)]
    [[b'{"title": "a"}'], [b'{"title": "b"}']]
    >>> [batch for batch in ArrayItems([b'[{"title": "a"}, [1, 2', b', "]"]]'], limit=100)]
    [[b'{"title": "a"}'], [b' [1, 2, "]"]']]

`blocks` reads a source a block at a time; `Gunzip` decompresses gzip members as
`gzip -d` does; `json_lines` cuts JSON Lines and `ArrayItems` one JSON array (following
strings and nesting only, so that each item meets the decoder a line meets). Memory is
bounded: a line or item longer than the limit is dropped as it passes (a `TooLong`), and
a reader holds a block and the record it is cutting.
"""
from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Iterator
from itertools import chain
from typing import Any

__all__ = ["BLOCK", "EXCERPT", "JSON_WS", "ArrayItems", "Fatal", "Gunzip", "TooLong", "blocks", "encoding",
           "json_lines", "peek"]

BLOCK = 1 << 20  # bytes read (and decompressed) at a time
EXCERPT = 80  # bytes kept of a record too long to hold
JSON_WS = b" \t\r\n"  # JSON's whitespace: a line of only these is blank
_BOMS = ((b"\xff\xfe\0\0", "UTF-32-LE"), (b"\0\0\xfe\xff", "UTF-32-BE"), (b"\xff\xfe", "UTF-16-LE"),
         (b"\xfe\xff", "UTF-16-BE"))


class Fatal(Exception):
    """A problem that ends the stream; the loop adds where it happened."""

    def __init__(self, reason: str, detail: str, offset: int | None = None) -> None:
        super().__init__(reason, detail, offset)
        self.reason, self.detail, self.offset = reason, detail, offset


class TooLong:
    """A line or item longer than max_line_bytes, of which only the first bytes are kept, and
    its length (`size`, for byte offsets). The decoder refuses it (TypeError), so the loop's
    one except clause finds it."""

    __slots__ = ("excerpt", "size")

    def __init__(self, excerpt: bytes, size: int | None = None) -> None:
        self.excerpt = excerpt[:EXCERPT]
        self.size = len(excerpt) if size is None else size


def blocks(f: Any) -> Iterator[bytes]:
    """The bytes of `f`, a block at a time: what one read returns (from a pipe, what is there)."""
    read = getattr(f, "read1", None) or f.read
    while block := read(BLOCK):
        if isinstance(block, str):
            raise TypeError("source must be a binary file object (for standard input use sys.stdin.buffer)")
        yield block


def peek(chunks: Iterator[bytes], enough) -> tuple[bytes, Iterator[bytes]]:
    """The first bytes of `chunks` (joined until `enough(head)` or the end), and all of them again."""
    head = b""
    for chunk in chunks:
        head += chunk
        if enough(head):
            break
    return head, chain([head], chunks)


def encoding(head: bytes) -> str | None:
    """UTF-16 or UTF-32 by a byte-order mark, or by NUL bytes among the first four (RFC 4627, 3)."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return f"{name} (byte-order mark {bom.hex(' ')})"
    four = head[:4]
    if four.startswith(b"\0\0\0") or (len(four) == 4 and four[1:] == b"\0\0\0"):
        return ("UTF-32-BE" if four[0] == 0 else "UTF-32-LE") + " (no byte-order mark)"
    if four[:1] == b"\0" or four[1:2] == b"\0":
        return ("UTF-16-BE" if four[0] == 0 else "UTF-16-LE") + " (no byte-order mark)"
    return None


class Gunzip:
    """Decompressed blocks of a gzip stream, member after member, as `gzip -d` reads it.

    zlib checks each member's CRC and length (`wbits=31`); zero bytes after a member are
    padding; bytes that do not start a member end the stream, counted (`trailing`).
    `stop`: the (member, error) `check()` found, raised where that member would start.
    """

    def __init__(self, chunks: Iterable[bytes], stop: tuple[int, Fatal] | None = None) -> None:
        self._chunks, self._stop = iter(chunks), stop
        self.member = self.trailing = 0

    def check(self) -> tuple[int, Fatal] | None:
        """Read the whole stream: the first member whose check fails, with its error, or None."""
        try:
            for _ in self:
                pass
        except Fatal as err:
            return self.member, err
        return None

    def __iter__(self) -> Iterator[bytes]:
        chunks = self._chunks
        data, fed = b"", 0  # compressed bytes not yet used; bytes taken from `chunks`
        while True:
            while len(data := data.lstrip(b"\0")) < 2 and (more := next(chunks, None)) is not None:
                data, fed = data + more, fed + len(more)  # between members: padding, a member, or not gzip
            if data[:2] != b"\x1f\x8b":
                self.trailing = len(data) + sum(len(chunk) for chunk in chunks)
                return
            self.member += 1
            where = f"gzip member {self.member} (from compressed byte {fed - len(data)})"
            if self._stop is not None and self._stop[0] == self.member:
                raise self._stop[1]
            inflate = zlib.decompressobj(31)
            try:
                while not inflate.eof:
                    if not data:
                        data = next(chunks, b"")
                        fed += len(data)
                        if not data:
                            if tail := inflate.flush():
                                yield tail
                            if not inflate.eof:
                                raise Fatal("truncated_gzip", f"{where}: the stream ends inside the member")
                            break
                    out = inflate.decompress(data, BLOCK)
                    data = inflate.unconsumed_tail
                    if out:
                        yield out
            except zlib.error as err:
                raise Fatal("bad_gzip", f"{where}: {err}") from None
            data = inflate.unused_data


def json_lines(chunks: Iterable[bytes], limit: int) -> Iterator[list]:
    """The lines (newline removed) of the stream, a batch per block; a line longer than
    `limit` with its newline comes as a `TooLong`, its bytes dropped as they pass."""
    rest, long = b"", None  # the unfinished line, or (once too long) its TooLong
    for block in chunks:
        lines = block.split(b"\n")
        last = lines.pop()
        if not lines:  # no newline: the line goes on
            if long is not None:
                long.size += len(last)
            elif len(rest := rest + last) > limit:
                rest, long = b"", TooLong(rest)
            continue
        if len(block) > limit and max(map(len, lines)) >= limit:
            lines = [TooLong(line) if len(line) >= limit else line for line in lines]
        if long is not None:  # the block's first piece ends the long line
            long.size += lines[0].size if type(lines[0]) is TooLong else len(lines[0])
            lines[0], long = long, None
        elif rest:
            piece = lines[0]
            if type(piece) is TooLong:
                lines[0] = TooLong(rest + piece.excerpt, len(rest) + piece.size)
            else:
                first = rest + piece
                lines[0] = TooLong(first) if len(first) >= limit else first
        rest = last
        if len(rest) > limit:
            rest, long = b"", TooLong(rest)
        yield lines
    if long is not None or rest:
        yield [long or rest]


# Up to the next bracket, string that does not end in the block or (between items only)
# comma: complete strings, and inside an item flat lists (the label lists), are passed
# whole, so a bracket in a string is no bracket.
_SCAN = (re.compile(rb'[^"\[\]{},]*(?:"[^"\\]*(?:\\.[^"\\]*)*"[^"\[\]{},]*)*', re.S),
         re.compile(rb'[^"\[\]{}]*(?:(?:"[^"\\]*(?:\\.[^"\\]*)*"|\[[^"\[\]{}]*\])[^"\[\]{}]*)*', re.S))
_STRING = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*', re.S)  # the rest of a string, up to its quote
_SPACE = re.compile(rb"[ \t\r\n]*")
_OPENERS, _CLOSERS = re.compile(rb"[\[{]+"), re.compile(rb"[\]}]+")


class ArrayItems:
    """The items of one top-level JSON array, as raw bytes, a batch per block.

    The bytes between the array's top-level commas are its items. Only strings and
    nesting are followed: whether an item is JSON is the decoder's to say, as for a line
    (two values without a comma between them make one bad item), and the array goes on.
    An empty item, content after the array and a missing end are fatal. An item longer
    than `limit` comes as a `TooLong`, its bytes dropped as they pass.
    """

    def __init__(self, chunks: Iterable[bytes], limit: int) -> None:
        self._chunks, self._limit = chunks, limit
        self._first, self._offsets = 1, []  # the current batch's first item number; each item's offset

    def offset(self, n: int) -> int:
        return self._offsets[n - self._first]

    def __iter__(self) -> Iterator[list]:
        depth, string, escape = 0, False, False  # depth 0: before the array, 1: between items, -1: after it
        pieces: list[bytes] = []  # the open item's bytes from earlier blocks
        excerpt = error = None  # excerpt: the open item's first bytes, once it is too long (pieces dropped)
        size = start = base = count = 0
        for buf in self._chunks:
            end, pos, mark = len(buf), 0, 0
            batch, offsets = [], []
            while pos < end:
                if string:
                    if escape:
                        pos, escape = pos + 1, False
                        continue
                    pos = _STRING.match(buf, pos).end()
                    if pos < end:  # at the closing quote, or at a backslash ending the block
                        string, escape = buf[pos] == 0x5C, buf[pos] == 0x5C
                        pos += 1
                    continue
                if depth <= 0:  # before or after the array: whitespace, and its '['
                    pos = _SPACE.match(buf, pos).end()
                    if pos < end and depth == 0 and buf[pos] == 0x5B:
                        depth, pos, mark, start = 1, pos + 1, pos + 1, base + pos + 1
                    elif pos < end:
                        what = "'['" if depth == 0 else "the end after ']'"
                        error = Fatal("malformed_array", f"expected {what}, found {buf[pos:pos + 16]!r}", base + pos)
                        break
                    continue
                pos = _SCAN[depth > 1].match(buf, pos).end()
                if pos == end:
                    break
                c = buf[pos]
                if c == 0x22:
                    string, pos = True, pos + 1
                elif c in b"[{":  # a run of brackets at once: deep nesting costs one step
                    stop = _OPENERS.match(buf, pos).end()
                    depth, pos = depth + stop - pos, stop
                elif depth > 1:  # closers, down to the array's own level at most
                    stop = min(_CLOSERS.match(buf, pos).end(), pos + depth - 1)
                    depth, pos = depth - (stop - pos), stop
                else:  # a comma or the array's ']' ends the item
                    item = b"".join([*pieces, buf[mark:pos]]) if pieces else buf[mark:pos]
                    if item.strip(JSON_WS) or excerpt is not None:
                        count += 1
                        batch.append(item if excerpt is None and len(item) <= self._limit else TooLong(excerpt or item))
                        offsets.append(start)
                    elif c == 0x2C or count:  # '[]' is an empty array; '[,', ',,' and ',]' are errors
                        error = Fatal("malformed_array", "an empty item", base + pos)
                        break
                    if c != 0x2C and c != 0x5D:
                        error = Fatal("malformed_array", f"{chr(c)!r} closes the array", base + pos)
                        break
                    depth, pos = (1 if c == 0x2C else -1), pos + 1
                    mark, start, pieces, size, excerpt = pos, base + pos, [], 0, None
            if depth > 0 and mark < end and excerpt is None:  # the open item goes on in the next block
                pieces.append(buf[mark:])
                size += end - mark
                if size > self._limit:
                    excerpt, pieces = b"".join(pieces)[:EXCERPT], []
            base += end
            if batch:
                self._first, self._offsets = count - len(batch) + 1, offsets
                yield batch
            if error is not None:  # after the items before it
                raise error
        if depth >= 0:
            raise Fatal("truncated_array", "the stream ends inside the JSON array", base)
