"""Reading the raw archive: file patterns in, `RawRecord`s out.

Uses a match step (`_MatchArchive`: Beam's FileSystems, leaving out the files a compaction of
the local archive replaced) + `ReadMatches` rather than `ReadFromText`/`ReadFromAvro` so the same
reader works in batch and inside a streaming pipeline (the streaming DirectRunner cannot
expand `ReadFromText`), reads local paths and `gs://` alike through Beam's FileSystems, and
knows each record's file (a dead letter names its source). Files are read whole: archive
files are hourly, so splitting inside a file buys nothing.

Formats, by extension: `.avro` holds `schemas/archive_record.avsc` records; anything else
is JSON lines (one event per line; `.gz` and other compressions are detected by Beam).
"""

from __future__ import annotations

from collections.abc import Iterator

import apache_beam as beam
import fastavro
from apache_beam.io import fileio

from weir.transforms.archive import raw_record
from weir.transforms.counting import counter
from weir.transforms.records import RawRecord


def read_avro(path: str, fh) -> Iterator[RawRecord]:
    for rec in fastavro.reader(fh):
        yield raw_record(rec, path)


def read_json_lines(path: str, fh, blank_counter=None) -> Iterator[RawRecord]:
    for line in fh:
        line = line.rstrip(b"\r\n")
        if not line.strip():
            if blank_counter is not None:
                blank_counter.inc()  # a blank line is no record; counted, not dead-lettered
            continue
        yield RawRecord(payload=line, received_at=None, source=path, attributes={})


class _ReadFile(beam.DoFn):
    def __init__(self):
        self.files = counter("files_read")
        self.records = counter("records_read")
        self.blank = counter("blank_lines_skipped")

    def process(self, readable_file) -> Iterator[RawRecord]:
        path = readable_file.metadata.path
        self.files.inc()
        with readable_file.open() as fh:
            reader = read_avro(path, fh) if path.endswith(".avro") else read_json_lines(path, fh, self.blank)
            for record in reader:
                self.records.inc()
                yield record


class _MatchArchive(beam.DoFn):
    """A pattern -> the metadata of every file it matches, less the files a compaction of the
    local archive replaced where its compact file is matched too (transforms.compaction);
    a pattern matching nothing is an error."""

    def process(self, pattern: str):
        from apache_beam.io.filesystems import FileSystems

        from weir.transforms.compaction import without_replaced

        found = FileSystems.match([pattern])[0].metadata_list
        if not found:
            raise ValueError(f"no file matches {pattern}")
        kept = set(without_replaced(m.path for m in found))
        yield from (m for m in found if m.path in kept)


class ReadArchive(beam.PTransform):
    """Takes a pipeline root, produces `PCollection[RawRecord]` from file patterns.

    Args:
      patterns: local paths, globs or `gs://` globs; a pattern matching nothing is an error,
        so a mistyped path is not a silent empty rebuild.
    """

    def __init__(self, patterns: list[str]):
        super().__init__()
        self._patterns = list(patterns)

    def expand(self, root):
        return (
            root
            | "Patterns" >> beam.Create(self._patterns)
            | "Match" >> beam.ParDo(_MatchArchive())
            | "Open" >> fileio.ReadMatches()
            | "ReadRecords" >> beam.ParDo(_ReadFile())
        )
