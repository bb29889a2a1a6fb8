"""Parse and validate one raw record: bytes in, an `Event` or a `DeadLetter` out.

Pure functions, no Beam: `parse_record` is called by the `ParseEvents` composite and
directly by tests. Nothing here raises on bad input; every rejection is a `Rejection`
carrying a machine-readable kind (the dead letter's `error_kind`) and the stage.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
from typing import Any
from urllib.parse import urlsplit

import orjson

from transforms.records import DeadLetter, Event, RawRecord
from transforms.timeutil import day_from_path

MAX_EVENT_BYTES = 64 * 1024  # a pixel event is ~1 KiB; anything this big is abuse or a bug
MIN_TS_MS = 946_684_800_000  # 2000-01-01: older client clocks are broken, not historical
MAX_TS_MS = 4_102_444_800_000  # 2100-01-01
MAX_FUTURE_SKEW_MS = 24 * 3600 * 1000  # ts may lead received_at by a day of clock skew, no more
MAX_ENGAGED_SECONDS = 3600  # heartbeats come every few seconds; an hour is already generous
MAX_ID_CHARS = 1024

REQUIRED = ("event_id", "action", "ts", "site", "url", "visitor_id")
STRING_FIELDS = ("event_id", "action", "site", "url", "visitor_id")
OPTIONAL_STRINGS = ("referrer", "session_id", "user_agent", "ip")


class Rejection(Exception):
    """Why a record is rejected; becomes a dead letter."""

    def __init__(self, stage: str, kind: str, message: str):
        super().__init__(message)
        self.stage = stage
        self.kind = kind
        self.message = message


def _loads(payload: bytes) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError as uexc:
            raise Rejection("parse", "invalid_utf8", f"payload is not valid UTF-8: {uexc}") from None
        # Some orjson versions refuse integers beyond 64 bits; the standard library reads them,
        # so such a value inside `extra` is kept rather than rejected for its content.
        try:
            return json.loads(text, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            raise Rejection("parse", "invalid_json", f"payload is not JSON: {exc}") from None


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def parse_ts(value: Any) -> int:
    """SPEC `ts`: int ms since epoch or an RFC 3339 string with an offset -> int ms."""
    if isinstance(value, bool):
        raise Rejection("validate", "invalid_timestamp", "ts is a boolean, not a time")
    if isinstance(value, int):
        ms = value
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise Rejection("validate", "invalid_timestamp", f"ts {value!r} is not a time")
        ms = int(value)
    elif isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            raise Rejection("validate", "invalid_timestamp", f"ts {value[:64]!r} is not RFC 3339") from None
        if parsed.tzinfo is None:
            raise Rejection("validate", "invalid_timestamp", f"ts {value[:64]!r} has no UTC offset")
        ms = int(parsed.timestamp() * 1000)
    else:
        raise Rejection("validate", "invalid_timestamp", f"ts has type {type(value).__name__}")
    if not MIN_TS_MS <= ms < MAX_TS_MS:
        raise Rejection("validate", "timestamp_out_of_range", f"ts {ms} is outside 2000-01-01..2100-01-01")
    return ms


def _optional_int(obj: dict, name: str, lo: int, hi: int) -> int | None:
    value = obj.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise Rejection("validate", "invalid_type", f"{name} must be an integer, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise Rejection("validate", "invalid_value", f"{name} {value} is outside {lo}..{hi}")
    return value


@functools.lru_cache(maxsize=65536)  # popular pages repeat; urlsplit is slow
def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url) if url.isprintable() else None
        return parts is not None and parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def validate(obj: Any, received_at: int | None, source: str) -> Event:
    """A decoded JSON value -> a valid `Event`; raises `Rejection`."""
    if not isinstance(obj, dict):
        raise Rejection("parse", "not_an_object", f"payload is a JSON {type(obj).__name__}, not an object")
    for name in REQUIRED:
        if obj.get(name) in (None, ""):
            raise Rejection("validate", "missing_field", f"required field {name!r} is missing or empty")
    for name in STRING_FIELDS:
        value = obj[name]
        if not isinstance(value, str):
            raise Rejection("validate", "invalid_type", f"{name} must be a string, got {type(value).__name__}")
        if len(value) > MAX_ID_CHARS and name != "url":
            raise Rejection("validate", "invalid_value", f"{name} is longer than {MAX_ID_CHARS} characters")
    for name in OPTIONAL_STRINGS:
        value = obj.get(name)
        if value is not None and not isinstance(value, str):
            raise Rejection("validate", "invalid_type", f"{name} must be a string, got {type(value).__name__}")
    url = obj["url"]
    if not _is_http_url(url):
        raise Rejection("validate", "invalid_url", f"url {url[:128]!r} is not an http(s) URL with a host")
    metadata = obj.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise Rejection("validate", "invalid_type", f"metadata must be an object, got {type(metadata).__name__}")
    if received_at is None:
        received_at = _optional_int(obj, "received_at", MIN_TS_MS, MAX_TS_MS)
    ts = parse_ts(obj["ts"])
    if received_at is not None and ts > received_at + MAX_FUTURE_SKEW_MS:
        raise Rejection(
            "validate", "timestamp_out_of_range", f"ts {ts} is more than 24 h after received_at {received_at}"
        )
    engaged = _optional_int(obj, "engaged_seconds", 0, MAX_ENGAGED_SECONDS)
    if obj["action"] == "heartbeat" and engaged is None:
        raise Rejection("validate", "missing_field", "a heartbeat needs engaged_seconds")
    return Event(
        event_id=obj["event_id"],
        action=obj["action"],
        ts=ts,
        received_at=received_at,
        site=obj["site"],
        url=url,
        referrer=obj.get("referrer") or None,
        visitor_id=obj["visitor_id"],
        session_id=obj.get("session_id") or None,
        session_index=_optional_int(obj, "session_index", 1, 2**31),
        engaged_seconds=engaged,
        user_agent=obj.get("user_agent") or None,
        ip=obj.get("ip") or None,
        metadata=metadata,
        extra=obj.get("extra"),
        source=source,
    )


def _peek(obj: Any, name: str) -> Any:
    value = obj.get(name) if isinstance(obj, dict) else None
    return value if isinstance(value, str) else None


def _dead(record: RawRecord, rej: Rejection, obj: Any, fallback_ms: int) -> DeadLetter:
    event_ts = None
    if isinstance(obj, dict) and "ts" in obj:
        try:
            event_ts = parse_ts(obj["ts"])
        except Rejection:
            pass
    received = record["received_at"]
    if received is None and isinstance(obj, dict):
        raw = obj.get("received_at")
        if isinstance(raw, int) and not isinstance(raw, bool) and MIN_TS_MS <= raw < MAX_TS_MS:
            received = raw
    if received is None:
        received = event_ts if event_ts is not None else (day_from_path(record["source"]) or fallback_ms)
    return DeadLetter(
        received_at=received,
        stage=rej.stage,
        error_kind=rej.kind,
        error_message=rej.message,
        source=record["source"],
        event_id=_peek(obj, "event_id"),
        site=_peek(obj, "site"),
        event_ts=event_ts,
        payload=record["payload"],
    )


def parse_record(record: RawRecord, fallback_received_ms: int = 0) -> tuple[str, Event | DeadLetter]:
    """One raw record -> ("event", Event) or ("dead", DeadLetter). Never raises on bad input.

    `fallback_received_ms` dates a dead letter when neither the record, nor the payload's
    `received_at`, nor its `ts`, nor a date in its file's path (dt=YYYY-MM-DD) says when it
    arrived (JSON-lines input with garbage lines).
    """
    payload = record["payload"]
    obj: Any = None
    try:
        if len(payload) > MAX_EVENT_BYTES:
            raise Rejection("parse", "too_large", f"payload is {len(payload)} bytes, the limit is {MAX_EVENT_BYTES}")
        obj = _loads(payload)
        return "event", validate(obj, record["received_at"], record["source"])
    except Rejection as rej:
        return "dead", _dead(record, rej, obj, fallback_received_ms)
