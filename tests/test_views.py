"""The dashboard views, on days placed around the current date.

The views read `CURRENT_TIMESTAMP()`, so each test runs against data generated around the
UTC day it is evaluated on: `on_one_day` builds (or reuses) the warehouse for today, runs the
checks, and runs them again on a fresh build if midnight passed meanwhile (a suite started
at 23:55 must not compare yesterday's data with today's views).
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import rebuilt_warehouse
from weir.traffic.generator import generate_day


def _today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


@pytest.fixture(scope="module")
def on_one_day(tmp_path_factory):
    built: dict[dt.date, object] = {}

    def warehouse_for(today: dt.date):
        if today not in built:
            days = [today - dt.timedelta(days=n) for n in (0, 1, 3, 7)]
            home = str(tmp_path_factory.mktemp("views"))
            records = []
            for i, day in enumerate(days):
                paired = day in (days[0], days[3])  # today and a week before: enough traffic to share buckets
                records += generate_day(day.isoformat(), events=4000 if paired else 800, seed=70 + i, url_seed=7)
            built[today] = rebuilt_warehouse(home, records)
        return built[today]

    def run(check):
        for _attempt in range(2):
            today = _today()
            try:
                check(warehouse_for(today), today)
            except AssertionError:
                if _today() == today:
                    raise
                continue  # the day turned while checking: the data no longer surrounds "today"
            if _today() == today:
                return
        raise AssertionError("the UTC day turned twice during one test")

    return run


def test_timeseries_has_each_period_in_one_grain_only(on_one_day):
    def check(wh, day):
        cutoff = dt.datetime.combine(day - dt.timedelta(days=1), dt.time(), dt.timezone.utc)
        now = dt.datetime.now(dt.timezone.utc)
        if now - cutoff < dt.timedelta(hours=24):  # the cut is midnight of the day 24 h ago
            cutoff -= dt.timedelta(days=1)
        grains = wh.query("SELECT granularity, MIN(ts) AS first, MAX(ts) AS last FROM url_timeseries GROUP BY 1")
        spans = {g["granularity"]: (g["first"], g["last"]) for g in grains.records()}
        assert spans["5m"][0] >= cutoff and spans["1d"][1] < cutoff
        total = wh.query("SELECT SUM(pageviews) FROM url_timeseries").rows[0][0]
        # nothing twice, nothing missed
        assert total == wh.query("SELECT SUM(pageviews) FROM url_metrics_1d").rows[0][0]
        visitors = wh.query("SELECT HLL_COUNT.MERGE(visitors_sketch) FROM url_timeseries").rows[0][0]
        assert visitors == wh.query("SELECT HLL_COUNT.MERGE(visitors_sketch) FROM url_metrics_1d").rows[0][0]

    on_one_day(check)


def test_today_views(on_one_day):
    def check(wh, day):
        today = day.isoformat()
        top = wh.query("SELECT SUM(pageviews), COUNT(*) FROM top_urls_today").rows[0]
        same_day = f"SELECT SUM(pageviews), COUNT(*) FROM url_metrics_1d WHERE bucket_date = '{today}'"
        assert top == wh.query(same_day).rows[0]
        refs = wh.query("SELECT dimension, SUM(pageviews) FROM referrers_today GROUP BY 1 ORDER BY 1").rows
        assert refs == [("referrer_category", top[0]), ("referrer_domain", top[0])]

    on_one_day(check)


def test_benchmarks_pair_each_bucket_with_a_week_earlier(on_one_day):
    def check(wh, day):
        rows = wh.query("""SELECT b.url, b.bucket_start, b.pageviews_week_ago, m.pageviews
                           FROM url_benchmarks AS b
                           JOIN url_metrics_5m AS m ON m.url = b.url AND m.site = b.site
                            AND m.bucket_start = TIMESTAMP_SUB(b.bucket_start, INTERVAL 7 DAY)""").rows
        assert rows and all(r[2] == r[3] for r in rows)
        unmatched = wh.query(f"""SELECT COUNT(*) FROM url_benchmarks WHERE pageviews_week_ago IS NULL
                                 AND DATE(bucket_start) = '{day.isoformat()}'""").rows[0][0]
        total = wh.query(f"SELECT COUNT(*) FROM url_benchmarks WHERE DATE(bucket_start) = '{day}'").rows[0][0]
        assert 0 < total - unmatched < total  # some of today's buckets have a week-ago twin, not all

    on_one_day(check)
