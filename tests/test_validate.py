"""Function level: parse_record on good and bad payloads (a table of cases)."""

from __future__ import annotations

import orjson
import pytest

from tests.conftest import raw
from weir.transforms.validate import MAX_EVENT_BYTES, MAX_JSON_DEPTH, MAX_URL_CHARS, MAX_USER_AGENT_CHARS, parse_record

T0 = 1_763_600_000_000  # 2025-11-20T00:53:20Z
GOOD = {
    "event_id": "e1",
    "action": "pageview",
    "ts": T0,
    "site": "example.com",
    "url": "https://www.example.com/a",
    "visitor_id": "v1",
}


def dumps(**changes) -> bytes:
    obj = {**GOOD, **changes}
    return orjson.dumps({k: v for k, v in obj.items() if v is not _DROP})


_DROP = object()


def test_good_event_parses_with_all_fields():
    kind, ev = parse_record(
        raw(
            dumps(
                referrer="https://google.com/",
                session_index=2,
                session_id="s",
                user_agent="ua",
                metadata={"title": "T"},
                extra=[1, {"x": None}],
            )
        )
    )
    assert kind == "event"
    assert ev["ts"] == T0 and ev["session_index"] == 2 and ev["extra"] == [1, {"x": None}]
    assert ev["metadata"] == {"title": "T"} and ev["referrer"] == "https://google.com/"


@pytest.mark.parametrize(
    "ts, expected",
    [
        (T0, T0),
        (float(T0), T0),
        ("2025-11-20T00:53:20Z", T0),
        ("2025-11-20T01:53:20+01:00", T0),
        ("2025-11-20T00:53:20.250Z", T0 + 250),
    ],
)
def test_timestamps_accepted(ts, expected):
    kind, ev = parse_record(raw(dumps(ts=ts)))
    assert (kind, ev["ts"]) == ("event", expected)


