"""The collector: endpoints, publishing into the real Pub/Sub emulator, an outage mid-load."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import orjson
import pytest
from starlette.testclient import TestClient

from tests import emulators
from weir.collector.app import GIF, MAX_EVENTS, create_app
from weir.collector.relay import Relay
from weir.pubsub import PubSubNames, dedupe_attribute, ensure_topology
from weir.pubsub.emulator import start_emulator

WEIR = os.path.join(os.path.dirname(sys.executable), "weir")


def event(i: int, **kw) -> dict:
    return {
        "event_id": f"c-{i}",
        "action": "pageview",
        "ts": 1_763_596_800_000 + i,
        "site": "a.example",
        "url": "https://a.example/x",
        "visitor_id": f"v{i % 7}",
        **kw,
    }


def pull_all(names: PubSubNames, expected: set[str], timeout_s: float = 60) -> dict[str, list]:
    """Pulls the pipeline's subscription until every expected event_id was seen."""
    from google.api_core.exceptions import DeadlineExceeded
    from google.cloud import pubsub_v1

    seen: dict[str, list] = {}
    deadline = time.monotonic() + timeout_s
    with pubsub_v1.SubscriberClient() as sub:
        while time.monotonic() < deadline and not expected <= set(seen):
            try:
                resp = sub.pull(subscription=names.subscription_path(), max_messages=1000, timeout=2)
            except DeadlineExceeded:
                continue
            for m in resp.received_messages:
                seen.setdefault(orjson.loads(m.message.data).get("event_id"), []).append(m.message)
            if resp.received_messages:
                sub.acknowledge(
                    subscription=names.subscription_path(), ack_ids=[m.ack_id for m in resp.received_messages]
                )
    return seen


@pytest.fixture
def pubsub(tmp_path, monkeypatch):
    host, pid = emulators.start_pubsub(str(tmp_path))
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", host)
    state = {"host": host, "pid": pid}
    yield state
    emulators.stop_pubsub(state["pid"])


