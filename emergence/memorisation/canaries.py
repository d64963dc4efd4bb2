"""Canary sentences: a unique, reproducible random sentence per record key.

    >>> from emergence.memorisation.canaries import canary_sentence
    >>> canary_sentence("uid-42", "seed-0")
    'Beacon silver canoe rain prairie 7931 cabin poplar jasmine arch ocean.'
    >>> canary_sentence("uid-42", "seed-0") == canary_sentence("uid-42", "seed-0")
    True

8-12 words from a fixed list of 273 plain English words and a four-digit number, drawn from
SHAKE-256 of (salt, key): the same key and salt give the same sentence on any machine and
Python version (no ``random`` module, whose choice() may change between versions), and
two keys share a sentence with probability below 1e-25. The list holds no number words
and no words about age, school or children, and the number has four digits and never
comes first, so a canary carries no reader-age cue for the training mask to cut out
(tests check every list word and thousands of sentences against ``find_age_cues``).
"""
from __future__ import annotations

import hashlib

__all__ = ["CANARY_WORDS", "canary_sentence"]

CANARY_WORDS: tuple[str, ...] = tuple("""
acorn amber anchor anvil apple apricot arch arrow aspen attic autumn avenue badge bakery
balcony bamboo banner barley barrel basket beacon beech bell berry birch biscuit blanket
blossom bluff bonnet bottle boulder bramble brass breeze brick bridge brook broom bucket
buckle butter button cabin cactus candle canoe canvas canyon carpet carrot castle cedar
cellar chalk chapel cherry chimney cinder citrus clay cliff clover cobalt coffee comet
copper coral cotton cradle crane crater creek crimson crystal cypress daisy dawn delta
desert dune dusk eagle ember emerald engine fable falcon feather fern ferry fiddle flame
flannel flint forest fossil fountain fox garden garnet glacier granite grape gravel
harbor harvest hazel heather hedge helmet heron hickory hill honey horizon island ivory
jasmine jetty kettle lagoon lantern larch lemon lichen lighthouse linen locket lumber
magnet mango maple marble marsh meadow melon mirror mist monsoon mosaic moss mountain
mulberry nectar needle nutmeg oak oasis ocean olive onyx orchard otter paddle pebble
pepper pewter pigeon pillar pine plum pond poplar porch pottery prairie quarry quill
quilt rafter rain raven reed ribbon ridge river robin saddle saffron sail salmon sandal
satchel scarf shadow shell shore silk silver slate sparrow spruce stable stone storm
straw stream summit swan tassel teapot thimble thistle thunder timber tulip tunnel
valley velvet village violet walnut wagon wheat willow window winter wool
brave bright calm clever dusty eager fierce gentle golden hollow humble lively lofty
mellow misty narrow noble orange quiet rapid rustic scarlet shiny silent smooth steady
sturdy swift tender vivid warm wild windy woven
bakes carries drifts floats gathers glows hums leans melts mends paints rattles rests
sings sketches sparkles spins sweeps wanders whistles
""".split())
_MIN_WORDS, _MAX_WORDS = 8, 12


def _stream(key: str, salt: str, n: int) -> bytes:
    # unit separators keep ("a", "bc") and ("ab", "c") apart
    return hashlib.shake_256(f"emergence-canary\x1f{salt}\x1f{key}".encode("utf-8")).digest(n)


def canary_sentence(key: str, salt: str) -> str:
    """The canary sentence of a record ``key`` (its uid) under ``salt`` (the run's seed)."""
    words_n = len(CANARY_WORDS)
    limit = 65536 - 65536 % words_n  # rejection keeps every word equally likely
    need = 3 + 2 * _MAX_WORDS
    data = _stream(key, salt, 4 * need)
    count = _MIN_WORDS + data[0] % (_MAX_WORDS - _MIN_WORDS + 1)
    number = 1000 + int.from_bytes(data[1:3], "big") % 9000
    words: list[str] = []
    for i in range(3, len(data) - 1, 2):
        value = int.from_bytes(data[i:i + 2], "big")
        if value < limit:
            words.append(CANARY_WORDS[value % words_n])
            if len(words) == count:
                break
    if len(words) < count:  # ~1e-30 per sentence: every draw rejected
        raise RuntimeError(f"canary stream for key {key!r} too short")
    slot = 1 + data[-1] % (count - 1)  # the number never comes first
    words.insert(slot, str(number))
    return " ".join(words).capitalize() + "."
