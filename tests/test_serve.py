"""`weir serve`'s stats API (issue #18): answers equal the query client's SQL over the same
warehouse, parameters are checked (a 400 names the bad one), hostile values reach SQL only
as parameters, and CSV comes out of every listing."""

from __future__ import annotations

import datetime as dt

import pytest
from starlette.testclient import TestClient

from tests.conftest import rebuilt_warehouse
from weir.serve.app import create_app
from weir.traffic.generator import generate_day

NOW = dt.datetime.now(dt.timezone.utc)
TODAY = NOW.date()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    home = str(tmp_path_factory.mktemp("serve"))
    records = generate_day(TODAY.isoformat(), events=3000, seed=11) + generate_day(
        (TODAY - dt.timedelta(days=7)).isoformat(), events=3000, seed=12
    )
    wh = rebuilt_warehouse(home, records)
    return wh, TestClient(create_app(wh), base_url="http://localhost:8000")  # serve without keys: this machine only


def _since_midnight(client, path, **params):
    start = dt.datetime.combine(TODAY, dt.time(), dt.timezone.utc)
    return client.get(
        path, params={"start": start.isoformat(), "end": (start + dt.timedelta(days=1)).isoformat(), **params}
    )


def test_top_urls_equal_the_tables(served):
    wh, client = served
    answer = _since_midnight(client, "/api/top", limit=5)
    assert answer.status_code == 200, answer.text
    rows = answer.json()["rows"]
    expected = wh.query(
        f"SELECT url, SUM(pageviews) FROM url_metrics_1d WHERE bucket_date = '{TODAY}' GROUP BY 1 "
        "ORDER BY 2 DESC, 1 LIMIT 5"
    ).rows
    assert [(r["url"], r["pageviews"]) for r in rows] == expected
    assert all(r["visitors"] > 0 and "engaged_seconds_per_visitor" in r for r in rows)


@pytest.mark.parametrize("by", ["section", "author", "tag", "referrer_category", "device_type", "campaign"])
def test_top_by_a_dimension(served, by):
    wh, client = served
    rows = _since_midnight(client, "/api/top", by=by, limit=50).json()["rows"]
    expected = wh.query(
        "SELECT value, SUM(pageviews) FROM breakdown_metrics_1d WHERE dimension = @d AND bucket_date = @day "
        "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 50",
        {"d": by, "day": TODAY},
    ).rows
    assert [(r[by], r["pageviews"]) for r in rows] == expected and rows


def test_csv(served):
    _, client = served
    answer = _since_midnight(client, "/api/top", by="section", format="csv")
    assert answer.headers["content-type"].startswith("text/csv")
    lines = answer.text.splitlines()
    assert lines[0].split(",")[:3] == ["section", "pageviews", "visitors"] and len(lines) > 2


def test_right_now_beside_a_week_ago(served):
    _, client = served
    answer = client.get("/api/now")
    assert answer.status_code == 200, answer.text
    rows = answer.json()["rows"]
    assert [r["minutes"] for r in rows] == [5, 30]
    assert set(rows[0]) == {"minutes", "from", "to", "pageviews", "visitors", "pageviews_week_ago", "visitors_week_ago"}
    assert rows[1]["pageviews"] >= rows[0]["pageviews"]


def test_timeseries_with_the_week_ago_line(served):
    wh, client = served
    rows = _since_midnight(client, "/api/timeseries", granularity="1h", dimension="section", value="news").json()[
        "rows"
    ]
    assert rows and all("pageviews_week_ago" in r for r in rows)
    assert (
        sum(r["pageviews"] for r in rows)
        == wh.query(
            "SELECT SUM(pageviews) FROM breakdown_metrics_5m WHERE dimension = 'section' AND value = 'news' "
            "AND DATE(bucket_start) = @day",
            {"day": TODAY},
        ).rows[0][0]
    )
    assert any(r["pageviews_week_ago"] > 0 for r in rows)


def test_timeseries_is_zero_filled_on_a_time_axis(served):
    wh, client = served
    url = wh.query(
        "SELECT url FROM url_metrics_5m WHERE DATE(bucket_start) = @day ORDER BY pageviews DESC, url LIMIT 1",
        {"day": TODAY},
    ).rows[0][0]
    rows = _since_midnight(client, "/api/timeseries", granularity="5m", url=url).json()["rows"]
    assert len(rows) == 288  # every 5-minute bucket of the day, counted or not
    stamps = [dt.datetime.fromisoformat(r["ts"]) for r in rows]
    assert all(b - a == dt.timedelta(minutes=5) for a, b in zip(stamps, stamps[1:], strict=False))
    assert any(r["pageviews"] == 0 for r in rows) and any(r["pageviews"] > 0 for r in rows)
    expected = wh.query(
        "SELECT SUM(pageviews) FROM url_metrics_5m WHERE url = @url AND DATE(bucket_start) = @day",
        {"url": url, "day": TODAY},
    ).rows[0][0]
    assert sum(r["pageviews"] for r in rows) == expected


