"""Each site's calendar: local days in the daily tables, the ledger, rebuilds and verify.

Sites in America/New_York (across both DST changes), Asia/Kolkata (+05:30) and
Asia/Kathmandu (+05:45), and one left in UTC. Days are checked against hand-computed spans,
and a rebuild of `--date D` from the archive alone (no --input) must book every archived
record to exactly one day.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import zoneinfo

import orjson
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from weir import sites
from weir.checks.verify import verify_day
from weir.pipelines.rebuild import run_rebuild
from weir.traffic.generator import write_avro_archive
from weir.transforms.sitetime import DayScope, SiteZones, UnknownZone, check_zone, day_span, local_day
from weir.warehouse.local import LocalWarehouse

NY, KOLKATA, KATHMANDU = "America/New_York", "Asia/Kolkata", "Asia/Kathmandu"
ZONES = {"ny.example": NY, "in.example": KOLKATA, "np.example": KATHMANDU}
H, M = 3_600_000, 60_000


def ms(text: str) -> int:
    """'2026-03-08T07:00:00+00:00' -> ms."""
    return int(dt.datetime.fromisoformat(text).timestamp() * 1000)


# --- the calendar itself ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "day, zone, start, hours",
    [
        ("2026-03-08", NY, "2026-03-08T05:00:00+00:00", 23),  # spring forward: a 23-hour day
        ("2026-11-01", NY, "2026-11-01T04:00:00+00:00", 25),  # fall back: a 25-hour day
        ("2026-07-01", NY, "2026-07-01T04:00:00+00:00", 24),
        ("2026-12-07", KOLKATA, "2026-12-06T18:30:00+00:00", 24),
        ("2026-12-07", KATHMANDU, "2026-12-06T18:15:00+00:00", 24),
        ("2026-12-07", "UTC", "2026-12-07T00:00:00+00:00", 24),
    ],
)
def test_a_local_day_is_the_span_between_two_local_midnights(day, zone, start, hours):
    first, end = day_span(day, zone)
    assert first == ms(start)
    assert end - first == hours * H
    # Every quarter hour inside is on that day, and the instants either side are not.
    assert all(local_day(t, zone) == day for t in range(first, end, 15 * M))
    assert local_day(first - 1, zone) != day and local_day(end, zone) != day


def test_an_event_at_0330_utc_is_on_the_previous_local_day_in_new_york():
    zones = SiteZones.of(ZONES)
    assert zones.day_of("ny.example", ms("2026-12-08T03:30:00+00:00")) == "2026-12-07"
    assert zones.day_of("other.example", ms("2026-12-08T03:30:00+00:00")) == "2026-12-08"  # not set: UTC
    assert zones.day_of("in.example", ms("2026-12-07T18:29:00+00:00")) == "2026-12-07"
    assert zones.day_of("in.example", ms("2026-12-07T18:30:00+00:00")) == "2026-12-08"
    assert zones.day_of("np.example", ms("2026-12-07T18:14:00+00:00")) == "2026-12-07"
    assert zones.day_of("np.example", ms("2026-12-07T18:15:00+00:00")) == "2026-12-08"


def test_every_zone_in_the_database_agrees_with_the_standard_library_over_a_year():
    """local_day memoises per quarter hour: that is only right if no zone changes offset off a
    quarter hour (checked at every quarter of 2026 in every zone weir accepts)."""
    start = ms("2026-01-01T00:00:00+00:00")
    checked = 0
    for name in sorted(zoneinfo.available_timezones()):
        try:
            check_zone(name)
        except UnknownZone:
            continue
        tz = zoneinfo.ZoneInfo(name)
        for t in range(start, start + 366 * 24 * H, 6 * H + 15 * M):  # walks through every quarter of the day
            want = dt.datetime.fromtimestamp(t / 1000, dt.timezone.utc).astimezone(tz).date().isoformat()
            assert local_day(t, name) == want, (name, t)
        checked += 1
    assert checked > 300


def test_unknown_zones_are_refused():
    for bad in ("Mars/Olympus", "", "../etc/passwd", "America/New York"):
        with pytest.raises(UnknownZone):
            check_zone(bad)


# --- rebuilds in the sites' calendars --------------------------------------------------------


def event(site: str, ts: int, n: int, action: str = "pageview", received: int | None = None) -> tuple[int, bytes]:
    """(received_at, payload) of one event; received when it happened unless said."""
    body = {
        "event_id": f"{site}-{ts}-{n}",
        "action": action,
        "ts": ts,
        "site": site,
        "url": f"https://{site}/story-{n % 3}",
        "visitor_id": f"v{n}",
        "session_index": 1,
        "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
    }
    if action == "heartbeat":
        body["engaged_seconds"] = 10
    return (received if received is not None else ts), orjson.dumps(body)


def every(site: str, first: int, last: int, step: int) -> list[tuple[int, bytes]]:
    return [event(site, t, i) for i, t in enumerate(range(first, last, step))]


def rebuild_day(home: str, day: str, zones: dict, timezone: str | None = None):
    flags = [
        f"--date={day}",
        f"--archive={os.path.join(home, 'archive')}",
        f"--site_zones={orjson.dumps(zones).decode()}",
    ]
    flags += [f"--timezone={timezone}"] if timezone else []
    return run_rebuild(
        PipelineOptions(flags), LocalWarehouse(home), os.path.join(home, "staging"), progress=lambda _m: None
    )


def daily(wh: LocalWarehouse) -> dict[tuple[str, str], int]:
    rows = wh.query("SELECT site, CAST(bucket_date AS STRING), SUM(pageviews) FROM url_metrics_1d GROUP BY 1, 2").rows
    return {(s, d): int(n) for s, d, n in rows}


@pytest.fixture
def calendar_home(weir_home):
    """Three days of page views every 10 minutes for each site, archived; zones set."""
    records = []
    first, last = ms("2026-10-30T00:00:00+00:00"), ms("2026-11-03T00:00:00+00:00")
    for site in (*ZONES, "utc.example"):
        records += every(site, first, last, 10 * M)
    write_avro_archive(records, os.path.join(weir_home, "archive"))
    wh = LocalWarehouse(weir_home)
    for site, zone in ZONES.items():
        sites.set_site(wh, site, zone)
    return weir_home


def test_a_25_hour_day_is_whole_and_each_site_gets_its_own_day(calendar_home):
    wh = LocalWarehouse(calendar_home)
    result = rebuild_day(calendar_home, "2026-11-01", ZONES)
    assert result.days == ["2026-11-01"]
    got = daily(wh)
    # One page view every 10 minutes: 6 an hour, for each site's own day.
    assert got[("ny.example", "2026-11-01")] == 25 * 6  # New York falls back: 25 hours
    assert got[("in.example", "2026-11-01")] == 24 * 6
    assert got[("np.example", "2026-11-01")] == 24 * 6
    assert got[("utc.example", "2026-11-01")] == 24 * 6
    assert {d for (_, d) in got} == {"2026-11-01"}
    # The 5-minute rows of the day are New York's 25 hours, in UTC buckets.
    start, end = day_span("2026-11-01", NY)
    n5 = wh.query(
        "SELECT COUNT(*), MIN(bucket_start), MAX(bucket_start) FROM url_metrics_5m WHERE site = 'ny.example'"
    ).rows[0]
    assert n5[0] == 25 * 6
    assert int(n5[1].timestamp() * 1000) == start and int(n5[2].timestamp() * 1000) == end - 10 * M
    led = {r[0]: r[1:] for r in wh.query("SELECT site, CAST(day AS STRING), received FROM ledger").rows}
    assert led["ny.example"] == ("2026-11-01", 150)
    checks = verify_day(wh, "2026-11-01")
    assert checks and all(c.ok for c in checks), [c for c in checks if not c.ok]


def test_rebuilding_one_zone_leaves_the_other_sites_days_alone(calendar_home):
    wh = LocalWarehouse(calendar_home)
    rebuild_day(calendar_home, "2026-11-01", ZONES)
    before = daily(wh)
    events_before = wh.query("SELECT site, COUNT(*) FROM events GROUP BY site ORDER BY site").rows
    rebuild_day(calendar_home, "2026-11-02", ZONES, timezone=KOLKATA)
    after = daily(wh)
    assert after[("in.example", "2026-11-02")] == 24 * 6
    assert {k: v for k, v in after.items() if k[1] == "2026-11-01"} == before
    assert {s for s, d in after if d == "2026-11-02"} == {"in.example"}
    events_after = dict(wh.query("SELECT site, COUNT(*) FROM events GROUP BY site").rows)
    for site, n in events_before:
        assert events_after[site] == n + (24 * 6 if site == "in.example" else 0)
    assert all(c.ok for c in verify_day(wh, "2026-11-01"))


def test_every_archived_record_is_booked_to_exactly_one_day(weir_home):
    """Clocks that run ahead across midnight, events late by more than a day, and dead letters:
    rebuilding each day from the archive alone books every record once."""
    zones = {"ny.example": NY}
    records = every("ny.example", ms("2026-12-01T05:00:00+00:00"), ms("2026-12-04T05:00:00+00:00"), 30 * M)
    # Received 23:59:50 New York time on Dec 1, its clock 50 s ahead: it is Dec 2's.
    records.append(event("ny.example", ms("2026-12-02T05:00:40+00:00"), 9001, received=ms("2026-12-02T04:59:50+00:00")))
    # From Dec 1 (New York), received 30 h after that day ended: too late for Dec 1, booked to Dec 3.
    records.append(event("ny.example", ms("2026-12-02T04:00:00+00:00"), 9002, received=ms("2026-12-03T11:00:00+00:00")))
    # A page view received within the day's lateness (20 h after Dec 1 ended): Dec 1's.
    records.append(event("ny.example", ms("2026-12-02T04:30:00+00:00"), 9003, received=ms("2026-12-03T01:00:00+00:00")))
    records.append((ms("2026-12-02T12:00:00+00:00"), b"{not json"))  # a dead letter, no site: UTC's Dec 2
    write_avro_archive(records, os.path.join(weir_home, "archive"))
    wh = LocalWarehouse(weir_home)
    sites.set_site(wh, "ny.example", NY)
    for day in ("2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04"):
        try:
            rebuild_day(weir_home, day, zones)
        except ValueError as exc:  # a day with no archive hour at all
            assert "holds no file" in str(exc)
    led = wh.query("SELECT site, CAST(day AS STRING), received, counted, too_late, dead_letters FROM ledger").rows
    assert sum(r[2] for r in led) == len(records)
    by = {(r[0], r[1]): r[2:] for r in led}
    assert by[("ny.example", "2026-12-01")][:2] == (49, 49)  # 48 every half hour + the one 20 h late
    assert by[("ny.example", "2026-12-02")][:2] == (49, 49)  # 48 + the one whose clock ran ahead
    assert by[("ny.example", "2026-12-03")] == (49, 48, 1, 0)  # 48 + the one too late for Dec 1
    assert by[("(unknown)", "2026-12-02")] == (1, 0, 0, 1)
    late = wh.query("SELECT error_kind, error_message FROM dead_letters WHERE error_kind = 'too_late'").rows
    assert len(late) == 1 and "America/New_York" in late[0][1]
    for day in ("2026-12-01", "2026-12-02", "2026-12-03"):
        checks = verify_day(wh, day)
        assert all(c.ok for c in checks), [c for c in checks if not c.ok]


def test_site_set_refuses_an_unknown_zone_with_exit_2(weir_home):
    weir = os.path.join(os.path.dirname(sys.executable), "weir")
    bad = subprocess.run(
        [weir, "site", "set", "x.example", "--timezone", "Mars/Olympus"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "unknown time zone 'Mars/Olympus'" in bad.stderr
    ok = subprocess.run(
        [weir, "site", "set", "x.example", "--timezone", KATHMANDU, "--name", "X"], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    listed = subprocess.run([weir, "site", "list", "--format", "json"], capture_output=True, text=True)
    rows = [orjson.loads(line) for line in listed.stdout.splitlines()]
    assert rows == [
        {"site": "x.example", "timezone": KATHMANDU, "display_name": "X", "updated_at": rows[0]["updated_at"]}
    ]


def test_day_scope_input_reads_the_skew_before_and_the_lateness_after():
    zones = SiteZones.of(ZONES)
    start, end = DayScope("2026-11-01").input_span(zones)
    # The earliest zone's day starts (Kathmandu) and the latest's ends (New York, 25 h), widened.
    assert start == day_span("2026-11-01", KATHMANDU)[0] - 24 * H
    assert end == day_span("2026-11-01", NY)[1] + 24 * H


def test_the_today_views_use_each_sites_own_today(weir_home):
    """top_urls_today and referrers_today start at the site's local midnight."""
    now = int(dt.datetime.now(dt.timezone.utc).timestamp() * 1000)
    records = []
    for site, zone in (("np.example", KATHMANDU), ("utc.example", "UTC")):
        midnight = day_span(local_day(now, zone), zone)[0]
        if now - midnight < 2 * M:  # too close to midnight to place one view on each side
            pytest.skip("the test needs two minutes after midnight in every zone it uses")
        records += [event(site, midnight + M, 1), event(site, midnight - M, 2)]  # today, then yesterday
    write_avro_archive(records, os.path.join(weir_home, "archive"))
    wh = LocalWarehouse(weir_home)
    sites.set_site(wh, "np.example", KATHMANDU)
    rebuild_day(weir_home, local_day(now, KATHMANDU), {"np.example": KATHMANDU}, timezone=KATHMANDU)
    rebuild_day(weir_home, local_day(now - 2 * M - 24 * H, KATHMANDU), {"np.example": KATHMANDU}, timezone=KATHMANDU)
    for day in {local_day(now, "UTC"), local_day(now - 2 * M - 24 * H, "UTC")}:
        rebuild_day(weir_home, day, {"np.example": KATHMANDU}, timezone="UTC")
    assert wh.query("SELECT COUNT(*) FROM events").rows[0][0] == 4
    today = dict(wh.query("SELECT site, SUM(pageviews) FROM top_urls_today GROUP BY site").rows)
    assert today == {"np.example": 1, "utc.example": 1}
    referrers = dict(
        wh.query(
            "SELECT site, SUM(pageviews) FROM referrers_today WHERE dimension = 'referrer_category' GROUP BY site"
        ).rows
    )
    assert referrers == {"np.example": 1, "utc.example": 1}


