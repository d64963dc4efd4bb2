"""The loader's C twins (emergence/_speedups.c) give exactly what their Python twins give."""
from __future__ import annotations

import array
import platform
import random
import shutil
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from emergence.corpus import speedups
from emergence.corpus.records import _clean_entity, collapse_spaces_py, unescape_entities


def test_the_c_twins_are_built_where_they_can_be():
    # setup.py's build is optional: on a machine that can build it, a missing module means
    # the install went wrong, and CI would test only the Python twins without saying so
    can_build = (
        platform.machine() in ("x86_64", "AMD64")
        and shutil.which("cc") is not None
        and (Path(sysconfig.get_paths()["include"]) / "Python.h").exists()
    )
    if can_build:
        assert speedups.AVAILABLE, "emergence._speedups should have been built: reinstall with pip install -e ."
    assert speedups.AVAILABLE == (speedups.collapse_spaces is not None) == (speedups.unescape is not None)


needs_c = pytest.mark.skipif(not speedups.AVAILABLE, reason="emergence._speedups was not built here")


def _numpy_events(block: bytes) -> list[int]:
    from emergence.corpus.stream import _Scanner

    scanner = _Scanner.__new__(_Scanner)  # only the numpy pass is used: no stream needed
    scanner._np, scanner._masks = np, None
    return scanner._numpy_events(np.frombuffer(block, np.uint8), len(block)).tolist()


def _c_events(block: bytes, room: int | None = None) -> list[int]:
    out = np.empty(len(block) if room is None else room, np.int64)
    count = speedups.events(block, len(block), out)
    assert count <= out.size
    return out[:count].tolist()


# every byte that matters next to every other one, and plain text
_ALPHABET = b'  ""&\\\n\t\x00\x1f\x7f\x80\xc2\xa0\xe2\x80\xa8 ~!az09{}:,/'


@needs_c
def test_events_equal_the_numpy_scan_at_every_length_and_alignment():
    rng = random.Random(0)
    for n in [*range(1, 70), 255, 256, 257, 4095, 4096, 4097, 100_003]:
        for _ in range(3):
            block = bytes(rng.choice(_ALPHABET) for _ in range(n))
            assert _c_events(block) == _numpy_events(block), n
        # the same bytes at another offset of a bigger buffer: unaligned loads
        block = bytes(rng.choice(_ALPHABET) for _ in range(n + 5))
        view = memoryview(block)[3 : 3 + n]
        out = np.empty(n, np.int64)
        count = speedups.events(view, n, out)
        assert out[:count].tolist() == _numpy_events(bytes(view))


@needs_c
def test_events_at_every_byte_pair():
    # each of the 65,536 byte pairs, at each of the 16 lanes and across a lane boundary
    pairs = bytes(range(256)) * 256
    seconds = bytes(b for b in range(256) for _ in range(256))
    block = bytes(x for pair in zip(pairs, seconds) for x in pair)
    for shift in range(17):
        shifted = b"a" * shift + block
        assert _c_events(shifted) == _numpy_events(shifted), shift


@needs_c
def test_events_reports_the_full_count_when_out_is_too_small():
    block = b'{"title": "a  b", "content": "&x\\u00e9\xc3\xa9"}\n' * 50
    want = _numpy_events(block)
    out = np.zeros(7, np.int64)
    assert speedups.events(block, len(block), out) == len(want)
    assert out.tolist() == want[:7]  # filled as far as it goes
    assert _c_events(block, room=len(want)) == want
    assert speedups.events(block, 0, out) == 0
    assert speedups.events(block, len(block), np.empty(0, np.int64)) == len(want)


@needs_c
def test_events_refuses_bad_arguments():
    with pytest.raises(ValueError, match="outside the block"):
        speedups.events(b"abc", 4, np.empty(4, np.int64))
    with pytest.raises(ValueError, match="outside the block"):
        speedups.events(b"abc", -1, np.empty(4, np.int64))
    with pytest.raises(ValueError, match="int64"):
        speedups.events(b"abc", 3, np.empty(4, np.int32))
    with pytest.raises(TypeError):
        speedups.events(b"abc", 3, b"\0" * 32)  # read-only
    with pytest.raises(TypeError):
        speedups.events("abc", 3, array.array("q", [0] * 4))


