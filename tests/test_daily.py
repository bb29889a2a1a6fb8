"""Days that close themselves (weir.daily): what is due when, catch-up oldest first, re-closes
for late records, and a running `weir stream` closing two sites' days in their own zones with
no command run by hand (its clock injected: no real waiting for midnight)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid

import orjson
import pytest

from tests import emulators
from weir import daily, sites
from weir.pubsub import PubSubNames, ensure_topology
from weir.pubsub.publish import publish
from weir.traffic.generator import write_avro_archive
from weir.transforms.sitetime import SiteZones, closes_at, day_span, local_day
from weir.warehouse.local import LocalWarehouse

WEIR = os.path.join(os.path.dirname(sys.executable), "weir")
NY, KOLKATA = "America/New_York", "Asia/Kolkata"
H, M = 3_600_000, 60_000


def ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).timestamp() * 1000)


def pageview(site: str, ts: int, n: int) -> bytes:
    return orjson.dumps(
        {
            "event_id": f"{site}-{n}-{ts}",
            "action": "pageview",
            "ts": ts,
            "site": site,
            "url": f"https://{site}/story-{n % 4}",
            "visitor_id": f"v{n % 50}",
            "session_index": 1,
            "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
        }
    )


def closes(wh: LocalWarehouse) -> list[tuple]:
    return wh.query(
        "SELECT CAST(day AS STRING), timezone, status, reason, attempt FROM day_closes ORDER BY closed_at"
    ).rows


def service(home: str, now_ms: int) -> daily.DailyService:
    wh = LocalWarehouse(home)
    archive = os.path.join(home, "archive")
    return daily.DailyService(
        wh, archive, daily.close_in_process(wh, archive, os.path.join(home, "staging")), clock=lambda: now_ms / 1000
    )


def test_nothing_closes_before_the_day_and_its_lateness_have_passed(weir_home):
    wh = LocalWarehouse(weir_home)
    sites.set_site(wh, "ny.example", NY)
    write_avro_archive([(ms("2026-12-01T15:00:00+00:00"), pageview("ny.example", ms("2026-12-01T15:00:00+00:00"), 1))],
                       os.path.join(weir_home, "archive"))  # fmt: skip
    zones = sites.zones(wh)
    has = daily.archive_has_input(os.path.join(weir_home, "archive"), zones)
    end = day_span("2026-12-01", NY)[1]
    # An hour after New York's day ended it is still open (the stream's allowed lateness) ...
    early = daily.due_days(wh, zones, end + H - 1, has_input=has)
    assert ("2026-12-01", NY) not in {(d.day, d.zone) for d in early}
    # ... and due the moment that has passed. The days before it are due too (their input can
    # hold the event: a client clock up to a day ahead), as UTC's Dec 1.
    due = daily.due_days(wh, zones, end + H, has_input=has)
    assert ("2026-12-01", NY, "closed") in [(d.day, d.zone, d.reason) for d in due]
    assert ("2026-12-01", "UTC", "catch-up") in [(d.day, d.zone, d.reason) for d in due]
    assert all(d.close_ms <= end + H for d in due) and due == sorted(due, key=lambda d: (d.close_ms, d.zone))


def test_catch_up_closes_two_missed_days_oldest_first_then_nothing(weir_home):
    wh = LocalWarehouse(weir_home)
    sites.set_site(wh, "ny.example", NY)
    records = []
    for day, n in (("2026-12-01", 30), ("2026-12-02", 40)):
        start = day_span(day, NY)[0]
        records += [(start + i * 20 * M, pageview("ny.example", start + i * 20 * M, i)) for i in range(n)]
    write_avro_archive(records, os.path.join(weir_home, "archive"))
    # The service comes back on Dec 4 at noon New York time: Dec 1, 2 and 3 ended while nothing ran.
    now = ms("2026-12-04T17:00:00+00:00")
    done = service(weir_home, now).tick()
    ny = [(c.day, c.status) for c in done if c.zone == NY]
    assert ny == [(d, "verified") for d in ("2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03")]
    order = [(c.day, c.zone) for c in done]
    assert order == sorted(order, key=lambda dz: closes_at(dz[0], dz[1], 3600))  # oldest first, across zones
    got = dict(wh.query("SELECT CAST(bucket_date AS STRING), SUM(pageviews) FROM url_metrics_1d GROUP BY 1").rows)
    assert got == {"2026-12-01": 30, "2026-12-02": 40}
    assert service(weir_home, now + 10 * M).tick() == []  # closed days stay closed
    assert all(status == "verified" for _, _, status, _, _ in closes(wh))


def test_late_records_after_a_close_call_for_a_re_close(weir_home):
    """The stream turns a record away as too late after the day closed; the next check re-closes
    the day, which counts it, and day_closes says it was a re-close for late records."""
    wh = LocalWarehouse(weir_home)
    archive = os.path.join(weir_home, "archive")
    day_start, day_end = day_span("2026-12-01")
    write_avro_archive([(day_start + i * H, pageview("utc.example", day_start + i * H, i)) for i in range(24)], archive)
    now = day_end + 2 * H
    service(weir_home, now).tick()
    assert dict(wh.query("SELECT site, SUM(pageviews) FROM url_metrics_1d GROUP BY 1").rows) == {"utc.example": 24}
    # A reader's phone comes back online: a page view of Dec 1 arrives 5 hours after the day ended.
    late_ts, received = day_end - 10 * M, day_end + 5 * H
    payload = pageview("utc.example", late_ts, 99)
    write_avro_archive([(received, payload)], archive)
    wh.query(  # what the stream lands for it: a too_late dead letter (transforms.windowing)
        "INSERT INTO dead_letters (received_at, stage, error_kind, error_message, site, event_id, event_ts, payload) "
        "VALUES (TIMESTAMP_MILLIS(@r), 'window', 'too_late', 'late', 'utc.example', 'x', TIMESTAMP_MILLIS(@t), @p)",
        {"r": received, "t": late_ts, "p": payload.decode()},
        write=True,
    )
    again = service(weir_home, received + 10 * M).tick()
    assert [(c.day, c.status) for c in again] == [("2026-12-01", "verified")]
    assert dict(wh.query("SELECT site, SUM(pageviews) FROM url_metrics_1d GROUP BY 1").rows) == {"utc.example": 25}
    assert closes(wh)[-1] == ("2026-12-01", "UTC", "verified", "late", 2)
    assert service(weir_home, received + 20 * M).tick() == []  # counted: nothing more to re-close


def test_a_close_that_does_not_verify_is_reported_by_status(weir_home):
    wh = LocalWarehouse(weir_home)
    wh.ensure_tables()
    daily.record_close(
        wh,
        "2026-12-01",
        "UTC",
        "unbalanced",
        "closed",
        None,
        10,
        "utc.example: events rows (human): expected 10, found 9",
    )
    out = subprocess.run([WEIR, "status"], capture_output=True, text=True, env={**os.environ, "WEIR_HOME": weir_home})
    assert out.returncode == 1
    assert "day 2026-12-01 (UTC): its last close is unbalanced: utc.example: events rows" in out.stdout


# --- a running stream ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def pubsub(tmp_path_factory):
    with emulators.private_pubsub(str(tmp_path_factory.mktemp("pubsub"))) as host:
        yield host


def wait_for(what, timeout_s: float = 240, every_s: float = 1.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = what()
        if got:
            return got
        time.sleep(every_s)
    raise AssertionError(f"timed out waiting for {what.__name__}")


def test_a_running_stream_closes_each_sites_day_in_its_own_zone(pubsub, tmp_path):
    """Two sites, New York and Kolkata: page views now, then a stream whose clock says both of
    their days have ended. Each site's day closes by itself, verifies, and its daily rows equal
    what was sent, on the site's own date; a rebuild of the open day while it streams is refused."""
    project = f"weir-test-{uuid.uuid4().hex[:6]}"
    home = str(tmp_path / "home")
    env = {**os.environ, "WEIR_HOME": home, "WEIR_PROJECT": project}
    wh = LocalWarehouse(home)
    sites.set_site(wh, "ny.example", NY)
    sites.set_site(wh, "in.example", KOLKATA)
    now = int(time.time() * 1000)
    sent = {"ny.example": 120, "in.example": 80}
    payloads = [pageview(site, now - 60_000 - i * 1000, i) for site, n in sent.items() for i in range(n)]
    zones = SiteZones.of({"ny.example": NY, "in.example": KOLKATA})
    ny_day, in_day = zones.day_of("ny.example", now - 60_000), zones.day_of("in.example", now - 60_000)
    names = PubSubNames(project)
    ensure_topology(names)
    publish(payloads, names, say=lambda _m: None)

    # First a stream on real time: the day is open, so a rebuild of it is refused.
    log = open(tmp_path / "stream.log", "ab")
    proc = subprocess.Popen([WEIR, "stream", "--early_s", "1"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: os.path.exists(os.path.join(home, "warehouse.duckdb"))
                 and wh.query("SELECT COUNT(*) FROM events").rows[0][0] == len(payloads))  # fmt: skip
        refused = subprocess.run([WEIR, "rebuild", "--date", ny_day], env=env, capture_output=True, text=True)
        assert refused.returncode == 2 and "still open" in refused.stderr, refused.stderr
        assert wh.query("SELECT COUNT(*) FROM events").rows[0][0] == len(payloads)  # nothing deleted
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=90)

    # Then a stream whose clock is past both days' close (their end + the hour of lateness).
    later = max(closes_at(ny_day, NY, 3600), closes_at(in_day, KOLKATA, 3600)) + 5 * M
    clock = dt.datetime.fromtimestamp(later / 1000, dt.timezone.utc).isoformat()
    cmd = [WEIR, "stream", "--early_s", "1", "--clock-start", clock, "--daily-every-s", "2"]
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:

        def both_closed():
            rows = closes(wh) if os.path.exists(os.path.join(home, "warehouse.duckdb")) else []
            done = {(d, z): s for d, z, s, _, _ in rows}
            return done.get((ny_day, NY)) and done.get((in_day, KOLKATA)) and done

        done = wait_for(both_closed, timeout_s=300, every_s=2)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=90)
    assert done[(ny_day, NY)] == "verified" and done[(in_day, KOLKATA)] == "verified"
    got = dict(
        ((s, d), int(n))
        for s, d, n in wh.query(
            "SELECT site, CAST(bucket_date AS STRING), SUM(pageviews) FROM url_metrics_1d GROUP BY 1, 2"
        ).rows
    )
    assert got == {("ny.example", ny_day): 120, ("in.example", in_day): 80}
    for day in {ny_day, in_day}:
        out = subprocess.run([WEIR, "verify", "--date", day], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stdout
    assert local_day(now, NY) == ny_day  # the test's own premise: "now" is on that New York day
