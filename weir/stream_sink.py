"""The local streaming sink: each bundle's rows land in DuckDB as one upsert per table.

Rows of one bundle are reduced to the last row per key first (a bundle can hold several
accumulating panes of one bucket; the last is the whole bucket so far), written as NDJSON
with the same encoder the rebuild uses, and upserted in one short transaction, so `weir sql`
can read between bundles. Runs inside the `weir stream` process, the warehouse's only writer.
"""

from __future__ import annotations

import os
import uuid

import apache_beam as beam

import schemas
from transforms.counting import counter
from transforms.rows import row_encoder


class _UpsertFn(beam.DoFn):
    def __init__(self, home: str, dataset: str, table: str):
        self._home, self._dataset, self._table = home, dataset, table
        self._written = counter(f"rows_written_{table}")

    def setup(self):
        from weir.warehouse.local import LocalWarehouse

        self._warehouse = LocalWarehouse(self._home, self._dataset)
        self._encode = row_encoder(self._table)
        self._key = schemas.table(self._table).key
        self._dir = os.path.join(self._home, "staging", "stream")
        os.makedirs(self._dir, exist_ok=True)

    def start_bundle(self):
        self._rows: dict = {}

    def process(self, row):
        key = tuple(row[k] for k in self._key) if self._key else len(self._rows)
        self._rows[key] = row

    def finish_bundle(self):
        if not self._rows:
            return
        path = os.path.join(self._dir, f"{self._table}-{uuid.uuid4().hex}.json")
        with open(path, "wb") as fh:
            for row in self._rows.values():
                fh.write(self._encode(row) + b"\n")
        try:
            self._warehouse.upsert(self._table, [path])
            self._written.inc(len(self._rows))
        finally:
            os.remove(path)
        self._rows = {}


class LocalStreamSink:
    """A graph sink for streaming into the local warehouse (see `pipelines.graph.Sink`)."""

    def __init__(self, home: str, dataset: str):
        self.home, self.dataset = home, dataset

    def write(self, table: str) -> beam.PTransform:
        return f"Upsert_{table}" >> beam.ParDo(_UpsertFn(self.home, self.dataset, table))
