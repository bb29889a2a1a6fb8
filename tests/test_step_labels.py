"""The Dataflow step labels of both jobs, frozen (issue #15): `--update` of a running streaming
job matches steps by name, so renaming one breaks updates. A change that renames a step
fails here on purpose; if the rename is meant, update the list and say so in the commit
(a running stream then needs a drain and a new job, not an update).

Changed on purpose once, by issue #20 (batches as elements): the stream's steps and their
element types changed (Aggregate/KeyByBucket -> CombineBatch, Combine5m -> Group5m +
Expand5m, new Batches and Dedupe/Rebatch), so a stream running an earlier version is
drained and started again, not updated (docs/operations.md).

Labels two levels deep (weir's composites and their steps; what Beam names inside its own
transforms is Beam's). The stream's graph is built as Dataflow builds it, with a local sink
standing in for BigQuery's, which only adds its own steps under Write_<table>.
"""

from __future__ import annotations

from apache_beam.options.pipeline_options import PipelineOptions

from weir.pipelines.dataflow_stream import build_dataflow_stream
from weir.pipelines.local.sink import LocalStreamSink
from weir.pipelines.rebuild import build_rebuild

STREAM = [
    "Aggregate",
    "Aggregate/CombineBatch",
    "Aggregate/Expand5m",
    "Aggregate/Format5m",
    "Aggregate/Group5m",
    "Aggregate/PreCombine5m",
    "Aggregate/RunningTotals5m",
    "Aggregate/Window5m",
    "AllDeadLetters",
    "Batches",
    "Batches/Batch",
    "DeadLetterRows",
    "Dedupe",
    "Dedupe/FirstSeen",
    "Dedupe/KeyByEventId",
    "Dedupe/Rebatch",
    "Enrich",
    "Enrich/EnrichEvent",
    "EventRows",
    "Parse",
    "Parse/ParseValidate",
    "Read",
    "Read/Archive",
    "Read/ReadPubSub",
    "Read/ToArchiveRecord",
    "Read/ToRawRecord",
    "WatermarkLag",
    "WatermarkLag/OnTimePanes",
    "Write_breakdown_metrics_5m",
    "Write_dead_letters",
    "Write_events",
    "Write_url_metrics_5m",
]

REBUILD = [
    "Aggregate",
    "Aggregate/CombineBatch",
    "Aggregate/ExpandDay",
    "Aggregate/Format1d",
    "Aggregate/Format5m",
    "Aggregate/GroupByDay",
    "Aggregate/KeyByDay",
    "AllDeadLetters",
    "Batches",
    "Batches/Batch",
    "DeadLetterRows",
    "Dedupe",
    "Dedupe/ByPartition",
    "Dedupe/Copies",
    "Dedupe/Emit",
    "Enrich",
    "Enrich/EnrichEvent",
    "EventRows",
    "Ledger",
    "Ledger/AllEntries",
    "Ledger/Counted",
    "Ledger/CountedPerSiteDay",
    "Ledger/Dead",
    "Ledger/DeadPerSiteDay",
    "Ledger/Duplicates",
    "Ledger/DuplicatesPerSiteDay",
    "Ledger/EnrichFailed",
    "Ledger/EnrichFailedPerSiteDay",
    "Ledger/LedgerRows",
    "Ledger/ReceiptDead",
    "Ledger/ReceiptDeadPerSiteDay",
    "Ledger/ReceiptEvents",
    "Ledger/ReceiptEventsPerSiteDay",
    "Ledger/SumPerSiteDay",
    "LedgerBatches",
    "Parse",
    "Parse/ParseValidate",
    "Read",
    "Read/Match",
    "Read/Open",
    "Read/Patterns",
    "Read/ReadRecords",
    "Write_breakdown_metrics_1d",
    "Write_breakdown_metrics_1d/EncodeJson",
    "Write_breakdown_metrics_1d/WriteDayFiles",
    "Write_breakdown_metrics_5m",
    "Write_breakdown_metrics_5m/EncodeJson",
    "Write_breakdown_metrics_5m/WriteDayFiles",
    "Write_dead_letters",
    "Write_dead_letters/EncodeJson",
    "Write_dead_letters/WriteDayFiles",
    "Write_events",
    "Write_events/EncodeJson",
    "Write_events/WriteDayFiles",
    "Write_ledger",
    "Write_ledger/EncodeJson",
    "Write_ledger/WriteDayFiles",
    "Write_url_metrics_1d",
    "Write_url_metrics_1d/EncodeJson",
    "Write_url_metrics_1d/WriteDayFiles",
    "Write_url_metrics_5m",
    "Write_url_metrics_5m/EncodeJson",
    "Write_url_metrics_5m/WriteDayFiles",
]


def labels(pipeline) -> list[str]:
    proto = pipeline.to_runner_api()
    names = {t.unique_name for t in proto.components.transforms.values()}
    return sorted(n for n in names if n.count("/") <= 1 and not n.startswith("ref_"))


def test_the_streaming_jobs_step_labels_are_unchanged(tmp_path):
    options = PipelineOptions(
        ["--subscription=projects/p-roject/subscriptions/events-sub", f"--archive={tmp_path}/archive"]
    )
    sink = LocalStreamSink(str(tmp_path), "web_analytics")
    assert labels(build_dataflow_stream(options, sink=sink, id_label=None)) == STREAM


def test_the_rebuild_jobs_step_labels_are_unchanged(tmp_path):
    assert labels(build_rebuild(PipelineOptions([f"--input={tmp_path}/x.jsonl"]), str(tmp_path / "staging"))) == REBUILD


def test_the_local_stream_is_the_same_graph_built_without_a_process(tmp_path):
    # Issue #15: the local stream could only be tested by starting `weir stream`; its builder
    # returns the Pipeline. Same graph steps as the Dataflow stream, but for the source (the
    # emulator's subscription, and the archive's replay after a restart), no archive step, and
    # the dedupe's local keying (transforms.dedupe). Its reader makes the batches itself
    # (pipelines.local.direct_pubsub.read_batches), so the graph has no Batches step.
    from weir.pipelines.graph import GraphConfig
    from weir.pipelines.local.stream import build_local_stream
    from weir.pubsub import PubSubNames

    replayed = [{"payload": b"{}", "received_at": 1, "source": "replay:x", "attributes": {}}]
    local = labels(
        build_local_stream(
            str(tmp_path), "web_analytics", PubSubNames("weir-local"), GraphConfig(streaming=True), replayed
        )
    )
    assert "Read/Replay" in local and "Read/ReplayAndLive" in local and "Read/Archive" not in local
    shared = {name for name in STREAM if not name.startswith(("Read", "Dedupe/", "Batches"))}
    assert "Batches" not in local and shared <= set(local)
    assert {"Dedupe/KeyByEpoch", "Dedupe/FirstSeenSharded"} <= set(local)
