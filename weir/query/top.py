"""Top lists and "right now": the newsroom's questions as BigQuery SQL.

    TopQuery(by="author", start=..., end=..., site="dailyglobe.example", limit=10)
    -> SQL over url_metrics_* (by="url") or breakdown_metrics_* (by a dimension), with page
       views and engaged seconds summed and visitors merged from sketches (never summed).

Ranges that start within the last 7 days read the 5-minute tables, older ones the daily
tables (whole days). Callers' values reach SQL only as query parameters; the dimension and
ordering are checked against the registry before any SQL is built.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from weir.transforms.metrics import DIMENSIONS
from weir.usage import UsageError

ORDER_BY = ("pageviews", "visitors", "engaged_seconds")
FIVE_MINUTE_DAYS = 7  # url_metrics_5m keeps 8 days; a range starting earlier reads the daily tables
MAX_LIMIT = 1000


def _dimensions() -> frozenset[str]:
    return frozenset(d.name for d in DIMENSIONS)


@dataclass(frozen=True)
class TopQuery:
    """The top values of `by` ("url" or a breakdown dimension) between start and end."""

    by: str
    start: dt.datetime
    end: dt.datetime
    site: str | None = None
    limit: int = 10
    order_by: str = "pageviews"
    sites: tuple[str, ...] | None = None  # when set, only these sites (an API key's)
    days: tuple[str, ...] = ()  # whole days instead of start/end: each site's own, in `zones`
    zones: object = None  # transforms.sitetime.SiteZones, with `days`

    def __post_init__(self):
        if self.by != "url" and self.by not in _dimensions():
            raise UsageError(f"by must be url or one of {', '.join(sorted(_dimensions()))}; got {self.by!r}")
        if self.order_by not in ORDER_BY:
            raise UsageError(f"order_by must be one of {', '.join(ORDER_BY)}; got {self.order_by!r}")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise UsageError(f"limit must be from 1 to {MAX_LIMIT}; got {self.limit}")
        if self.end <= self.start:
            raise UsageError("end must be after start")

    def statement(self, now: dt.datetime | None = None) -> tuple[str, dict]:
        now = now or dt.datetime.now(dt.timezone.utc)
        recent = self.start >= now - dt.timedelta(days=FIVE_MINUTE_DAYS)
        grain, bucket = ("5m", "bucket_start") if recent else ("1d", "TIMESTAMP(bucket_date)")
        table = f"{'url' if self.by == 'url' else 'breakdown'}_metrics_{grain}"
        key = "url" if self.by == "url" else "value"
        where = [f"{bucket} >= @start", f"{bucket} < @end"]
        params: dict = {"start": self.start, "end": self.end, "limit": self.limit}
        if self.days:  # each site's own days: their spans in the 5-minute tables, their dates in the daily
            from weir.transforms.sitetime import DayScope
            from weir.warehouse.scope import parts_of_day, predicate

            parts = [p for day in self.days for p in parts_of_day(DayScope(day), self.zones)]
            day_where, typed = predicate(table, parts, "bigquery")
            where = [day_where]
            params = {"limit": self.limit, **{name: value for name, _, value in typed}}
        if self.by != "url":
            where.append("dimension = @dimension")
            params["dimension"] = self.by
        where += site_conditions(self.site, self.sites, params)
        sql = (
            f"SELECT {key} AS {self.by}, SUM(pageviews) AS pageviews, "
            f"HLL_COUNT.MERGE(visitors_sketch) AS visitors, SUM(engaged_seconds) AS engaged_seconds "
            f"FROM {table} WHERE {' AND '.join(where)} GROUP BY 1 "
            f"ORDER BY {self.order_by} DESC, 1 LIMIT @limit"
        )
        return sql, params


def site_conditions(site: str | None, sites, params: dict, column: str = "site") -> list[str]:
    """WHERE conditions keeping one asked-for `site` and the `sites` an API key may see (None:
    all); their values go into `params`, never into the SQL text."""
    conditions = []
    if site:
        conditions.append(f"{column} = @site")
        params["site"] = site
    if sites is not None:
        conditions.append(f"{column} IN UNNEST(@sites)")
        params["sites"] = list(sites)
    return conditions


def right_now_window(minutes: int, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """[since, until) of "the last `minutes`": whole 5-minute buckets ending where the running
    bucket starts (`minutes` rounded up to whole buckets). The running bucket is left out on
    both sides of the comparison: at 12:02:30 it holds 2.5 minutes, and set against the whole
    12:00 bucket of a week earlier it would read low all day."""
    if not 5 <= minutes <= 24 * 60:
        raise UsageError(f"minutes must be from 5 to 1440; got {minutes}")
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    until = epoch + dt.timedelta(minutes=5 * ((now - epoch) // dt.timedelta(minutes=5)))
    return until - dt.timedelta(minutes=5 * -(-minutes // 5)), until


def right_now_statement(
    site: str | None, minutes: int, now: dt.datetime, sites: tuple[str, ...] | None = None
) -> tuple[str, dict]:
    """Page views and visitors in the last `minutes` of whole 5-minute buckets, and the same
    buckets a week earlier (see `right_now_window`)."""
    since, until = right_now_window(minutes, now)
    week = dt.timedelta(days=7)
    params: dict = {"since": since, "now": until, "since_wk": since - week, "now_wk": until - week}
    site_filter = "".join(f" AND {c}" for c in site_conditions(site, sites, params))
    sql = f"""SELECT
      SUM(IF(bucket_start >= @since AND bucket_start < @now, pageviews, 0)) AS pageviews,
      HLL_COUNT.MERGE(IF(bucket_start >= @since AND bucket_start < @now, visitors_sketch, NULL)) AS visitors,
      SUM(IF(bucket_start >= @since_wk AND bucket_start < @now_wk, pageviews, 0)) AS pageviews_week_ago,
      HLL_COUNT.MERGE(IF(bucket_start >= @since_wk AND bucket_start < @now_wk, visitors_sketch, NULL))
        AS visitors_week_ago
    FROM url_metrics_5m
    WHERE ((bucket_start >= @since AND bucket_start < @now)
        OR (bucket_start >= @since_wk AND bucket_start < @now_wk)){site_filter}"""
    return sql, params
