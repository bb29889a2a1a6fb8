"""`weir bench-serve`: the stats API warm, over a week of generated traffic.

Fills a local warehouse with `days` whole days of generated traffic and today until now
(like `weir demo --today`; about `events_per_day` events a day on `sites` sites, each day
rebuilt by the batch pipeline), starts `weir serve` on loopback, and times what the
dashboard asks for, over one kept-alive HTTP connection as a browser does: `warmup`
requests of each, then `requests` timed ones. Then, unless `live_samples` is 0, starts
`weir stream` on the same warehouse (the local Pub/Sub emulator) and, while it writes,
publishes one page view of a new URL at a time and times until the API's answer for that
URL counts it (what the dashboard's next poll, at most 5 s later, shows), and the
dashboard's queries again while the stream lands 200 page views/s. Prints p50/p95 per
query and one summary line.
"""

from __future__ import annotations

import datetime as dt
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from weir.bench.stats import percentile
from weir.pubsub.emulator import free_port


def _queries(now: dt.datetime) -> dict[str, str]:
    midnight = dt.datetime.combine(now.date(), dt.time(), dt.timezone.utc)
    today = urllib.parse.urlencode({"start": midnight.isoformat(), "end": now.isoformat(), "limit": 15})
    return {
        "top_today": f"/api/top?{today}",
        "top_sections_today": f"/api/top?by=section&{today}",
        "right_now": "/api/now",
        "top_30_min": "/api/top?minutes=30&limit=15",
        "series_7d_1h": "/api/timeseries?granularity=1h&minutes=10080",
        "series_24h_5m": "/api/timeseries?granularity=5m&minutes=1440",
    }


def fill(home: str, days: int, events_per_day: int, sites: int, say=print) -> int:
    """Generates and rebuilds the days; returns the records generated."""
    from apache_beam.options.pipeline_options import PipelineOptions

    from weir.pipelines.rebuild import run_rebuild
    from weir.traffic.generator import generate_day, write_json_lines
    from weir.warehouse.local import LocalWarehouse

    names = [f"site{i:02d}.example" for i in range(sites)]
    today = dt.datetime.now(dt.timezone.utc).date()
    total = 0
    warehouse = LocalWarehouse(home)
    for back in range(days, -1, -1):  # `days` whole days, then today until now
        day = (today - dt.timedelta(days=back)).isoformat()
        records = generate_day(day, events=events_per_day, sites=names, url_seed=1)
        if back == 0:
            now_ms = int(time.time() * 1000)
            records = [r for r in records if r[0] <= now_ms]  # today until now
        path = write_json_lines(records, os.path.join(home, f"{day}.jsonl"))
        total += len(records)
        started = time.monotonic()
        run_rebuild(
            PipelineOptions([f"--input={path}", f"--date={day}"]),
            warehouse,
            staging_root=os.path.join(home, "staging"),
            progress=lambda _m: None,
        )
        os.remove(path)
        say(f"  {day}: {len(records):,} records rebuilt in {time.monotonic() - started:.1f} s")
    return total


