"""The collector behind a proxy, end to end: a real `weir collect` behind a small reverse proxy on
loopback that appends X-Forwarded-For, as nginx does. Readers on different addresses with one
browser are different cookieless visitors; a reader's country lands in the events and breakdown
tables and in the stats API; and the address itself is in no byte that anything wrote."""

from __future__ import annotations

import http.client
import http.server
import os
import threading
import time
import urllib.parse
import uuid

import orjson
import pytest
from starlette.testclient import TestClient

from tests import emulators
from tests.conftest import rebuild_local
from tests.test_collector import pull_all
from tests.test_tracker_delivery import collector
from weir.pubsub import PubSubNames, ensure_topology
from weir.traffic.generator import write_avro_archive
from weir.warehouse.local import LocalWarehouse

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"
READER_IN_GB = "81.2.69.142"  # MaxMind's documented test address; the registries give it to GB


@pytest.fixture(scope="module")
def pubsub(tmp_path_factory):
    with emulators.private_pubsub(str(tmp_path_factory.mktemp("pubsub"))) as host:
        yield host


def reverse_proxy(upstream_port: int) -> http.server.ThreadingHTTPServer:
    """A reverse proxy on 127.0.0.1 that appends the peer it saw to X-Forwarded-For."""

    class Forward(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "x-forwarded-for")}
            seen = self.headers.get("X-Forwarded-For")
            headers["X-Forwarded-For"] = f"{seen}, {self.client_address[0]}" if seen else self.client_address[0]
            upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=10)
            upstream.request("GET", self.path, headers=headers)
            answer = upstream.getresponse()
            body = answer.read()
            self.send_response(answer.status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            upstream.close()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Forward)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def pixel(proxy_port: int, reader: str, event: dict, forwarded_for: str | None = None) -> int:
    """One page view from `reader` (a loopback address of its own) through the proxy."""
    connection = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=10, source_address=(reader, 0))
    headers = {"User-Agent": UA, **({"X-Forwarded-For": forwarded_for} if forwarded_for else {})}
    connection.request("GET", "/p.gif?" + urllib.parse.urlencode(event), headers=headers)
    status = connection.getresponse().status
    connection.close()
    return status


def test_behind_a_trusted_proxy_readers_are_themselves_and_their_country_lands(tmp_path, pubsub):
    names = PubSubNames(f"weir-edge-{uuid.uuid4().hex[:6]}")
    ensure_topology(names)
    port = emulators.free_port()
    proc = collector(tmp_path, names, port, "--trusted-proxy", "loopback", "--cookieless", "--site", "edge.example")
    proxy = reverse_proxy(port)
    now = int(time.time() * 1000)
    sent = {
        "one": ("127.0.0.2", None),
        "two": ("127.0.0.3", None),
        # A CDN in front of the proxy said who its client was; both hops are trusted here.
        "gb": ("127.0.0.2", READER_IN_GB),
    }
    try:
        for name, (reader, forwarded) in sent.items():
            event = {"event_id": name, "action": "pageview", "ts": now, "site": "edge.example",
                     "url": f"https://edge.example/{name}", "country": "FR"}  # fmt: skip
            assert pixel(proxy.server_address[1], reader, event, forwarded) == 200
        got = pull_all(names, set(sent), timeout_s=60)
    finally:
        proxy.shutdown()
        emulators.stop(proc)
    events = {name: orjson.loads(messages[0].data) for name, messages in got.items()}
    assert events["one"]["visitor_id"] != events["two"]["visitor_id"]  # one browser, two readers
    assert events["gb"]["country"] == "GB" and "region" not in events["gb"]  # the registries have no region
    assert "country" not in events["one"]  # loopback is nowhere; the page's own "FR" is not believed

    # Through the pipeline: archived, rebuilt, queried.
    home = str(tmp_path / "warehouse")
    records = [(messages[0].publish_time.timestamp() * 1000, messages[0].data) for messages in got.values()]
    write_avro_archive([(int(r), p) for r, p in records], os.path.join(home, "archive"))
    rebuild_local(home)
    wh = LocalWarehouse(home)
    rows = wh.query("SELECT event_id, country, region FROM events ORDER BY event_id").rows
    assert [tuple(r) for r in rows] == [("gb", "GB", None), ("one", None, None), ("two", None, None)]
    breakdown = wh.query(
        "SELECT value, SUM(pageviews) FROM breakdown_metrics_1d WHERE dimension = 'country' "
        "GROUP BY value ORDER BY value"
    ).rows
    assert [tuple(r) for r in breakdown] == [("(unknown)", 2), ("GB", 1)]

    from weir.serve.app import create_app

    top = TestClient(create_app(wh), base_url="http://localhost").get(
        "/api/top", params={"site": "edge.example", "by": "country", "date": "today"}
    )
    assert top.status_code == 200, top.text
    assert {(r["country"], r["pageviews"]) for r in top.json()["rows"]} == {("GB", 1), ("(unknown)", 2)}

    # No byte written anywhere holds a reader's address: messages, spill, logs, archive, warehouse.
    written = b"".join(m.data + orjson.dumps(dict(m.attributes)) for ms in got.values() for m in ms)
    for root, _dirs, files in os.walk(tmp_path):
        for name in files:
            with open(os.path.join(root, name), "rb") as fh:
                written += fh.read()
    for address in (READER_IN_GB, "127.0.0.2", "127.0.0.3"):
        assert address.encode() not in written, address
