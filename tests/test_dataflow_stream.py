"""The Dataflow streaming job's graph (pipelines.dataflow_stream), run on the streaming
DirectRunner against the real Pub/Sub emulator with the local sink in place of BigQuery:
the job archives every message itself, and a rebuild of that archive gives the same
5-minute rows the job wrote live."""

from __future__ import annotations

import time
import uuid

from apache_beam.options.pipeline_options import PipelineOptions

from tests.test_stream_integration import (  # noqa: F401  (pubsub is a fixture)
    FIVE_MIN_COLUMNS,
    accepted_unique,
    archived,
    count,
    pubsub,
    rebuild,
    recent_traffic,
)
from weir.pipelines.dataflow_stream import build_dataflow_stream
from weir.pipelines.local.direct_pubsub import allow_bigger_pulls
from weir.pipelines.local.sink import LocalStreamSink
from weir.pubsub import PubSubNames, ensure_topology
from weir.pubsub.publish import publish
from weir.transforms.counting import local_counts, reset_local_counts
from weir.warehouse.local import LocalWarehouse


def test_dataflow_job_archives_everything_and_equals_its_rebuild(pubsub, tmp_path):  # noqa: F811
    names = PubSubNames(f"weir-test-{uuid.uuid4().hex[:6]}")
    live, rebuilt, root = str(tmp_path / "live"), str(tmp_path / "rebuilt"), str(tmp_path / "archive")
    payloads = recent_traffic(400, seed=47)
    ensure_topology(names)
    allow_bigger_pulls()
    LocalWarehouse(live).ensure_tables()
    options = PipelineOptions(
        [
            "--mode=stream",
            f"--subscription={names.subscription_path()}",
            f"--archive={root}",
            "--archive_window_s=5",
            "--archive_shards=2",
            "--early_s=1",
            "--runner=BundleBasedDirectRunner",
        ]
    )
    reset_local_counts()
    sink = LocalStreamSink(live, "web_analytics")
    result = build_dataflow_stream(options, sink=sink, id_label=None).run()
    try:
        publish(payloads, names, say=lambda _m: None)
        expected = accepted_unique(payloads)
        deadline, last, stable_since = time.monotonic() + 240, None, time.monotonic()
        while time.monotonic() < deadline:
            tally = local_counts()  # the job runs in this process (its DuckDB writer too)
            state = (
                len(archived(root)),
                tally.get("rows_written_events", 0),
                tally.get("rows_written_url_metrics_5m", 0),
            )
            if state != last:
                last, stable_since = state, time.monotonic()
            elif state[0] >= len(payloads) and state[1] >= expected and time.monotonic() - stable_since > 6:
                break
            time.sleep(1)
    finally:
        result.cancel()
        sink.close()  # lands what its writer still holds
    records = archived(root)
    assert sorted(r["payload"] for r in records) == sorted(payloads)  # every message, once
    assert all(r["message_id"] and "ts" in r["attributes"] for r in records)
    assert count(live, "SELECT COUNT(*) FROM events") == expected
    rebuild(rebuilt, f"{root}/*/*/*.avro")
    q = f"SELECT {FIVE_MIN_COLUMNS} FROM url_metrics_5m ORDER BY site, url, bucket_start"
    live_rows = LocalWarehouse(live).query(q).rows
    assert len(live_rows) > 20 and live_rows == LocalWarehouse(rebuilt).query(q).rows
