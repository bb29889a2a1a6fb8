"""The local streaming sink's writer: what lands when (pipelines.local.sink.LandingWriter)."""

from __future__ import annotations

import time

import duckdb
import pytest

from weir.pipelines.local.sink import PER_EVENT_TABLES, LandingWriter
from weir.warehouse.local import LocalWarehouse

BUCKET = 1_763_596_800_000  # 2025-11-20T00:00:00Z


def metric_row(pageviews: int) -> dict:
    return {"site": "s.example", "url": "https://s.example/a", "bucket_start": BUCKET, "pageviews": pageviews}


def event_row(event_id: str) -> dict:
    return {"event_id": event_id, "action": "pageview", "event_ts": BUCKET, "received_at": BUCKET, "site": "s.example"}


def count(home: str, table: str) -> int:
    # In one process DuckDB refuses a read-only connection while the writer's thread holds a
    # read-write one (another process would wait on the file lock instead): try again.
    for _ in range(100):
        try:
            return LocalWarehouse(home).query(f"SELECT COUNT(*) FROM {table}").rows[0][0]
        except duckdb.ConnectionException:
            time.sleep(0.02)
    raise AssertionError("the warehouse stayed busy")


@pytest.fixture
def writer(tmp_path):
    # A flush period far longer than the test: only explicit flushes land anything.
    w = LandingWriter(str(tmp_path), "web_analytics", flush_s=3600)
    LocalWarehouse(str(tmp_path)).ensure_tables()
    return w


def test_flush_of_some_tables_leaves_the_others_pending(writer, tmp_path):
    home = str(tmp_path)
    writer.submit("url_metrics_5m", {("k",): (0, metric_row(3))})
    writer.submit("events", {("e1",): (0, event_row("e1")), ("e2",): (0, event_row("e2"))})

    assert writer.flush(frozenset({"url_metrics_5m"})) == {"url_metrics_5m": 1}
    assert count(home, "url_metrics_5m") == 1
    assert count(home, "events") == 0

    writer.submit("url_metrics_5m", {("k",): (1, metric_row(5))})  # a later pane replaces the row
    assert writer.flush() == {"url_metrics_5m": 1, "events": 2}
    assert LocalWarehouse(home).query("SELECT pageviews FROM url_metrics_5m").rows == [(5,)]
    assert count(home, "events") == 2


def test_an_event_landed_again_replaces_itself_and_an_id_reused_later_is_kept(writer, tmp_path):
    """Landings delete the incoming keys within the incoming rows' span of event time: a
    replayed copy (same ts) replaces its row; an event_id reused at another time is a second
    row, as the stream counted it (the rebuild de-duplicates by identity alone)."""
    home = str(tmp_path)
    old = {**event_row("e1"), "event_ts": BUCKET - 86_400_000}  # a day earlier
    writer.submit("events", {("e1", 0): (0, old)})
    writer.flush()
    writer.submit("events", {("e1", 1): (0, event_row("e1")), ("e2",): (0, event_row("e2"))})
    writer.flush()
    writer.submit("events", {("e1", 1): (0, {**event_row("e1"), "action": "heartbeat"})})  # replayed, changed
    writer.flush()
    rows = LocalWarehouse(home).query("SELECT event_id, action, event_ts FROM events ORDER BY 3, 1").rows
    assert [(r[0], r[1]) for r in rows] == [("e1", "pageview"), ("e1", "heartbeat"), ("e2", "pageview")]


class _TimedWriter(LandingWriter):
    """Records which tables each background landing was asked for; a landing takes `cost` s."""

    def __init__(self, home: str, cost: float, flush_s: float):
        self.calls: list[tuple[float, frozenset | None]] = []
        self._cost = cost
        super().__init__(home, "web_analytics", flush_s=flush_s)

    def flush(self, tables=None):
        started = time.monotonic()
        with self._lock:
            for table in list(self._pending) if tables is None else tables:
                self._pending.pop(table, None)
        time.sleep(self._cost)
        self.calls.append((started, tables))
        return {}


