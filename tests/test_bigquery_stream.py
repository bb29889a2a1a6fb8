"""The Dataflow stream's BigQuery sink, without Dataflow: every row the graph makes for a
streamed table converts to the Beam Row that Beam's Storage Write transform would encode
(checked by encoding and decoding it with that Row's coder), and CDC sequence numbers
order a bucket's panes."""

from __future__ import annotations

import apache_beam as beam
import numpy as np
from apache_beam.coders import RowCoder
from apache_beam.io.gcp import bigquery_tools
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.runners.direct.direct_runner import BundleBasedDirectRunner
from apache_beam.testing.test_stream import TestStream as EventStream  # not a test class
from apache_beam.testing.util import assert_that
from apache_beam.typehints.row_type import RowTypeConstraint

from tests.test_streaming_graph import T0, rec
from weir import schemas
from weir.pipelines.graph import GraphConfig, build, table_rows
from weir.transforms.bigquery_stream import (
    APPEND_TABLES,
    UPSERT_TABLES,
    _ToCdcElement,
    cdc_schema,
    change_sequence_number,
    storage_row,
    storage_schema,
)


def round_trip(element: dict, schema: dict):
    """What the transform does to a dict element: to a Beam Row typed by the schema, encoded."""
    table_schema = bigquery_tools.get_bq_tableschema(schema)
    row = bigquery_tools.beam_row_from_dict(dict(element), table_schema)
    hints = RowTypeConstraint.from_fields(bigquery_tools.get_beam_typehints_from_tableschema(table_schema))
    coder = RowCoder.from_type_hint(hints, None)
    return coder.decode(coder.encode(row))


def _same(a, b) -> bool:
    if isinstance(a, np.integer):
        a = int(a)
    return list(a) == list(b) if isinstance(b, list) else a == b


def check_rows(table: str):
    spec = schemas.table(table)

    def check(rows):
        if not rows:
            raise AssertionError(f"no {table} rows")
        for row in rows:
            if table in UPSERT_TABLES:
                element = {"row_mutation_info": {"mutation_type": "UPSERT", "change_sequence_number": "0/1"}}
                element["record"] = storage_row(row, spec)
                decoded = round_trip(element, cdc_schema(spec)).record
            else:
                decoded = round_trip(storage_row(row, spec), storage_schema(spec))
            for f in spec.fields:
                got, want = getattr(decoded, f.name), row.get(f.name)
                if f.type == "TIMESTAMP" and want is not None:
                    want = want * 1000
                    got = got.micros
                if want is None and f.repeated:
                    want = []
                if not _same(got, want):
                    raise AssertionError(f"{table}.{f.name}: {got!r} != {want!r}")

    return check


def test_streamed_tables_encode_as_storage_write_rows():
    opts = PipelineOptions()
    opts.view_as(StandardOptions).streaming = True
    records = [rec("a", T0 + 1_000, T0 + 1_100), rec("b", T0 + 2_000, T0 + 2_100, "v2", action="heartbeat")]
    bad = {"payload": b"{not json", "received_at": T0 + 3_000, "source": "t", "attributes": {}}
    stream = EventStream().advance_watermark_to(T0 / 1000).add_elements(records + [bad]).advance_watermark_to_infinity()
    with beam.Pipeline(runner=BundleBasedDirectRunner(), options=opts) as p:
        out = table_rows(build(p, stream, None, GraphConfig(streaming=True)))
        for table in UPSERT_TABLES + APPEND_TABLES:
            assert_that(out[table], check_rows(table), label=f"encode_{table}")


class _Seq(beam.DoFn):
    def process(self, element, pane=beam.DoFn.PaneInfoParam):
        rec_ = element["record"]
        yield (pane.index, rec_["url"], element["row_mutation_info"]["change_sequence_number"])


def test_cdc_sequence_numbers_follow_pane_order():
    opts = PipelineOptions()
    opts.view_as(StandardOptions).streaming = True
    stream = (
        EventStream()
        .advance_watermark_to(T0 / 1000)
        .add_elements([rec("a", T0 + 1_000, T0 + 1_100)])
        .advance_processing_time(10)  # early pane
        .add_elements([rec("b", T0 + 2_000, T0 + 2_100, "v2")])
        .advance_watermark_to(T0 / 1000 + 301)  # on-time pane
        .add_elements([rec("c", T0 + 3_000, T0 + 400_000, "v3")])  # late pane
        .advance_watermark_to_infinity()
    )
    with beam.Pipeline(runner=BundleBasedDirectRunner(), options=opts) as p:
        out = build(p, stream, None, GraphConfig(streaming=True, allowed_lateness_s=600, early_s=5))
        seqs = out["url_metrics_5m"] | beam.ParDo(_ToCdcElement("url_metrics_5m")) | beam.ParDo(_Seq())  # batches

        def ordered(items):
            items = sorted(items)
            assert [i for i, _, _ in items] == [0, 1, 2], items
            keys = [tuple(int(part, 16) for part in s.split("/")) for _, _, s in items]
            assert keys == sorted(keys) and len(set(keys)) == 3, keys  # BigQuery keeps the last pane

        assert_that(seqs, ordered)


def test_sequence_number_compares_pane_first():
    # a later pane wins even when its firing clock reads earlier (another worker's clock)
    older, newer = change_sequence_number(1, 2_000), change_sequence_number(2, 1_000)
    as_key = lambda s: tuple(int(p, 16) for p in s.split("/"))  # noqa: E731
    assert as_key(newer) > as_key(older)
