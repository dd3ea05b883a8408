"""Compact per-run memory of what a run has met, so that a run's memory does not grow with the
file beyond a few bytes per record.

* :class:`KeySet` — the 64-bit match keys met so far (a match ID met twice in one file rejects
  the later record). Sorted ``array('Q')`` buckets chosen by the key's top bits: ~9 bytes a
  key, against ~100 bytes a key in a ``set`` of Python ints.
* :class:`PkBits` — the keys of the stored users the file contains (the missing-users policy
  changes the others): one bit per user key up to the largest key met, in a ``bytearray``
  (a ``KeySet`` should the keys be sparse). Kept only when the policy is on (:class:`NoPks`
  otherwise).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable

_FIRST_BITS = 8  # 256 buckets to begin with
_MAX_BITS = 16
_SPLIT_AT = 128  # keys a bucket holds on average before the buckets are split in two


class KeySet:
    """A set of unsigned 64-bit ints (hash values: their top bits are evenly spread), in
    sorted ``array('Q')`` buckets chosen by the top bits; the buckets split as the set grows,
    so each holds ~64-128 keys and the overhead stays ~1 byte a key."""

    __slots__ = ("_bits", "_buckets", "_count", "_shift")

    def __init__(self) -> None:
        self._bits = _FIRST_BITS
        self._shift = 64 - _FIRST_BITS
        self._buckets: list[array[int]] = [array("Q") for _ in range(1 << _FIRST_BITS)]
        self._count = 0

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, int) or not 0 <= key < 1 << 64:
            return False
        bucket = self._buckets[key >> self._shift]
        index = bisect_left(bucket, key)
        return index < len(bucket) and bucket[index] == key

    def add(self, key: int) -> None:
        if not 0 <= key < 1 << 64:
            raise ValueError("keys are unsigned 64-bit ints")
        bucket = self._buckets[key >> self._shift]
        index = bisect_left(bucket, key)
        if index < len(bucket) and bucket[index] == key:
            return
        bucket.insert(index, key)
        self._count += 1
        if self._count > _SPLIT_AT << self._bits and self._bits < _MAX_BITS:
            self._split()

    def _split(self) -> None:
        """Twice as many buckets: each sorted bucket is cut where its next bit turns 1."""
        half = 1 << (self._shift - 1)
        buckets: list[array[int]] = []
        for prefix, bucket in enumerate(self._buckets):
            cut = bisect_left(bucket, (prefix << self._shift) | half)
            buckets.append(bucket[:cut])
            buckets.append(bucket[cut:])
        self._buckets = buckets
        self._bits += 1
        self._shift -= 1

    def __len__(self) -> int:
        return self._count


_M64 = (1 << 64) - 1
#: The bitmap may take this many bytes whatever the count (1 MiB: keys up to ~8 million) ...
_BITMAP_FLOOR = 1 << 20
#: ... and beyond that at most this many bytes a member (16 bits), else the keys are sparse.
_BITMAP_PER_MEMBER = 2


def _mix(pk: int) -> int:
    """A bijection of 64-bit ints that spreads the bits (splitmix64's finaliser): distinct
    keys stay distinct, and their top bits are even, as ``KeySet`` wants."""
    z = (pk ^ (pk >> 30)) * 0xBF58476D1CE4E5B9 & _M64
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB & _M64
    return z ^ (z >> 31)


class PkBits:
    """A set of non-negative ints that are database keys (dense from 1): a bitmap, one bit a
    key up to the largest. Should the keys be sparse (the bitmap would take more than 16 bits
    a member beyond 1 MiB), they move to a ``KeySet`` of their mixed values (~9 bytes each)."""

    __slots__ = ("_bits", "_count", "_sparse")

    def __init__(self) -> None:
        self._bits = bytearray()
        self._count = 0
        self._sparse: KeySet | None = None

    def __contains__(self, pk: object) -> bool:
        if not isinstance(pk, int) or not 0 <= pk <= _M64:
            return False
        if self._sparse is not None:
            return _mix(pk) in self._sparse
        byte = pk >> 3
        return byte < len(self._bits) and bool(self._bits[byte] & (1 << (pk & 7)))

    def add(self, pk: int) -> None:
        if not 0 <= pk <= _M64:
            raise ValueError("keys are unsigned 64-bit ints")
        if self._sparse is not None:
            self._sparse.add(_mix(pk))
            self._count = len(self._sparse)
            return
        byte = pk >> 3
        if byte >= len(self._bits):
            if byte >= max(_BITMAP_FLOOR, (self._count + 1) * _BITMAP_PER_MEMBER):
                self._to_sparse()
                self.add(pk)
                return
            # Grow by at least half again, so that growing costs O(1) a key on average.
            self._bits.extend(bytes(max(byte + 1 - len(self._bits), len(self._bits) // 2, 1024)))
        mask = 1 << (pk & 7)
        if not self._bits[byte] & mask:
            self._bits[byte] |= mask
            self._count += 1

    def _to_sparse(self) -> None:
        sparse = KeySet()
        for byte, value in enumerate(self._bits):
            if value:
                for bit in range(8):
                    if value & (1 << bit):
                        sparse.add(_mix(byte << 3 | bit))
        self._sparse = sparse
        self._bits = bytearray()

    def update(self, pks: Iterable[int]) -> None:
        for pk in pks:
            self.add(pk)

    def __len__(self) -> int:
        return self._count


class NoPks(PkBits):
    """Remembers nothing (the missing-users policy is off: nobody asks)."""

    __slots__ = ()

    def add(self, pk: int) -> None:
        return None

    def update(self, pks: Iterable[int]) -> None:
        return None
