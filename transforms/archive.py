"""The raw archive's layout and file format: hourly Avro files of `archive_record.avsc` records.

    <root>/dt=YYYY-MM-DD/hour=HH/<name>.avro      (partitioned by receive time, UTC)

One writer for every producer of archive files (the local archiver, generated demo days),
so `weir rebuild --input '<root>/dt=D/*/*.avro'` reads them all the same way.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterable

import apache_beam as beam
import fastavro
from apache_beam.io.filesystems import FileSystems

from weir import schemas
from weir.transforms.privacy import redact_ip
from weir.transforms.records import RawRecord
from weir.transforms.timeutil import day_str

_PARSED = None


def _schema():
    global _PARSED
    if _PARSED is None:
        _PARSED = fastavro.parse_schema(schemas.archive_record_schema())
    return _PARSED


def record_of_message(message, now_ms: int | None = None) -> dict:
    """A Pub/Sub message (Beam's PubsubMessage, or the client library's, wrapped or as its raw
    protobuf) -> an archive record.
    Receive time is the publish time; where a runner leaves it out, `now_ms` (read time).
    Any "ip" member of the payload is redacted (transforms.privacy)."""
    published = message.publish_time
    if hasattr(published, "ToMilliseconds"):  # a raw protobuf message (the archiver's fast path)
        received = published.ToMilliseconds()
    elif published is not None:
        received = int(published.timestamp() * 1000)
    else:
        received = now_ms if now_ms is not None else int(time.time() * 1000)
    return {
        "payload": redact_ip(message.data or b""),  # never archived or streamed with a client IP
        "received_at": received,
        "attributes": dict(message.attributes or {}),
        "message_id": message.message_id or None,
    }


def raw_record(record: dict, source: str) -> RawRecord:
    """An archive record (read back, or just made from a message) -> the graph's RawRecord.
    A compacted record's source is the file it was first written to (its `file`), beside
    the compact file, so a dead letter names the same source before and after compaction."""
    first_file = record.get("file")
    if first_file:
        source = f"{source.rsplit('/', 1)[0]}/{first_file}" if "/" in source else first_file
    return RawRecord(
        payload=record["payload"],
        received_at=record["received_at"],
        source=source,
        attributes=record.get("attributes") or {},
    )


def raw_records_of_messages(messages, source: str) -> list[RawRecord]:
    """Raw protobuf Pub/Sub messages -> the graph's RawRecords, each what
    `raw_record(record_of_message(message), source)` makes, in one step and no record in
    between (the local stream's reader makes one per message it pulls)."""
    return [
        {
            "payload": redact_ip(m.data),
            "received_at": m.publish_time.ToMilliseconds(),
            "source": source,
            "attributes": dict(m.attributes),
        }
        for m in messages
    ]


def day_dir(root: str, day: str) -> str:
    """The archive's folder of one UTC receive day (YYYY-MM-DD): root/dt=DAY."""
    return FileSystems.join(root, f"dt={day}")


def hour_dir(root: str, received_ms: int) -> str:
    """The archive's folder of the receive hour of `received_ms`: root/dt=DAY/hour=HH."""
    return FileSystems.join(day_dir(root, day_str(received_ms)), f"hour={(received_ms // 3_600_000) % 24:02d}")


def write_archive_file(path: str, records: Iterable[dict]) -> None:
    """Writes one Avro file at once (local or gs://); a reader never sees it half written:
    locally it is written under a temporary name and renamed, on GCS an object appears whole."""
    buf = io.BytesIO()
    fastavro.writer(buf, _schema(), list(records), codec="deflate")
    data = buf.getvalue()
    if path.startswith("gs://"):
        # A retried write of the same pane finds its file already whole (GCS objects appear
        # whole) and leaves it: the archive's writer may create and read objects, never
        # overwrite or delete them (terraform/main.tf), so the raw data cannot be lost.
        if FileSystems.exists(path):
            return
        with FileSystems.create(path) as fh:
            fh.write(data)
        return
    import os

    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{uuid.uuid4().hex[:8]}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())  # archived before acked: it must survive a crash of this process
    os.replace(tmp, path)


