"""The local stream cannot die quietly (issue #14): a pipeline that fails stops `run_stream`
with the reason, and the status file says so; it no longer looks alive while landing nothing.

Runs the stream in this process (the real DirectRunner and Pub/Sub emulator) with one step
made to fail on every element, as a bug or an unwritable value would.
"""

from __future__ import annotations

import json
import os
import time
import uuid

import orjson
import pytest

from pipelines import graph as graph_module
from pipelines.graph import GraphConfig
from pipelines.stream import STATUS_FILE, StreamFailed, run_stream
from tests import emulators
from weir.publish import publish
from weir.pubsub import PubSubNames, ensure_topology


@pytest.fixture
def pubsub(tmp_path, monkeypatch):
    host, pid = emulators.start_pubsub(str(tmp_path))
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", host)
    yield host
    emulators.stop_pubsub(pid)


@pytest.mark.reliability
def test_a_failing_pipeline_stops_the_stream_loudly(pubsub, tmp_path, monkeypatch, reliability):
    fault = reliability.fault("stream: a step fails on every element; the stream stops with the reason, archive kept")

    def broken_event_row(event):
        raise ValueError("cannot encode this event")

    monkeypatch.setattr(graph_module, "event_row", broken_event_row)
    names = PubSubNames(f"weir-sup-{uuid.uuid4().hex[:6]}")
    ensure_topology(names)
    now = int(time.time() * 1000)
    event = {
        "event_id": "e1",
        "action": "pageview",
        "ts": now,
        "site": "a.com",
        "url": "https://a.com/",
        "visitor_id": "v",
    }
    publish([orjson.dumps(event)], names)
    home = str(tmp_path / "home")
    started = time.monotonic()
    with pytest.raises(StreamFailed, match="the pipeline failed: .*cannot encode this event"):
        run_stream(
            home,
            "web_analytics",
            names,
            str(tmp_path / "archive"),
            GraphConfig(streaming=True),
            duration_s=240,
            progress=lambda _m: None,
        )
    assert time.monotonic() - started < 240  # stopped by the failure, not by the clock
    status = json.load(open(os.path.join(home, STATUS_FILE)))
    assert status["running"] is False and "cannot encode this event" in status["error"]
    assert status["archived"] == 1  # the event itself is safe in the archive, for a rebuild
    fault.survived()
