"""Compact per-run memory of what a run has met, so that a run's memory does not grow with the
file beyond a few bytes per record.

* :class:`KeySet` — the 64-bit match keys met so far (a match ID met twice in one file rejects
  the later record). Sorted ``array('Q')`` buckets chosen by the key's top bits: ~9 bytes a
  key, against ~100 bytes a key in a ``set`` of Python ints.
* :class:`PkBits` — the keys of the stored users the file contains (the missing-users policy
  changes the others): one bit per user key up to the largest key met, in a ``bytearray``.
  Kept only when the policy is on (:class:`NoPks` otherwise).
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


class PkBits:
    """A set of non-negative ints that are database keys (dense from 1): a bitmap."""

    __slots__ = ("_bits", "_count")

    def __init__(self) -> None:
        self._bits = bytearray()
        self._count = 0

    def __contains__(self, pk: object) -> bool:
        if not isinstance(pk, int) or pk < 0:
            return False
        byte = pk >> 3
        return byte < len(self._bits) and bool(self._bits[byte] & (1 << (pk & 7)))

    def add(self, pk: int) -> None:
        if pk < 0:
            raise ValueError("keys are not negative")
        byte = pk >> 3
        if byte >= len(self._bits):
            # Grow by at least half again, so that growing costs O(1) a key on average.
            self._bits.extend(bytes(max(byte + 1 - len(self._bits), len(self._bits) // 2, 1024)))
        mask = 1 << (pk & 7)
        if not self._bits[byte] & mask:
            self._bits[byte] |= mask
            self._count += 1

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
