"""The streaming job's BigQuery sink (Dataflow): table rows -> the BigQuery Storage Write API.

Which mechanism per table (landing each pane idempotently):
- Keyed live tables (`url_metrics_5m`, `breakdown_metrics_5m`): CDC upserts. Each pane's row
  goes out with `row_mutation_info` (UPSERT, change sequence number) to a table whose
  primary key is its `key` in schemas/tables.json (Terraform declares it, with
  `max_staleness`), so BigQuery keeps exactly one row per key, the latest pane's: a query
  never sees a bucket twice or a sum of panes. The sequence number is
  `<pane index>/<firing time ms>` in hex: panes of one window and key fire in index order, so
  a redelivered older pane can never overwrite a newer one; the firing time only breaks the
  tie of one pane written twice.
- Append-only tables (`events`, `dead_letters`): exactly-once Storage Write API appends.

Rows arrive with weir's native values (TIMESTAMP as int ms, BYTES as bytes); `storage_row`
converts them to what Beam's cross-language Storage Write transform encodes, and
`storage_schema` gives the schema in the type names Beam's converter knows.

This runs on Dataflow only: Beam's Storage Write API transform is a Java transform whose
expansion service jar is fetched when the pipeline is built, which this offline machine
cannot do. The conversion functions are tested here by encoding rows exactly as the
transform would (tests/test_bigquery_stream.py).
"""

from __future__ import annotations

import time
from typing import Any

import apache_beam as beam
from apache_beam.utils.timestamp import Timestamp

from weir import schemas

UPSERT_TABLES = schemas.metric_tables("5m")  # the live buckets: a later pane replaces a row
APPEND_TABLES = schemas.per_event_tables()  # a row per event, appended once
COMMIT_EVERY_S = 5  # exactly-once appends commit their streams this often

# Beam's dict -> Row converter knows BigQuery's legacy type names.
_BEAM_TYPE_NAMES = {"INT64": "INTEGER", "BOOL": "BOOLEAN", "FLOAT64": "FLOAT"}


def storage_schema(spec: schemas.TableSpec) -> dict:
    """The table's schema for WriteToBigQuery(method=STORAGE_WRITE_API)."""
    return {
        "fields": [{"name": f.name, "type": _BEAM_TYPE_NAMES.get(f.type, f.type), "mode": f.mode} for f in spec.fields]
    }


def cdc_schema(spec: schemas.TableSpec) -> dict:
    """The element schema of a CDC write: the row as `record`, plus `row_mutation_info`."""
    info = [
        {"name": "mutation_type", "type": "STRING", "mode": "REQUIRED"},
        {"name": "change_sequence_number", "type": "STRING", "mode": "REQUIRED"},
    ]
    return {
        "fields": [
            {"name": "row_mutation_info", "type": "STRUCT", "mode": "NULLABLE", "fields": info},
            {"name": "record", "type": "STRUCT", "mode": "NULLABLE", "fields": storage_schema(spec)["fields"]},
        ]
    }


def storage_row(row: dict[str, Any], spec: schemas.TableSpec) -> dict[str, Any]:
    """A native row -> the values Beam's Storage Write conversion expects, per column type."""
    out = {}
    for f in spec.fields:
        value = row.get(f.name)
        if value is not None and f.type == "TIMESTAMP":
            value = Timestamp(micros=int(value) * 1000)
        elif value is None and f.repeated:
            value = []
        out[f.name] = value
    return out


def change_sequence_number(pane_index: int, firing_ms: int) -> str:
    """BigQuery's _CHANGE_SEQUENCE_NUMBER: hex sections compared left to right."""
    return f"{pane_index:X}/{firing_ms:X}"


class _ToCdcElement(beam.DoFn):
    def __init__(self, table: str):
        self._table = table

    def setup(self):
        self._spec = schemas.table(self._table)

    def process(self, rows, pane=beam.DoFn.PaneInfoParam):
        """rows: a batch of the table's rows, all of one pane (pipelines.graph)."""
        sequence = change_sequence_number(pane.index, int(time.time() * 1000))
        for row in rows:
            yield {
                "row_mutation_info": {"mutation_type": "UPSERT", "change_sequence_number": sequence},
                "record": storage_row(row, self._spec),
            }


class _ToStorageRow(beam.DoFn):
    def __init__(self, table: str):
        self._table = table

    def setup(self):
        self._spec = schemas.table(self._table)

    def process(self, rows):
        for row in rows:
            yield storage_row(row, self._spec)


class BigQueryStreamSink:
    """A graph sink (see `pipelines.graph.Sink`) writing to `project:dataset` tables that exist
    (created by Terraform or `weir init --project`)."""

    def __init__(self, project: str, dataset: str):
        self.project, self.dataset = project, dataset

    def write(self, table: str) -> beam.PTransform:
        if table not in UPSERT_TABLES + APPEND_TABLES:
            raise ValueError(f"the stream does not write {table!r}")
        return _StorageWrite(f"{self.project}:{self.dataset}.{table}", table)


class _StorageWrite(beam.PTransform):
    def __init__(self, destination: str, table: str):
        super().__init__()
        self._destination, self._table = destination, table

    def expand(self, rows):
        spec = schemas.table(self._table)
        common = dict(
            table=self._destination,
            method=beam.io.WriteToBigQuery.Method.STORAGE_WRITE_API,
            create_disposition=beam.io.BigQueryDisposition.CREATE_NEVER,
            write_disposition=beam.io.BigQueryDisposition.WRITE_APPEND,
        )
        if self._table in UPSERT_TABLES:
            return (
                rows
                | "ToCdcElement" >> beam.ParDo(_ToCdcElement(self._table))
                | "StorageWrite"
                >> beam.io.WriteToBigQuery(
                    schema=cdc_schema(spec),
                    use_at_least_once=True,  # CDC requires it; the sequence numbers make it exact
                    use_cdc_writes=True,
                    primary_key=list(spec.key),
                    **common,
                )
            )
        return (
            rows
            | "ToStorageRow" >> beam.ParDo(_ToStorageRow(self._table))
            | "StorageWrite"
            >> beam.io.WriteToBigQuery(schema=storage_schema(spec), triggering_frequency=COMMIT_EVERY_S, **common)
        )
