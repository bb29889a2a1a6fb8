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