_TEXT = [" ", " ", "  ", "   ", "a", "b", "é", "ÿ", "’", "日", "😀", "\t", "\u00a0", "\u3000", "x y"]


@needs_c
@pytest.mark.parametrize("seed", range(4))
def test_collapse_spaces_equals_its_python_twin(seed):
    rng = random.Random(seed)
    cases = ["", " ", "  ", "a", " a", "a ", " a ", "a  b", "a \u00a0 b", "\u3000 ", "😀  😀"]
    cases += ["".join(rng.choices(_TEXT, k=rng.randint(0, 200))) for _ in range(3000)]
    for text in cases:
        got = speedups.collapse_spaces(text)
        assert got == collapse_spaces_py(text), repr(text)
        assert type(got) is str
        if got == text:
            assert got is text  # nothing to change: no copy
        # the result's representation is CPython's canonical one (same as a literal's)
        assert got.isascii() == all(ord(ch) < 128 for ch in got)


@needs_c
def test_collapse_spaces_refuses_what_is_not_a_str():
    for bad in (b"a  b", None, 3):
        with pytest.raises(TypeError):
            speedups.collapse_spaces(bad)


# every piece of html.unescape's entity pattern, its edges (32 name characters, digits
# without ';', '#x' without digits, the excluded characters) and 1-, 2- and 4-byte text
_ENTITY_PIECES = [
    "&", "&", "&amp;", "&amp", "&AMP;", "&#", "&#;", "&#x", "&#X", "&#x;", "&#39;", "&#39", "&#x41;", "&#X1f",
    "&#0;", "&#1;", "&#9;", "&#xD800;", "&#1114112;", "&#99999999999999999999;", "&nbsp;", "&nbsp", "&notit;",
    "&not", "&eacute;", "&ampx", "&" + "a" * 31 + ";", "&" + "a" * 32 + ";", "&" + "b" * 33, "&#38;", "&#38;amp;",
    ";", "#", "x", "X", "0", "9", "f", "g", "a", " ", "\t", "\n", "\f", "\r", "<", ">", "é", "’", "😀", "&é;", "&😀",
]


@needs_c
@pytest.mark.parametrize("seed", range(4))
def test_unescape_equals_its_python_twin(seed):
    rng = random.Random(seed)
    cases = ["", "&", "no entity", "&amp;", "a &amp; b", "&#8211;", "&#x2013;x", "&&amp;", "&#38;lt;"]
    cases += ["".join(rng.choices(_ENTITY_PIECES, k=rng.randint(0, 30))) for _ in range(3000)]
    for text in cases:
        got = speedups.unescape(text, _clean_entity)
        assert got == unescape_entities(text), repr(text)
        if "&" not in text:
            assert got is text  # nothing to replace: no copy


@needs_c
def test_unescape_passes_each_entity_to_convert_and_its_errors_back():
    seen = []

    def convert(entity):
        seen.append(entity)
        return f"<{len(entity)}>"

    assert speedups.unescape("a&amp;b&#39&x; &", convert) == "a<5>b<4><3> &"
    assert seen == ["&amp;", "&#39", "&x;"]
    with pytest.raises(TypeError, match="not str"):
        speedups.unescape("&amp;", lambda entity: 3)
    with pytest.raises(ZeroDivisionError):
        speedups.unescape("&amp;", lambda entity: 1 / 0)
    with pytest.raises(TypeError):
        speedups.unescape(b"&amp;", _clean_entity)
    text = "nothing to replace & here"
    assert speedups.unescape(text, convert) is text


def test_python_twins_switch_the_c_ones_off_and_back():
    from emergence.corpus.records import collapse_spaces, unescape

    before = (speedups.events, speedups.collapse_spaces, speedups.unescape)
    with speedups.python_twins():
        assert (speedups.events, speedups.collapse_spaces, speedups.unescape) == (None, None, None)
        assert collapse_spaces(unescape(" a &amp;&nbsp; b ")) == "a & b"
    assert (speedups.events, speedups.collapse_spaces, speedups.unescape) == before


def test_the_docstring_examples_run():
    import doctest

    import emergence.corpus.records

    assert doctest.testmod(speedups).failed == 0
    assert doctest.testmod(emergence.corpus.records).failed == 0