def test_the_api_answers_a_sites_day_as_the_daily_rows_do(calendar_home):
    """`date=` is a day of the site's calendar: /api/top and /api/timeseries agree with the
    daily rows of that day, 25-hour New York day included."""
    from starlette.testclient import TestClient

    from weir.serve.app import create_app

    rebuild_day(calendar_home, "2026-11-01", ZONES)
    wh = LocalWarehouse(calendar_home)
    api = TestClient(create_app(wh), base_url="http://127.0.0.1:8000")
    daily_rows = daily(wh)
    for site in ("ny.example", "np.example", "utc.example"):
        top = api.get("/api/top", params={"site": site, "date": "2026-11-01", "limit": 50}).json()
        assert sum(r["pageviews"] for r in top["rows"]) == daily_rows[(site, "2026-11-01")]
        assert top["date"] == "2026-11-01" and top["timezone"] == {**ZONES, "utc.example": "UTC"}[site]
        series = api.get("/api/timeseries", params={"site": site, "date": "2026-11-01", "granularity": "1h"}).json()
        assert sum(r["pageviews"] for r in series["rows"]) == daily_rows[(site, "2026-11-01")]
        days = api.get("/api/timeseries", params={"site": site, "date": "2026-11-01", "granularity": "1d"}).json()
        assert [(r["ts"][:10], r["pageviews"]) for r in days["rows"]] == [
            ("2026-11-01", daily_rows[(site, "2026-11-01")])
        ]
    assert len(api.get("/api/timeseries", params={"site": "ny.example", "date": "2026-11-01"}).json()["rows"]) == 25
    every = api.get("/api/top", params={"date": "2026-11-01", "by": "device_type"}).json()
    assert sum(r["pageviews"] for r in every["rows"]) == sum(v for (_, d), v in daily_rows.items() if d == "2026-11-01")
    bad = api.get("/api/top", params={"date": "2026-11-01", "minutes": 30})
    assert bad.status_code == 400 and "date" in bad.json()["error"]
    assert api.get("/api/top", params={"date": "11/01/2026"}).status_code == 400
