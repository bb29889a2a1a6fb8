"""Pub/Sub plumbing on both local emulators: topology, attributes, archive-before-ack."""

from __future__ import annotations

import os
import types
import uuid

import apache_beam as beam
import fastavro
import orjson
import pytest

from tests import emulators
from weir.pipelines.local.archiver import Archiver
from weir.pubsub import PubSubNames, attributes_for, ensure_topology, raw
from weir.pubsub.emulator import start_emulator, stop_emulator
from weir.pubsub.publish import publish
from weir.pubsub.raw import FULL_PULL


@pytest.fixture(params=["gcloud", "drongo"])
def emulator(request, tmp_path, monkeypatch):
    if request.param == "gcloud":
        host, pid = emulators.start_pubsub(str(tmp_path))
    else:
        monkeypatch.setenv("WEIR_PUBSUB_EMULATOR", "drongo")
        host, pid = start_emulator(str(tmp_path / "drongo-home"))
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", host)
    yield request.param
    emulators.stop_pubsub(pid)


def test_publish_then_archive_before_ack(emulator, tmp_path):
    names = PubSubNames(f"weir-t-{uuid.uuid4().hex[:6]}")
    ensure_topology(names)
    ensure_topology(names)  # idempotent
    good = [orjson.dumps({"event_id": f"e{i}", "ts": 1_763_596_800_000 + i, "action": "pageview"}) for i in range(30)]
    payloads = good + [b"{broken", b'{"event_id": "x", "ts": "soon"}']
    assert publish(payloads, names, say=lambda _m: None) == len(payloads)

    from google.cloud import pubsub_v1

    archiver = Archiver(names.subscription_path(names.archive_subscription), str(tmp_path / "archive"))
    with pubsub_v1.SubscriberClient() as sub:
        got = 0
        for _ in range(20):
            got += archiver.pull_once(sub, timeout_s=2)
            if got >= len(payloads):
                break
        assert got == len(payloads)
        assert archiver.pull_once(sub, timeout_s=1) == 0  # acked: nothing comes back
    records = []
    for dirpath, _, files in os.walk(tmp_path / "archive"):
        for f in files:
            with open(os.path.join(dirpath, f), "rb") as fh:
                records += list(fastavro.reader(fh))
    assert sorted(r["payload"] for r in records) == sorted(payloads)
    by_payload = {r["payload"]: r["attributes"] for r in records}
    assert by_payload[good[3]] == {"event_id": "e3", "ts": str(1_763_596_800_003)}
    # a ts it could not read is replaced by the send time, marked as such (Dataflow needs a time)
    broken, soon = by_payload[b"{broken"], by_payload[b'{"event_id": "x", "ts": "soon"}']
    assert broken.keys() == {"ts", "ts_source"} and broken["ts_source"] == "received"
    assert soon.keys() == {"event_id", "ts", "ts_source"} and soon["event_id"] == "x"
    for attrs in (broken, soon):
        record = next(r for r in records if r["attributes"] is attrs)
        assert abs(int(attrs["ts"]) - record["received_at"]) < 60_000  # sent about when published
    assert all(r["received_at"] > 1_700_000_000_000 for r in records)  # publish time, ms


def test_attributes_for_payloads():
    assert attributes_for(b'{"event_id":"a","ts":"2025-11-20T00:00:00Z"}') == {"event_id": "a", "ts": "1763596800000"}
    assert attributes_for(b"[1]") == {} and attributes_for(b"\xff") == {}
    # what weir's publishers send: every message has a time, for Dataflow's timestamp_attribute
    assert attributes_for(b"\xff", 5) == {"ts": "5", "ts_source": "received"}
    bad_ts = {"event_id": "a", "ts": "5", "ts_source": "received"}
    assert attributes_for(b'{"event_id":"a","ts":"yesterday"}', 5) == bad_ts
    assert attributes_for(b'{"event_id":"a","ts":1763596800000}', 5) == {"event_id": "a", "ts": "1763596800000"}


