"""BigQuery functions the local warehouse adds to DuckDB, on the same bytes BigQuery stores.

HLL_COUNT.* are aggregates in BigQuery and DuckDB's Python UDFs are scalar, so the SQL
translation (weir.warehouse.translate) turns `HLL_COUNT.MERGE(x)` into
`weir_hll_merge(LIST(x))`: DuckDB aggregates the list, the UDF merges it.
"""

from __future__ import annotations

from weir.transforms.fingerprint import farm_fingerprint
from weir.transforms.sketches import merge_bytes, new_sketch


def hll_merge(sketches: list[bytes | None] | None) -> int:
    """HLL_COUNT.MERGE: estimate of the union; 0 over no sketches (as BigQuery)."""
    merged = merge_bytes(sketches or [])
    return 0 if merged is None else int(merged.result())


def hll_merge_partial(sketches: list[bytes | None] | None) -> bytes | None:
    """HLL_COUNT.MERGE_PARTIAL: the union sketch; NULL over no sketches (as BigQuery)."""
    merged = merge_bytes(sketches or [])
    return None if merged is None else merged.to_bytes()


def hll_extract(sketch: bytes | None) -> int | None:
    """HLL_COUNT.EXTRACT: a sketch's estimate; NULL for NULL."""
    merged = merge_bytes([sketch])
    return None if merged is None else int(merged.result())


def hll_init(values: list[int | None] | None) -> bytes | None:
    """HLL_COUNT.INIT over INT64 values (the only input type checked byte for byte)."""
    sketch = None
    for value in values or []:
        if value is None:
            continue
        if sketch is None:
            sketch = new_sketch()
        sketch.add(int(value))
    return None if sketch is None else sketch.to_bytes()


def fingerprint(value: str | None) -> int | None:
    return None if value is None else farm_fingerprint(value)


# name -> (function, DuckDB parameter types, DuckDB return type)
UDFS = {
    "weir_hll_merge": (hll_merge, ["BLOB[]"], "BIGINT"),
    "weir_hll_merge_partial": (hll_merge_partial, ["BLOB[]"], "BLOB"),
    "weir_hll_extract": (hll_extract, ["BLOB"], "BIGINT"),
    "weir_hll_init": (hll_init, ["BIGINT[]"], "BLOB"),
    "farm_fingerprint": (fingerprint, ["VARCHAR"], "BIGINT"),
}