def archive_records(root: str, records: list[dict], prefix: str = "part") -> list[str]:
    """Writes records (each with `received_at` ms) into their hour directories; returns the paths."""
    by_hour: dict[int, list[dict]] = {}
    for rec in records:  # the hour's folder is named once per hour, not per record (profiled: ~9% of the stream)
        by_hour.setdefault(rec["received_at"] // 3_600_000, []).append(rec)
    paths = []
    for hour, recs in sorted(by_hour.items()):
        first = min(r["received_at"] for r in recs)
        path = FileSystems.join(hour_dir(root, hour * 3_600_000), f"{prefix}-{first}-{uuid.uuid4().hex[:8]}.avro")
        write_archive_file(path, recs)
        paths.append(path)
    return paths


class _WriteWindowFile(beam.DoFn):
    """(hour directory, shard), records of one pane -> one Avro file; yields its path.

    The name is fixed by (window start, shard, pane index): a retried bundle rewrites the
    same file with the same records (a grouped pane's content is fixed once it fired), so
    a retry never archives a message twice; on GCS it finds the file there and keeps it.
    """

    def process(self, item, window=beam.DoFn.WindowParam, pane=beam.DoFn.PaneInfoParam):
        (directory, shard), records = item
        records = sorted(records, key=lambda r: (r["received_at"], r.get("message_id") or "", r["payload"]))
        start_ms = int(window.start.micros // 1000)
        path = FileSystems.join(directory, f"stream-{start_ms}-{shard:03d}-{pane.index:04d}.avro")
        write_archive_file(path, records)
        yield path


class WriteArchive(beam.PTransform):
    """PCollection[archive record dict] -> hourly Avro files under `root`; PCollection[path].

    The streaming job's archive (on Dataflow, where a message is acked only once the step
    that consumed it is checkpointed, so what was read is what gets written). Records are
    re-stamped with their receive time and grouped in `window_s` windows of it, per hour
    directory and shard: an on-time pane when the watermark passes the window, early panes
    when a window grows large or old, and a pane per late straggler; panes discard, so each
    record lands in exactly one file. Allowed lateness is a day: a record whose receive
    time is behind the watermark (a client clock ahead of time) is still written.
    """

    def __init__(self, root: str, window_s: int = 300, shards: int = 8, early_count: int = 50_000):
        super().__init__()
        self._root, self._window_s, self._shards, self._early_count = root, window_s, shards, early_count

    def expand(self, records):
        from apache_beam.transforms import trigger, window
        from apache_beam.utils.timestamp import Duration

        root, shards = self._root, self._shards
        early = trigger.AfterAny(trigger.AfterCount(self._early_count), trigger.AfterProcessingTime(self._window_s))
        return (
            records
            | "ByReceiveTime" >> beam.Map(lambda r: window.TimestampedValue(r, r["received_at"] / 1000.0))
            | "ArchiveWindows"
            >> beam.WindowInto(
                window.FixedWindows(self._window_s),
                # A late pane per late record: they are rare (a receive time behind the
                # watermark), and a processing-time late trigger would leave the last ones
                # waiting on a timer when the runner shuts down.
                trigger=trigger.AfterWatermark(early=early, late=trigger.AfterCount(1)),
                accumulation_mode=trigger.AccumulationMode.DISCARDING,
                allowed_lateness=Duration(seconds=86_400),
            )
            | "KeyByHourShard" >> beam.Map(lambda r: ((hour_dir(root, r["received_at"]), _shard(r, shards)), r))
            | "GroupPanes" >> beam.GroupByKey()
            | "WriteAvro" >> beam.ParDo(_WriteWindowFile())
        )


def _shard(record: dict, shards: int) -> int:
    # A stable hash (Python's hash() of str differs between worker processes).
    import zlib

    if shards <= 1:
        return 0
    message_id = record.get("message_id")
    return zlib.crc32(message_id.encode() if message_id else record["payload"]) % shards
