"""HLL++ sketches in BigQuery's HLL_COUNT format (zetasketch-py), over INT64 keys.

BigQuery's `HLL_COUNT.INIT(x)` defaults to precision 15 (sparse precision 20); these
sketches use the same, so stored sketches merge with analysts' own.
"""

from __future__ import annotations

from zetasketch_py import HyperLogLogPlusPlus

PRECISION = 15


def new_sketch() -> HyperLogLogPlusPlus:
    return HyperLogLogPlusPlus(int, PRECISION)


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
