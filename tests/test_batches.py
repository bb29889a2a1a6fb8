"""Batches change no number (issue #20): on a generated day (bad input, duplicates, bots,
authors and tags), every metric table the graph makes equals what a plain per-event loop
over weir's pure functions makes (parse, the earliest-received copy, enrich, the metric and
dimension registry; one row's sums and sets of keys, each sketch built from its set), sketches
byte for byte, whatever the batch size. The loop is the graph before issue #20, one event at
a time, with the runner taken out."""

from __future__ import annotations

from collections import defaultdict

import apache_beam as beam
import orjson
import pytest
from apache_beam.testing.util import assert_that, equal_to

from tests.conftest import raw
from weir.pipelines import graph as graph_module
from weir.pipelines.graph import GraphConfig, build, table_rows
from weir.traffic.generator import generate_day
from weir.transforms import batches, dedupe
from weir.transforms.enrich import enrich_event
from weir.transforms.metrics import DIMENSIONS, MAX_VALUES, METRICS, NONE_VALUE
from weir.transforms.sketches import EXACT_LIMIT, estimate, sketch_of
from weir.transforms.timeutil import bucket_5m, day_str
from weir.transforms.validate import parse_record

DAY = "2025-11-20"
METRIC_TABLES = ("url_metrics_5m", "breakdown_metrics_5m", "url_metrics_1d", "breakdown_metrics_1d")
COLLECTED: dict[str, list] = defaultdict(list)


@pytest.fixture(scope="module")
def records():
    return [raw(payload, received_at=ts, source="day.jsonl") for ts, payload in generate_day(DAY, events=3000, seed=11)]


def _first_copies(records) -> list[dict]:
    """One event per (site, event_id): the earliest received; among copies received together
    the one whose JSON sorts first (the rule of transforms.dedupe)."""
    copies = defaultdict(list)
    for record in records:
        kind, event = parse_record(record, 0)
        if kind == "event":
            copies[(event["site"], event["event_id"])].append(event)
    return [
        min(group, key=lambda e: (e["received_at"] is None, e["received_at"] or 0, e["source"], orjson.dumps(e)))
        for group in copies.values()
    ]


def _row_keys(event) -> list[tuple[str, str]]:
    keys = [("", "")]
    for d in DIMENSIONS:
        if d.multi:
            values = list(dict.fromkeys(v for v in d.value(event) if v))[:MAX_VALUES] or [None]
        else:
            values = [d.value(event)]
        keys += [(d.name, NONE_VALUE if v in (None, "") else str(v)) for v in values]
    return keys


def expected_tables(records) -> dict[str, list]:
    sums = defaultdict(lambda: defaultdict(int))
    keys = defaultdict(lambda: defaultdict(set))
    for event in map(enrich_event, _first_copies(records)):
        for grain, bucket in (("5m", bucket_5m(event["ts"])), ("1d", day_str(event["ts"]))):
            for dim, value in _row_keys(event):
                row = (grain, event["site"], event["url"], bucket, dim, value)
                for m in METRICS:
                    v = m.value(event)
                    if m.kind == "sum" and v:
                        sums[row][m.name] += int(v)
                    elif m.kind == "distinct" and v is not None:
                        keys[row][m.name].add(v)
    tables = defaultdict(list)
    for row in set(sums) | set(keys):
        grain, site, url, bucket, dim, value = row
        out = {"site": site, "url": url, "bucket_start" if grain == "5m" else "bucket_date": bucket}
        for m in METRICS:
            if m.kind == "sum":
                out[m.name] = sums[row][m.name]
            else:
                assert len(keys[row][m.name]) <= EXACT_LIMIT  # else a sketch's num_values could differ
                sketch = sketch_of(keys[row][m.name])
                out[m.name] = estimate(sketch)
                if m.sketch_column:
                    out[m.sketch_column] = sketch
        if dim:
            out["dimension"], out["value"] = dim, value
        tables[f"{'breakdown' if dim else 'url'}_metrics_{grain}"].append(out)
    return tables


def _collect(table: str, row: dict) -> None:
    COLLECTED[table].append(row)


def _graph_tables(records) -> dict[str, list]:
    COLLECTED.clear()
    with beam.Pipeline(runner="FnApiRunner") as p:
        out = table_rows(build(p, beam.Create(records), None, GraphConfig()))
        for table in METRIC_TABLES:
            out[table] | f"Collect_{table}" >> beam.Map(lambda row, t=table: _collect(t, row))
    return dict(COLLECTED)


def _canonical(rows: list[dict]) -> list[str]:
    return sorted(repr(sorted(row.items())) for row in rows)


@pytest.mark.parametrize("batch_size", [7, batches.BATCH_SIZE])
def test_metric_tables_equal_a_per_event_computation(records, batch_size, monkeypatch):
    monkeypatch.setattr(batches, "BATCH_SIZE", batch_size)
    monkeypatch.setattr(dedupe, "BATCH_SIZE", batch_size)
    assert graph_module.ToBatches is batches.ToBatches
    expected = expected_tables(records)
    got = _graph_tables(records)
    assert len(expected["breakdown_metrics_5m"]) > 5_000  # a day with many rows, not a toy
    for table in METRIC_TABLES:
        assert len(got.get(table, [])) == len(expected[table]), table
        assert _canonical(got[table]) == _canonical(expected[table]), table


def test_a_batch_is_stamped_with_its_earliest_item_and_loses_none():
    """In streaming a batch must not hold the watermark later than its items would: its
    timestamp is the earliest of theirs. Every item is in exactly one batch."""
    items = [(i, 1_000 + (i * 37) % 50) for i in range(20)]  # (id, event time in s)
    with beam.Pipeline(runner="FnApiRunner") as p:
        batched = (
            p
            | beam.Create(items)
            | beam.Map(lambda it: beam.window.TimestampedValue(it, it[1]))
            | batches.ToBatches(size=3)
        )
        checked = batched | beam.Map(
            lambda b, t=beam.DoFn.TimestampParam: (len(b) <= 3, t.micros // 1_000_000 == min(x[1] for x in b))
        )
        assert_that(checked | "ok" >> beam.Filter(lambda c: c != (True, True)), equal_to([]), label="stamped")
        ids = batched | batches.Unbatch() | beam.Map(lambda it: it[0])
        assert_that(ids, equal_to(list(range(20))), label="all")
