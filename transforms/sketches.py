"""HLL++ sketches in BigQuery's HLL_COUNT format (zetasketch-py), over INT64 keys.

BigQuery's `HLL_COUNT.INIT(x)` defaults to precision 15 (sparse precision 20); these
sketches use the same, so stored sketches merge with analysts' own.
"""

from __future__ import annotations

from zetasketch_py import HyperLogLogPlusPlus

PRECISION = 15


def new_sketch(kind: type = int, precision: int = PRECISION) -> HyperLogLogPlusPlus:
    """An empty sketch of `kind` (int, str or bytes) values, with BigQuery's sparse precision
    (5 more than the normal precision, as HLL_COUNT.INIT's sketches carry)."""
    return HyperLogLogPlusPlus(kind, precision, precision + 5)


def sketch_of(keys) -> bytes | None:
    """Sketch bytes of an iterable of INT64 keys; None for no keys (SQL NULL)."""
    sketch = None
    for key in keys:
        if sketch is None:
            sketch = new_sketch()
        sketch.add(key)
    return sketch.to_bytes() if sketch is not None else None


def merge_bytes(sketches) -> HyperLogLogPlusPlus | None:
    """One sketch holding the union of the given sketch bytes (None entries skipped)."""
    out = None
    for data in sketches:
        if data is None:
            continue
        if out is None:
            out = HyperLogLogPlusPlus.from_bytes(data)
        else:
            out.merge(data)
    return out


def estimate(data: bytes | None) -> int:
    return 0 if data is None else int(HyperLogLogPlusPlus.from_bytes(data).result())


# Distinct keys while a row is being aggregated. A row holds the keys themselves (a set of
# INT64) until it has more than EXACT_LIMIT of them, then a `Sketch`; the sketch of a row is
# built once, when the row is written (`finished`). Profiled on the rebuild, keeping a sketch
# object per row and metric from the first key made aggregation most of the run: every
# partial accumulator crossed the runner as sketch bytes and every merge re-parsed them.
# Sketch registers do not depend on the order or grouping of the keys, so a row's estimate
# is the same however its keys arrived; only the sketch's `num_values` field (a count of
# additions, not part of any estimate) depends on where a set became a sketch.
# 2,048 keys: a set costs ~60-70 bytes a key against at most 32 KiB for a precision-15
# sketch, so a row's set is at most ~4x its sketch, and most 5-minute rows never reach it
# (measured: no difference beyond noise in the aggregation time between 512 and 32,768).
EXACT_LIMIT = 1 << 11


class Sketch:
    """A row's HLL++ sketch once its keys outgrew a set; pickles as its bytes."""

    __slots__ = ("hll",)

    def __init__(self, hll: HyperLogLogPlusPlus):
        self.hll = hll

    def add(self, key: int) -> None:
        self.hll.add(key)

    def __reduce__(self):
        return _sketch_from_bytes, (self.hll.to_bytes(),)


def _sketch_from_bytes(data: bytes) -> Sketch:
    return Sketch(HyperLogLogPlusPlus.from_bytes(data))


Distinct = set | Sketch | None


def add_key(slot: Distinct, key: int) -> Distinct:
    """`slot` with `key` added. The limit is applied where accumulators merge (`union`): one
    accumulator's own additions are bounded by what one bundle adds to it."""
    if slot is None:
        return {key}
    slot.add(key)
    return slot


def union(slot: Distinct, other: Distinct) -> Distinct:
    """`slot` (owned, may be modified) with every key of `other` (never modified or aliased)."""
    if other is None:
        return slot
    if type(other) is set:
        if slot is None:
            slot = set(other)
        elif type(slot) is set:
            slot |= other
        else:
            for key in other:
                slot.add(key)
            return slot
        return Sketch(finished(slot)) if len(slot) > EXACT_LIMIT else slot
    data = other.hll.to_bytes()
    if slot is None:
        return _sketch_from_bytes(data)
    if type(slot) is set:
        out = _sketch_from_bytes(data)
        for key in slot:
            out.add(key)
        return out
    slot.hll.merge(data)
    return slot


def finished(slot: Distinct) -> HyperLogLogPlusPlus | None:
    """The row's HLL++ sketch of its keys (None when it has none)."""
    if slot is None:
        return None
    if type(slot) is Sketch:
        return slot.hll
    sketch = new_sketch()
    for key in slot:
        sketch.add(key)
    return sketch