def _get(conn: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    """One GET on the kept-alive connection; reconnects once if the server let an idle one go
    (uvicorn closes keep-alive connections idle for 5 s, as a browser would find too)."""
    for attempt in (1, 2):
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            conn.close()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _timed(conn: http.client.HTTPConnection, path: str) -> float:
    started = time.perf_counter()
    status, body = _get(conn, path)
    elapsed = time.perf_counter() - started
    if status != 200:
        raise RuntimeError(f"{path}: HTTP {status}: {body[:200]!r}")
    return elapsed


def _time_queries(conn, requests: int, warmup: int, say, label: str = "") -> dict:
    figures = {}
    for name, path in _queries(dt.datetime.now(dt.timezone.utc)).items():
        for _ in range(warmup):
            _timed(conn, path)
        times = [_timed(conn, path) * 1000 for _ in range(requests)]
        figures[name] = {"p50_ms": percentile(times, 50), "p95_ms": percentile(times, 95)}
        say(f"  {label}{name}: p50 {figures[name]['p50_ms']:.1f} ms, p95 {figures[name]['p95_ms']:.1f} ms")
    return figures


def _live(home: str, conn, samples: int, requests: int, say) -> dict:
    """Publish-to-API latency with a running stream, and the queries timed while it writes."""
    import uuid

    from google.cloud import pubsub_v1

    from weir.bench.freshness import local_emulator, start_stream, stop_stream
    from weir.pubsub import PubSubNames, ensure_topology

    with local_emulator(os.path.join(home, "pubsub")):
        names = PubSubNames(f"weir-bench-serve-{uuid.uuid4().hex[:6]}")
        ensure_topology(names)
        stream = start_stream(home, names)
        try:
            return _measure_live(names, conn, samples, requests, say, pubsub_v1.PublisherClient())
        finally:
            stop_stream(stream)


def _measure_live(names, conn, samples: int, requests: int, say, publisher) -> dict:
    """With the stream running: `samples` page views timed until the API counts them, then
    the dashboard's queries timed while a feeder publishes 200 page views/s."""
    import uuid

    import orjson

    waits: list[float] = []
    time.sleep(8)  # the stream's start-up is not what is measured
    say(f"  with a running weir stream: {samples} page views of new URLs, one at a time ...")
    for i in range(samples):
        url = f"https://site00.example/live/{uuid.uuid4().hex[:10]}"
        event = {"event_id": uuid.uuid4().hex, "action": "pageview", "ts": int(time.time() * 1000),
                 "site": "site00.example", "url": url, "visitor_id": f"bench-{i}"}  # fmt: skip
        path = "/api/timeseries?" + urllib.parse.urlencode({"url": url, "granularity": "5m", "minutes": 10})
        published = time.monotonic()
        publisher.publish(names.topic_path, orjson.dumps(event), event_id=event["event_id"], ts=str(event["ts"]))
        while time.monotonic() - published < 120:
            rows = orjson.loads(_get(conn, path)[1])["rows"]
            if sum(r["pageviews"] for r in rows):
                waits.append(time.monotonic() - published)
                break
            time.sleep(0.25)
    # The dashboard's queries again while the stream lands a steady 200 page views/s.
    stop = threading.Event()

    def background():
        n = 0
        while not stop.is_set():
            for _ in range(10):
                ev = {"event_id": uuid.uuid4().hex, "action": "pageview", "ts": int(time.time() * 1000),
                      "site": f"site0{n % 5}.example", "url": f"https://site0{n % 5}.example/p{n % 300}",
                      "visitor_id": f"bg-{n % 2000}"}  # fmt: skip
                publisher.publish(names.topic_path, orjson.dumps(ev), event_id=ev["event_id"], ts=str(ev["ts"]))
                n += 1
            time.sleep(0.05)

    feeder = threading.Thread(target=background, daemon=True)
    feeder.start()
    time.sleep(5)  # landings under way
    try:
        figures = _time_queries(conn, requests, 2, say, label="while the stream lands 200 events/s: ")
    finally:
        stop.set()
        feeder.join(timeout=10)
    out = {"queries": figures, "samples": samples, "seen": len(waits)}
    if waits:
        out.update(p50_s=percentile(waits, 50), p95_s=percentile(waits, 95))
        say(f"  published -> counted in the API: p50 {out['p50_s']:.1f} s, p95 {out['p95_s']:.1f} s "
            f"({len(waits)} of {samples} seen); the dashboard shows it at its next poll (<= 5 s)")  # fmt: skip
    return out


def run_serve_bench(
    days: int = 7,
    events_per_day: int = 100_000,
    sites: int = 5,
    requests: int = 100,
    warmup: int = 5,
    live_samples: int = 10,
    say=print,
) -> dict:
    home = tempfile.mkdtemp(prefix="weir-bench-serve-")
    server = None
    try:
        say(f"filling a warehouse with {days} days of ~{events_per_day:,} events on {sites} sites ...")
        total = fill(home, days, events_per_day, sites, say)
        port = free_port()
        weir = os.path.join(os.path.dirname(sys.executable), "weir")
        server = subprocess.Popen(
            [weir, "serve", "--port", str(port)],
            env={**os.environ, "WEIR_HOME": home},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        deadline = time.monotonic() + 60
        while True:
            try:
                _timed(conn, "/api/openapi.json")
                break
            except (ConnectionError, OSError):
                if time.monotonic() > deadline:
                    raise
                conn.close()
                time.sleep(0.2)
        figures = _time_queries(conn, requests, warmup, say)
        worst = max(f["p95_ms"] for f in figures.values())
        live = _live(home, conn, live_samples, requests, say) if live_samples else None
        summary = f"serve_records={total} " + " ".join(f"{n}_p95_ms={f['p95_ms']:.1f}" for n, f in figures.items())
        summary += f" worst_p95_ms={worst:.1f}"
        if live:
            live_worst = max(f["p95_ms"] for f in live["queries"].values())
            summary += f" worst_p95_ms_while_streaming={live_worst:.1f}"
            summary += (
                f" published_to_api_p95_s={live.get('p95_s', float('nan')):.1f} live_seen={live['seen']}/{live_samples}"
            )
        say(summary)
        return {"records": total, "queries": figures, "worst_p95_ms": worst, "live": live}
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)
