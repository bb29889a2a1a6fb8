"""The schema files, the registry and the row builders agree: one source of truth."""

from __future__ import annotations

import io

import fastavro
import pytest

from weir import schemas
from weir.pipelines.graph import TABLES
from weir.transforms.enrich import enrich_event
from weir.transforms.metrics import DIMENSIONS, METRICS, metric_columns
from weir.transforms.rows import dead_letter_row, event_row, row_encoder
from weir.transforms.validate import parse_record

METRIC_TABLES = [t for t in TABLES if "metrics" in t]


def test_every_table_the_graph_writes_has_a_schema():
    assert set(TABLES) == set(schemas.tables())


@pytest.mark.parametrize("table", METRIC_TABLES)
def test_metric_columns_follow_the_registry(table):
    spec = schemas.table(table)
    keys = ["site", "url", "bucket_start" if table.endswith("5m") else "bucket_date"]
    if table.startswith("breakdown"):
        keys += ["dimension", "value"]
    assert list(spec.field_names) == keys + metric_columns()


def test_registry_names_are_unique_and_documented():
    names = [m.name for m in METRICS] + [d.name for d in DIMENSIONS]
    assert len(names) == len(set(names))
    assert all(m.description and d.description for m in METRICS for d in DIMENSIONS)


@pytest.mark.parametrize("table", list(schemas.tables()))
def test_partitioning_and_clustering_name_real_columns(table):
    spec = schemas.table(table)
    assert spec.field(spec.partition_field).type in ("TIMESTAMP", "DATE")
    assert all(c in spec.field_names for c in spec.clustering)
    assert spec.expiration_days > 0


def _enriched():
    kind, ev = parse_record(
        {
            "payload": b'{"event_id":"e","action":"pageview","ts":1763596800000,"site":"a.com",'
            b'"url":"https://a.com/","visitor_id":"v","metadata":{"title":"T"}}',
            "received_at": None,
            "source": "t",
            "attributes": {},
        }
    )
    return enrich_event(ev)


def test_event_and_dead_letter_rows_have_exactly_their_columns():
    assert list(event_row(_enriched())) == list(schemas.table("events").field_names)
    _, dead = parse_record({"payload": b"{", "received_at": 5, "source": "t", "attributes": {}})
    assert list(dead_letter_row(dead)) == list(schemas.table("dead_letters").field_names)
    assert row_encoder("events")(event_row(_enriched())).startswith(b'{"event_id":"e"')


def test_archive_schema_round_trips_with_fastavro():
    schema = fastavro.parse_schema(schemas.archive_record_schema())
    buf = io.BytesIO()
    fastavro.writer(buf, schema, [{"payload": b"\xff{", "received_at": 1, "attributes": {"ts": "1"}}])
    buf.seek(0)
    assert list(fastavro.reader(buf)) == [
        {"payload": b"\xff{", "received_at": 1, "attributes": {"ts": "1"}, "message_id": None, "file": None}
    ]
