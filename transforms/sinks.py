"""The staged-files sink: table rows -> files per (table, partition day).

A rebuild does not write to the warehouse from inside the pipeline. It stages each table's
rows, one file set per partition day, under `<staging>/<table>/<YYYY-MM-DD>-*.<format>`, and
the warehouse commits the staged days after the pipeline succeeded: BigQuery with one
WRITE_TRUNCATE load job per partition, DuckDB in one transaction (it has a single writer,
which must not be a Beam worker). A failed pipeline therefore changes no table.

Two formats, the warehouse's choice (`Warehouse.staging_format`):
- "ndjson": newline-delimited JSON, BigQuery's load-job encoding (TIMESTAMP as text, BYTES
  as base64).
- "parquet": Arrow columns written as Parquet (TIMESTAMP as int ms with zone UTC, BYTES as
  bytes, DATE as its "YYYY-MM-DD" text), which DuckDB reads without parsing: measured at
  100,000 events, encoding and loading took about a fifth of the rebuild as JSON
  (docs/performance.md). tests/test_staging_formats.py checks both give identical tables.
"""

from __future__ import annotations

import io
from itertools import chain

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.value_provider import StaticValueProvider
from apache_beam.transforms.window import GlobalWindows

from weir import schemas
from weir.transforms.rows import RowBatch, partition_column, partition_day, row_encoder

CHUNK_ROWS = 2000  # rows per element handed to the file writer
PARQUET_CHUNK_ROWS = 2000  # rows per Arrow batch (a Parquet row group)
FORMATS = {"ndjson": ".json", "parquet": ".parquet"}


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
    """Batches of rows -> (day, up to CHUNK_ROWS JSON lines joined by newlines).

    Chunked because the file writer's own steps (destination, sharding, a grouping by
    shard) cost as much per element as the encoding: profiled, a rebuild spent most of its
    sink time there with one element per row. Batch only: chunks are emitted in the global
    window at the end of each bundle. A batch is a list of row dicts or a `RowBatch` (which
    iterates as row dicts; `_ArrowForDay` takes its columns whole).
    """

    CHUNK = CHUNK_ROWS

    def __init__(self, table: str):
        self._table = table

    def setup(self):
        self._encode = row_encoder(self._table)
        self._day = partition_day(self._table)

    def start_bundle(self):
        self._held: dict[str, list] = {}  # day -> [items, rows they hold]

    def _item(self, row: dict):
        """What a chunk holds of one row (here its JSON line)."""
        return self._encode(row)

    def _chunk(self, items: list) -> bytes:
        """One element for the file writer, of up to CHUNK rows' items."""
        return b"\n".join(items)

    def _add(self, day: str, item, rows: int):
        held = self._held.get(day)
        if held is None:
            held = self._held[day] = [[], 0]
        held[0].append(item)
        held[1] += rows
        if held[1] >= self.CHUNK:
            yield day, self._chunk(held[0])
            held[0], held[1] = [], 0

    def process(self, rows):
        for row in rows:
            yield from self._add(self._day(row), self._item(row), 1)

    def finish_bundle(self):
        for day, (items, _) in self._held.items():
            if items:
                yield GlobalWindows.windowed_value((day, self._chunk(items)))
        self._held = {}


def arrow_schema(table: str):
    """The Arrow schema rows of `table` are staged in as Parquet (see the module docstring)."""
    import pyarrow as pa

    types = {
        "STRING": pa.string(),
        "JSON": pa.string(),
        "DATE": pa.string(),  # cast to DATE by the load
        "INT64": pa.int64(),
        "INTEGER": pa.int64(),
        "FLOAT64": pa.float64(),
        "BOOL": pa.bool_(),
        "BOOLEAN": pa.bool_(),
        "TIMESTAMP": pa.timestamp("ms", tz="UTC"),
        "BYTES": pa.binary(),
    }
    return pa.schema(
        [(f.name, pa.list_(types[f.type]) if f.repeated else types[f.type]) for f in schemas.table(table).fields]
    )


class _ParquetSink(fileio.FileSink):
    """Receives (day, Arrow IPC stream bytes) pairs and writes them as one Parquet file."""

    def open(self, fh):
        self._fh, self._writer = fh, None

    def write(self, record: tuple[str, bytes]):
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.ipc.open_stream(record[1]).read_all()
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._fh, table.schema)
        self._writer.write_table(table)

    def flush(self):
        if self._writer is not None:
            self._writer.close()  # writes the footer; the file handle stays the runner's
            self._writer = None


