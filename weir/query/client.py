"""The query client: one place that turns a time-series question into BigQuery SQL.

`weir sql`, `weir plot`, a dashboard or an API use it alike:

    client = QueryClient(warehouse)
    client.timeseries(SeriesQuery(metric="pageviews", site="dailyglobe.example",
                                  start=..., end=..., granularity="1h"))
    -> [{"ts": datetime, "pageviews": 123}, ...]   (with "value" when broken down)

Metrics come from the registry: sum metrics are summed; `visitors` is merged from its
sketches (never summed); other distinct counts can only be read where one row is one
bucket (a single URL at the table's own grain). Callers' values reach SQL only as query
parameters (weir.warehouse.params), never as text; `sql()` refuses changes to data unless
asked to write.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from weir.transforms.metrics import DIMENSIONS, METRICS
from weir.usage import UsageError
from weir.warehouse.base import QueryResult, Warehouse

GRAIN_SECONDS = {"5m": 300, "1h": 3600, "1d": 86400}
GRAINS = {
    "5m": ("5m", "bucket_start"),
    "1h": ("5m", "TIMESTAMP_TRUNC(bucket_start, HOUR)"),
    "1d": ("1d", "TIMESTAMP(bucket_date)"),
}


def buckets(start: dt.datetime, end: dt.datetime, granularity: str, zone: str = "UTC") -> list[dt.datetime]:
    """The bucket starts a series of `granularity` has from `start` (the first bucket that
    starts at or after it, as the query's `>= @start`) to before `end`, in UTC. Daily buckets
    are the dates of `zone` from the one of `start` to the one before `end`, each labelled
    as its midnight UTC (as `TIMESTAMP(bucket_date)` reads)."""
    if granularity == "1d":
        from weir.transforms.sitetime import days_between, local_day

        first, last = (local_day(int(t.timestamp() * 1000), zone) for t in (start, end - dt.timedelta(milliseconds=1)))
        return [dt.datetime.fromisoformat(d).replace(tzinfo=dt.timezone.utc) for d in days_between(first, last)]
    if granularity == "1h" and zone != "UTC":  # the zone's hours, found on its quarter hours
        import zoneinfo

        tz, quarter = zoneinfo.ZoneInfo(zone), dt.timedelta(minutes=15)
        t, hours = start, set()
        while t < end:
            hour = t.astimezone(tz).replace(minute=0, second=0, microsecond=0).astimezone(dt.timezone.utc)
            if start <= hour < end:
                hours.add(hour)
            t += quarter
        return sorted(hours)
    step = GRAIN_SECONDS[granularity]
    first = -(-int(start.timestamp()) // step) * step
    return [dt.datetime.fromtimestamp(t, dt.timezone.utc) for t in range(first, int(end.timestamp()), step)]


@dataclass(frozen=True)
class SeriesQuery:
    """A metric over time for a site, a URL, or one breakdown dimension."""

    metric: str
    start: dt.datetime
    end: dt.datetime
    granularity: str = "1h"
    site: str | None = None
    url: str | None = None
    dimension: str | None = None
    values: tuple[str, ...] = field(default=())
    zone: str = "UTC"  # the site's time zone: daily buckets are its dates (transforms.sitetime)

    def __post_init__(self):
        metrics = {m.name: m for m in METRICS}
        if self.metric not in metrics:
            raise UsageError(f"unknown metric {self.metric!r}; one of {', '.join(metrics)}")
        if self.granularity not in GRAINS:
            raise UsageError(f"granularity must be one of {', '.join(GRAINS)}")
        if self.dimension is not None and self.dimension not in {d.name for d in DIMENSIONS}:
            raise UsageError(f"unknown dimension {self.dimension!r}")
        m = metrics[self.metric]
        if m.kind == "distinct" and not m.sketch_column and not (self.url and self.granularity != "1h"):
            raise UsageError(
                f"{self.metric} is a distinct count without a stored sketch: it can be read per URL and "
                f"bucket only (give --url and granularity 5m or 1d)"
            )
        if self.end <= self.start:
            raise UsageError("end must be after start")

    def statement(self) -> tuple[str, dict]:
        """(BigQuery SQL with @parameters, their values)."""
        table_grain, bucket = GRAINS[self.granularity]
        if self.granularity == "1h" and self.zone != "UTC":  # the site's hours (Kathmandu's start at :15 UTC)
            bucket = "TIMESTAMP_TRUNC(bucket_start, HOUR, @zone)"
        table = f"{'breakdown' if self.dimension else 'url'}_metrics_{table_grain}"
        metric = next(m for m in METRICS if m.name == self.metric)
        if metric.kind == "sum":
            expr = f"SUM({metric.name})"
        elif metric.sketch_column:
            expr = f"HLL_COUNT.MERGE({metric.sketch_column})"
        else:
            expr = f"MAX({metric.name})"  # one row per bucket (checked in __post_init__)
        params: dict = {"start": self.start, "end": self.end}
        if "@zone" in bucket:
            params["zone"] = self.zone
        where = [f"{bucket} >= @start", f"{bucket} < @end"]
        if table_grain == "1d":  # the site's dates from the one of `start` to the one before `end`
            from weir.transforms.sitetime import local_day

            start_ms, end_ms = int(self.start.timestamp() * 1000), int(self.end.timestamp() * 1000)
            where = ["bucket_date >= CAST(@first_day AS DATE)", "bucket_date <= CAST(@last_day AS DATE)"]
            params = {"first_day": local_day(start_ms, self.zone), "last_day": local_day(end_ms - 1, self.zone)}
        if self.site:
            where.append("site = @site")
            params["site"] = self.site
        if self.url:
            where.append("url = @url")
            params["url"] = self.url
        select, group = [f"{bucket} AS ts"], ["ts"]
        if self.dimension:
            where.append("dimension = @dimension")
            params["dimension"] = self.dimension
            if self.values:
                where.append("value IN UNNEST(@dimension_values)")
                params["dimension_values"] = list(self.values)
            select.append("value")
            group.append("value")
        sql = (
            f"SELECT {', '.join(select)}, {expr} AS {metric.name} FROM {table} "
            f"WHERE {' AND '.join(where)} GROUP BY {', '.join(group)} ORDER BY {', '.join(group)}"
        )
        return sql, params


class QueryClient:
    """BigQuery SQL and time series over one warehouse (local DuckDB or BigQuery)."""

    def __init__(self, warehouse: Warehouse):
        self.warehouse = warehouse

    def sql(self, text: str, params: dict | None = None, write: bool = False) -> QueryResult:
        """BigQuery SQL; values as `params` (@name). Changes to data only with `write`."""
        return self.warehouse.query(text, params, write=write)

    def timeseries(self, query: SeriesQuery) -> list[dict]:
        sql, params = query.statement()
        return self.warehouse.query(sql, params).records()

    def top(self, query) -> list[dict]:
        """A `weir.query.top.TopQuery`'s rows: the top values with page views, visitors
        (merged from sketches) and engaged seconds."""
        sql, params = query.statement()
        return self.warehouse.query(sql, params).records()

    def right_now(self, site: str | None = None, minutes: int = 30, now: dt.datetime | None = None, sites=None) -> dict:
        """Page views and visitors of the last `minutes` of whole 5-minute buckets (`from`,
        `to`: the running bucket is left out), beside the same buckets a week earlier."""
        from weir.query.top import right_now_statement, right_now_window

        now = now or dt.datetime.now(dt.timezone.utc)
        sql, params = right_now_statement(site, minutes, now, sites)
        since, until = right_now_window(minutes, now)
        row = self.warehouse.query(sql, params).records()[0]
        return {
            "minutes": minutes,
            "from": since.isoformat(),
            "to": until.isoformat(),
            **{k: int(v or 0) for k, v in row.items()},
        }

    def content(
        self, url: str, start: dt.datetime, end: dt.datetime, site: str | None = None, sites=None
    ) -> list[dict]:
        """One page's metadata (the `content` view) with its page views, visitors (merged
        sketches) and engaged seconds between `start` and `end`; [] for a page never seen."""
        from weir.query.top import site_conditions

        params = {"url": url, "start": start, "end": end}
        where = ["c.url = @url", *site_conditions(site, sites, params, column="c.site")]
        sql = f"""SELECT c.site, c.url, c.title, c.section, c.authors, c.tags, c.published, c.canonical,
              c.first_seen, c.last_seen,
              COALESCE(SUM(m.pageviews), 0) AS pageviews,
              COALESCE(HLL_COUNT.MERGE(m.visitors_sketch), 0) AS visitors,
              COALESCE(SUM(m.engaged_seconds), 0) AS engaged_seconds
            FROM content AS c
            LEFT JOIN url_metrics_5m AS m
              ON m.site = c.site AND m.url = c.url AND m.bucket_start >= @start AND m.bucket_start < @end
            WHERE {" AND ".join(where)}
            GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
            ORDER BY 1"""
        return self.warehouse.query(sql, params).records()

    def with_week_ago(self, query: SeriesQuery) -> list[dict]:
        """The series and, beside each bucket, the same bucket a week earlier
        (`<metric>_week_ago`): every bucket from `start` to `end`, 0 where nothing counted
        (a chart's x axis is time, not the rows that exist). A dimension without one chosen
        value gives a row per (bucket, value) that has data, unfilled."""
        metric = query.metric
        week = {(r["ts"], r.get("value")): r[metric] for r in self.week_ago(query)}
        rows = self.timeseries(query)
        if query.dimension and len(query.values) != 1:
            return [{**r, f"{metric}_week_ago": week.get((r["ts"], r.get("value")), 0)} for r in rows]
        value = query.values[0] if query.values else None
        have = {r["ts"]: r for r in rows}
        out = []
        for ts in buckets(query.start, query.end, query.granularity, query.zone):
            row = have.get(ts) or {"ts": ts, **({"value": value} if query.dimension else {}), metric: 0}
            out.append({**row, f"{metric}_week_ago": week.get((ts, value), 0)})
        return out

    def week_ago(self, query: SeriesQuery) -> list[dict]:
        """The same series one week earlier, with `ts` moved forward a week to line up."""
        week = dt.timedelta(days=7)
        earlier = SeriesQuery(
            query.metric,
            query.start - week,
            query.end - week,
            query.granularity,
            query.site,
            query.url,
            query.dimension,
            query.values,
            query.zone,
        )
        rows = self.timeseries(earlier)
        for row in rows:
            row["ts"] = row["ts"] + week
        return rows