def test_emulator_is_recorded_and_stopped(tmp_path, monkeypatch):
    monkeypatch.setenv("WEIR_PUBSUB_EMULATOR", "drongo")
    monkeypatch.delenv("PUBSUB_EMULATOR_HOST", raising=False)
    from weir.pubsub.emulator import ensure_emulator

    home = str(tmp_path / "home")
    host = ensure_emulator(home)
    monkeypatch.delenv("PUBSUB_EMULATOR_HOST")
    assert ensure_emulator(home) == host  # the next command reuses the running one
    assert stop_emulator(home) is True and stop_emulator(home) is False


def test_the_archiver_archives_a_backlog_as_one_file_and_acks_all_of_it(emulator, tmp_path, monkeypatch):
    """Successive pulls while a backlog lasts (the emulator returns FULL_PULL a pull) make one
    batch: one file, then its acks, in several requests."""
    from google.cloud import pubsub_v1

    monkeypatch.setattr(raw, "ACK_BATCH", 100)
    names = PubSubNames(f"weir-b-{uuid.uuid4().hex[:6]}")
    ensure_topology(names)
    n = FULL_PULL * 3 + 17
    payloads = [orjson.dumps({"event_id": f"e{i}", "ts": 1_763_596_800_000 + i}) for i in range(n)]
    assert publish(payloads, names, say=lambda _m: None) == n
    archiver = Archiver(names.subscription_path(names.archive_subscription), str(tmp_path / "archive"))
    with pubsub_v1.SubscriberClient() as sub:
        first = archiver.pull_once(sub, timeout_s=2)
        got = first
        for _ in range(10):
            if got >= n:
                break
            got += archiver.pull_once(sub, timeout_s=2)
        assert first > FULL_PULL and got == n  # more than one pull's worth in the first batch
        assert archiver.pull_once(sub, timeout_s=1) == 0  # all acked
    files = [os.path.join(d, f) for d, _, fs in os.walk(tmp_path / "archive") for f in fs]
    records = []
    for path in files:
        with open(path, "rb") as fh:
            records += list(fastavro.reader(fh))
    assert sorted(r["payload"] for r in records) == sorted(payloads)
    assert len(files) < n / FULL_PULL  # fewer files than pulls


def test_raw_publish_pull_and_ack_round_trip(emulator):
    """weir.pubsub.raw: one request publishes a list of messages, with their attributes; pulls
    fill a batch past one pull's page; acked messages do not come back."""
    from google.cloud import pubsub_v1

    names = PubSubNames(f"weir-w-{uuid.uuid4().hex[:6]}")
    ensure_topology(names)
    sent = [(orjson.dumps({"i": i}), {"event_id": f"e{i}", "ts": str(1_763_596_800_000 + i)}) for i in range(250)]
    ids = raw.publish(pubsub_v1.PublisherClient(), names.topic_path, sent)
    assert len(ids) == len(set(ids)) == len(sent)
    with pubsub_v1.SubscriberClient() as sub:
        got = []
        for _ in range(10):
            received, error = raw.pull(sub, names.subscription_path(), 1000, 2.0)
            assert error is None
            got += received
            raw.acknowledge(sub, names.subscription_path(), [rm.ack_id for rm in received])
            if len(got) >= len(sent):
                break
        assert sorted((rm.message.data, dict(rm.message.attributes)) for rm in got) == sorted(sent)
        assert raw.pull(sub, names.subscription_path(), 1000, 1.0) == ([], None)  # all acked


