"""The metric and dimension registry: each metric and dimension is declared once, here.

The aggregation (`transforms.aggregate`), the table rows, `weir verify` and the metrics
tables' schemas all derive from these lists, so adding a metric or a dimension is one entry
here. A metric's column (its name, mode and description) is written into
`schemas/bigquery/*_metrics_*.json` by `python -m weir.transforms.metric_columns` (a test
fails until it is run); a new metric is NULLABLE, so tables that hold rows take its column.
Breakdown dimensions are rows (`dimension`, `value`), so a new dimension needs no schema
change at all.

A metric reads one enriched event at a time:
- kind "sum": `value(event)` is an int added to the row (0 or None adds nothing);
- kind "distinct": `value(event)` is an INT64 key (or None); the row holds an HLL++ sketch of
  the keys and the column is its estimate. Sketches merge exactly, so 5-minute rows roll up
  into days and days into months with no double counting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from weir.transforms.fingerprint import farm_fingerprint
from weir.transforms.records import Event
from weir.transforms.rows import str_list

STANDARD_ACTIONS = frozenset({"pageview", "heartbeat", "videostart", "videoheartbeat"})
NONE_VALUE = "(none)"


@dataclass(frozen=True)
class Metric:
    """One metric column: how an event contributes and how rows merge."""

    name: str
    kind: Literal["sum", "distinct"]
    value: Callable[[Event], Any]
    description: str  # the column's, in every metrics table's schema (transforms/metric_columns.py)
    sketch_column: str | None = None  # distinct metrics whose sketch is stored, not just its estimate
    sketch_description: str = ""
    # The same as BigQuery SQL over the `events` table's columns: a sum metric's contribution
    # of one event, a distinct metric's key (NULL: none). `weir verify` recomputes every
    # metric row from `events` with it; tests/test_verify.py holds it equal to `value`.
    sql: str = ""
    # NULLABLE: a metric added to tables that already hold rows (they read NULL there); the
    # first metrics, there from the start, are REQUIRED.
    mode: Literal["REQUIRED", "NULLABLE"] = "NULLABLE"


@dataclass(frozen=True)
class Dimension:
    """One breakdown dimension: the event's value for it (None -> NONE_VALUE).

    A `multi` dimension's value is a list (authors, tags): the event adds to one row per
    distinct value (at most MAX_VALUES, so one event cannot make unbounded work; the rest are
    counted in `dimension_values_dropped`), and to the NONE_VALUE row when the list is empty.
    A visitor who read two stories of one author is one visitor of that author: each row
    keeps its own sketch, and rows are merged, never summed."""

    name: str
    value: Callable[[Event], Any]
    description: str
    multi: bool = False


MAX_VALUES = 25  # per multi-valued dimension and event


def _human(event: Event) -> bool:
    return not event["is_bot"]


def _is(action: str) -> Callable[[Event], int]:
    def count(event: Event) -> int:
        return int(_human(event) and event["action"] == action)

    count.__name__ = f"count_{action}"
    return count


def _visitor(event: Event) -> int | None:
    return event["visitor_fp"] if _human(event) else None


def _visitor_of_type(kind: str) -> Callable[[Event], int | None]:
    def key(event: Event) -> int | None:
        return event["visitor_fp"] if _human(event) and event.get("visitor_type") == kind else None

    key.__name__ = f"{kind}_visitor"
    return key


def _engaged(event: Event) -> int:
    return (event.get("engaged_seconds") or 0) if _human(event) and event["action"] == "heartbeat" else 0


def _scroll(event: Event) -> int:
    return (event.get("scroll_quarters") or 0) if _human(event) else 0


def _bot_pageview(event: Event) -> int:
    return int(event["is_bot"] and event["action"] == "pageview")


def _session(event: Event) -> int | None:
    sid = event.get("session_id")
    return farm_fingerprint(f"{event['visitor_id']}\x1f{sid}") if sid and _human(event) else None


def _custom(event: Event) -> int:
    return int(_human(event) and event["action"] not in STANDARD_ACTIONS)


METRICS: tuple[Metric, ...] = (
    Metric(
        "pageviews",
        "sum",
        _is("pageview"),
        "Human page views (action = 'pageview', is_bot = false).",
        sql="IF(NOT is_bot AND action = 'pageview', 1, 0)",
        mode="REQUIRED",
    ),
    Metric(
        "visitors",
        "distinct",
        _visitor,
        (
            "Estimated distinct visitors with any human event in the row (HLL++ estimate of "
            "visitors_sketch). Never sum this across rows: merge visitors_sketch."
        ),
        sketch_column="visitors_sketch",
        sketch_description=(
            "HLL++ sketch (BigQuery HLL_COUNT format) of FARM_FINGERPRINT(visitor_id) over the row's "
            "human events; NULL when the row has no human event."
        ),
        sql="IF(NOT is_bot, FARM_FINGERPRINT(visitor_id), NULL)",
        mode="REQUIRED",
    ),
    Metric(
        "new_visitors",
        "distinct",
        _visitor_of_type("new"),
        "Estimated distinct visitors with a human event whose session_index = 1.",
        sql="IF(NOT is_bot AND visitor_type = 'new', FARM_FINGERPRINT(visitor_id), NULL)",
        mode="REQUIRED",
    ),
    Metric(
        "returning_visitors",
        "distinct",
        _visitor_of_type("returning"),
        "Estimated distinct visitors with a human event whose session_index > 1.",
        sql="IF(NOT is_bot AND visitor_type = 'returning', FARM_FINGERPRINT(visitor_id), NULL)",
        mode="REQUIRED",
    ),
    Metric(
        "engaged_seconds",
        "sum",
        _engaged,
        "Sum of engaged_seconds of human 'heartbeat' events.",
        sql="IF(NOT is_bot AND action = 'heartbeat', COALESCE(engaged_seconds, 0), 0)",
        mode="REQUIRED",
    ),
    Metric(
        "video_starts",
        "sum",
        _is("videostart"),
        "Human 'videostart' events.",
        sql="IF(NOT is_bot AND action = 'videostart', 1, 0)",
        mode="REQUIRED",
    ),
    Metric(
        "bot_pageviews",
        "sum",
        _bot_pageview,
        "Page views whose user agent is a known crawler (is_bot = true).",
        sql="IF(is_bot AND action = 'pageview', 1, 0)",
        mode="REQUIRED",
    ),
    Metric(
        "sessions",
        "distinct",
        _session,
        "Estimated distinct (visitor_id, session_id) pairs with a human event; events without session_id do not count.",
        sql="IF(NOT is_bot AND session_id IS NOT NULL AND session_id != '', "
        "FARM_FINGERPRINT(CONCAT(visitor_id, '\\x1f', session_id)), NULL)",
        mode="REQUIRED",
    ),
    Metric(
        "custom_events",
        "sum",
        _custom,
        "Human events whose action is not one of pageview, heartbeat, videostart, videoheartbeat.",
        sql="IF(NOT is_bot AND action NOT IN ('pageview', 'heartbeat', 'videostart', 'videoheartbeat'), 1, 0)",
        mode="REQUIRED",
    ),
    Metric(
        "scroll_quarters",
        "sum",
        _scroll,
        (
            "Quarters of the page (0-4) human readers scrolled to, summed over their page views (the "
            "tracker sends each quarter once per page view): 25 * scroll_quarters / pageviews is the "
            "average deepest scroll depth in per cent. NULL in rows written before the column existed."
        ),
        sql="IF(NOT is_bot, COALESCE(scroll_quarters, 0), 0)",
    ),
)


def _field(name: str) -> Callable[[Event], str | None]:
    def get(event: Event) -> str | None:
        return event.get(name)

    get.__name__ = f"get_{name}"
    return get


UNKNOWN_VALUE = "(unknown)"


def _known(name: str) -> Callable[[Event], str]:
    """A field the collector looks up: missing means it could not tell, not that there is none."""

    def get(event: Event) -> str:
        return event.get(name) or UNKNOWN_VALUE

    get.__name__ = f"known_{name}"
    return get


def _section(event: Event) -> str | None:
    section = (event.get("metadata") or {}).get("section")
    return section if isinstance(section, str) else None


def _metadata_list(name: str) -> Callable[[Event], list[str]]:
    def get(event: Event) -> list[str]:
        return str_list((event.get("metadata") or {}).get(name))

    get.__name__ = f"get_{name}"
    return get


DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("referrer_category", _field("referrer_category"), "internal, ai, search, social, other or direct."),
    Dimension("referrer_domain", _field("referrer_domain"), "Registrable domain of the referrer."),
    Dimension("campaign", _field("utm_campaign"), "utm_campaign of the page URL."),
    Dimension("utm_source", _field("utm_source"), "utm_source of the page URL."),
    Dimension("utm_medium", _field("utm_medium"), "utm_medium of the page URL."),
    Dimension("device_type", _field("device_type"), "desktop, mobile, tablet or other."),
    Dimension("browser", _field("browser"), "Browser family."),
    Dimension("os", _field("os"), "Operating system family."),
    Dimension("visitor_type", _field("visitor_type"), "new or returning (from session_index)."),
    Dimension("channel", _field("channel"), "Delivery channel (extra.channel, default website)."),
    Dimension("action", _field("action"), "The event's action; counts custom actions by name."),
    Dimension("section", _section, "metadata.section of the page, as the tracker read it."),
    Dimension("author", _metadata_list("authors"), "Each of metadata.authors (a row per author).", multi=True),
    Dimension("tag", _metadata_list("tags"), "Each of metadata.tags (a row per tag).", multi=True),
    Dimension("country", _known("country"), "ISO 3166-1 alpha-2 country of the reader, from the collector."),
    Dimension("region", _known("region"), "ISO 3166-2 subdivision of the reader, where the geography data has one."),
)


def metric_columns(metrics: tuple[Metric, ...] = METRICS) -> list[str]:
    """Metric columns of every metrics table, in schema order."""
    cols = []
    for m in metrics:
        cols.append(m.name)
        if m.sketch_column:
            cols.append(m.sketch_column)
    return cols
