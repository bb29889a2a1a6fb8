"""The live dashboard at / of `weir serve`, in headless Chromium (issue #18): it loads without
a console error, shows the numbers the API returns, and a page view published to a running
`weir stream` appears on it without a reload, while `weir serve` reads beside the stream."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
import uuid

import orjson
import pytest

from tests import emulators
from tests.cdp import Browser, free_port
from tests.test_stream_integration import WEIR, accepted_unique, recent_traffic, start_stream, stop, wait_until_settled
from tests.test_tracker_browser import chromium
from weir.pubsub import PubSubNames, ensure_topology
from weir.pubsub.publish import publish


@pytest.fixture(scope="module")
def pubsub(tmp_path_factory):
    with emulators.private_pubsub(str(tmp_path_factory.mktemp("pubsub"))) as host:
        yield host


def start_serve(home: str, port: int, log_path: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [WEIR, "serve", "--port", str(port)],
        env={**os.environ, "WEIR_HOME": home},
        stdout=open(log_path, "ab"),
        stderr=subprocess.STDOUT,
    )
    emulators.wait_http(f"http://127.0.0.1:{port}/api/openapi.json", proc)
    return proc


def api(port: int, path: str) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/{path}", timeout=30) as r:
        return json.load(r)


def fmt(n: int) -> str:
    return f"{n:,}"  # the page's toLocaleString("en-US")


def test_the_dashboard_shows_the_api_and_a_new_event_without_a_reload(pubsub, tmp_path):
    browser_exe = chromium()
    if browser_exe is None:
        emulators.missing("chromium")
    project = f"weir-dash-{uuid.uuid4().hex[:6]}"
    home = str(tmp_path / "home")
    names = PubSubNames(project)
    ensure_topology(names)
    stream = start_stream(home, project, str(tmp_path / "stream.log"))
    serve = browser = None
    try:
        payloads = recent_traffic(500, seed=17, minutes=20)
        publish(payloads, names, say=lambda _m: None)
        wait_until_settled(home, accepted_unique(payloads))
        port = free_port()
        serve = start_serve(home, port, str(tmp_path / "serve.log"))
        browser = Browser(browser_exe, str(tmp_path / "chromium"))
        browser.goto(f"http://127.0.0.1:{port}/")
        browser.wait_for("window.weirDashboard && window.weirDashboard.refreshes >= 1")
        assert browser.js("window.weirDashboard.lastError") is None
        assert browser.js("document.getElementById('live').textContent") == "live"  # page views arriving

        # The numbers on the page are the API's (the stream is settled, so both read the same rows).
        now = {row["minutes"]: row for row in api(port, "now")["rows"]}
        assert now[30]["pageviews"] > 0
        assert browser.js("document.getElementById('now-pageviews-30').textContent") == fmt(now[30]["pageviews"])
        assert browser.js("document.getElementById('now-visitors-30').textContent") == fmt(now[30]["visitors"])
        # Today: each site's own day so far, as the API and the tables count it.
        today = sum(r["pageviews"] for r in api(port, "top?by=channel&date=today&limit=1000")["rows"])
        assert browser.js("document.getElementById('today-pageviews').textContent") == fmt(today)
        assert "each site's own time" in browser.js("document.getElementById('today-when').textContent")
        top = api(port, "top?by=url&minutes=30&limit=15")["rows"]
        shown = browser.js("[...document.querySelectorAll('#top-pages tbody tr[data-url]')].map(tr => tr.dataset.url)")
        assert shown == [row["url"] for row in top] and len(shown) > 3
        referrers = api(port, "top?by=referrer_category&minutes=30&limit=8")["rows"]
        assert browser.js("[...document.querySelectorAll('#referrers li span')].map(s => s.textContent)") == [
            row["referrer_category"] for row in referrers
        ]
        # Countries in the editor's words, in the API's order; unknown places say so.
        countries = [r for r in api(port, "top?by=country&minutes=1440&limit=8")["rows"] if r["pageviews"]]
        named = browser.js("[...document.querySelectorAll('#countries li span')].map(s => s.textContent)")
        assert len(named) == len(countries) > 3 and "United States" in named and "GB" not in named
        assert named[[r["country"] for r in countries].index("(unknown)")] == "Unknown"
        # No bar says "0": a row without page views tells an editor nothing.
        shown = browser.js("[...document.querySelectorAll('.bars li b')].map(b => b.textContent)")
        assert shown and "0" not in shown
        assert browser.js("document.querySelectorAll('#series polyline').length") == 2
        # A click on a section charts that section, with its week-ago line, from the API.
        section = browser.js("document.querySelector('#sections li.pick span').textContent")
        browser.js("document.querySelector('#sections li.pick').click()")
        browser.wait_for(f"document.getElementById('series-title').textContent.startsWith('Section {section}:')")
        series = api(port, f"timeseries?granularity=5m&minutes=1440&dimension=section&value={section}")["rows"]
        peak = max(max(r["pageviews"], r["pageviews_week_ago"]) for r in series)
        browser.wait_for(f"document.querySelector('#series text').textContent === 'max {fmt(peak)}'")

        # A page view of a new story, published now, shows up in the open page by itself.
        story = f"https://dailyglobe.example/news/breaking-{uuid.uuid4().hex[:8]}"
        event = {"event_id": uuid.uuid4().hex, "action": "pageview", "ts": int(time.time() * 1000),
                 "site": "dailyglobe.example", "url": story, "visitor_id": "v-dashboard-test"}  # fmt: skip
        published = time.monotonic()
        publish([orjson.dumps(event)], names, say=lambda _m: None)
        browser.wait_for(f"!!document.querySelector('#top-pages tr[data-url=\"{story}\"]')", timeout_s=120)
        seconds = time.monotonic() - published
        print(f"a published page view reached the open dashboard in {seconds:.1f} s")
        assert browser.js("location.href") == f"http://127.0.0.1:{port}/"  # no reload, no navigation
        assert browser.errors == []
        # The README's picture is this page: WEIR_DASHBOARD_SCREENSHOT=docs/dashboard.png pytest <this file>
        shot = os.environ.get("WEIR_DASHBOARD_SCREENSHOT") or str(tmp_path / "dashboard.png")
        browser.screenshot(shot)
        assert os.path.getsize(shot) > 10_000
    finally:
        if browser is not None:
            browser.close()
        if serve is not None:
            emulators.stop(serve)
        stop(stream)


def test_the_badge_says_live_only_while_page_views_arrive(tmp_path):
    """A warehouse whose last page view is older than 30 minutes: the badge says so, grey."""
    browser_exe = chromium()
    if browser_exe is None:
        emulators.missing("chromium")
    from tests.conftest import rebuilt_warehouse
    from weir.traffic.generator import generate_day

    home = str(tmp_path / "home")
    rebuilt_warehouse(home, generate_day("2025-11-20", events=300, seed=5))  # a day long past
    port = free_port()
    serve = start_serve(home, port, str(tmp_path / "serve.log"))
    browser = Browser(browser_exe, str(tmp_path / "chromium"))
    try:
        browser.goto(f"http://127.0.0.1:{port}/")
        browser.wait_for("window.weirDashboard && window.weirDashboard.refreshes >= 1")
        assert browser.js("document.getElementById('live').textContent") == "no new views"
        assert browser.js("document.getElementById('live').title") == "No page views in the last 30 minutes"
        assert browser.js("document.getElementById('live').className") == "live stale"
    finally:
        browser.close()
        emulators.stop(serve)