def test_endpoints_publish_every_event_with_attributes(pubsub, tmp_path):
    names = PubSubNames(f"weir-c-{uuid.uuid4().hex[:6]}")
    ensure_topology(names)
    relay = Relay(names, str(tmp_path / "spill.jsonl")).start()
    client = TestClient(create_app(relay))
    batch = [event(i) for i in range(50)]  # (CORS for chosen origins: test_cors_origins_are_configurable)
    r = client.post(
        "/events", content=orjson.dumps(batch), headers={"user-agent": "UA/1", "content-type": "text/plain"}
    )
    assert r.status_code == 202 and r.json() == {"accepted": 50}
    assert "no-cache" in r.headers["cache-control"]
    g = client.get(
        "/p.gif",
        params={
            "event_id": "c-px",
            "action": "pageview",
            "ts": "1763596800123",
            "site": "a.example",
            "url": "https://a.example/p",
            "visitor_id": "v",
            "session_index": "2",
            "extra": '{"k": 1}',
        },
        headers={"x-forwarded-for": "198.51.100.9, 10.0.0.1"},
    )
    assert g.status_code == 200 and g.content == GIF and g.headers["content-type"] == "image/gif"
    preflight = client.options(
        "/events", headers={"Origin": "https://a.example", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == "*"
    seen = pull_all(names, {e["event_id"] for e in batch} | {"c-px"})
    relay.close()
    assert len(seen) == 51
    msg = seen["c-3"][0]
    data = orjson.loads(msg.data)
    assert dict(msg.attributes) == {
        "event_id": "c-3",
        "ts": str(1_763_596_800_003),
        "dedupe_key": dedupe_attribute("a.example", "c-3"),
    }
    assert dedupe_attribute("a.example", "c-3") != dedupe_attribute("b.example", "c-3")
    assert data["user_agent"] == "UA/1" and data["received_at"] > 1_700_000_000_000
    px = orjson.loads(seen["c-px"][0].data)
    assert (px["ts"], px["session_index"], px["extra"]) == (1763596800123, 2, {"k": 1})
    assert "ip" not in px and "ip" not in data  # the collector forwards no client address
    metrics = client.get("/metrics").text
    assert "weir_collector_received_total 51.0" in metrics and "weir_collector_published_total 51.0" in metrics
    assert "# TYPE weir_collector_request_seconds histogram" in metrics
    assert 'weir_collector_request_seconds_count{route="/events",status="202"} 1.0' in metrics


def test_abuse_gets_a_clear_4xx(tmp_path):
    relay = Relay(PubSubNames("unused"), str(tmp_path / "spill.jsonl"))  # not started: nothing is published
    client = TestClient(create_app(relay))
    assert client.post("/events", content=b"{not json").status_code == 400
    assert client.post("/events", content=b"[1, 2]").json()["error"] == "body must be a JSON array of event objects"
    assert client.post("/events", content=orjson.dumps([event(i) for i in range(MAX_EVENTS + 1)])).status_code == 413
    assert client.post("/events", content=b"[" + b"1," * 600_000 + b"1]").status_code == 413
    assert client.get("/p.gif").status_code == 400
    assert client.get("/p.gif?x=" + "a" * 9000).status_code == 414
    assert client.get("/healthz").json()["ok"] is True
    assert "weir_collector_rejected_total 6.0" in client.get("/metrics").text


def post(port: int, batch: list[dict]) -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/events", data=orjson.dumps(batch), method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status


def metric(port: int, name: str) -> int:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return int(float(next(line.split()[1] for line in text.splitlines() if line.startswith(f"weir_collector_{name}"))))


def healthz(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:
            return r.status, orjson.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, orjson.loads(exc.read())


def collector_with_pubsub_down(tmp_path) -> tuple[subprocess.Popen, int]:
    """`weir collect` on a free port, its Pub/Sub a port nothing listens on; its log in c.log."""
    dead = f"127.0.0.1:{emulators.free_port()}"
    port = emulators.free_port()
    env = {**os.environ, "WEIR_HOME": str(tmp_path / "home"), "PUBSUB_EMULATOR_HOST": dead}
    proc = subprocess.Popen(
        [WEIR, "collect", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "c.log", "wb"),
    )
    return proc, port


def start_collector(tmp_path, prefix: str, *flags: str) -> tuple[PubSubNames, subprocess.Popen, int]:
    """`weir collect` on a free port for a fresh project (topic and subscriptions made), answering."""
    names = PubSubNames(f"{prefix}-{uuid.uuid4().hex[:6]}")
    ensure_topology(names)
    port = emulators.free_port()
    env = {**os.environ, "WEIR_HOME": str(tmp_path / "home"), "WEIR_PROJECT": names.project}
    proc = subprocess.Popen(
        [WEIR, "collect", "--port", str(port), *flags],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "collector.log", "wb"),
    )
    try:
        emulators.wait_http(f"http://127.0.0.1:{port}/healthz", proc)
    except RuntimeError:
        proc.kill()
        raise
    return names, proc, port


@pytest.mark.reliability
def test_an_outage_loses_nothing(pubsub, tmp_path, reliability):
    fault = reliability.fault("collector: Pub/Sub killed under load; spilled, then every event replayed")
    names, proc, port = start_collector(tmp_path, "weir-c")
    try:
        before = []
        for i in range(0, 300, 30):  # before the outage
            batch = [event(i + j) for j in range(30)]
            assert post(port, batch) == 202
            before += batch
        # What reached this emulator dies with it, so read it back while it lives.
        seen_before = pull_all(names, {e["event_id"] for e in before})
        assert {e["event_id"] for e in before} <= set(seen_before)
        os.killpg(pubsub["pid"], signal.SIGKILL)  # Pub/Sub goes away mid-load
        # Events posted while the dying emulator still answers are acknowledged by it and die
        # with it (an emulator keeps nothing; Pub/Sub itself keeps what it acknowledged), so
        # the outage starts when it no longer answers (CI once lost a batch to that window).
        emulators.wait_closed(pubsub["host"])
        started = time.monotonic()
        during = []
        for i in range(300, 900, 30):
            batch = [event(i + j) for j in range(30)]
            assert post(port, batch) == 202  # answered at once, whatever Pub/Sub does
            during += batch
        assert time.monotonic() - started < 10
        deadline = time.monotonic() + 60
        while metric(port, "spilled") == 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert metric(port, "spilled") > 0
        # Spilling is not health: /healthz says what happens (events are kept, not sent).
        health = healthz(port)
        assert health[0] == 503 and "spill file" in health[1]["error"]
        host, pid = start_emulator(str(tmp_path / "pubsub-again"), port=int(pubsub["host"].rsplit(":", 1)[1]))
        pubsub["pid"] = pid
        ensure_topology(names)  # the emulator keeps nothing across a restart
        seen_after = pull_all(names, {e["event_id"] for e in during}, timeout_s=120)
        assert {e["event_id"] for e in during} <= set(seen_after)  # every event sent during the outage, at least once
        deadline = time.monotonic() + 30
        while metric(port, "spill_depth") and time.monotonic() < deadline:
            time.sleep(0.5)
        assert metric(port, "spill_depth") == 0 and metric(port, "replayed") > 0
        assert healthz(port)[0] == 200  # sending again
        fault.survived()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


@pytest.mark.reliability
def test_without_a_spill_file_an_outage_is_a_503_and_every_2xx_is_published(pubsub, tmp_path, reliability):
    """`--no-spill` (Cloud Run: no durable disk): while Pub/Sub takes nothing the collector
    answers 503, so the tracker keeps its queue and sends again; every event it answered 2xx
    for is published once Pub/Sub is back, and no spill file is written."""
    fault = reliability.fault("collector --no-spill: Pub/Sub killed; 503s, then every 2xx event published")
    names, proc, port = start_collector(tmp_path, "weir-ns", "--no-spill")
    try:
        accepted, refused = [], 0
        os.killpg(pubsub["pid"], signal.SIGKILL)
        emulators.wait_closed(pubsub["host"])
        deadline = time.monotonic() + 60
        i = 0
        while time.monotonic() < deadline and refused < 3:
            batch = [event(i + j) for j in range(10)]
            i += 10
            try:
                status = post(port, batch)
            except urllib.error.HTTPError as refusal:
                status = refusal.code
            if status == 202:
                accepted += batch
            else:
                assert status == 503
                refused += 1
            time.sleep(0.2)
        assert refused == 3, "never answered 503 while Pub/Sub was down"
        health = healthz(port)
        assert health[0] == 503 and "503" in health[1]["error"]
        assert metric(port, "spilled") == 0 and not (tmp_path / "home" / "collector-spill.jsonl").exists()
        host, pid = start_emulator(str(tmp_path / "pubsub-again"), port=int(pubsub["host"].rsplit(":", 1)[1]))
        pubsub["pid"] = pid
        ensure_topology(names)
        seen = pull_all(names, {e["event_id"] for e in accepted}, timeout_s=120)
        assert {e["event_id"] for e in accepted} <= set(seen)  # every 2xx, published
        deadline = time.monotonic() + 30
        while healthz(port)[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert healthz(port)[0] == 200 and post(port, [event(10_000)]) == 202  # taking events again
        fault.survived()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def test_bench_collect_reports_throughput_and_latency(pubsub, tmp_path):
    env = {**os.environ, "WEIR_HOME": str(tmp_path / "home"), "WEIR_PROJECT": f"weir-b-{uuid.uuid4().hex[:6]}"}
    out = subprocess.run(
        [WEIR, "bench-collect", "--seconds", "2", "--concurrency", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    fields = dict(kv.split("=") for kv in out.strip().splitlines()[-1].split())
    assert list(fields) == ["collector_requests_per_s", "events_per_s", "p50_ms", "p99_ms", "errors"]
    assert float(fields["collector_requests_per_s"]) > 0 and fields["errors"] == "0"
    assert float(fields["p99_ms"]) >= float(fields["p50_ms"]) > 0


def test_a_restart_replays_the_spill_and_close_spills_the_buffer(pubsub, tmp_path):
    names = PubSubNames(f"weir-c-{uuid.uuid4().hex[:6]}")
    ensure_topology(names)
    spill = str(tmp_path / "spill.jsonl")
    # A collector that never got to publish: its buffer goes to the spill file on close.
    first = Relay(names, spill)
    for i in range(40):
        first.submit(orjson.dumps(event(i)), {"event_id": f"c-{i}"})
    first.close()
    assert first.spill_depth() == 40
    # The next collector replays the spill as it starts.
    second = Relay(names, spill).start()
    seen = pull_all(names, {f"c-{i}" for i in range(40)})
    deadline = time.monotonic() + 30
    while second.spill_depth() and time.monotonic() < deadline:
        time.sleep(0.2)
    second.close()
    assert {f"c-{i}" for i in range(40)} <= set(seen)
    assert second.spill_depth() == 0 and second.counters["replayed"] == 40
    assert dict(seen["c-7"][0].attributes) == {"event_id": "c-7"}


@pytest.mark.reliability
def test_a_bad_event_refuses_its_whole_request_before_anything_is_handed_on(tmp_path, reliability):
    relay = Relay(PubSubNames("unused"), str(tmp_path / "spill.jsonl"))  # not started: the buffer shows what was taken
    client = TestClient(create_app(relay))
    deep = orjson.dumps(event(9))[:-1] + b',"metadata":' + b'{"a":' * 300 + b"1" + b"}" * 300 + b"}"
    r = client.post(
        "/events", content=b"[" + orjson.dumps(event(1)) + b"," + orjson.dumps(event(2)) + b"," + deep + b"]"
    )
    assert r.status_code == 400 and "nests deeper" in r.json()["error"]
    r = client.post("/events", content=orjson.dumps([event(3)]), headers={"user-agent": "a" * 5000})
    assert r.status_code == 431
    assert relay.buffer.qsize() == 0 and relay.counters["received"] == 0  # nothing of either request
    # Odd query values are no server error: kept as sent, for the pipeline to dead-letter.
    for ts in ("--1", "9" * 5000, "1e400"):
        assert client.get("/p.gif", params={"event_id": "q", "ts": ts, "site": "s"}).status_code == 200
    sent = [orjson.loads(relay.buffer.get_nowait()[0]) for _ in range(3)]
    assert [e["ts"] for e in sent] == ["--1", "9" * 5000, "1e400"]
    reliability.hostile(tried=5, accounted=5)  # two refused whole (4xx), three kept for dead letters


def test_no_client_address_is_forwarded_or_spilled(tmp_path):
    spill = tmp_path / "spill.jsonl"
    relay = Relay(PubSubNames("unused"), str(spill), max_buffer=1)  # the second event overflows to the spill
    client = TestClient(create_app(relay))
    headers = {"x-forwarded-for": "198.51.100.9", "x-real-ip": "198.51.100.9", "user-agent": "UA/1"}
    assert (
        client.post("/events", content=orjson.dumps([event(1, ip="203.0.113.5")]), headers=headers).status_code == 202
    )
    assert client.get("/p.gif", params={**event(2), "ip": "203.0.113.5"}, headers=headers).status_code == 200
    relay.close()  # the buffered event goes to the spill as well
    written = spill.read_bytes()
    assert written.count(b"\n") == 2
    decoded = b"".join(base64.b64decode(orjson.loads(line)["data"]) for line in written.splitlines())
    for address in (b"198.51.100.9", b"203.0.113.5", b"testclient"):
        assert address not in written and address not in decoded


@pytest.mark.reliability
def test_a_disk_that_refuses_the_spill_is_reported_and_retried(tmp_path, reliability):
    fault = reliability.fault("collector: the disk refuses the spill; 503 instead of 2xx, kept in memory, retried")
    spill = tmp_path / "spill.jsonl"
    spill.mkdir()  # a real OSError on every append, as on a full or read-only disk
    relay = Relay(PubSubNames("unused"), str(spill), max_buffer=1)
    client = TestClient(create_app(relay))
    assert client.post("/events", content=orjson.dumps([event(1)])).status_code == 202  # buffered
    r = client.post("/events", content=orjson.dumps([event(2)]))
    assert r.status_code == 503 and "spill failed" in r.json()["error"]  # no 2xx it cannot keep
    relay._keep([(b"x", {})])  # the background thread's path: kept in memory, reported
    health = client.get("/healthz")
    assert health.status_code == 503 and "spill failed" in health.json()["error"]
    assert "weir_collector_spill_errors_total 2.0" in client.get("/metrics").text
    spill.rmdir()  # the disk has room again
    relay._keep([])
    assert client.get("/healthz").status_code == 200 and relay.spill_depth() == 1
    fault.survived()


@pytest.mark.reliability
def test_a_torn_spill_line_is_set_aside_and_the_rest_replayed(pubsub, tmp_path, reliability):
    fault = reliability.fault("collector: torn lines in the spill file; set aside, the rest replayed")
    names = PubSubNames(f"weir-c-{uuid.uuid4().hex[:6]}")
    ensure_topology(names)
    spill = tmp_path / "spill.jsonl"
    first = Relay(names, str(spill))
    for i in range(5):
        first.submit(orjson.dumps(event(i)), {"event_id": f"c-{i}"})
    first.close()
    lines = spill.read_bytes().splitlines(keepends=True)
    spill.write_bytes(b"".join(lines[:2]) + b'{"data": "eyJldmVu\n' + b"".join(lines[2:]) + lines[0][:17])
    second = Relay(names, str(spill)).start()
    seen = pull_all(names, {f"c-{i}" for i in range(5)})
    deadline = time.monotonic() + 30
    while second.spill_depth() and time.monotonic() < deadline:
        time.sleep(0.2)
    second.close()
    assert {f"c-{i}" for i in range(5)} <= set(seen)
    assert second.counters["spill_torn"] == 2 and second.spill_depth() == 0
    assert (tmp_path / "spill.jsonl.torn").read_bytes().count(b"\n") == 2
    fault.survived()


@pytest.mark.reliability
def test_sigterm_spills_what_the_collector_still_holds(pubsub, tmp_path, reliability):
    fault = reliability.fault("collector: SIGTERM with Pub/Sub down; every 2xx event on disk")
    names, proc, port = start_collector(tmp_path, "weir-t")
    try:
        os.killpg(pubsub["pid"], signal.SIGKILL)  # nothing can be published from now on
        emulators.wait_closed(pubsub["host"])
        sent = set()
        for i in range(0, 90, 30):
            batch = [event(1000 + i + j) for j in range(30)]
            assert post(port, batch) == 202
            sent |= {e["event_id"] for e in batch}
        proc.send_signal(signal.SIGTERM)  # what systemd, Docker and Kubernetes send
        proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    spill = tmp_path / "home" / "collector-spill.jsonl"
    spilled = {
        orjson.loads(base64.b64decode(orjson.loads(line)["data"]))["event_id"]
        for line in spill.read_bytes().splitlines()
    }
    assert sent <= spilled  # every 2xx kept: published (impossible here) or on disk
    fault.survived()


@pytest.mark.reliability
def test_slow_clients_are_cut_off_and_others_still_served(pubsub, tmp_path, reliability):
    fault = reliability.fault("collector: 100 clients trickling their headers; cut off, others served")
    import socket

    names, proc, port = start_collector(tmp_path, "weir-s", "--header-timeout", "1")
    slow = []
    try:
        for _ in range(100):  # each sends half a request head and then nothing
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(b"GET /p.gif?event_id=x HTTP/1.1\r\nHost: x\r\n")
            slow.append(s)
        assert post(port, [event(1)]) == 202  # served meanwhile
        time.sleep(2.5)
        closed = sum(1 for s in slow if s.recv(1024) == b"")
        assert closed == len(slow)
        fault.survived()
    finally:
        for s in slow:
            s.close()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)


def test_cors_origins_are_configurable(tmp_path):
    relay = Relay(PubSubNames("unused"), str(tmp_path / "spill.jsonl"))
    client = TestClient(create_app(relay, cors_origins=("https://news.example",)))
    ask = {"Access-Control-Request-Method": "POST"}
    ok = client.options("/events", headers={"Origin": "https://news.example", **ask})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "https://news.example"
    assert client.options("/events", headers={"Origin": "https://other.example", **ask}).status_code == 400
    sent = client.post(
        "/events",
        content=orjson.dumps([event(1)]),
        headers={"Origin": "https://other.example", "Content-Type": "text/plain"},  # no preflight for this
    )
    assert "access-control-allow-origin" not in sent.headers  # the browser will not let that page read it
    assert sent.status_code == 403 and relay.buffer.qsize() == 0  # and the events are not taken
    assert relay.counters["rejected:origin_not_allowed"] == 1
    ours = client.post("/events", content=orjson.dumps([event(2)]), headers={"Origin": "https://news.example"})
    assert ours.status_code == 202 and relay.buffer.qsize() == 1
    assert client.post("/events", content=orjson.dumps([event(3)])).status_code == 202  # no Origin: not a page


def test_a_collector_for_some_sites_refuses_the_others_and_counts_them(tmp_path):
    relay = Relay(PubSubNames("unused"), str(tmp_path / "spill.jsonl"))  # not started: the buffer shows what was taken
    client = TestClient(create_app(relay, sites=frozenset({"news.example"})))
    ours, theirs = {**event(1), "site": "news.example"}, {**event(2), "site": "spam.example"}
    assert client.post("/events", content=orjson.dumps([ours])).status_code == 202
    refused = client.post("/events", content=orjson.dumps([ours, theirs]))  # refused whole: nothing handed on
    assert refused.status_code == 403 and "spam.example" in refused.json()["error"]
    assert client.get("/p.gif", params={"event_id": "q", "site": "spam.example"}).status_code == 403
    assert client.get("/p.gif", params={"event_id": "q"}).status_code == 403  # no site is no site of ours
    for odd in (["news.example"], {"a": "news.example"}, 7):  # no site name: a 403 that says so, never a 500
        answer = client.post("/events", content=orjson.dumps([{**ours, "site": odd}]))
        assert answer.status_code == 403 and "not a site name" in answer.json()["error"]
    assert relay.buffer.qsize() == 1 and relay.counters["received"] == 1
    metrics = client.get("/metrics").text
    assert 'weir_collector_rejected_by_reason_total{reason="site_not_served"} 6.0' in metrics
    assert "weir_collector_rejected_total 6.0" in metrics


def test_a_head_request_of_the_pixel_records_nothing(tmp_path):
    relay = Relay(PubSubNames("unused"), str(tmp_path / "spill.jsonl"))  # not started: the buffer shows what was taken
    client = TestClient(create_app(relay))
    answer = client.head("/p.gif", params={**{k: str(v) for k, v in event(1).items() if not isinstance(v, dict)}})
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/gif"
    assert relay.buffer.qsize() == 0 and relay.counters["received"] == 0 and relay.counters["head_requests"] == 1
    assert client.get("/p.gif", params={"event_id": "g", "site": "news.example"}).status_code == 200
    assert relay.buffer.qsize() == 1
    # Bytes that are not UTF-8 are refused and counted, not turned into U+FFFD.
    bad = client.get("/p.gif?event_id=u&site=news.example&url=https%3A%2F%2Fnews.example%2F%FF%FE")
    assert bad.status_code == 400 and "not UTF-8" in bad.json()["error"]
    assert relay.buffer.qsize() == 1 and relay.counters["rejected:invalid_utf8"] == 1
    ok = client.get("/p.gif?event_id=e&site=news.example&url=https%3A%2F%2Fnews.example%2Fcaf%C3%A9")
    assert ok.status_code == 200 and relay.buffer.qsize() == 2
    # An integer beyond 64 bits would be sent on as a float (1.2345678901234568e+29): refused.
    huge = client.post(
        "/events", content=b'[{"event_id": "h", "site": "news.example", "ts": 123456789012345678901234567890}]'
    )
    assert huge.status_code == 400 and "beyond 64 bits" in huge.json()["error"]
    fine = client.post(
        "/events", content=b'[{"event_id": "d", "site": "news.example", "url": "12345678901234567890123"}]'
    )
    assert fine.status_code == 202 and relay.buffer.qsize() == 3  # digits in a string are text


def test_cookieless_visitors_get_a_per_day_id_and_the_address_goes_nowhere(tmp_path):
    from weir.collector.cookieless import CookielessIds

    ids = CookielessIds(b"a secret of sixteen+ bytes")
    relay = Relay(PubSubNames("unused"), str(tmp_path / "spill.jsonl"))  # not started: the buffer shows what was taken
    client = TestClient(create_app(relay, cookieless=ids))
    no_id = {k: v for k, v in event(1).items() if k != "visitor_id"}
    batch = [no_id, {**no_id, "event_id": "c-2"}, {**no_id, "event_id": "c-3", "site": "b.example"}, event(4)]
    assert client.post("/events", content=orjson.dumps(batch), headers={"user-agent": "UA/1"}).status_code == 202
    sent = [relay.buffer.get_nowait()[0] for _ in range(4)]
    got = [orjson.loads(m)["visitor_id"] for m in sent]
    assert got[0] == got[1] and got[0].startswith("cl-") and len(got[0]) == 35  # one reader, one day: one id
    assert got[2] != got[0]  # another site: another id, so sites cannot join their readers
    assert got[3] == event(4)["visitor_id"]  # an id the page sent is kept
    assert all(b"testclient" not in m for m in sent)  # the client's address is in no message
    day1, day2 = 1_764_000_000_000, 1_764_000_000_000 + 86_400_000
    assert ids.visitor_id("a.example", "10.0.0.1", "UA/1", day1) != ids.visitor_id(
        "a.example", "10.0.0.1", "UA/1", day2
    )
    same = CookielessIds(b"a secret of sixteen+ bytes")  # another instance with the same secret agrees
    assert same.visitor_id("a.example", "10.0.0.1", "UA/1", day1) == ids.visitor_id(
        "a.example", "10.0.0.1", "UA/1", day1
    )
    without = TestClient(create_app(Relay(PubSubNames("unused"), str(tmp_path / "s2.jsonl"))))
    assert without.post("/events", content=orjson.dumps([no_id])).status_code == 202  # the pipeline dead-letters it


@pytest.mark.reliability
def test_the_collector_starts_and_keeps_events_while_pubsub_is_down(tmp_path, reliability):
    """Pub/Sub unreachable at start: the collector still listens, answers 202 with the events in
    its spill file, and says on /healthz that it is only keeping them."""
    fault = reliability.fault("collector: started with Pub/Sub down; listens, spills, says so")
    started = time.monotonic()
    proc, port = collector_with_pubsub_down(tmp_path)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                status, _ = healthz(port)
                break
            except OSError:
                time.sleep(0.2)
        assert time.monotonic() - started < 60, (tmp_path / "c.log").read_text()
        assert post(port, [event(1), event(2)]) == 202
        deadline = time.monotonic() + 60
        while metric(port, "spilled") < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert metric(port, "spilled") == 2
        status, body = healthz(port)
        assert status == 503 and "spill file" in body["error"]
        spill = tmp_path / "home" / "collector-spill.jsonl"
        assert spill.read_bytes().count(b"\n") == 2
        assert "Pub/Sub does not answer" in (tmp_path / "c.log").read_text()
        fault.survived()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)


def test_memory_is_bounded_by_bytes_and_an_oversized_event_is_refused(tmp_path):
    relay = Relay(PubSubNames("unused"), str(tmp_path / "spill.jsonl"), max_buffer_bytes=20_000)  # not started
    client = TestClient(create_app(relay))
    big = {**event(1), "extra": {"blob": "x" * 70_000}}  # over the pipeline's 64 KiB: only a dead letter there
    answer = client.post("/events", content=orjson.dumps([event(2), big]))
    assert answer.status_code == 413 and "bytes" in answer.json()["error"]
    assert relay.buffer.qsize() == 0 and relay.counters["rejected:too_large"] == 1
    batch = [{**event(10 + i), "extra": {"pad": "y" * 5_000}} for i in range(10)]  # ~5 KB each
    assert client.post("/events", content=orjson.dumps(batch)).status_code == 202
    assert relay.buffered_bytes <= 20_000 and relay.buffer.qsize() == 3  # the budget holds three
    assert relay.counters["spilled"] == 7 and relay.counters["received"] == 10  # the rest on disk
    relay.close()
    assert relay.buffered_bytes == 0 and relay.spill_depth() == 10


@pytest.mark.reliability
def test_sigterm_with_a_full_buffer_and_pubsub_down_ends_within_the_grace(tmp_path, reliability):
    """64 MiB of events held in memory, Pub/Sub unreachable: SIGTERM spills them all and the
    collector exits within Docker's 10 s grace."""
    fault = reliability.fault("collector: SIGTERM with a full 64 MiB buffer and Pub/Sub down; exits within 10 s")
    proc, port = collector_with_pubsub_down(tmp_path)
    try:
        emulators.wait_http(f"http://127.0.0.1:{port}/metrics", proc)
        sent = 0
        for n in range(110):  # ~66 MB: past the 64 MiB budget, so the last ones spill at once
            batch = [{**event(100 * n + i), "extra": {"pad": "z" * 6_000}} for i in range(100)]
            assert post(port, batch) == 202
            sent += len(batch)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
    spill = tmp_path / "home" / "collector-spill.jsonl"
    assert spill.read_bytes().count(b"\n") == sent  # every event answered 202 is on disk
    assert took < 10, f"shutdown took {took:.1f} s"
    print(f"collector shutdown with {sent} events ({spill.stat().st_size / 2**20:.0f} MiB) held: {took:.1f} s")
    fault.survived()


def test_the_access_log_has_requests_but_no_client_address(tmp_path, caplog):
    """`weir collect --access-log`: method, path, status and time of each request; never the
    client's address, nor the query string (a pixel's event)."""
    import logging

    from weir.collector.metrics import ACCESS

    relay = Relay(PubSubNames("unused"), str(tmp_path / "spill.jsonl"))
    client = TestClient(create_app(relay), client=("198.51.100.23", 4711))
    ACCESS.setLevel(logging.INFO)
    try:
        with caplog.at_level(logging.INFO, logger="weir.collector.access"):
            query = "event_id=a1&action=pageview&ts=1&site=s.example&url=https://s.example/&visitor_id=v-secret"
            assert client.get(f"/p.gif?{query}", headers={"X-Forwarded-For": "203.0.113.77"}).status_code == 200
            assert client.get("/healthz").status_code == 200
    finally:
        ACCESS.setLevel(logging.NOTSET)
    lines = [r.getMessage() for r in caplog.records if r.name == "weir.collector.access"]
    assert [line.split(" ")[:3] for line in lines] == [["GET", "/p.gif", "200"], ["GET", "/healthz", "200"]]
    assert not any(s in line for line in lines for s in ("198.51.100.23", "203.0.113.77", "v-secret", "a1"))
