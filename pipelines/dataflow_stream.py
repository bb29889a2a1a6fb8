"""Streaming on Dataflow: Pub/Sub -> the graph -> BigQuery, with the job writing the raw archive.

    ReadPubSub (timestamp_attribute="ts", id_label="dedupe_key")
      -> ToArchiveRecord -> Archive (transforms.archive.WriteArchive: hourly Avro files)
                         \\-> ToRawRecord -> the graph (GraphConfig(streaming=True))
    rows -> transforms.bigquery_stream.BigQueryStreamSink (CDC upserts / exactly-once appends)

Differences from the local stream (pipelines.local.stream), and why:
- Dataflow acks a message only after the step that read it is durably checkpointed, so the
  archive can be a step of the job (no archiver on a second subscription).
- `id_label` lets Dataflow drop a publisher's repeats before the graph. It reads the
  `dedupe_key` attribute (weir.pubsub.dedupe_attribute: a digest of site and event_id), not
  `event_id`, so one site's event never suppresses another's; the graph still dedupes by
  (site, event_id) itself (the DirectRunner rejects `id_label`, and a tracker can resend).
- Event time is the `ts` attribute, so Dataflow's watermark follows event time; weir's
  publishers put a time on every message (weir.pubsub.attributes_of). ParseEvents stamps
  elements with the payload's `ts`, the same value for a valid event.
Step names are fixed strings: `--update` of a running job matches steps by name.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions, StandardOptions

from weir.pipelines.graph import build
from weir.pipelines.options import WeirOptions, graph_config, validate
from weir.pubsub import DEDUPE_ATTRIBUTE, TIMESTAMP_ATTRIBUTE
from weir.transforms.archive import WriteArchive, raw_record, record_of_message
from weir.transforms.bigquery_stream import BigQueryStreamSink

ID_LABEL = DEDUPE_ATTRIBUTE  # Dataflow drops a message whose dedupe_key it has seen


class ReadArchivedPubSub(beam.PTransform):
    """Takes the pipeline root; produces PCollection[RawRecord] and archives every message.

    Args:
      archive: a PTransform over archive records (WriteArchive), or None.
      id_label: Dataflow's redelivery dedupe attribute; None on runners without it.
    """

    def __init__(self, subscription: str, archive: beam.PTransform | None, id_label: str | None = ID_LABEL):
        super().__init__()
        self._subscription, self._archive, self._id_label = subscription, archive, id_label

    def expand(self, root):
        source = f"pubsub:{self._subscription.rsplit('/', 1)[-1]}"
        records = (
            root
            | "ReadPubSub"
            >> beam.io.ReadFromPubSub(
                subscription=self._subscription,
                with_attributes=True,
                timestamp_attribute=TIMESTAMP_ATTRIBUTE,
                id_label=self._id_label,
            )
            | "ToArchiveRecord" >> beam.Map(record_of_message)
        )
        if self._archive is not None:
            records | "Archive" >> self._archive
        return records | "ToRawRecord" >> beam.Map(raw_record, source)


def build_dataflow_stream(options: PipelineOptions, sink=None, id_label: str | None = ID_LABEL) -> beam.Pipeline:
    """The streaming job as Dataflow runs it. `sink` defaults to BigQuery in `--project`;
    tests run the same job on the DirectRunner with the local sink and no `id_label`."""
    opts = options.view_as(WeirOptions)
    opts.mode = "stream"  # what this job is, whatever --mode said (pipelines.main dispatches on it)
    validate(opts, remote=True)
    options.view_as(StandardOptions).streaming = True
    if sink is None:
        project = options.view_as(GoogleCloudOptions).project
        if not project:
            raise ValueError("a stream on Dataflow needs --project (the BigQuery tables' project)")
        sink = BigQueryStreamSink(project, opts.dataset)
    pipeline = beam.Pipeline(options=options)
    archive = WriteArchive(opts.archive, opts.archive_window_s, opts.archive_shards)
    build(pipeline, ReadArchivedPubSub(opts.subscription, archive, id_label), sink, graph_config(opts))
    return pipeline


def launch_stream(options: PipelineOptions):
    """Submits the streaming job; returns its PipelineResult without waiting."""
    return build_dataflow_stream(options).run()
