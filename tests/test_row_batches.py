"""`RowBatch` (rows as columns, transforms.rows) stands where a list of row dicts does, and the
staged Arrow sink writes the same rows from either form, a batch spanning two days included."""

from __future__ import annotations

import pyarrow as pa
import pytest

from weir.transforms.rows import RowBatch
from weir.transforms.sinks import _ArrowForDay

DAY_MS = 86_400_000
T0 = 1_763_596_800_000  # 2025-11-20T00:00Z


def _rows(n: int, bucket: int, dim: str = "device_type") -> list[dict]:
    return [
        {
            "site": "s.example",
            "url": "https://s.example/a",
            "bucket_start": bucket,
            "dimension": dim,
            "value": f"v{i}",
            "pageviews": i,
            "visitors": i + 1,
            "visitors_sketch": bytes([i]) if i % 2 else None,
        }
        for i in range(n)
    ]


def _batch(rows: list[dict]) -> RowBatch:
    return RowBatch({name: [r.get(name) for r in rows] for name in rows[0]}, len(rows))


def test_a_row_batch_iterates_and_indexes_as_its_rows():
    rows = _rows(3, T0)
    batch = _batch(rows)
    assert len(batch) == 3 and list(batch) == rows
    assert batch[1] == rows[1] and batch[-1] == rows[2]
    with pytest.raises(IndexError):
        batch[3]


def _staged(items: list) -> dict[str, list[dict]]:
    """What the Arrow encoder stages of `items`, per day, decoded back to row dicts."""
    encode = _ArrowForDay("breakdown_metrics_5m")
    encode.setup()
    encode.start_bundle()
    chunks = [c for item in items for c in encode.process(item)]
    chunks += [wv.value for wv in encode.finish_bundle()]
    out: dict[str, list[dict]] = {}
    for day, data in chunks:
        table = pa.ipc.open_stream(data).read_all()
        for row in table.to_pylist():
            row["bucket_start"] = int(row["bucket_start"].timestamp() * 1000)
            out.setdefault(day, []).append(row)
    return out


def _columns(rows: list[dict]) -> list[tuple]:
    keep = ("bucket_start", "dimension", "value", "pageviews", "visitors", "visitors_sketch")
    return sorted((tuple(r.get(k) for k in keep) for r in rows), key=repr)


def test_the_arrow_sink_stages_the_same_rows_from_columns_and_from_dicts():
    one_day = _rows(5, T0 + 300_000)
    two_days = _rows(3, T0 + 600_000) + _rows(2, T0 + DAY_MS, dim="browser")  # falls back row by row
    as_dicts = _staged([one_day, two_days])
    as_columns = _staged([_batch(one_day), _batch(two_days)])
    assert set(as_columns) == {"2025-11-20", "2025-11-21"}
    for day in as_dicts:
        assert _columns(as_columns[day]) == _columns(as_dicts[day]), day
    assert len(as_columns["2025-11-20"]) == 8 and len(as_columns["2025-11-21"]) == 2
    # a column the batch does not have is staged as NULL, as a dict without the key is
    assert all(r["sessions"] is None for r in as_columns["2025-11-21"])
