""""Right now" compares whole 5-minute buckets with the same buckets a week earlier: mid-bucket,
the running bucket is left out on both sides (hand-computed answer below)."""

from __future__ import annotations

import datetime as dt

import orjson

from tests.conftest import rebuilt_warehouse
from weir.query.client import QueryClient

NOW = dt.datetime(2026, 12, 7, 12, 2, 30, tzinfo=dt.timezone.utc)  # 2.5 minutes into the 12:00 bucket
WEEK = dt.timedelta(days=7)


def views(at: dt.datetime, n: int, tag: str) -> list[tuple[int, bytes]]:
    ts = int(at.timestamp() * 1000)
    return [
        (
            ts,
            orjson.dumps(
                {
                    "event_id": f"{tag}-{i}",
                    "action": "pageview",
                    "ts": ts,
                    "site": "news.example",
                    "url": "https://news.example/a",
                    "visitor_id": f"{tag}-v{i}",
                    "session_index": 1,
                    "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
                }
            ),
        )
        for i in range(n)
    ]


def at(hh: int, mm: int, back: dt.timedelta = dt.timedelta(0)) -> dt.datetime:
    return NOW.replace(hour=hh, minute=mm, second=0) - back


def test_right_now_mid_bucket_against_a_hand_computed_answer(weir_home):
    records = (
        views(at(11, 31), 1, "a") + views(at(11, 58), 2, "b") + views(at(12, 1), 3, "c")  # today
        + views(at(11, 31, WEEK), 1, "d") + views(at(11, 58, WEEK), 2, "e")  # a week ago
        + views(at(12, 1, WEEK), 4, "f") + views(at(12, 4, WEEK), 5, "g")
    )  # fmt: skip
    client = QueryClient(rebuilt_warehouse(weir_home, records))
    last30 = client.right_now(minutes=30, now=NOW)
    # Whole buckets 11:30-12:00 on both sides: today 1 + 2, a week ago 1 + 2. The running 12:00
    # bucket (3 today, 2.5 minutes in; 4 + 5 a week ago, all five minutes) counts on neither side.
    assert (last30["pageviews"], last30["pageviews_week_ago"]) == (3, 3)
    assert (last30["visitors"], last30["visitors_week_ago"]) == (3, 3)
    assert (last30["from"], last30["to"]) == ("2026-12-07T11:30:00+00:00", "2026-12-07T12:00:00+00:00")
    last5 = client.right_now(minutes=5, now=NOW)
    assert (last5["pageviews"], last5["pageviews_week_ago"]) == (2, 2)
    # 7 minutes round up to two whole buckets: 11:50-12:00.
    assert client.right_now(minutes=7, now=NOW)["from"] == "2026-12-07T11:50:00+00:00"
