"""The client IP is stored nowhere (issue #14): whatever a producer publishes, the one door from
Pub/Sub into the stream and the archive (`record_of_message`) and dead-letter rows redact it."""

from __future__ import annotations

from types import SimpleNamespace

import orjson

from weir.transforms.archive import record_of_message
from weir.transforms.rows import dead_letter_row

IP = "203.0.113.5"


def message(payload: bytes):
    return SimpleNamespace(data=payload, attributes={}, message_id="m", publish_time=None)


def test_an_ip_member_never_reaches_the_archive_or_the_stream():
    payload = orjson.dumps({"event_id": "e", "ip": IP, "extra": {"ip": IP, "note": "ip"}})
    record = record_of_message(message(payload), now_ms=1)
    assert IP.encode() not in record["payload"]
    assert orjson.loads(record["payload"])["extra"]["note"] == "ip"  # the word itself, as a value, stays
    torn = record_of_message(message(b'{"event_id": "e", "ip": "' + IP.encode()), now_ms=1)
    assert IP.encode() not in torn["payload"]  # even in a payload that is not JSON


def test_a_payload_without_an_ip_is_kept_byte_for_byte():
    payload = b'{"event_id":"e",  "site":"x"}'
    assert record_of_message(message(payload), now_ms=1)["payload"] == payload


def test_dead_letters_redact_it_too():
    row = dead_letter_row(
        {
            "received_at": 1,
            "stage": "parse",
            "error_kind": "invalid_json",
            "error_message": "m",
            "source": "s",
            "event_id": None,
            "site": None,
            "event_ts": None,
            "payload": b'{"ip":"' + IP.encode() + b'", ',
        }
    )
    assert IP not in row["payload"] and IP.encode() not in row["payload_bytes"]
