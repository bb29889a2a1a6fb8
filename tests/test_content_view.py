"""The `content` view (issue #18): one row per page with the latest metadata its page views
carried, for joins; bots, heartbeats and page views without metadata do not replace it."""

from __future__ import annotations

import orjson

from tests.conftest import rebuilt_warehouse

T0 = 1_764_000_000_000  # 2025-11-24 16:00 UTC
URL = "https://www.dailyglobe.example/news/floods"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


def _record(n: int, minutes: int, action: str = "pageview", metadata=None, user_agent=None) -> tuple[int, bytes]:
    ts = T0 + minutes * 60_000
    event = {"event_id": f"e{n}", "action": action, "ts": ts, "site": "dailyglobe.example", "url": URL,
             "visitor_id": f"v{n}", "user_agent": user_agent or FIREFOX}  # fmt: skip
    if action == "heartbeat":
        event["engaged_seconds"] = 10
    if metadata is not None:
        event["metadata"] = metadata
    return ts + 500, orjson.dumps(event)


def test_content_holds_the_latest_metadata_of_each_page(weir_home):
    first = {"title": "Floods", "section": "news", "authors": ["Ada"], "tags": ["weather"]}
    later = {"title": "Floods: the river crests", "section": "news", "authors": ["Ada", "Bo"],
             "tags": ["weather", "floods"], "published": "2025-11-24T15:30:00Z",
             "canonical": "https://www.dailyglobe.example/news/floods"}  # fmt: skip
    records = [
        _record(1, 0, metadata=first),
        _record(2, 30, metadata=later),
        _record(3, 40, action="heartbeat", metadata={"title": "not a page view"}),
        _record(4, 55),  # a page view without metadata keeps the page's last title
        _record(5, 60, metadata={"title": "a crawler's"}, user_agent="Mozilla/5.0 (compatible; Googlebot/2.1)"),
    ]
    wh = rebuilt_warehouse(weir_home, records)
    rows = wh.query("SELECT * FROM content").records()
    assert len(rows) == 1
    row = rows[0]
    assert (row["site"], row["url"]) == ("dailyglobe.example", URL)
    assert (row["title"], row["section"], list(row["authors"]), list(row["tags"])) == (
        "Floods: the river crests", "news", ["Ada", "Bo"], ["weather", "floods"]
    )  # fmt: skip
    assert (row["published"], row["canonical"]) == ("2025-11-24T15:30:00Z", URL)
    assert row["first_seen"].timestamp() * 1000 == T0  # the first human page view
    assert row["last_seen"].timestamp() * 1000 == T0 + 55 * 60_000  # not the crawler's, at 60
