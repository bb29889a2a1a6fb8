"""BigQuery's FARM_FINGERPRINT in Python: pure, no Beam, so the local warehouse's SQL
functions (weir.warehouse.sqlfuncs) and the metric registry share it with enrichment."""

from __future__ import annotations

import farmhash

_TWO_63 = 1 << 63


def farm_fingerprint(value: str) -> int:
    """BigQuery's FARM_FINGERPRINT: FarmHash Fingerprint64 of the UTF-8 bytes, as signed INT64."""
    fp = farmhash.fingerprint64(value)
    return fp - (1 << 64) if fp >= _TWO_63 else fp
