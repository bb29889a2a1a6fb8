"""`weir plot`: a PNG of a metric over time, with the same period a week earlier dashed.

What the chart promises: every bucket of exactly the window asked for is drawn, an empty one
at zero (a line never sits flat across hours that had nothing); the x axis is that window,
in the site's time zone (`sites`; UTC for all sites or a site not set), and says so, and a
daily chart has a point per date of the site's calendar; counts get whole-number ticks,
engaged time is in minutes; the week-earlier line and its legend appear only where that week has data; a window with
nothing in it is no chart (`NothingToPlot`), not a drawing with a 1970 axis.
"""

from __future__ import annotations

import datetime as dt

from weir.query.client import QueryClient, SeriesQuery
from weir.usage import UsageError

STEP = {"5m": dt.timedelta(minutes=5), "1h": dt.timedelta(hours=1), "1d": dt.timedelta(days=1)}


class NothingToPlot(UsageError):
    """The window holds no data for the question."""


def buckets(query: SeriesQuery) -> list[dt.datetime]:
    """Every bucket start of the query's window at its granularity, in UTC (daily: each of
    the site's dates in the window, labelled as `TIMESTAMP(bucket_date)` reads)."""
    if query.granularity == "1d" or (query.granularity == "1h" and query.zone != "UTC"):
        from weir.query.client import buckets as zone_buckets  # the site's dates, or its hours

        return zone_buckets(query.start, query.end, query.granularity, query.zone)
    step = STEP[query.granularity]
    start = query.start.astimezone(dt.timezone.utc)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    first = epoch + ((start - epoch) // step) * step  # the bucket holding the start
    out, t = [], first
    while t < query.end:
        out.append(t)
        t += step
    return out


def zero_filled(rows: list[dict], grid: list[dt.datetime], metric: str) -> list[float]:
    by_ts = {r["ts"].astimezone(dt.timezone.utc): r[metric] or 0 for r in rows}
    return [by_ts.get(t, 0) for t in grid]


def _closed(values: list[float], drawstyle: str) -> list[float]:
    return values + values[-1:] if drawstyle == "steps-post" else values


def plot_series(client: QueryClient, query: SeriesQuery, out_path: str, title: str | None = None) -> dict:
    """Draws the series and its week-ago line; returns {"now": points with data, "week_ago":
    points with data, "buckets": buckets drawn}. Raises NothingToPlot for an empty window."""
    now = client.timeseries(query)
    if not now:
        where = query.url or query.site or "any site"
        raise NothingToPlot(
            f"no {query.metric} for {where} between {query.start:%Y-%m-%d %H:%M} and {query.end:%Y-%m-%d %H:%M} UTC"
        )
    before = client.week_ago(query)
    grid = buckets(query)
    minutes = query.metric == "engaged_seconds"
    scale = (lambda v: v / 60) if minutes else (lambda v: v)
    values = [scale(v) for v in zero_filled(now, grid, query.metric)]

    import matplotlib

    matplotlib.use("Agg")  # no display needed: this writes a file
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(10, 4), dpi=100)
    drawstyle = "steps-post" if query.granularity != "1d" else "default"
    # A step holds its bucket's value to the bucket's end: the last step ends with the window.
    xs = grid + [query.end] if drawstyle == "steps-post" else grid
    ax.plot(xs, _closed(values, drawstyle), label="this period", color="#1f5fa8", lw=2, drawstyle=drawstyle)
    week = [scale(v) for v in zero_filled(before, grid, query.metric)] if before else []
    if week:
        ax.plot(
            xs, _closed(week, drawstyle), label="a week earlier", color="#888888", lw=1.5, ls="--", drawstyle=drawstyle
        )
        ax.legend(loc="upper left")
    label = "engaged minutes" if minutes else query.metric
    ax.set_title(title or f"{label} per {query.granularity}: {query.url or query.site or 'all sites'}")
    ax.set_ylabel(label)
    import zoneinfo

    daily = query.granularity == "1d"
    shown = dt.timezone.utc if daily else zoneinfo.ZoneInfo(query.zone)  # a date is a date: no shift
    ax.set_xlabel(f"date ({query.zone})" if daily else f"time ({query.zone})")
    ax.set_xlim(*((grid[0], grid[-1]) if daily and len(grid) > 1 else (query.start, query.end)))
    ax.set_ylim(bottom=0, top=max(1, max(values + week) * 1.1))
    if not minutes:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no fractional page views
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d" if daily else "%m-%d %H:%M", tz=shown))
    if daily and len(grid) <= 16:  # a tick per date, never two labels for one date
        ax.xaxis.set_major_locator(mdates.DayLocator(tz=shown))
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(out_path)
    plt.close(fig)
    return {"now": len(now), "week_ago": len(before), "buckets": len(grid)}
