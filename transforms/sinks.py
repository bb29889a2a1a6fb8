"""The staged-files sink: table rows -> NDJSON files per (table, partition day).

A rebuild does not write to the warehouse from inside the pipeline. It stages each table's
rows as newline-delimited JSON (BigQuery's load-job encoding), one file set per partition
day, under `<staging>/<table>/<YYYY-MM-DD>-*.json`, and the warehouse commits the staged
days after the pipeline succeeded: BigQuery with one WRITE_TRUNCATE load job per partition,
DuckDB in one transaction (it has a single writer, which must not be a Beam worker). A
failed pipeline therefore changes no table.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.value_provider import StaticValueProvider
from apache_beam.transforms.window import GlobalWindows

from weir.transforms.rows import partition_day, row_encoder

CHUNK_ROWS = 2000  # rows per element handed to the file writer


class _JsonLineSink(fileio.FileSink):
    """Receives (day, encoded JSON lines) pairs from WriteToFiles and writes the lines."""

    def open(self, fh):
        self._fh = fh

    def write(self, record: tuple[str, bytes]):
        self._fh.write(record[1])
        self._fh.write(b"\n")

    def flush(self):
        self._fh.flush()


class _EncodeForDay(beam.DoFn):
    """Row dicts -> (day, up to CHUNK_ROWS JSON lines joined by newlines).

    Chunked because the file writer's own steps (destination, sharding, a grouping by
    shard) cost as much per element as the encoding: profiled, a rebuild spent most of its
    sink time there with one element per row. Batch only: chunks are emitted in the global
    window at the end of each bundle.
    """

    def __init__(self, table: str):
        self._table = table

    def setup(self):
        self._encode = row_encoder(self._table)
        self._day = partition_day(self._table)

    def start_bundle(self):
        self._lines: dict[str, list[bytes]] = {}

    def process(self, row):
        day = self._day(row)
        lines = self._lines.get(day)
        if lines is None:
            lines = self._lines[day] = []
        lines.append(self._encode(row))
        if len(lines) >= CHUNK_ROWS:
            yield day, b"\n".join(lines)
            lines.clear()

    def finish_bundle(self):
        for day, lines in self._lines.items():
            if lines:
                yield GlobalWindows.windowed_value((day, b"\n".join(lines)))
        self._lines = {}


def _destination(item):
    return item[0]


class _WriteTableFiles(beam.PTransform):
    def __init__(self, root: str, table: str, shards: int, written: list):
        super().__init__()
        self._root, self._table, self._shards, self._written = root, table, shards, written

    def expand(self, rows):
        directory = FileSystems.join(self._root, self._table)
        results = (
            rows
            | "EncodeJson" >> beam.ParDo(_EncodeForDay(self._table))
            | "WriteDayFiles"
            >> fileio.WriteToFiles(
                path=directory,
                destination=_destination,
                sink=lambda _dest: _JsonLineSink(),
                file_naming=fileio.destination_prefix_naming(suffix=".json"),
                shards=self._shards,
                temp_directory=StaticValueProvider(str, FileSystems.join(self._root, ".tmp")),
            )
        )
        self._written.append(results)
        return results


class StagedFilesSink:
    """A graph sink: `sink.write(table)` is a PTransform that stages that table's rows.

    Args:
      root: staging directory (local path or gs://), empty or absent before the run.
      shards: files per (table, day); 1 suits a single local worker.
    """

    def __init__(self, root: str, shards: int = 1):
        self.root = root
        self.shards = shards
        self.written: list = []  # each table's WriteToFiles output, for an in-job commit

    def write(self, table: str) -> beam.PTransform:
        return _WriteTableFiles(self.root, table, self.shards, self.written)


def staged_files(root: str) -> dict[str, dict[str, list[str]]]:
    """{table: {day: [file paths]}} of what a run staged under `root`."""
    out: dict[str, dict[str, list[str]]] = {}
    matches = FileSystems.match([FileSystems.join(root, "*", "*.json")])[0].metadata_list
    for meta in matches:
        table_dir, name = meta.path.rsplit("/", 1)
        table = table_dir.rsplit("/", 1)[1]
        out.setdefault(table, {}).setdefault(name[:10], []).append(meta.path)
    return out
