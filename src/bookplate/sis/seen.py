"""Compact per-run memory of what a run has met, so that a run's memory does not grow with the
file beyond a few bytes per record.

* :class:`KeySet` — the 64-bit match keys met so far (a match ID met twice in one file rejects
  the later record). Sorted ``array('Q')`` buckets chosen by the key's top bits: 8 bytes a key
  plus a fixed overhead, against ~80 bytes a key in a ``set`` of Python ints.
* :class:`PkBits` — the keys of the stored users the file contains (the missing-users policy
  changes the others): one bit per user key up to the largest key met, in a ``bytearray``.
  Kept only when the policy is on (:class:`NoPks` otherwise).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable

_BUCKET_BITS = 12
_SHIFT = 64 - _BUCKET_BITS


class KeySet:
    """A set of unsigned 64-bit ints (hash values: their top bits are evenly spread)."""

    __slots__ = ("_buckets", "_count")

    def __init__(self) -> None:
        self._buckets: list[array[int] | None] = [None] * (1 << _BUCKET_BITS)
        self._count = 0

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, int):
            return False
        bucket = self._buckets[key >> _SHIFT]
        if bucket is None:
            return False
        index = bisect_left(bucket, key)
        return index < len(bucket) and bucket[index] == key

    def add(self, key: int) -> None:
        slot = key >> _SHIFT
        bucket = self._buckets[slot]
        if bucket is None:
            self._buckets[slot] = array("Q", (key,))
            self._count += 1
            return
        index = bisect_left(bucket, key)
        if index < len(bucket) and bucket[index] == key:
            return
        bucket.insert(index, key)
        self._count += 1

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