class _ArrowForDay(_EncodeForDay):
    """Batches of rows -> (day, up to PARQUET_CHUNK_ROWS rows as one Arrow IPC stream).

    A chunk's items are row dicts and whole `RowBatch`es of one day (a metric group's rows
    share their bucket); a RowBatch's columns go into the Arrow table without a dict per row.
    """

    CHUNK = PARQUET_CHUNK_ROWS

    def setup(self):
        self._schema = arrow_schema(self._table)
        self._day = partition_day(self._table)
        self._partition, self._day_of = partition_column(self._table)

    def _item(self, row: dict) -> dict:
        return row

    def process(self, rows):
        if type(rows) is RowBatch:
            days = rows.columns.get(self._partition)
            if days and days.count(days[0]) == len(days):  # one partition: the batch goes whole
                yield from self._add(self._day_of(days[0]), rows, len(rows))
                return
        yield from super().process(rows)

    def _chunk(self, items: list) -> bytes:
        import pyarrow as pa

        dicts = [item for item in items if type(item) is not RowBatch]
        batches = [item for item in items if type(item) is RowBatch]
        tables = []
        if dicts:  # the schema's columns only, in C++
            tables.append(pa.Table.from_pylist(dicts, schema=self._schema))
        if batches:
            columns = {
                name: list(chain.from_iterable(b.columns.get(name) or [None] * b.length for b in batches))
                for name in self._schema.names
            }
            tables.append(pa.Table.from_pydict(columns, schema=self._schema))
        table = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
        out = io.BytesIO()
        with pa.ipc.new_stream(out, self._schema) as writer:
            writer.write_table(table)
        return out.getvalue()


def _destination(item):
    return item[0]


class _WriteTableFiles(beam.PTransform):
    def __init__(self, root: str, table: str, shards: int, written: list, fmt: str):
        super().__init__()
        self._root, self._table, self._shards, self._written, self._fmt = root, table, shards, written, fmt

    def expand(self, rows):
        directory = FileSystems.join(self._root, self._table)
        if self._fmt == "parquet":
            encoded = rows | "EncodeArrow" >> beam.ParDo(_ArrowForDay(self._table))
            sink = _ParquetSink
        else:
            encoded = rows | "EncodeJson" >> beam.ParDo(_EncodeForDay(self._table))
            sink = _JsonLineSink
        results = encoded | "WriteDayFiles" >> fileio.WriteToFiles(
            path=directory,
            destination=_destination,
            sink=lambda _dest: sink(),
            file_naming=fileio.destination_prefix_naming(suffix=FORMATS[self._fmt]),
            shards=self._shards,
            temp_directory=StaticValueProvider(str, FileSystems.join(self._root, ".tmp")),
        )
        self._written.append(results)
        return results


class StagedFilesSink:
    """A graph sink: `sink.write(table)` is a PTransform that stages that table's batches of
    rows.

    Args:
      root: staging directory (local path or gs://), empty or absent before the run.
      shards: files per (table, day); 1 suits a single local worker.
      fmt: "ndjson" or "parquet" (see the module docstring).
    """

    def __init__(self, root: str, shards: int = 1, fmt: str = "ndjson"):
        if fmt not in FORMATS:
            raise ValueError(f"staging format must be one of {', '.join(FORMATS)}, not {fmt!r}")
        self.root = root
        self.shards = shards
        self.fmt = fmt
        self.written: list = []  # each table's WriteToFiles output, for an in-job commit

    def write(self, table: str) -> beam.PTransform:
        return _WriteTableFiles(self.root, table, self.shards, self.written, self.fmt)


def staged_files(root: str) -> dict[str, dict[str, list[str]]]:
    """{table: {day: [file paths]}} of what a run staged under `root` (either format)."""
    out: dict[str, dict[str, list[str]]] = {}
    patterns = [FileSystems.join(root, "*", "*" + suffix) for suffix in FORMATS.values()]
    matches = [meta for result in FileSystems.match(patterns) for meta in result.metadata_list]
    for meta in matches:
        table_dir, name = meta.path.rsplit("/", 1)
        table = table_dir.rsplit("/", 1)[1]
        out.setdefault(table, {}).setdefault(name[:10], []).append(meta.path)
    return out


def staged_rows(paths: list[str]) -> int:
    """How many rows staged files hold (either format; Parquet from its footer)."""
    rows = 0
    for path in paths:
        with FileSystems.open(path) as fh:
            if path.endswith(".parquet"):
                import pyarrow.parquet as pq

                rows += pq.ParquetFile(fh).metadata.num_rows
            else:
                rows += sum(1 for line in fh if line.strip())
    return rows


def staged_records(paths: list[str], columns: tuple[str, ...]) -> list[tuple]:
    """The values of `columns` in every row of staged files (either format), as tuples: for
    small tables the launcher reads back (the ledger's site and day of each row)."""
    import orjson

    out: list[tuple] = []
    for path in paths:
        with FileSystems.open(path) as fh:
            if path.endswith(".parquet"):
                import pyarrow.parquet as pq

                table = pq.read_table(fh, columns=list(columns))
                out.extend(zip(*(table.column(c).to_pylist() for c in columns), strict=True))
            else:
                for line in fh:
                    if line.strip():
                        row = orjson.loads(line)
                        out.append(tuple(row.get(c) for c in columns))
    return out