def test_direct_runner_reader_drains_a_backlog_in_one_bundle(tmp_path, monkeypatch):
    """The DirectRunner's Pub/Sub read (pipelines.local.direct_pubsub): one bundle keeps pulling
    while pulls come back full, and every message keeps its data, attributes and time."""
    from apache_beam.runners.direct import transform_evaluator as te
    from google.cloud import pubsub_v1

    from weir.pipelines.local.direct_pubsub import allow_bigger_pulls

    monkeypatch.setattr(raw, "ACK_BATCH", 100)  # acknowledgements go in several requests

    host, pid = emulators.start_pubsub(str(tmp_path))
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", host)
    try:
        names = PubSubNames(f"weir-r-{uuid.uuid4().hex[:6]}")
        ensure_topology(names)
        n = FULL_PULL * 3 + 17
        with_ts = [orjson.dumps({"event_id": f"e{i}", "ts": 1_763_596_800_000 + i}) for i in range(n)]
        assert publish(with_ts + [b"{no time}"], names, say=lambda _m: None) == n + 1
        assert allow_bigger_pulls(max_messages=1000)

        class _Evaluator:  # what the patched method reads of Beam's evaluator
            _applied_ptransform = None
            _sub_name = names.subscription_path()
            source = types.SimpleNamespace()  # the read's _PubSubSource: not batched

            def _get_subscriber_client(self, _transform):
                return pubsub_v1.SubscriberClient()

        got = te._PubSubReadEvaluator._read_from_pubsub(_Evaluator(), "ts")
        assert len(got) > FULL_PULL  # more than one pull's worth in one bundle
        for _ in range(10):
            if len(got) >= n + 1:
                break
            got += te._PubSubReadEvaluator._read_from_pubsub(_Evaluator(), "ts")
        assert len(got) == n + 1
        by_data = {message.data: (ts, message) for ts, message in got}
        ts, message = by_data[with_ts[5]]
        assert ts.micros == (1_763_596_800_000 + 5) * 1000 and message.attributes["event_id"] == "e5"
        assert message.message_id and message.publish_time.tzinfo is not None
        ts, message = by_data[b"{no time}"]  # publish() stamps its send time as `ts`
        assert message.attributes["ts_source"] == "received"
        assert abs(ts.micros // 1000 - int(message.publish_time.timestamp() * 1000)) < 60_000
    finally:
        emulators.stop_pubsub(pid)


def test_direct_runner_reader_gives_one_batch_of_records_per_bundle(tmp_path, monkeypatch):
    """A read marked by `read_batches` gives one element per bundle: every message of the
    bundle as the graph's RawRecord (as the archiver makes it: received at its publish time,
    any client IP redacted), stamped with the earliest publish time."""
    from apache_beam.runners.direct import transform_evaluator as te
    from google.cloud import pubsub_v1

    from weir.pipelines.local.direct_pubsub import BATCHES_ATTR, allow_bigger_pulls, read_batches

    host, pid = emulators.start_pubsub(str(tmp_path))
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", host)
    try:
        names = PubSubNames(f"weir-b-{uuid.uuid4().hex[:6]}")
        ensure_topology(names)
        n = FULL_PULL * 2 + 3
        ip = "192.0.2.1"
        payloads = [orjson.dumps({"event_id": f"e{i}", "ts": 1_763_596_800_000 + i, "ip": ip}) for i in range(n)]
        assert publish(payloads, names, say=lambda _m: None) == n
        assert allow_bigger_pulls(max_messages=1000)
        read = beam.io.ReadFromPubSub(subscription=names.subscription_path(), with_attributes=True)
        assert read_batches(read, "pubsub:live")
        assert getattr(read._source, BATCHES_ATTR) == "pubsub:live"

        class _Evaluator:
            _applied_ptransform = None
            _sub_name = names.subscription_path()
            source = read._source

            def _get_subscriber_client(self, _transform):
                return pubsub_v1.SubscriberClient()

        records, stamps = [], []
        for _ in range(10):
            got = te._PubSubReadEvaluator._read_from_pubsub(_Evaluator(), None)
            assert len(got) <= 1  # one element per bundle, or none
            for ts, batch in got:
                stamps.append((ts, batch))
                records += batch
            if len(records) >= n:
                break
        assert len(records) == n and stamps
        for ts, batch in stamps:
            assert ts.micros // 1000 == min(r["received_at"] for r in batch)
        first = {orjson.loads(r["payload"])["event_id"]: r for r in records}["e0"]
        assert set(first) == {"payload", "received_at", "source", "attributes"}
        assert first["source"] == "pubsub:live" and ip.encode() not in first["payload"]
        assert first["attributes"]["event_id"] == "e0" and first["received_at"] > 1_763_596_800_000
    finally:
        emulators.stop_pubsub(pid)
