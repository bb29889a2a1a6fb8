"""The client IP is stored nowhere (issue #14): whatever a producer publishes, the doors from
Pub/Sub into the archive (`record_of_message`) and the stream (`raw_records_of_messages`, the
same record in one step) and dead-letter rows redact it."""

from __future__ import annotations

from types import SimpleNamespace

import orjson

from weir.transforms.archive import raw_record, raw_records_of_messages, record_of_message
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


def test_the_streams_records_are_the_archives_made_in_one_step():
    from google.pubsub_v1.types import PubsubMessage

    messages = []
    for i, payload in enumerate([orjson.dumps({"event_id": "e", "ip": IP}), b'{"event_id":"f"}', b""]):
        m = PubsubMessage.pb()(data=payload, attributes={"ts": str(i)} if i else {}, message_id=f"m{i}")
        m.publish_time.FromMilliseconds(1_764_700_000_000 + i)
        messages.append(m)
    records = raw_records_of_messages(messages, "pubsub:live")
    assert records == [raw_record(record_of_message(m), "pubsub:live") for m in messages]
    assert IP.encode() not in records[0]["payload"] and records[1]["received_at"] == 1_764_700_000_001


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


def test_a_key_spelt_with_json_escapes_is_the_same_key():
    # "\u0069p" is "ip" to every JSON reader: the archive, dead_letters.payload and events.extra
    # would all have kept the address if only the bytes `"ip"` were looked for.
    for payload in (
        b'{"event_id":"e","\\u0069p":"' + IP.encode() + b'"}',
        b'{"event_id":"e","extra":{"i\\u0070":"' + IP.encode() + b'","n":1}}',
        b'[{"\\u0069\\u0070": "' + IP.encode() + b'"}]',
    ):
        redacted = record_of_message(message(payload), now_ms=1)["payload"]
        assert IP.encode() not in redacted, redacted
        assert b"<redacted>" in redacted
    torn = b'{"event_id":"e","\\u0069p" : "' + IP.encode()  # cut short: redacted on its bytes
    assert IP.encode() not in record_of_message(message(torn), now_ms=1)["payload"]


def test_a_non_string_ip_is_redacted_too():
    for value in (b"3405803781", b'["' + IP.encode() + b'"]', b'{"v4":"' + IP.encode() + b'"}'):
        redacted = record_of_message(message(b'{"event_id":"e","ip":' + value + b"}"), now_ms=1)["payload"]
        assert orjson.loads(redacted)["ip"] == "<redacted>"


def test_escapes_elsewhere_keep_the_payload_byte_for_byte():
    payload = b'{"event_id":"e","title":"caf\\u00e9"}'
    assert record_of_message(message(payload), now_ms=1)["payload"] == payload
