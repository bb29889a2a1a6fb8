"""The query client (SQL built from a question) and `weir plot` (a PNG a person can read)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest

from tests.conftest import rebuilt_warehouse
from weir.query.client import QueryClient, SeriesQuery
from weir.traffic.generator import generate_day
from weir.warehouse.local import LocalWarehouse

DAY = dt.datetime(2025, 11, 20, tzinfo=dt.timezone.utc)
WEIR = os.path.join(os.path.dirname(sys.executable), "weir")


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = str(tmp_path_factory.mktemp("plot"))
    records = generate_day("2025-11-20", events=3000, seed=91, url_seed=7)
    records += generate_day("2025-11-13", events=2000, seed=92, url_seed=7)
    rebuilt_warehouse(home, records)
    return home


def test_hourly_series_adds_up_to_the_day(home):
    client = QueryClient(LocalWarehouse(home))
    q = SeriesQuery("pageviews", DAY, DAY + dt.timedelta(days=1), "1h", site="dailyglobe.example")
    rows = client.timeseries(q)
    day_total = client.sql(
        "SELECT SUM(pageviews) FROM url_metrics_1d WHERE site = 'dailyglobe.example' AND bucket_date = '2025-11-20'"
    ).rows[0][0]
    assert 20 <= len(rows) <= 24 and sum(r["pageviews"] for r in rows) == day_total
    assert all(r["ts"].minute == 0 for r in rows)
    week = client.week_ago(q)
    assert week and all(DAY <= r["ts"] < DAY + dt.timedelta(days=1) for r in week)  # moved onto this week


def test_visitors_are_merged_and_breakdowns_filtered(home):
    client = QueryClient(LocalWarehouse(home))
    q = SeriesQuery(
        "visitors", DAY, DAY + dt.timedelta(days=1), "1d", dimension="device_type", values=("mobile", "desktop")
    )
    rows = client.timeseries(q)
    assert {r["value"] for r in rows} == {"mobile", "desktop"}
    merged = client.sql(
        "SELECT HLL_COUNT.MERGE(visitors_sketch) FROM breakdown_metrics_1d "
        "WHERE dimension = 'device_type' AND value = 'mobile' AND bucket_date = '2025-11-20'"
    ).rows
    assert [r["visitors"] for r in rows if r["value"] == "mobile"] == [merged[0][0]]


def test_values_are_parameters(home):
    client = QueryClient(LocalWarehouse(home))
    q = SeriesQuery("pageviews", DAY, DAY + dt.timedelta(days=1), "1d", url="https://x.example/it's\\here")
    assert client.timeseries(q) == []  # a quote in a value is data, not SQL
    sql, params = q.statement()
    assert "it's" not in sql and params["url"] == "https://x.example/it's\\here"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"metric": "nope"}, "unknown metric"),
        ({"metric": "sessions"}, "without a stored sketch"),
        ({"granularity": "1w"}, "granularity"),
        ({"dimension": "colour"}, "unknown dimension"),
    ],
)
def test_bad_questions_are_refused_clearly(kwargs, message):
    args = {"metric": "pageviews", "start": DAY, "end": DAY + dt.timedelta(hours=1), **kwargs}
    with pytest.raises(ValueError, match=message):
        SeriesQuery(**args)


def test_weir_plot_writes_a_png_with_both_lines(home, tmp_path):
    out = str(tmp_path / "chart.png")
    run = subprocess.run(
        [
            WEIR,
            "plot",
            "--site",
            "dailyglobe.example",
            "--start",
            "2025-11-20T00:00:00",
            "--end",
            "2025-11-21T00:00:00",
            "--granularity",
            "1h",
            "--out",
            out,
        ],
        env={**os.environ, "WEIR_HOME": home},
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    assert "24 buckets" in run.stdout and ", 0 a week earlier" not in run.stdout
    import matplotlib.image as mpimg

    image = mpimg.imread(out)
    assert image.shape[0] >= 300 and image.shape[1] >= 800
    rgb = image[..., :3]
    assert rgb.std() > 0.05  # not blank
    blue = ((rgb[..., 2] > 0.55) & (rgb[..., 0] < 0.3)).sum()  # the series line
    grey = ((abs(rgb[..., 0] - 0.53) < 0.05) & (abs(rgb[..., 1] - 0.53) < 0.05)).sum()  # the week-ago line
    assert blue > 500 and grey > 200


def test_the_chart_covers_exactly_the_window_with_empty_buckets_at_zero():
    from weir.query.plot import buckets, zero_filled

    start = dt.datetime(2025, 11, 20, 22, 30, tzinfo=dt.timezone.utc)
    q = SeriesQuery("pageviews", start, start + dt.timedelta(hours=4), "1h", site="s")
    grid = buckets(q)
    assert grid[0] == dt.datetime(2025, 11, 20, 22, tzinfo=dt.timezone.utc) and len(grid) == 5
    rows = [{"ts": grid[1], "pageviews": 7}]  # one bucket with data: the rest are drawn at zero
    assert zero_filled(rows, grid, "pageviews") == [0, 7, 0, 0, 0]


def test_nothing_to_plot_is_exit_1_and_no_file(home, tmp_path):
    out = str(tmp_path / "none.png")
    run = subprocess.run(
        [WEIR, "plot", "--start", "2024-01-01T00:00", "--end", "2024-01-02T00:00", "--out", out],
        env={**os.environ, "WEIR_HOME": home},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 1 and "nothing to plot" in run.stderr and not os.path.exists(out)
