"""The loader's memory stays bounded on hostile input: checked under an address-space limit.

Each case runs in a subprocess whose address space (RLIMIT_AS) is capped at what it has
mapped once the loader is imported plus HEADROOM, so a regression fails (MemoryError)
instead of taking the machine. The inputs are generated as they are read, never held.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc: Linux")

HEADROOM = 96 << 20  # address space the pass may add: blocks and lines of 1 MiB, a block's batch of records

_PRELUDE = """
import io, resource, zlib
from itertools import chain
from emergence.corpus.stream import stream_records

class Generated(io.RawIOBase):
    '''Bytes from a generator of pieces, as a pipe hands them out.'''
    def __init__(self, pieces):
        self._pieces, self._rest = iter(pieces), b""
    def readable(self):
        return True
    def readinto(self, buffer):
        while not self._rest:
            self._rest = next(self._pieces, None)
            if self._rest is None:
                self._rest = b""
                return 0
        n = min(len(buffer), len(self._rest))
        buffer[:n] = self._rest[:n]
        self._rest = self._rest[n:]
        return n

def gz(pieces):
    z = zlib.compressobj(1, zlib.DEFLATED, 31)
    for piece in pieces:
        yield z.compress(piece)
    yield z.flush()

def run(pieces, **options):
    stream = stream_records(Generated(pieces), **options)
    titles = [r.title for r in stream if r.title != "t"]  # "t": the many small records, counted only
    assert stream.stats.reconciles(), stream.stats
    print(stream.stats.yielded, titles, dict(stream.stats.rejected))

pages = int(open("/proc/self/statm").read().split()[0])
limit = pages * resource.getpagesize() + HEADROOM
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
"""

MIB = "(b' ' * (1 << 20) for _ in range({}))"  # a generator of MiB pieces: the input is never held
CASES = {
    # a 256 MiB line between two records: rejected, never held
    "huge line": f"run(chain([b'{{\"title\": \"a\"}}\\n{{\"title\": \"x\", \"c\": \"'], {MIB.format(256)}, "
    "[b'\"}\\n{\"title\": \"b\"}\\n']))",
    # the same as one array item
    "huge array item": f"run(chain([b'[{{\"title\": \"a\"}}, {{\"title\": \"x\", \"c\": \"'], {MIB.format(256)}, "
    "[b'\"}, {\"title\": \"b\"}]']))",
    # 256 MiB of spaces inside a gzip member: decompressed a block at a time
    "huge gzip line": f"run(gz(chain([b'{{\"title\": \"a\"}}\\n{{\"title\": \"x\", \"c\": \"'], {MIB.format(256)}, "
    "[b'\"}\\n{\"title\": \"b\"}\\n'])))",
    # 40,000 levels in 80 KB (ijson's prefixes made this 3.85 GB for 78 KiB)
    "deep array item": "run([b'[{\"title\": \"a\"}, {\"title\": \"x\", \"n\": ', b'[' * 40000, b']' * 40000, "
    "b'}, {\"title\": \"b\"}]'])",
    "deep line": "run([b'{\"title\": \"a\"}\\n{\"title\": \"x\", \"n\": ', b'[' * 40000, b']' * 40000, "
    "b'}\\n{\"title\": \"b\"}\\n'])",
    # an array item that never closes: 256 MiB of '[' (the splitter keeps a count, not a stack)
    "unclosed nesting": "run(chain([b'[{\"title\": \"a\"}, '], (b'[' * (1 << 20) for _ in range(256))))",
    # a million small items in one array: a leak of 100 bytes a record would pass HEADROOM
    "huge array": "run(chain([b'['], (b'{\"title\": \"t\", \"content\": \"c\"},' * 1000 for _ in range(1000)), "
    "[b'{\"title\": \"b\"}]']))",
}
EXPECTED = {
    "huge line": "2 ['a', 'b'] {'line_too_long': 1}",
    "huge array item": "2 ['a', 'b'] {'line_too_long': 1}",
    "huge gzip line": "2 ['a', 'b'] {'line_too_long': 1}",
    "deep array item": "2 ['a', 'b'] {'too_deep': 1}",
    "deep line": "2 ['a', 'b'] {'too_deep': 1}",
    "huge array": "1000001 ['b'] {}",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_memory_is_bounded(case):
    code = _PRELUDE.replace("HEADROOM", str(HEADROOM)) + CASES[case]
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    if case == "unclosed nesting":
        assert "truncated_array" in proc.stderr and "MemoryError" not in proc.stderr, proc.stderr[-2000:]
        return
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == EXPECTED[case]
