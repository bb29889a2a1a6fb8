"""BigQuery functions the local warehouse adds to DuckDB, on the same bytes BigQuery stores.

HLL_COUNT.* are aggregates in BigQuery and DuckDB's Python UDFs are scalar, so the SQL
translation (weir.warehouse.translate) turns `HLL_COUNT.MERGE(x)` into
`weir_hll_merge(LIST(x))`: DuckDB aggregates the list, the UDF merges it.
"""

from __future__ import annotations

import functools

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


def hll_extract(sketch: bytes | None) -> int:
    """HLL_COUNT.EXTRACT: a sketch's estimate; 0 for NULL (as BigQuery)."""
    merged = merge_bytes([sketch])
    return 0 if merged is None else int(merged.result())


_INT_TYPES = frozenset({"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER"})


def _blob_of_text(text: str) -> bytes:
    """DuckDB's text form of a BLOB (bytes outside printable ASCII, and backslash, as \\xHH)
    back to the bytes."""
    out, i = bytearray(), 0
    while i < len(text):
        if text.startswith("\\x", i):
            out.append(int(text[i + 2 : i + 4], 16))
            i += 4
        else:
            out += text[i].encode("utf-8")
            i += 1
    return bytes(out)


def hll_init(values: list[str | None] | None, type_name: str | None, precision: int, strict: bool) -> bytes | None:
    """HLL_COUNT.INIT(x, precision) over values sent as text with their DuckDB type's name.

    INT64 values are hashed as integers and STRING as UTF-8 text and BYTES as bytes, which
    is what BigQuery does (its documentation's sketches are reproduced byte for byte in
    tests/test_sql_fidelity.py). NUMERIC and BIGNUMERIC are hashed as the bytes of their
    shortest decimal text: the estimates are right, but such sketches do not merge with
    sketches BigQuery made of NUMERIC values. Other types are refused (as BigQuery does),
    unless not `strict` (APPROX_COUNT_DISTINCT, which counts any type: its text)."""
    if not values or type_name is None:
        return None
    if type_name in _INT_TYPES:
        kind, convert = int, int
    elif type_name == "VARCHAR":
        kind, convert = str, str
    elif type_name == "BLOB":
        kind, convert = bytes, _blob_of_text
    elif type_name.startswith("DECIMAL") or not strict:
        kind, convert = bytes, _decimal_bytes if type_name.startswith("DECIMAL") else str.encode
    else:
        raise ValueError(f"HLL_COUNT.INIT takes INT64, NUMERIC, BIGNUMERIC, STRING or BYTES, not {type_name}")
    sketch = None
    for value in values:
        if value is None:
            continue
        if sketch is None:
            sketch = new_sketch(kind, precision)
        sketch.add(convert(value))
    return None if sketch is None else sketch.to_bytes()


def _decimal_bytes(text: str) -> bytes:
    import decimal

    value = decimal.Decimal(text).normalize()
    return format(value, "f").encode()


def _safe(fn):
    """The SAFE. form: NULL instead of an error (a sketch that is not one, a bad type)."""

    @functools.wraps(fn)  # DuckDB reads the parameters from the signature
    def safe(*args):
        try:
            return fn(*args)
        except Exception:
            return None

    return safe


def net_host(url: str | None) -> str | None:
    """NET.HOST: the host of a URL as written (case kept), or NULL when there is none."""
    from weir.warehouse.netfuncs import host

    return host(url)


def net_public_suffix(url: str | None) -> str | None:
    from weir.warehouse.netfuncs import public_suffix

    return public_suffix(url)


def net_reg_domain(url: str | None) -> str | None:
    from weir.warehouse.netfuncs import reg_domain

    return reg_domain(url)


def fingerprint(value: str | None) -> int | None:
    return None if value is None else farm_fingerprint(value)


# name -> (function, DuckDB parameter types, DuckDB return type)
UDFS = {
    "weir_hll_merge": (hll_merge, ["BLOB[]"], "BIGINT"),
    "weir_hll_merge_partial": (hll_merge_partial, ["BLOB[]"], "BLOB"),
    "weir_hll_extract": (hll_extract, ["BLOB"], "BIGINT"),
    "weir_hll_init": (hll_init, ["VARCHAR[]", "VARCHAR", "BIGINT", "BOOLEAN"], "BLOB"),
    "weir_safe_hll_merge": (_safe(hll_merge), ["BLOB[]"], "BIGINT"),
    "weir_safe_hll_merge_partial": (_safe(hll_merge_partial), ["BLOB[]"], "BLOB"),
    "weir_safe_hll_extract": (_safe(hll_extract), ["BLOB"], "BIGINT"),
    "weir_safe_hll_init": (_safe(hll_init), ["VARCHAR[]", "VARCHAR", "BIGINT", "BOOLEAN"], "BLOB"),
    "weir_net_host": (net_host, ["VARCHAR"], "VARCHAR"),
    "weir_net_public_suffix": (net_public_suffix, ["VARCHAR"], "VARCHAR"),
    "weir_net_reg_domain": (net_reg_domain, ["VARCHAR"], "VARCHAR"),
    "farm_fingerprint": (fingerprint, ["VARCHAR"], "BIGINT"),
}
