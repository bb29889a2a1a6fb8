"""tracker/weir.js delivery in headless Chromium against a real `weir collect` (issue #19):
nothing is lost while the collector is down (a page keeps its queue and retries; a page closed
offline leaves a queue the next page adopts), single-page route changes are page views, and
an opted-out reader sends nothing. Every event arrives at least once with its own event_id,
so the pipeline's dedupe (by site and event_id) counts each exactly once."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import orjson
import pytest

from tests import emulators
from tests.cdp import Browser
from tests.test_collector import WEIR, pull_all
from tests.test_tracker_browser import TRACKER_DIR, chromium, serve
from weir.pubsub import PubSubNames, ensure_topology

PAGE = """<!doctype html><html><head><title>%(title)s</title>%(head)s
<script>window.weirConfig = {endpoint: "http://127.0.0.1:%(collector)d/events", site: "test.example"%(cfg)s};</script>
<script src="/weir.js"></script></head><body><p>Story text.</p></body></html>"""


@pytest.fixture(scope="module")
def pubsub(tmp_path_factory):
    with emulators.private_pubsub(str(tmp_path_factory.mktemp("pubsub"))) as host:
        yield host


@pytest.fixture
def site(tmp_path):
    """A local site with the tracker and a few pages; yields (browser, page base URL, collector port, names)."""
    exe = chromium()
    if exe is None:
        emulators.missing("chromium")
    port = emulators.free_port()
    root = tmp_path / "site"
    root.mkdir()
    shutil.copy(os.path.join(TRACKER_DIR, "weir.js"), root / "weir.js")
    pages = {"a": ("Story A", "", ""), "b": ("Story B", "", ""), "app": ("An app", "", ""),
             "dnt": ("Private", "<script>Object.defineProperty(navigator, 'doNotTrack', {value: '1'});</script>",
                     ", respectDnt: true"),
             "nocookie": ("Cookieless", "", ", cookieless: true")}  # fmt: skip
    for name, (title, head, cfg) in pages.items():
        (root / f"{name}.html").write_text(PAGE % {"title": title, "head": head, "collector": port, "cfg": cfg})
    server, page_port = serve(str(root))
    browser = Browser(exe, str(tmp_path / "profile"))
    names = PubSubNames(f"weir-trk-{uuid.uuid4().hex[:6]}")
    ensure_topology(names)
    try:
        yield browser, f"http://127.0.0.1:{page_port}", port, names
    finally:
        browser.close()
        server.shutdown()


def collector(tmp_path, names: PubSubNames, port: int, *flags: str) -> subprocess.Popen:
    env = {**os.environ, "WEIR_HOME": str(tmp_path / "home"), "WEIR_PROJECT": names.project}
    proc = subprocess.Popen([WEIR, "collect", "--port", str(port), *flags], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(tmp_path / "collector.log", "ab"))  # fmt: skip
    emulators.wait_http(f"http://127.0.0.1:{port}/healthz", proc)
    return proc


def open_page(browser: Browser, url: str) -> None:
    browser.goto(url)
    browser.wait_for("window.weir && window.weir.started")


def test_nothing_is_lost_while_the_collector_is_down(site, tmp_path, pubsub):
    browser, base, port, names = site
    ids = []
    down_since = time.monotonic()
    open_page(browser, f"{base}/a.html")
    ids += browser.js("[1, 2, 3].map(i => weir.track('tick', {n: i}))")
    time.sleep(2)
    assert browser.js("weir.queued()") == 4  # the page view and three events: kept, not dropped
    browser.goto("about:blank")  # page A closed while offline: its queue stays in storage
    open_page(browser, f"{base}/b.html")
    ids += browser.js("[4, 5].map(i => weir.track('tick', {n: i}))")
    while time.monotonic() - down_since < 30:  # the collector is down for 30 s
        time.sleep(1)
    proc = collector(tmp_path, names, port)
    try:
        browser.wait_for("weir.queued() === 0", timeout_s=120)  # retried with backoff, then confirmed
        got = pull_all(names, set(ids), timeout_s=120)
    finally:
        emulators.stop(proc)
    events = {event_id: orjson.loads(msgs[0].data) for event_id, msgs in got.items()}
    assert set(ids) <= set(events)  # every event of both pages, page A's adopted by page B
    views = {e["url"].rsplit("/", 1)[1] for e in events.values() if e["action"] == "pageview"}
    assert views == {"a.html", "b.html"}
    # No script error: the refused connections while the collector was down are the browser's
    # network log, as is the missing favicon, not the tracker's doing.
    assert [e for e in browser.errors if not e.startswith("network:")] == []


def test_single_page_routes_are_page_views_once_per_url(site, tmp_path, pubsub):
    browser, base, port, names = site
    proc = collector(tmp_path, names, port)
    try:
        open_page(browser, f"{base}/app.html")
        browser.js("history.pushState({}, '', '/app/one'); history.pushState({}, '', '/app/two');"
                   "history.pushState({}, '', '/app/two'); history.replaceState({}, '', '/app/three'); 1")  # fmt: skip
        browser.wait_for("weir.queued() === 0", timeout_s=30)
        got = pull_all(names, {"(never)"}, timeout_s=8)
    finally:
        emulators.stop(proc)
    views = [(e["url"].split("/", 3)[3], e["referrer"].split("/", 3)[3] if e["referrer"] else "")
             for e in (orjson.loads(m[0].data) for m in got.values()) if e["action"] == "pageview"]  # fmt: skip
    # Four page views (the repeated /app/two is one), each with the route before it as referrer;
    # the calls ran within one millisecond, so the chain of referrers is the order.
    assert sorted(views) == sorted(
        [("app.html", ""), ("app/one", "app.html"), ("app/two", "app/one"), ("app/three", "app/two")]
    )


def test_an_opted_out_reader_sends_nothing(site, tmp_path, pubsub):
    browser, base, port, names = site
    proc = collector(tmp_path, names, port)
    try:
        open_page(browser, f"{base}/a.html")
        browser.wait_for("weir.queued() === 0", timeout_s=30)  # the page view, before opting out
        browser.js("weir.optOut()")
        assert browser.js("[weir.track('tick'), weir.pageview(), weir.queued()]") == [None, None, 0]
        open_page(browser, f"{base}/b.html")  # kept in storage: the next page sends nothing either
        browser.js("weir.optIn()")
        open_page(browser, f"{base}/dnt.html")  # opted in, but Do Not Track on a site that respects it
        time.sleep(3)
        got = pull_all(names, {"(never)"}, timeout_s=6)
    finally:
        emulators.stop(proc)
    sent = [orjson.loads(m[0].data) for m in got.values()]
    pages = [(e["url"].rsplit("/", 1)[1], e["action"]) for e in sent]
    # Opted out: neither the event nor b.html's page view went. (Once opted in again, b.html's
    # heartbeat at page hide may go: it is sent after optIn.) Do Not Track: nothing from dnt.html.
    assert [p for p in pages if p[1] != "heartbeat"] == [("a.html", "pageview")]
    assert not [p for p in pages if p[0] == "dnt.html"]


def test_two_tabs_of_one_site_send_each_event_once(site, tmp_path, pubsub):
    browser, base, port, names = site
    proc = collector(tmp_path, names, port)
    try:
        open_page(browser, f"{base}/a.html")
        browser.call("Runtime.evaluate", expression="window.other = window.open('/b.html'); 1", userGesture=True)
        browser.wait_for("window.other && window.other.weir && window.other.weir.started")
        # Both tabs track at once, each through its own tracker and queue.
        both = "i => [weir.track('tick', {tab: 'a', i}), other.weir.track('tick', {tab: 'b', i})]"
        ids = browser.js(f"[...Array(30).keys()].flatMap({both})")
        browser.wait_for("weir.queued() === 0 && other.weir.queued() === 0", timeout_s=60)
        got = pull_all(names, set(ids), timeout_s=60)
        time.sleep(3)
        got_late = pull_all(names, {"(never)"}, timeout_s=4)  # any second copy still on its way
    finally:
        emulators.stop(proc)
    copies = {event_id: len(msgs) + len(got_late.get(event_id, [])) for event_id, msgs in got.items()}
    assert set(ids) <= set(copies) and len(set(ids)) == 60
    assert {copies[i] for i in ids} == {1}  # no event sent by both tabs, none twice
    views = sorted(orjson.loads(m[0].data)["url"].rsplit("/", 1)[1] for m in got.values()
                   if orjson.loads(m[0].data)["action"] == "pageview")  # fmt: skip
    assert views == ["a.html", "b.html"]


def test_a_cookieless_page_stores_nothing_and_the_collector_names_the_visitor(site, tmp_path, pubsub):
    browser, base, port, names = site
    proc = collector(tmp_path, names, port, "--cookieless")
    try:
        open_page(browser, f"{base}/nocookie.html")
        ids = browser.js("[weir.track('tick'), weir.track('tick')]")
        browser.wait_for("weir.queued() === 0", timeout_s=30)
        stored = browser.js("Object.keys(localStorage)")
        got = pull_all(names, set(ids), timeout_s=30)
    finally:
        emulators.stop(proc)
    assert stored == []  # no id, no session, no queue in the browser
    sent = [orjson.loads(m[0].data) for m in got.values()]
    assert len(sent) == 3 and {e["action"] for e in sent} == {"pageview", "tick"}
    assert len({e["visitor_id"] for e in sent}) == 1 and sent[0]["visitor_id"].startswith("cl-")
    assert all("session_index" not in e for e in sent)  # new or returning is not known without storage


def test_one_line_from_the_collector_is_all_a_page_needs(site, tmp_path, pubsub):
    """The snippet docs/collector.md starts with: the collector serves the tracker, and the
    tracker sends to the origin it was loaded from, not to the page's own server."""
    browser, base, port, names = site
    script = f'<script defer src="http://127.0.0.1:{port}/weir.js" data-site="embed.example"></script>'
    (tmp_path / "site" / "embed.html").write_text(f"<!doctype html><title>Embedded</title>{script}<p>Text.</p>")
    proc = collector(tmp_path, names, port)
    try:
        open_page(browser, f"{base}/embed.html")
        ids = browser.js("[weir.track('tick')]")
        browser.wait_for("weir.queued() === 0", timeout_s=30)
        got = pull_all(names, set(ids), timeout_s=30)
        served = urllib.request.urlopen(f"http://127.0.0.1:{port}/weir.js", timeout=10)
        etag = served.headers["ETag"]
        body = served.read()
        again = urllib.request.Request(f"http://127.0.0.1:{port}/weir.js", headers={"If-None-Match": etag})
        with pytest.raises(urllib.error.HTTPError) as unchanged:
            urllib.request.urlopen(again, timeout=10)
    finally:
        emulators.stop(proc)
    sent = [orjson.loads(m[0].data) for m in got.values()]
    assert {e["action"] for e in sent} == {"pageview", "tick"} and {e["site"] for e in sent} == {"embed.example"}
    # The integrity value a page may pin is the ETag, and it is this file's SHA-384.
    assert etag.strip('"') == "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()
    assert served.headers["Cache-Control"] == "public, max-age=3600"
    assert served.headers["Content-Type"].startswith("text/javascript")
    assert unchanged.value.code == 304
