"""The local streaming sink: table rows -> DuckDB upserts, coalesced across bundles and tables.

Every table's sink step hands its bundle's rows to the sink's one writer (`LandingWriter`),
which keeps the latest pane per key and lands what is pending in one transaction on one
connection, at most every `FLUSH_S` seconds; the tables with a row per event
(`PER_EVENT_TABLES`) join a landing only on their own, slower clock. Why not a write per table
per bundle: opening and closing the DuckDB file is most of the cost of a small write
(profiled with py-spy: ~20% of the stream's CPU went to four connections per bundle), and
while a bundle waits on it, the watermark and the live bucket wait too. Rows go to DuckDB as
Arrow tables of the schema a rebuild stages its Parquet in (`transforms.sinks.arrow_schema`),
scanned in place, so `weir sql` (another process) reads the same values as after a rebuild,
between flushes. (They were NDJSON files, encoded here and parsed by DuckDB: measured
landing 4,000 event rows, 25.8 against 22.8 us of CPU per row; the rest of a landing is
DuckDB's own: its open, ~12 ms, and the checkpoint on close.)

Nothing is lost by not writing synchronously: the archive, written before any message is
acked, is the durable record (pipelines.local.archiver); `run_stream` closes the sink when it
stops, which lands what the writer still holds.

Readers never stop the writer: a landing that fails (a `weir sql` holding the
DuckDB file past the lock wait, a full disk) puts its rows back, newer panes winning, and is
retried with backoff for as long as it takes; `health()` says since when it has failed and
why, which the stream's status file and `weir status` show. Giving up instead would leave
the stream accepting events while nothing lands.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid

import apache_beam as beam

from weir import schemas
from weir.transforms.counting import counter
from weir.transforms.sinks import arrow_schema

log = logging.getLogger(__name__)
FLUSH_S = 0.5
FLUSH_COST_RATIO = 3
RETRY_MAX_S = 5.0  # backoff ceiling between failed landings
# Tables with a row per event: at 2,000 events/s their landings cost ~1 s each and grow with
# the table (the upsert's anti-join), so they land on their own slower cadence and the live
# metric rows, a few per URL and bucket, never wait for them (measured: freshness p95 was
# set by landings of 6,000-9,000 event rows every 4-6 s).
PER_EVENT_TABLES = frozenset(schemas.per_event_tables())
REPLAY_SOURCE_PREFIX = "replay:"  # the source of records a restarted stream replays (pipelines.local.stream)

# The writer of each open LocalStreamSink, by the sink's id: the sink's steps are pickled
# copies (Beam serializes DoFns even in-process), so they find their writer here. The sink
# owns the entry: it is made on first use and removed by `LocalStreamSink.close()`.
_OPEN: dict[str, LandingWriter] = {}
_CLOSED: set[str] = set()
_OPEN_LOCK = threading.Lock()


class LandingWriter:
    """Pending rows per table and key, landed together by a background thread."""

    def __init__(self, home: str, dataset: str, flush_s: float = FLUSH_S, lock_wait_s: float | None = None):
        from weir.warehouse.local import LocalWarehouse

        self._warehouse = LocalWarehouse(home, dataset, lock_wait_s=lock_wait_s)
        self._flush_s = flush_s
        self._pending: dict[str, dict] = {}  # table -> key -> (pane index, row)
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()  # one landing at a time, in submission order
        self._wake = threading.Event()
        self._counters = {t: counter(f"rows_written_{t}") for t in schemas.tables()}
        self._schemas = {t: arrow_schema(t) for t in schemas.tables()}
        self.error: BaseException | None = None  # the last failed landing's error, while failing
        self.failing_since: float | None = None  # time.time() of the first failure in a row
        self.failures = 0  # failed landings in a row
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="weir-landing", daemon=True)
        self._thread.start()

    def close(self, timeout_s: float = 30.0) -> None:
        """Stops the background landings, then lands what is pending; raises if that last
        landing fails (the caller says so: the archive still holds those events)."""
        self._closing.set()
        self._wake.set()
        self._thread.join(timeout_s)
        self.flush()

    def submit(self, table: str, rows: dict) -> None:
        """rows: key -> (pane index, row); a key's row is replaced only by a later pane."""
        with self._lock:
            pending = self._pending.setdefault(table, {})
            for key, (index, row) in rows.items():
                old = pending.get(key)
                if old is None or index >= old[0]:
                    pending[key] = (index, row)

    def flush(self, tables: frozenset[str] | None = None) -> dict[str, int]:
        """Lands what is pending now (for `tables` only, when given); returns rows written per
        table."""
        with self._write_lock:
            with self._lock:
                if tables is None:
                    pending, self._pending = self._pending, {}
                else:
                    pending = {t: self._pending.pop(t) for t in tables if t in self._pending}
            pending = {t: rows for t, rows in pending.items() if rows}
            if not pending:
                return {}
            try:
                self._land(pending)
            except BaseException:
                self._restore(pending)
                raise
            for table, rows in pending.items():
                self._counters[table].inc(len(rows))
            return {t: len(rows) for t, rows in pending.items()}

    def _land(self, pending: dict[str, dict]) -> None:
        import pyarrow as pa

        tables = {
            table: [pa.Table.from_pylist([row for _, row in rows.values()], schema=self._schemas[table])]
            for table, rows in pending.items()
        }
        self._warehouse.upsert_many(tables)

    def _restore(self, pending: dict[str, dict]) -> None:
        """Puts the rows of a failed landing back; a row submitted since for the same key is
        a later pane of it and stays."""
        with self._lock:
            for table, rows in pending.items():
                current = self._pending.setdefault(table, {})
                for key, value in rows.items():
                    current.setdefault(key, value)

    def health(self) -> dict:
        """{"landing": "ok"} or, while landings fail, since when, how many, and the last error."""
        if self.failing_since is None:
            return {"landing": "ok"}
        return {
            "landing": "failing",
            "landing_failing_since_ms": int(self.failing_since * 1000),
            "landing_failures": self.failures,
            "landing_error": str(self.error)[:500],
        }

    def _run(self) -> None:
        # A landing costs a connection to the DuckDB file (open, commit, checkpoint on close)
        # whatever it carries; under load, waiting FLUSH_COST_RATIO times as long as the last
        # one took keeps the writer's share of the interpreter bounded (py-spy at 2,000
        # events/s: ~25% of the stream's CPU went to landings every 0.5 s). The per-event
        # tables keep their own, slower clock (PER_EVENT_TABLES).
        wait_s = self._flush_s
        per_event_due = 0.0
        while not self._closing.is_set():
            self._wake.wait(wait_s)
            if self._closing.is_set():
                return  # close() lands the rest
            started = time.monotonic()
            with_per_event = started >= per_event_due
            with self._lock:
                live = frozenset(self._pending) - PER_EVENT_TABLES
            try:
                self.flush(None if with_per_event else live)
            except Exception as exc:  # rows were put back: retry, never give up (module docstring)
                self.failures += 1
                if self.failing_since is None:
                    self.failing_since = time.time()
                    log.warning("landing rows in the local warehouse failed; retrying: %s", exc)
                self.error = exc
                wait_s = min(RETRY_MAX_S, self._flush_s * 2 ** min(self.failures, 8))
                per_event_due = 0.0  # the per-event tables' rows were put back too
                continue
            if self.failing_since is not None:
                log.warning("landing resumed after %d failed attempts", self.failures)
                wait_s = self._flush_s
            self.error, self.failing_since, self.failures = None, None, 0
            cost = time.monotonic() - started
            if with_per_event:
                per_event_due = started + max(self._flush_s, FLUSH_COST_RATIO * cost)
            else:
                wait_s = max(self._flush_s, FLUSH_COST_RATIO * cost)