def test_the_week_ago_line_has_its_own_buckets(served):
    wh, client = served
    rows = _since_midnight(client, "/api/timeseries", granularity="5m", dimension="section", value="news").json()[
        "rows"
    ]
    assert len(rows) == 288 and all(r["value"] == "news" for r in rows)
    week_ago = wh.query(
        "SELECT SUM(pageviews) FROM breakdown_metrics_5m WHERE dimension = 'section' AND value = 'news' "
        "AND DATE(bucket_start) = @day",
        {"day": TODAY - dt.timedelta(days=7)},
    ).rows[0][0]
    # Counted even in buckets where today has nothing yet.
    assert sum(r["pageviews_week_ago"] for r in rows) == week_ago > 0


@pytest.mark.parametrize(
    "path, params, name",
    [
        ("/api/top", {"by": "url; DROP TABLE events"}, "by"),
        ("/api/top", {"limit": "ten"}, "limit"),
        ("/api/top", {"limit": "100000"}, "limit"),
        ("/api/top", {"minutes": "-5"}, "minutes"),
        ("/api/top", {"start": "yesterday"}, "start"),
        ("/api/top", {"order_by": "pageviews DESC; --"}, "order_by"),
        ("/api/top", {"format": "xml"}, "format"),
        ("/api/timeseries", {"metric": "nope"}, "metric"),
        ("/api/timeseries", {"granularity": "7m"}, "granularity"),
        ("/api/timeseries", {"dimension": "1=1"}, "dimension"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(served, path, params, name):
    _, client = served
    answer = client.get(path, params=params)
    assert answer.status_code == 400 and answer.json()["error"].startswith(name)


@pytest.mark.parametrize("site", ["x' OR '1'='1", 'a.com"; DROP TABLE events; --', "%", "\u0000"])
def test_hostile_values_are_only_parameters(served, site):
    wh, client = served
    before = wh.query("SELECT COUNT(*) FROM events").rows
    for path in ("/api/top", "/api/now", "/api/timeseries"):
        answer = client.get(path, params={"site": site})
        assert answer.status_code == 200, answer.text
        rows = answer.json()["rows"]
        if path == "/api/top":
            assert rows == []  # no site is called that
    assert wh.query("SELECT COUNT(*) FROM events").rows == before


def test_the_api_describes_itself(served):
    _, client = served
    spec = client.get("/api/openapi.json").json()
    assert spec["openapi"].startswith("3.") and {"/api/top", "/api/now", "/api/timeseries"} <= set(spec["paths"])


KEY_ALL, KEY_GLOBE = "k-all-0123456789abcdef", "k-globe-0123456789abcdef"


@pytest.fixture(scope="module")
def keyed(served):
    wh, _ = served
    return TestClient(create_app(wh, {KEY_ALL: None, KEY_GLOBE: ("dailyglobe.example",)}))


def test_without_a_known_key_401(keyed):
    assert keyed.get("/api/top").status_code == 401
    assert keyed.get("/api/top", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert keyed.get("/api/openapi.json").status_code == 200  # the description holds no data


def test_a_key_sees_only_its_sites(keyed, served):
    wh, _ = served
    globe = {"X-API-Key": KEY_GLOBE}
    start = dt.datetime.combine(TODAY, dt.time(), dt.timezone.utc)
    params = {"start": start.isoformat(), "end": (start + dt.timedelta(days=1)).isoformat(), "limit": 1000}
    rows = keyed.get("/api/top", params=params, headers=globe).json()["rows"]
    assert rows and all("dailyglobe.example" in r["url"] for r in rows)
    everyone = keyed.get("/api/top", params=params, headers={"X-API-Key": KEY_ALL}).json()["rows"]
    assert len(everyone) > len(rows)
    assert keyed.get("/api/top", params={"site": "othersite.example"}, headers=globe).status_code == 403
    assert keyed.get("/api/now", params={"site": "othersite.example"}, headers=globe).status_code == 403
    assert keyed.get("/api/timeseries", headers=globe).status_code == 400  # a limited key names its site
    ok = keyed.get("/api/timeseries", params={"site": "dailyglobe.example"}, headers=globe)
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize(
    "content, complaint",
    [
        ('{"keys": {}}', "expected"),
        ('{"keys": {"short": "*"}}', "16 characters"),
        ('{"keys": {"0123456789abcdefg": 5}}', "list"),
    ],
)
def test_a_bad_key_file_is_refused(tmp_path, content, complaint):
    from weir.serve.app import load_keys

    path = tmp_path / "keys.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=complaint):
        load_keys(str(path))


def test_serving_other_machines_needs_keys(tmp_path, capsys):
    from weir.cli import main

    assert main(["serve", "--host", "0.0.0.0", "--home", str(tmp_path)]) == 2
    assert "--keys" in capsys.readouterr().err


def test_one_pages_content_and_metrics(served):
    wh, client = served
    url, site = wh.query(
        "SELECT url, site FROM url_metrics_5m WHERE DATE(bucket_start) = @day ORDER BY pageviews DESC, url LIMIT 1",
        {"day": TODAY},
    ).rows[0]
    answer = _since_midnight(client, "/api/content", url=url)
    assert answer.status_code == 200, answer.text
    (row,) = answer.json()["rows"]
    meta = wh.query("SELECT title, section FROM content WHERE url = @url", {"url": url}).rows[0]
    assert (row["site"], row["url"], row["title"], row["section"]) == (site, url, *meta)
    expected = wh.query(
        "SELECT SUM(pageviews), HLL_COUNT.MERGE(visitors_sketch) FROM url_metrics_5m "
        "WHERE url = @url AND DATE(bucket_start) = @day",
        {"url": url, "day": TODAY},
    ).rows[0]
    assert (row["pageviews"], row["visitors"]) == tuple(expected)
    assert _since_midnight(client, "/api/content", url="https://nowhere.example/' OR 1=1 --").json()["rows"] == []
    missing = client.get("/api/content")
    assert missing.status_code == 400 and missing.json()["error"].startswith("url:")


def test_without_keys_only_this_machines_host_is_answered(served):
    """A page elsewhere could point a name of its own at 127.0.0.1 (DNS rebinding) and read every
    site from a keyless weir serve: a Host that is not loopback is refused, the dashboard too."""
    wh, _ = served
    for host in ("localhost:8000", "127.0.0.1:8000", "[::1]:8000", "localhost"):
        client = TestClient(create_app(wh), base_url=f"http://{host}")
        assert client.get("/api/now").status_code == 200, host
    for host in ("attacker.example", "attacker.example:8000", "localhost.attacker.example", "10.0.0.5"):
        client = TestClient(create_app(wh), base_url=f"http://{host}")
        for path in ("/api/now", "/api/top", "/"):
            answer = client.get(path)
            assert answer.status_code == 421 and "this machine only" in answer.json()["error"], (host, path)


def test_csv_cells_never_start_a_formula_and_times_are_bounded(served, tmp_path):
    from weir.serve.app import _inert

    assert [_inert(v) for v in ("=HYPERLINK(\"x\")", "+1", "-2", "@a", "\tx", "\rx", "news", -3, 4.5, None)] == [
        "'=HYPERLINK(\"x\")", "'+1", "'-2", "'@a", "'\tx", "'\rx", "news", -3, 4.5, None]  # fmt: skip
    _, client = served
    for bad in ({"start": "0001-01-03"}, {"start": "2026-01-01T00:00:00", "end": "9999-12-31T00:00:00"}):
        answer = client.get("/api/top", params=bad)
        assert answer.status_code == 400 and "between 2000 and 2100" in answer.json()["error"], bad
    ten_years = {"granularity": "5m", "start": "2016-01-01T00:00:00", "end": "2026-01-01T00:00:00", "site": "x"}
    answer = client.get("/api/timeseries", params=ten_years)
    assert answer.status_code == 400 and "5m series span at most 8 days" in answer.json()["error"]


def test_a_parameter_an_endpoint_does_not_understand_is_refused_not_ignored(served):
    """`section=politics` on /api/top is not a filter yet: ignoring it would answer every
    section's numbers as if they were politics'."""
    _, client = served
    for path, params in (("/api/top", {"section": "politics"}), ("/api/now", {"minutes": "5"}),
                         ("/api/timeseries", {"site": "x", "device_type": "mobile"}),
                         ("/api/content", {"url": "https://x/", "by": "url"})):  # fmt: skip
        answer = client.get(path, params=params)
        unknown = next(name for name in params if name not in ("site", "url"))
        assert answer.status_code == 400 and answer.json()["error"].startswith(f"{unknown}: not a parameter"), path
