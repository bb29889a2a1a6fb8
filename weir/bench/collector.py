"""`weir bench-collect`: load the collector from another process on loopback, bounded in time.

Starts `weir collect` against the local Pub/Sub emulator, as it runs behind a proxy
(`--trusted-proxy loopback`), then a load process whose threads each keep one HTTP/1.1
connection and POST batches of events (the tracker's pattern) for `seconds`, each request
forwarded for a different public address, so the client-address and country lookups are
part of what is measured; it reports requests/s, events/s and latency percentiles. Only 127.0.0.1 is
targeted, and both the load and the server stop by themselves.
"""

from __future__ import annotations

import http.client
import multiprocessing as mp
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

import orjson

from weir.bench.stats import percentile
from weir.pubsub.emulator import free_port


def _reader(n: int) -> str:
    """A spread of IPv4 addresses for X-Forwarded-For (Knuth's multiplicative hash of n): the
    lookups are not all one cached answer. Only a header: nothing is sent to them."""
    x = (n * 2654435761) % 2**32
    return f"{x >> 24}.{(x >> 16) & 255}.{(x >> 8) & 255}.{x & 255}"


def _worker(port: int, seconds: float, batch: int, latencies: list, errors: list) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    deadline = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < deadline:
        events = [
            {
                "event_id": str(uuid.uuid4()),
                "action": "heartbeat",
                "ts": int(time.time() * 1000),
                "site": "load.example",
                "url": f"https://load.example/p{n % 50}",
                "visitor_id": f"v{n % 997}",
                "engaged_seconds": 5,
            }
            for _ in range(batch)
        ]
        body = orjson.dumps(events)
        start = time.perf_counter()
        try:
            headers = {"Content-Type": "text/plain", "X-Forwarded-For": _reader(n + threading.get_ident())}
            conn.request("POST", "/events", body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 202:
                errors.append(resp.status)
        except (OSError, http.client.HTTPException) as exc:
            errors.append(repr(exc))
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            continue
        latencies.append(time.perf_counter() - start)
        n += 1
    conn.close()


def _load(port: int, seconds: float, concurrency: int, batch: int, queue) -> None:
    latencies: list[float] = []
    errors: list = []
    threads = [
        threading.Thread(target=_worker, args=(port, seconds, batch, latencies, errors)) for _ in range(concurrency)
    ]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queue.put({"elapsed": time.perf_counter() - started, "latencies": latencies, "errors": len(errors)})


def run_collector_bench(
    home: str,
    seconds: float = 10,
    concurrency: int = 16,
    batch: int = 10,
    say=print,
    pubsub_down: bool = False,
    weir_exe: str | None = None,
) -> dict:
    """Starts the collector, loads it, stops it; returns and prints the figures. With
    `pubsub_down` its Pub/Sub is a port nothing listens on (an outage: every event ends in
    the spill file, which starts empty); `weir_exe` is another install's `weir` to compare."""
    os.makedirs(home, exist_ok=True)
    port = free_port()
    exe = weir_exe or os.path.join(os.path.dirname(sys.executable), "weir")
    env = dict(os.environ)
    if pubsub_down:
        env["PUBSUB_EMULATOR_HOST"] = f"127.0.0.1:{free_port()}"
        for name in ("collector-spill.jsonl", "collector-spill.jsonl.torn"):
            if os.path.exists(os.path.join(home, name)):
                os.remove(os.path.join(home, name))  # the bench's own home: last run's outage
    server = subprocess.Popen(
        [exe, "collect", "--port", str(port), "--home", home, "--trusted-proxy", "loopback"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(home, "bench-collector.log"), "ab"),
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the collector did not start; see bench-collector.log") from None
                time.sleep(0.2)
        say(
            f"loading http://127.0.0.1:{port}/events for {seconds:.0f} s: {concurrency} connections, "
            f"{batch} events per request ..."
        )
        ctx = mp.get_context("spawn")
        queue = ctx.Queue()
        loader = ctx.Process(target=_load, args=(port, seconds, concurrency, batch, queue))
        loader.start()
        result = queue.get(timeout=seconds + 120)
        loader.join()
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    lat = result["latencies"]
    figures = {
        "requests_per_s": len(lat) / result["elapsed"],
        "events_per_s": len(lat) * batch / result["elapsed"],
        "p50_ms": statistics.median(lat) * 1000,
        "p99_ms": percentile(lat, 99) * 1000,
        "errors": result["errors"],
        "requests": len(lat),
    }
    say(metrics.strip())
    say(
        ("pubsub=down " if pubsub_down else "")
        + f"collector_requests_per_s={figures['requests_per_s']:.0f} events_per_s={figures['events_per_s']:.0f} "
        f"p50_ms={figures['p50_ms']:.1f} p99_ms={figures['p99_ms']:.1f} errors={figures['errors']}"
    )
    return figures
