"""Parse and validate one raw record: bytes in, an `Event` or a `DeadLetter` out.

Pure functions, no Beam: `parse_record` is called by the `ParseEvents` composite and
directly by tests. Nothing here raises on bad input; every rejection is a `Rejection`
carrying a machine-readable kind (the dead letter's `error_kind`) and the stage.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from typing import Any
from urllib.parse import urlsplit

import orjson

from weir.transforms.records import DeadLetter, Event, RawRecord
from weir.transforms.timeutil import day_from_path
from weir.transforms.urls import host_of

MAX_EVENT_BYTES = 64 * 1024  # a pixel event is ~1 KiB; anything this big is abuse or a bug
MIN_TS_MS = 946_684_800_000  # 2000-01-01: older client clocks are broken, not historical
MAX_TS_MS = 4_102_444_800_000  # 2100-01-01
MAX_FUTURE_SKEW_MS = 24 * 3600 * 1000  # ts may lead received_at by a day of clock skew, no more
MAX_ENGAGED_SECONDS = 3600  # heartbeats come every few seconds; an hour is already generous
MAX_ID_CHARS = 1024
# Bounded work per event: what each parser downstream may be handed. Real user
# agents are 100-500 characters; browsers and servers commonly stop at 8 KB of URL.
MAX_USER_AGENT_CHARS = 2048
MAX_URL_CHARS = 8192
MAX_JSON_DEPTH = 64  # the event object is level 1; orjson writes at most 254 levels, BigQuery JSON 500

REQUIRED = ("event_id", "action", "ts", "site", "url", "visitor_id")
STRING_FIELDS = ("event_id", "action", "site", "url", "visitor_id")
OPTIONAL_STRINGS = ("referrer", "session_id", "user_agent", "ip", "country", "region")
# Where the reader is, as the collector looked it up (weir.collector.geo): ISO 3166-1 alpha-2,
# and ISO 3166-2 within that country.
_COUNTRY = re.compile(r"[A-Z]{2}")
_REGION = re.compile(r"([A-Z]{2})-[A-Z0-9]{1,3}")
_BOUNDED_STRINGS = (("url", MAX_URL_CHARS), ("referrer", MAX_URL_CHARS), ("user_agent", MAX_USER_AGENT_CHARS))


class Rejection(Exception):
    """Why a record is rejected; becomes a dead letter."""

    def __init__(self, stage: str, kind: str, message: str):
        super().__init__(message)
        self.stage = stage
        self.kind = kind
        self.message = message


def _loads(payload: bytes) -> Any:
    """The one JSON dialect: what orjson reads, nested at most MAX_JSON_DEPTH deep.

    Every writer downstream (dedupe keys, row encoding, Beam's coders, the warehouses) writes
    with orjson, which refuses lone surrogates and non-finite numbers and nests at most 254
    levels. A parser more lenient than the writers lets in records that can never be written,
    not even as dead letters; so nothing more lenient than orjson reads a payload here.
    """
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError as uexc:
            raise Rejection("parse", "invalid_utf8", f"payload is not valid UTF-8: {uexc}") from None
        raise Rejection("parse", "invalid_json", f"payload is not JSON: {exc}") from None
    if isinstance(obj, dict):
        for name in ("metadata", "extra"):
            if too_deep(obj.get(name), MAX_JSON_DEPTH - 1):
                raise Rejection("parse", "too_deep", f"{name} nests deeper than {MAX_JSON_DEPTH} levels")
    elif too_deep(obj, MAX_JSON_DEPTH):
        raise Rejection("parse", "too_deep", f"payload nests deeper than {MAX_JSON_DEPTH} levels")
    return obj


def too_deep(value: Any, limit: int) -> bool:
    """True when `value` has containers nested more than `limit` levels (iterative: no recursion)."""
    if not isinstance(value, (dict, list)):
        return False
    level = [value]
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        level = [
            child
            for container in level
            for child in (container.values() if isinstance(container, dict) else container)
            if isinstance(child, (dict, list))
        ]
    return False


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
        return parts is not None and parts.scheme.lower() in ("http", "https") and host_of(url) is not None
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
    for name, limit in _BOUNDED_STRINGS:
        value = obj.get(name)
        if value is not None and len(value) > limit:
            raise Rejection("validate", "too_large", f"{name} is {len(value)} characters, the limit is {limit}")
    country, region = obj.get("country") or None, obj.get("region") or None
    if country is not None and not _COUNTRY.fullmatch(country):
        raise Rejection("validate", "invalid_value", f"country {country[:16]!r} is not an ISO 3166-1 alpha-2 code")
    if region is not None and (not (m := _REGION.fullmatch(region)) or m.group(1) != country):
        raise Rejection("validate", "invalid_value", f"region {region[:16]!r} is not an ISO 3166-2 code of the country")
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
    scroll = _optional_int(obj, "scroll_quarters", 0, 4)  # quarters of the page newly reached
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
        scroll_quarters=scroll,
        user_agent=obj.get("user_agent") or None,
        ip=obj.get("ip") or None,
        country=country,
        region=region,
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
