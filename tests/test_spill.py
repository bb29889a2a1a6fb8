"""The collector's spill file under crashes: a torn last line is ended before anything is
appended (so no answered event is glued to it and lost), torn lines are set aside once
however often a replay fails, and at hundreds of random crash points every event whose
spill was acknowledged is read back exactly once."""

from __future__ import annotations

import base64
import random

import orjson
import pytest

from weir.collector.relay import Relay
from weir.pubsub import PubSubNames

NAMES = PubSubNames("weir-spill-test")


def messages(tag: str, n: int) -> list[tuple[bytes, dict]]:
    return [
        (orjson.dumps({"event_id": f"{tag}-{i}", "pad": "x" * (i * 7 % 50)}), {"event_id": f"{tag}-{i}"})
        for i in range(n)
    ]


def ids(read: list[tuple[bytes, dict]]) -> list[str]:
    return [orjson.loads(data)["event_id"] for data, _ in read]


def encoded(batch: list[tuple[bytes, dict]]) -> bytes:
    return b"".join(orjson.dumps({"data": base64.b64encode(d).decode(), "attributes": a}) + b"\n" for d, a in batch)


def test_an_event_spilled_after_a_torn_line_is_not_glued_to_it(tmp_path):
    spill = tmp_path / "spill.jsonl"
    Relay(NAMES, str(spill))._spill(messages("a", 3))
    with open(spill, "ab") as fh:
        fh.write(encoded(messages("torn", 1))[:20])  # a crash mid-write: no newline
    relay = Relay(NAMES, str(spill))  # the restarted collector
    relay._spill(messages("b", 2))  # answered 2xx
    read, _ = relay._read_spill()
    assert ids(read) == ["a-0", "a-1", "a-2", "b-0", "b-1"]
    assert relay.counters["spill_torn"] == 1


@pytest.mark.reliability
def test_torn_lines_are_set_aside_once_while_pubsub_stays_down(tmp_path, monkeypatch, reliability):
    fault = reliability.fault("collector: a torn spill line with Pub/Sub down; set aside once, not per retry")
    spill = tmp_path / "spill.jsonl"
    relay = Relay(NAMES, str(spill))
    relay._spill(messages("a", 2))
    with open(spill, "ab") as fh:
        fh.write(b'{"data": "eyJldmVu\n')  # a torn line in the middle
    relay._spill(messages("b", 2))
    monkeypatch.setattr(relay, "_publish", lambda batch: list(batch))  # Pub/Sub unreachable: all fail
    for _ in range(25):
        relay._replay()
    assert (tmp_path / "spill.jsonl.torn").read_bytes().count(b"\n") == 1
    assert relay.counters["spill_torn"] == 1
    read, _ = relay._read_spill()
    assert ids(read) == ["a-0", "a-1", "b-0", "b-1"]  # still waiting, whole
    fault.survived()


@pytest.mark.reliability
def test_every_acknowledged_spill_survives_a_crash_at_any_point(tmp_path, reliability):
    """300 crashes at random points of a write (the bytes a killed process left behind), each
    followed by a restarted collector that spills more: every acknowledged event is read back
    exactly once, and an event whose write was cut is either whole or set aside."""
    fault = reliability.fault("collector: killed mid-spill at 300 random points; every 2xx read back once")
    rng = random.Random(29)
    for run in range(300):
        spill = tmp_path / f"spill-{run}.jsonl"
        acked = messages(f"{run}-a", rng.randint(1, 4))
        Relay(NAMES, str(spill))._spill(acked)
        cut = messages(f"{run}-cut", rng.randint(1, 3))
        data = encoded(cut)
        with open(spill, "ab") as fh:
            fh.write(data[: rng.randint(0, len(data))])  # killed here: never acknowledged
        restarted = Relay(NAMES, str(spill))
        later = messages(f"{run}-b", rng.randint(1, 4))
        restarted._spill(later)
        got = ids(restarted._read_spill()[0])
        want = ids(acked) + ids(later)
        assert len(got) == len(set(got)), got  # nothing twice
        assert [i for i in got if "-cut-" not in i] == want  # every acknowledged one, in order
        assert set(got) - set(want) <= set(ids(cut))  # nothing else but whole cut lines
    fault.survived()


def test_a_spill_never_holds_the_event_loop_and_waiting_spills_share_one_write(tmp_path):
    """A request whose events overflow the buffer waits for its own fsync, in the spill writer
    thread: the event loop answers other requests meanwhile, and the spills that wait together
    are written together (one append and one fsync)."""
    import asyncio
    import time

    import httpx

    from weir.collector.app import create_app

    relay = Relay(NAMES, str(tmp_path / "spill.jsonl"), max_buffer=1)
    slow_disk, writes = 1.0, []
    real_spill = relay._spill

    def spill(batch):
        writes.append(len(batch))
        time.sleep(slow_disk)  # a slow fsync
        real_spill(batch)

    relay._spill = spill
    app = create_app(relay)

    def body(i: int) -> bytes:
        return orjson.dumps([{"event_id": f"s{i}", "action": "pageview", "ts": 1, "site": "s", "url": "https://s/",
                              "visitor_id": "v"}])  # fmt: skip

    async def run():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://collector") as client:
            assert (await client.post("/events", content=body(0))).status_code == 202  # buffered
            started = time.monotonic()
            spilling = [asyncio.create_task(client.post("/events", content=body(i))) for i in range(1, 9)]
            await asyncio.sleep(0.05)
            health = await client.get("/healthz")
            answered_in = time.monotonic() - started
            statuses = [r.status_code for r in await asyncio.gather(*spilling)]
            return health.status_code, answered_in, statuses, time.monotonic() - started

    health, answered_in, statuses, all_in = asyncio.run(run())
    assert health == 200 and answered_in < slow_disk  # not behind the disk
    assert statuses == [202] * 8 and all_in >= slow_disk  # each 2xx after its fsync
    assert sum(writes) == 8 and len(writes) < 8  # group commits
    assert len(relay._read_spill()[0]) == 8
    relay.close()  # and the buffered one joins them
    assert len(relay._read_spill()[0]) == 9


def test_a_replay_reads_a_bounded_part_of_a_long_outages_spill(tmp_path, monkeypatch):
    """While Pub/Sub stays down a replay try reads REPLAY_BATCH lines, not the whole file, and
    once it answers the spill drains in order, batch by batch, a torn line set aside on the way."""
    import weir.collector.relay as relay_module

    monkeypatch.setattr(relay_module, "REPLAY_BATCH", 100)
    spill = tmp_path / "spill.jsonl"
    spill.write_bytes(encoded(messages("a", 150)) + b'{"data": "torn\n' + encoded(messages("b", 60)))
    relay = Relay(NAMES, str(spill))
    tried: list[list[str]] = []
    monkeypatch.setattr(relay, "_publish", lambda batch: tried.append(ids(batch)) or batch)  # Pub/Sub down
    relay._replay()
    assert tried == [[f"a-{i}" for i in range(100)]] and relay.spill_depth() == 211  # untouched
    monkeypatch.setattr(relay, "_publish", lambda batch: tried.append(ids(batch)) or [])  # back
    while relay.spill_depth():
        relay._replay()
    assert sum(tried[1:], []) == [f"a-{i}" for i in range(150)] + [f"b-{i}" for i in range(60)]
    assert relay.counters["replayed"] == 210 and relay.counters["spill_torn"] == 1