def _writer_for(sink_id: str, home: str, dataset: str, flush_s: float, lock_wait_s: float | None) -> LandingWriter:
    with _OPEN_LOCK:
        if sink_id in _CLOSED:
            raise RuntimeError("the local stream sink was closed: its pipeline must not run after close()")
        if sink_id not in _OPEN:
            _OPEN[sink_id] = LandingWriter(home, dataset, flush_s, lock_wait_s)
        return _OPEN[sink_id]


class _UpsertFn(beam.DoFn):
    def __init__(self, sink_id: str, home: str, dataset: str, table: str, flush_s: float, lock_wait_s: float | None):
        self._sink = (sink_id, home, dataset, flush_s, lock_wait_s)
        self._table = table

    def setup(self):
        self._writer = _writer_for(*self._sink)
        self._key = schemas.table(self._table).key
        self._replayed = counter("dead_letters_replay_skipped")

    def start_bundle(self):
        self._rows: dict = {}

    def process(self, rows, pane=beam.DoFn.PaneInfoParam):
        """rows: a batch of the table's rows, all of one pane (pipelines.graph)."""
        index, held, key_columns = pane.index, self._rows, self._key
        for row in rows:
            if self._table == "dead_letters" and (row.get("source") or "").startswith(REPLAY_SOURCE_PREFIX):
                self._replayed.inc()  # landed by the run that first read it (pipelines.local.stream.replay_records)
                continue
            key = tuple(row[k] for k in key_columns) if key_columns else (len(held), uuid.uuid4().hex)
            old = held.get(key)
            if old is None or index >= old[0]:
                held[key] = (index, row)

    def finish_bundle(self):
        if self._rows:
            self._writer.submit(self._table, self._rows)
            self._rows = {}


class LocalStreamSink:
    """A graph sink for streaming into the local warehouse (see `pipelines.graph.Sink`).

    The sink owns the one writer its steps hand rows to: made on first use, stopped by
    `close()` (or the end of a `with` block), which lands what is still pending and raises
    if that landing fails. A closed sink's steps refuse to start."""

    def __init__(self, home: str, dataset: str, flush_s: float = FLUSH_S, lock_wait_s: float | None = None):
        self.home, self.dataset = home, dataset
        self._id = uuid.uuid4().hex
        self._settings = (flush_s, lock_wait_s)

    @property
    def writer(self) -> LandingWriter:
        return _writer_for(self._id, self.home, self.dataset, *self._settings)

    def write(self, table: str) -> beam.PTransform:
        upsert = _UpsertFn(self._id, self.home, self.dataset, table, *self._settings)
        return f"Upsert_{table}" >> beam.ParDo(upsert)

    def close(self) -> None:
        with _OPEN_LOCK:
            writer = _OPEN.pop(self._id, None)
            _CLOSED.add(self._id)
        if writer is not None:
            writer.close()

    def __enter__(self) -> LocalStreamSink:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
