"""`weir plot`: a PNG of a metric over time, with the same period a week earlier dashed."""

from __future__ import annotations

import datetime as dt

from weir.query import QueryClient, SeriesQuery


def plot_series(client: QueryClient, query: SeriesQuery, out_path: str, title: str | None = None) -> dict:
    """Draws the series and its week-ago line; returns the points drawn ({"now": n, "week_ago": n})."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed: this writes a file
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    now = client.timeseries(query)
    before = client.week_ago(query)
    fig, ax = plt.subplots(figsize=(10, 4), dpi=100)
    ax.plot([r["ts"] for r in now], [r[query.metric] for r in now], label="this period", color="#1f5fa8", lw=2)
    ax.plot(
        [r["ts"] for r in before],
        [r[query.metric] for r in before],
        label="a week earlier",
        color="#888888",
        lw=1.5,
        ls="--",
    )
    ax.set_title(title or f"{query.metric} per {query.granularity}: {query.url or query.site or 'all sites'}")
    ax.set_ylabel(query.metric)
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M", tz=dt.timezone.utc))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(out_path)
    plt.close(fig)
    return {"now": len(now), "week_ago": len(before)}
