"""Table rows: enriched events and dead letters -> dicts with exactly their table's columns,
and any table row -> one JSON line in the encoding BigQuery load jobs read. `RowBatch`:
rows of one table held as columns (the metric rows' form, see its docstring).

In-pipeline rows keep native values: TIMESTAMP columns as int ms, DATE as "YYYY-MM-DD",
BYTES as bytes. `to_json_line` converts by the table's schema (TIMESTAMP -> UTC string,
BYTES -> base64), which is also what the local warehouse loads.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from weir import schemas
from weir.transforms.privacy import redact_ip
from weir.transforms.records import DeadLetter, Event
from weir.transforms.timeutil import day_str, ts_str

MAX_KEPT_PAYLOAD = 1024 * 1024


class RowBatch:
    """Rows of one table as columns: `columns` maps a column name to its values, one per row,
    every list of length `length`. Iterates as row dicts (what every sink takes), so it stands
    where a list of row dicts does; the staged Arrow sink reads the columns directly.

    Why: a rebuild makes several metric rows per event (its URL row and one per dimension
    value, per bucket and day), and building one dict per row and then taking the dicts
    apart again into Arrow columns was a measured share of it. A group's rows
    share their site, url and bucket: those columns repeat one value.
    """

    __slots__ = ("columns", "length")

    def __init__(self, columns: dict[str, list], length: int):
        self.columns, self.length = columns, length

    def __len__(self) -> int:
        return self.length

    def __iter__(self):
        names = tuple(self.columns)
        for values in zip(*self.columns.values(), strict=True):
            yield dict(zip(names, values, strict=True))

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not -self.length <= i < self.length:
            raise IndexError(i)
        return {name: values[i] for name, values in self.columns.items()}

    def __repr__(self) -> str:
        return f"RowBatch({self.length} rows: {', '.join(self.columns)})"


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode("utf-8")


def str_list(value: Any) -> list[str]:
    """A metadata list (authors, tags): its strings; one string is a list of one."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def event_row(event: Event) -> dict[str, Any]:
    """An enriched event -> an `events` row."""
    metadata = event.get("metadata") or {}
    title, section = metadata.get("title"), metadata.get("section")
    return {
        "event_id": event["event_id"],
        "action": event["action"],
        "event_ts": event["ts"],
        "received_at": event.get("received_at"),
        "site": event["site"],
        "url": event["url"],
        "raw_url": event["raw_url"],
        "referrer": event.get("referrer"),
        "referrer_category": event["referrer_category"],
        "referrer_domain": event.get("referrer_domain"),
        "utm_source": event.get("utm_source"),
        "utm_medium": event.get("utm_medium"),
        "utm_campaign": event.get("utm_campaign"),
        "utm_term": event.get("utm_term"),
        "utm_content": event.get("utm_content"),
        "visitor_id": event["visitor_id"],
        "visitor_fp": event["visitor_fp"],
        "session_id": event.get("session_id"),
        "session_index": event.get("session_index"),
        "visitor_type": event.get("visitor_type"),
        "engaged_seconds": event.get("engaged_seconds"),
        "scroll_quarters": event.get("scroll_quarters"),
        "user_agent": event.get("user_agent"),
        "device_type": event["device_type"],
        "browser": event["browser"],
        "os": event["os"],
        "is_bot": event["is_bot"],
        "channel": event["channel"],
        "title": title if isinstance(title, str) else None,
        "section": section if isinstance(section, str) else None,
        "authors": str_list(metadata.get("authors")),
        "tags": str_list(metadata.get("tags")),
        "metadata": _json_text(event.get("metadata")),
        "extra": _json_text(event.get("extra")),
        "country": event.get("country"),
        "region": event.get("region"),
    }


def dead_letter_row(dead: DeadLetter) -> dict[str, Any]:
    """A dead letter -> a `dead_letters` row; the payload is kept exactly (first 1 MiB) but
    for the client IP, which is redacted."""
    payload = dead["payload"]
    kept = redact_ip(payload[:MAX_KEPT_PAYLOAD])
    return {
        "received_at": dead["received_at"],
        "stage": dead["stage"],
        "error_kind": dead["error_kind"],
        "error_message": dead["error_message"][:4096],
        "source": dead.get("source"),
        "event_id": (dead.get("event_id") or None) and dead["event_id"][:1024],
        "site": (dead.get("site") or None) and dead["site"][:1024],
        "event_ts": dead.get("event_ts"),
        "payload": kept.decode("utf-8", errors="replace"),
        "payload_bytes": kept,
        "payload_size": len(payload),
        "payload_truncated": len(payload) > MAX_KEPT_PAYLOAD,
    }


def _encoder(field: schemas.Field):
    if field.type == "TIMESTAMP":
        return ts_str
    if field.type == "BYTES":
        return lambda b: base64.b64encode(b).decode("ascii")
    return None


def row_encoder(table: str):
    """A function row dict -> JSON line bytes (BigQuery NDJSON encoding) for `table`: the
    table's columns only (a row may carry more keys), TIMESTAMP as text, BYTES as base64."""
    spec = schemas.table(table)
    names = [f.name for f in spec.fields]
    encoders = [(f.name, enc) for f in spec.fields if (enc := _encoder(f)) is not None]

    def encode(row: dict[str, Any]) -> bytes:
        out = {name: row.get(name) for name in names}
        for name, enc in encoders:
            value = out[name]
            if value is not None:
                out[name] = enc(value)
        return orjson.dumps(out)

    return encode


def partition_column(table: str):
    """(the partition column's name, a function of its value -> the UTC day "YYYY-MM-DD")."""
    spec = schemas.table(table)
    field = spec.field(spec.partition_field)
    if field.type == "DATE":
        return field.name, str
    return field.name, day_str


def partition_day(table: str):
    """A function row dict -> the UTC day ("YYYY-MM-DD") of the partition it belongs to."""
    name, day_of = partition_column(table)
    if day_of is str:
        return lambda row: row[name]
    return lambda row: day_of(row[name])