def test_per_event_tables_land_on_their_own_slower_clock(tmp_path):
    cost, flush_s = 0.1, 0.05
    w = _TimedWriter(str(tmp_path), cost=cost, flush_s=flush_s)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        w.submit("events", {("e",): (0, event_row("e"))})
        w.submit("url_metrics_5m", {("k",): (0, metric_row(1))})
        time.sleep(0.01)
    calls = list(w.calls)
    full = [t for t, tables in calls if tables is None]
    live = [tables for _, tables in calls if tables is not None]
    assert len(full) >= 2 and live, calls
    # Between landings with events: at least FLUSH_COST_RATIO (3) times what one cost.
    assert all(b - a >= 3 * cost for a, b in zip(full, full[1:], strict=False)), full
    # The landings in between carry every pending table but the per-event ones.
    assert all(tables == {"url_metrics_5m"} for tables in live), live
    assert not PER_EVENT_TABLES & set().union(*live)


@pytest.mark.reliability
def test_a_reader_holding_the_file_past_the_lock_wait_never_stops_landing(tmp_path, reliability):
    # Issue #14: a `weir sql` read longer than the lock wait made the writer give up for good.
    # Here another process holds a read-only connection for 4 s against a 0.5 s lock wait
    # (the same situation as a 60 s read against the 30 s default, 8x shorter).
    import subprocess
    import sys

    fault = reliability.fault("stream: a reader holds the warehouse past the lock wait; landing resumes, no row lost")
    home = str(tmp_path)
    LocalWarehouse(home).ensure_tables()
    w = LandingWriter(home, "web_analytics", flush_s=0.1, lock_wait_s=0.5)
    path = LocalWarehouse(home).path
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({path!r}, read_only=True); "
            "print('held', flush=True); time.sleep(4); c.close()",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline().strip() == "held"
        w.submit("url_metrics_5m", {("k",): (0, metric_row(3))})
        deadline = time.monotonic() + 3
        while w.failures == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        health = w.health()
        assert health["landing"] == "failing" and health["landing_failures"] >= 1, health
        w.submit("url_metrics_5m", {("k",): (1, metric_row(7))})  # a later pane while failing
        w.submit("events", {("e1",): (0, event_row("e1"))})
    finally:
        reader.wait(timeout=30)
    deadline = time.monotonic() + 20
    while (w.health()["landing"] != "ok" or w._pending) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert w.health() == {"landing": "ok"}
    assert LocalWarehouse(home).query("SELECT pageviews FROM url_metrics_5m").rows == [(7,)]
    assert count(home, "events") == 1
    fault.survived()


def test_the_sink_owns_its_writer_and_close_lands_the_rest(tmp_path):
    from weir.pipelines.local.sink import LocalStreamSink, _UpsertFn

    home = str(tmp_path)
    LocalWarehouse(home).ensure_tables()
    with LocalStreamSink(home, "web_analytics", flush_s=3600) as sink:  # no landing before close
        fn = sink.write("url_metrics_5m").fn
        fn.setup()
        assert fn._writer is sink.writer  # the step's pickled copy finds the sink's one writer
        sink.writer.submit("url_metrics_5m", {("k",): (0, metric_row(3))})
        assert count(home, "url_metrics_5m") == 0
    assert LocalWarehouse(home).query("SELECT SUM(pageviews) FROM url_metrics_5m").rows == [(3,)]
    with pytest.raises(RuntimeError, match="closed"):
        _UpsertFn(sink._id, home, "web_analytics", "events", 1.0, None).setup()


def test_a_failed_commit_is_reported_as_itself_not_as_the_rollback(tmp_path, monkeypatch):
    """A COMMIT that fails (a full disk) ends the transaction; the ROLLBACK after it then fails
    too, and its error used to replace the one that matters."""
    import contextlib

    wh = LocalWarehouse(str(tmp_path))
    wh.ensure_tables()
    real = wh._connect

    class FailingCommit:
        def __init__(self, con):
            self._con = con

        def execute(self, sql, *args):
            if sql == "COMMIT":
                self._con.execute("ROLLBACK")  # the transaction is over, as after a failed commit
                raise duckdb.IOException("could not write the database file: No space left on device")
            return self._con.execute(sql, *args)

        def __getattr__(self, name):
            return getattr(self._con, name)

    @contextlib.contextmanager
    def connect(*args, **kwargs):
        with real(*args, **kwargs) as con:
            yield FailingCommit(con)

    monkeypatch.setattr(wh, "_connect", connect)
    with pytest.raises(duckdb.IOException, match="No space left on device"):
        wh.upsert_many({"dead_letters": []})
