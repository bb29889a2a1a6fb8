"""tracker/weir.js in headless Chromium against a local page and a real `weir collect`."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import signal
import subprocess
import threading

import orjson

from tests import emulators
from tests.test_collector import pubsub, pull_all, start_collector  # noqa: F401  (pubsub is a fixture)
from weir.pubsub import PubSubNames

TRACKER_DIR = os.path.join(os.path.dirname(__file__), "..", "tracker")
PAGE = """<!doctype html><html><head><title>A test story | The Test Times</title>
<meta property="article:section" content="news">
<meta property="article:tag" content="not-used">
<link rel="canonical" href="/stories/a-test-story">
<script type="application/ld+json">{ not JSON: a broken block is skipped }</script>
<script type="application/ld+json">{"@context": "https://schema.org", "@graph": [
  {"@type": "WebSite", "name": "The Test Times"},
  {"@type": "NewsArticle", "headline": "A test story", "datePublished": "2026-12-01T08:00:00Z",
   "author": [{"@type": "Person", "name": "Ada Reporter"}, {"@type": "Person", "name": "Bo Editor"}],
   "keywords": "floods, weather , floods"}]}</script>
<script>window.weirConfig = {endpoint: "http://127.0.0.1:%(collector)d/events", site: "test.example"};</script>
<script src="/weir.js"></script>
<script>
  // A reader: a key press every second keeps the page engaged; a share after 3 s.
  setInterval(function () { document.dispatchEvent(new KeyboardEvent("keydown")); }, 1000);
  setTimeout(function () { weir.track("share", {network: "x"}); }, 3000);
</script></head><body><p>Story text.</p></body></html>"""


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def pull_until_quiet(names: PubSubNames, quiet_s: float = 4.0, timeout_s: float = 60.0) -> dict[str, list]:
    """Everything the subscription delivers until nothing new came for `quiet_s`."""
    import time

    got: dict[str, list] = {}
    deadline, last_new = time.monotonic() + timeout_s, time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - last_new < quiet_s:
        before = len(got)
        for event_id, msgs in pull_all(names, {"(never)"}, timeout_s=1).items():
            got.setdefault(event_id, []).extend(msgs)
        if len(got) > before:
            last_new = time.monotonic()
    return got


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the test asserts on what arrives, not on a request log
        pass


def serve(directory: str) -> tuple[http.server.ThreadingHTTPServer, int]:
    handler = functools.partial(_QuietHandler, directory=directory)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def test_tracker_sends_pageview_heartbeats_and_custom_events(pubsub, tmp_path):  # noqa: F811
    browser = chromium()
    if browser is None:
        emulators.missing("chromium")
    names, collector, port = start_collector(tmp_path, "weir-t")
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    shutil.copy(os.path.join(TRACKER_DIR, "weir.js"), site_dir / "weir.js")
    (site_dir / "story.html").write_text(PAGE % {"collector": port})
    server, page_port = serve(str(site_dir))
    try:
        url = f"http://127.0.0.1:{page_port}/story.html"
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={tmp_path / 'profile'}",
                "--virtual-time-budget=31000",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            timeout=120,
            check=True,
        )
        got = pull_until_quiet(names)
    finally:
        server.shutdown()
        collector.send_signal(signal.SIGINT)
        collector.wait(timeout=30)
    events = [orjson.loads(msgs[0].data) for msgs in got.values()]
    by_action = {}
    for e in events:
        by_action.setdefault(e["action"], []).append(e)
    pageview = by_action["pageview"][0]
    assert pageview["site"] == "test.example" and pageview["url"] == url
    assert pageview["metadata"] == {
        "title": "A test story",  # JSON-LD's headline, not the document's title
        "section": "news",  # no articleSection in the JSON-LD: the article:section tag
        "published": "2026-12-01T08:00:00Z",
        "authors": ["Ada Reporter", "Bo Editor"],
        "tags": ["floods", "weather"],  # keywords, trimmed and each once
        "canonical": f"http://127.0.0.1:{page_port}/stories/a-test-story",
    }
    assert pageview["session_index"] == 1 and pageview["session_id"] and pageview["visitor_id"]
    assert "HeadlessChrome" in pageview["user_agent"] and pageview["received_at"] > pageview["ts"] - 60_000
    assert by_action["share"][0]["extra"] == {"network": "x"}
    heartbeats = by_action["heartbeat"]
    assert heartbeats and all(0 < h["engaged_seconds"] <= 10 for h in heartbeats)
    assert all(h["metadata"] == pageview["metadata"] for h in heartbeats)  # engaged time by section, author
    assert sum(h.get("scroll_quarters", 0) for h in heartbeats) == 4  # a short page: read to the end, sent once
    assert sum(h["engaged_seconds"] for h in heartbeats) >= 20  # ~30 s on an engaged page
    assert {e["visitor_id"] for e in events} == {pageview["visitor_id"]}
    assert {e["session_id"] for e in events} == {pageview["session_id"]}
    attrs = {m[0].attributes["event_id"] for m in got.values()}
    assert attrs == {e["event_id"] for e in events}
