"""`SeenPairs`: a bounded set of 64-bit fingerprints, for the loader's `dedupe` and the audit's duplicate counts.

    >>> seen = SeenPairs(1000)
    >>> seen.add(hash(("Title", "Content"))), seen.add(hash(("Title", "Content")))
    (True, False)
"""
from __future__ import annotations

import warnings
from array import array

__all__ = ["SeenPairs"]


class SeenPairs:
    """Open-addressing set of nonzero 64-bit fingerprints, in 8-byte slots, at most 60% full.

    ``add`` says whether the fingerprint is new. Memory: 8 bytes a slot, the slots a power
    of two above ``size / 0.6`` (doubling as it fills). Past ``capacity`` new fingerprints
    are not remembered (a warning says so). Two pairs share a fingerprint with probability
    about n**2 / 2**65 over n pairs. Used by ``dedupe`` and the audit.
    """

    _MAX_LOAD = 0.6

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.size = 0
        self._max_slots = 1 << max(4, (int(capacity / self._MAX_LOAD) - 1).bit_length())
        self._alloc(min(1 << 16, self._max_slots))
        self._warned = False

    def _alloc(self, slots: int) -> None:
        self._table = array("Q", bytes(8 * slots))
        self._mask = slots - 1
        self._grow_at = int(slots * self._MAX_LOAD)

    def add(self, fingerprint: int) -> bool:
        """True if the fingerprint is new (and remembered, while there is room)."""
        key = (fingerprint & 0xFFFFFFFFFFFFFFFF) or 1  # 0 marks an empty slot
        table, mask = self._table, self._mask
        i = key & mask
        while True:
            slot = table[i]
            if slot == 0:
                break
            if slot == key:
                return False
            i = (i + 1) & mask
        if self.size >= self.capacity:
            if not self._warned:
                self._warned = True
                warnings.warn(f"dedupe remembers at most {self.capacity:,} distinct pairs; later ones are not "
                              "deduplicated", RuntimeWarning, stacklevel=3)
            return True
        table[i] = key
        self.size += 1
        if self.size > self._grow_at and len(table) < self._max_slots:
            old = table
            self._alloc(len(table) * 2)
            table, mask = self._table, self._mask
            for key in old:
                if key:
                    i = key & mask
                    while table[i]:
                        i = (i + 1) & mask
                    table[i] = key
        return True
