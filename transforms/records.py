"""The typed records that flow between the composites.

Elements are plain dicts (Beam encodes them with its fast primitive coder, where dataclasses
would fall back to pickle); these TypedDicts document their keys. Times are integer
milliseconds since the Unix epoch, UTC.
"""

from __future__ import annotations

from typing import Any, TypedDict


class RawRecord(TypedDict):
    """One input record as it arrived: a Pub/Sub message or an archive line/record."""

    payload: bytes
    received_at: int | None  # ms; None when the source does not know (JSON-lines files)
    source: str  # archive file path, or "pubsub:<subscription>"
    attributes: dict[str, str]


class Event(TypedDict, total=False):
    """A parsed, valid event (SPEC section 1), enriched in place by `transforms.enrich`."""

    event_id: str
    action: str
    ts: int
    received_at: int | None
    site: str
    url: str
    referrer: str | None
    visitor_id: str
    session_id: str | None
    session_index: int | None
    engaged_seconds: int | None
    scroll_quarters: int | None
    user_agent: str | None
    ip: str | None
    country: str | None  # ISO 3166-1 alpha-2, set by the collector (weir.collector.geo)
    region: str | None  # ISO 3166-2
    metadata: dict[str, Any] | None
    extra: Any
    source: str


class DeadLetter(TypedDict):
    """A rejected input: the raw payload, why, and where it was rejected."""

    received_at: int
    stage: str
    error_kind: str
    error_message: str
    source: str | None
    event_id: str | None
    site: str | None
    event_ts: int | None
    payload: bytes