BAD = [
    ("truncated json", dumps()[:30], "parse", "invalid_json"),
    ("empty", b"", "parse", "invalid_json"),
    ("invalid utf-8", b'{"event_id": "\xff\xfe"}', "parse", "invalid_utf8"),
    ("array", b"[1,2]", "parse", "not_an_object"),
    ("string", b'"pageview"', "parse", "not_an_object"),
    ("null", b"null", "parse", "not_an_object"),
    ("huge", dumps(extra="x" * (MAX_EVENT_BYTES + 1)), "parse", "too_large"),
    ("NaN literal", dumps()[:-1] + b',"extra":NaN}', "parse", "invalid_json"),
    # One JSON dialect (issue #14): nothing the writers (orjson) would refuse gets in.
    ("lone surrogate", dumps()[:-1] + b',"extra":"\\ud800"}', "parse", "invalid_json"),
    ("lone surrogate in a field", dumps(site="x")[:-1].replace(b'"x"', b'"\\udfff"') + b"}", "parse", "invalid_json"),
    ("number beyond double", dumps()[:-1] + b',"extra":{"n":1e400}}', "parse", "invalid_json"),
    ("deep metadata", dumps()[:-1] + b',"metadata":' + b'{"a":' * 70 + b"1" + b"}" * 70 + b"}", "parse", "too_deep"),
    ("deep extra", dumps()[:-1] + b',"extra":' + b"[" * 64 + b"]" * 64 + b"}", "parse", "too_deep"),
    ("deep array payload", b"[" * 300 + b"]" * 300, "parse", "too_deep"),
    # Bounded work per event: what reaches the user-agent and URL parsers is capped.
    ("long user agent", dumps(user_agent="a" * (MAX_USER_AGENT_CHARS + 1)), "validate", "too_large"),
    ("long url", dumps(url="https://x.com/" + "a" * MAX_URL_CHARS), "validate", "too_large"),
    ("host longer than DNS allows", dumps(url="https://" + "a." * 200 + "com/"), "validate", "invalid_url"),
    ("long referrer", dumps(referrer="https://r.com/" + "a" * MAX_URL_CHARS), "validate", "too_large"),
    ("missing event_id", dumps(event_id=_DROP), "validate", "missing_field"),
    ("empty site", dumps(site=""), "validate", "missing_field"),
    ("missing ts", dumps(ts=_DROP), "validate", "missing_field"),
    ("null visitor", dumps(visitor_id=None), "validate", "missing_field"),
    ("numeric event_id", dumps(event_id=12), "validate", "invalid_type"),
    ("list url", dumps(url=["https://x.com"]), "validate", "invalid_type"),
    ("object referrer", dumps(referrer={"a": 1}), "validate", "invalid_type"),
    ("string session_index", dumps(session_index="1"), "validate", "invalid_type"),
    ("bool session_index", dumps(session_index=True), "validate", "invalid_type"),
    ("zero session_index", dumps(session_index=0), "validate", "invalid_value"),
    ("negative engaged", dumps(action="heartbeat", engaged_seconds=-5), "validate", "invalid_value"),
    ("absurd engaged", dumps(action="heartbeat", engaged_seconds=10**9), "validate", "invalid_value"),
    (
        "five quarters scrolled",
        dumps(action="heartbeat", engaged_seconds=1, scroll_quarters=5),
        "validate",
        "invalid_value",
    ),
    ("heartbeat without engaged", dumps(action="heartbeat"), "validate", "missing_field"),
    ("metadata not object", dumps(metadata="title"), "validate", "invalid_type"),
    ("javascript url", dumps(url="javascript:alert(1)"), "validate", "invalid_url"),
    ("relative url", dumps(url="/a/b"), "validate", "invalid_url"),
    ("url with newline", dumps(url="https://x.com/\n"), "validate", "invalid_url"),
    ("url urllib cannot split", dumps(url="http://[::1/a"), "validate", "invalid_url"),
    ("ts word", dumps(ts="yesterday"), "validate", "invalid_timestamp"),
    ("ts naive", dumps(ts="2025-11-20T01:33:20"), "validate", "invalid_timestamp"),
    ("ts bool", dumps(ts=True), "validate", "invalid_timestamp"),
    ("ts object", dumps(ts={"ms": 1}), "validate", "invalid_timestamp"),
    ("ts zero", dumps(ts=0), "validate", "timestamp_out_of_range"),
    ("ts seconds not ms", dumps(ts=T0 // 1000), "validate", "timestamp_out_of_range"),
    ("ts year 3000", dumps(ts=32_503_680_000_000), "validate", "timestamp_out_of_range"),
    ("ts negative", dumps(ts=-1), "validate", "timestamp_out_of_range"),
    ("ts days ahead of receipt", dumps(ts=T0 + 3 * 86_400_000, received_at=T0), "validate", "timestamp_out_of_range"),
]


@pytest.mark.parametrize("name, payload, stage, kind", BAD, ids=[b[0] for b in BAD])
def test_bad_input_becomes_dead_letter(name, payload, stage, kind):
    got_kind, dead = parse_record(raw(payload, received_at=T0 + 5), fallback_received_ms=7)
    assert got_kind == "dead"
    assert (dead["stage"], dead["error_kind"]) == (stage, kind), dead["error_message"]
    assert dead["payload"] == payload  # the raw bytes, untouched
    assert dead["received_at"] == T0 + 5
    assert dead["error_message"]


def test_nesting_up_to_the_limit_is_kept():
    depth = MAX_JSON_DEPTH - 1  # the event object itself is the first level
    payload = dumps()[:-1] + b',"extra":' + b"[" * depth + b"]" * depth + b"}"
    kind, ev = parse_record(raw(payload))
    assert kind == "event"
    assert orjson.loads(orjson.dumps(ev["extra"])) == ev["extra"]  # and every writer can write it


def test_big_integer_in_extra_is_kept_not_rejected():
    payload = dumps()[:-1] + b',"extra":{"n":123456789012345678901234567890}}'
    kind, ev = parse_record(raw(payload))
    # Kept as a number (orjson may widen it to a float); never a dead letter for its content.
    assert kind == "event" and float(ev["extra"]["n"]) == pytest.approx(1.2345678901234568e29)


def test_dead_letter_time_falls_back_to_payload_then_default():
    _, dead = parse_record(raw(dumps(url="nope")))
    assert dead["received_at"] == T0 and dead["event_ts"] == T0  # from ts
    _, dead = parse_record(raw(dumps(url="nope", received_at=T0 + 9)))
    assert dead["received_at"] == T0 + 9  # the collector's stamp wins over ts
    _, dead = parse_record(raw(b"garbage", source="gs://b/dt=2025-11-20/h.jsonl"), fallback_received_ms=42)
    assert dead["received_at"] == 1_763_596_800_000  # the day its file is filed under
    _, dead = parse_record(raw(b"garbage"), fallback_received_ms=42)
    assert dead["received_at"] == 42 and dead["event_id"] is None


def test_dead_letter_keeps_identifiers_it_could_read():
    _, dead = parse_record(raw(dumps(ts="never")))
    assert (dead["event_id"], dead["site"], dead["event_ts"]) == ("e1", "example.com", None)
