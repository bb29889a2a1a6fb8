"""The streaming job's own archive writer (WriteArchive, used on Dataflow) on the streaming
DirectRunner: every record lands in exactly one hourly Avro file, late ones included, and
a rebuild reads them back."""

from __future__ import annotations

import glob
import os

import apache_beam as beam
import fastavro
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.runners.direct.direct_runner import BundleBasedDirectRunner
from apache_beam.testing.test_stream import TestStream as EventStream  # not a test class

from weir.transforms.archive import WriteArchive, hour_dir

HOUR = 1_763_596_800_000  # 2025-11-20T00:00Z, an hour start


def msg(i: int, received: int) -> dict:
    payload = b'{"n": %d}' % i
    return {"payload": payload, "received_at": received, "attributes": {"ts": str(received)}, "message_id": f"m{i}"}


def read_all(root: str) -> list[dict]:
    out = []
    for path in sorted(glob.glob(os.path.join(root, "dt=*", "hour=*", "*.avro"))):
        with open(path, "rb") as fh:
            out.extend(fastavro.reader(fh))
    return out


def test_windowed_archive_writes_each_record_once_including_late_ones(tmp_path):
    root = str(tmp_path / "archive")
    first = [msg(i, HOUR + i * 1_000) for i in range(5)]  # window [0, 60 s) of hour 00
    second = [msg(10 + i, HOUR + 3_600_000 + i) for i in range(3)]  # the next hour
    late = msg(99, HOUR + 30_000)  # behind the watermark when it arrives: a late pane
    stream = (
        EventStream()
        .advance_watermark_to(HOUR / 1000)
        .add_elements(first[:3])
        .add_elements(first[3:])
        .add_elements(second)
        .advance_watermark_to(HOUR / 1000 + 120)  # on-time pane of the first window
        .add_elements([late])
        .advance_watermark_to_infinity()
    )
    opts = PipelineOptions()
    opts.view_as(StandardOptions).streaming = True
    with beam.Pipeline(runner=BundleBasedDirectRunner(), options=opts) as p:
        p | stream | WriteArchive(root, window_s=60, shards=1)

    written = read_all(root)
    assert sorted(r["message_id"] for r in written) == sorted(r["message_id"] for r in first + second + [late])
    assert {r["payload"] for r in written} == {r["payload"] for r in first + second + [late]}
    hour00 = glob.glob(os.path.join(hour_dir(root, HOUR), "*.avro"))
    hour01 = glob.glob(os.path.join(hour_dir(root, HOUR + 3_600_000), "*.avro"))
    assert len(hour00) == 2 and len(hour01) == 1  # partitioned by receive hour
    names = sorted(os.path.basename(p) for p in hour00)
    assert names == [f"stream-{HOUR}-000-0000.avro", f"stream-{HOUR}-000-0001.avro"]  # pane 0 on time, pane 1 late


def test_shards_split_a_window_and_names_are_stable(tmp_path):
    root = str(tmp_path / "archive")
    records = [msg(i, HOUR + i) for i in range(40)]
    stream = EventStream().advance_watermark_to(HOUR / 1000).add_elements(records).advance_watermark_to_infinity()
    opts = PipelineOptions()
    opts.view_as(StandardOptions).streaming = True
    with beam.Pipeline(runner=BundleBasedDirectRunner(), options=opts) as p:
        p | stream | WriteArchive(root, window_s=60, shards=4)
    files = sorted(os.path.basename(p) for p in glob.glob(os.path.join(hour_dir(root, HOUR), "*.avro")))
    assert 2 <= len(files) <= 4 and all(f.startswith(f"stream-{HOUR}-00") for f in files)
    assert sorted(r["message_id"] for r in read_all(root)) == sorted(r["message_id"] for r in records)
