"""The local stream cannot die quietly (issue #14): a pipeline that fails stops `run_stream`
with the reason, and the status file says so; it no longer looks alive while landing nothing.

Runs the stream in this process (the real DirectRunner and Pub/Sub emulator) with one step
made to fail on every element, as a bug or an unwritable value would.
"""

from __future__ import annotations

import time
import uuid

import orjson
import pytest

from tests import emulators
from weir.pipelines import graph as graph_module
from weir.pipelines.graph import GraphConfig
from weir.pipelines.local.status import read_status
from weir.pipelines.local.stream import StreamFailed, run_stream
from weir.pubsub import PubSubNames, ensure_topology
from weir.pubsub.publish import publish


def topology_with_one_event(prefix: str) -> PubSubNames:
    """A fresh project's topic and subscriptions, with one valid event of now published."""
    names = PubSubNames(f"{prefix}-{uuid.uuid4().hex[:6]}")
    ensure_topology(names)
    event = {"event_id": "e1", "action": "pageview", "ts": int(time.time() * 1000), "site": "a.com"}
    publish([orjson.dumps({**event, "url": "https://a.com/", "visitor_id": "v"})], names)
    return names


@pytest.fixture
def pubsub(tmp_path, monkeypatch):
    host, pid = emulators.start_pubsub(str(tmp_path))
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", host)
    yield host
    emulators.stop_pubsub(pid)


def _run(home: str, names, tmp_path, duration_s: float):
    """A local stream of `names` into `home`, quiet, for at most `duration_s`."""
    archive = str(tmp_path / "archive")
    return run_stream(home, "web_analytics", names, archive, GraphConfig(streaming=True), duration_s, lambda _m: None)


@pytest.mark.reliability
def test_a_failing_pipeline_stops_the_stream_loudly(pubsub, tmp_path, monkeypatch, reliability):
    fault = reliability.fault("stream: a step fails on every element; the stream stops with the reason, archive kept")

    def broken_event_row(event):
        raise ValueError("cannot encode this event")

    monkeypatch.setattr(graph_module, "event_row", broken_event_row)
    names = topology_with_one_event("weir-sup")
    home = str(tmp_path / "home")
    started = time.monotonic()
    with pytest.raises(StreamFailed, match="the pipeline failed: .*cannot encode this event"):
        _run(home, names, tmp_path, duration_s=240)
    assert time.monotonic() - started < 240  # stopped by the failure, not by the clock
    status = read_status(home)
    assert status["running"] is False and "cannot encode this event" in status["error"]
    assert status["archived"] == 1  # the event itself is safe in the archive, for a rebuild
    fault.survived()


@pytest.mark.reliability
def test_a_dead_emulator_stops_the_stream_instead_of_hanging_it(tmp_path, monkeypatch, reliability):
    # Issue #14: with Pub/Sub gone, each pull sat in the client's minute of retries and the
    # stream hung on shutdown. Now pulls fail at once, the status says so, and after
    # PUBSUB_UNREACHABLE_S the stream stops with the reason.
    import threading

    from weir.pipelines.local import stream as stream_module

    fault = reliability.fault("stream: the Pub/Sub emulator dies; the stream stops with the reason, nothing lost")
    host, pid = emulators.start_pubsub(str(tmp_path))
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", host)
    monkeypatch.setattr(stream_module, "PUBSUB_UNREACHABLE_S", 3)
    names = topology_with_one_event("weir-dead")
    home = str(tmp_path / "home")
    killer = threading.Timer(12, emulators.stop_pubsub, args=(pid,))
    killer.start()
    started = time.monotonic()
    try:
        with pytest.raises(StreamFailed, match="Pub/Sub has not answered for 3 s"):
            _run(home, names, tmp_path, duration_s=180)
    finally:
        killer.cancel()
        emulators.stop_pubsub(pid)
    assert time.monotonic() - started < 90  # stopped soon after the emulator died, not hung
    status = read_status(home)
    assert status["running"] is False and "has not answered" in status["error"]
    assert status["archived"] == 1  # archived before the emulator died
    fault.survived()


@pytest.mark.reliability
def test_a_status_file_that_cannot_be_written_does_not_stop_the_stream(pubsub, tmp_path, reliability):
    """A full disk made the status write raise and the stream exit; now the stream goes on
    (its status file goes stale, which `weir status` reports) and lands what it reads."""
    import os

    from weir.pipelines.local.status import status_path
    from weir.warehouse.local import LocalWarehouse

    fault = reliability.fault("stream: its status file cannot be written; the stream goes on, every event landed")
    names = topology_with_one_event("weir-st")
    home = str(tmp_path / "home")
    os.makedirs(status_path(home))  # a directory where the file goes: every replace of it fails
    run = _run(home, names, tmp_path, duration_s=25)
    assert run.error is None and run.counters.get("events_accepted", 0) >= 1
    assert LocalWarehouse(home).query("SELECT COUNT(*) FROM events").rows[0][0] == 1
    fault.survived()
