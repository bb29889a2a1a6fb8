"""Streaming freshness: how long after publishing is an event counted in a queryable row?

Starts `weir stream` (its own WEIR_HOME, the local Pub/Sub emulator), publishes page views
for one URL at a fixed rate for `seconds`, stamped with the current time, and polls the
warehouse. Each second's batch is a sample: its freshness is the time from publishing it to
the first poll whose url_metrics_5m page views (summed over the buckets published so far)
include it. Reports p50 and p95 over the samples; samples never seen count as the whole
wait, and are reported.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid

import duckdb
import orjson

from weir import schemas
from weir.bench.stats import percentile
from weir.pubsub import PubSubNames, ensure_topology, raw
from weir.warehouse.local import warehouse_path

URL = "https://fresh.example/live"
POLL_S = 0.25  # the measurement's resolution; a poll is one short read-only query
PUBLISH_BATCH = 1000  # messages per publish request


def _count(home: str) -> int:
    """Page views of URL in url_metrics_5m as a reader sees them now; -1 while the stream
    holds the file to land rows (a poll never waits for the lock, so polling cannot slow
    the publishing ticks)."""
    path = warehouse_path(home)
    if not os.path.exists(path):
        return 0
    try:
        con = duckdb.connect(path, read_only=True)
    except duckdb.Error:
        return -1
    try:
        sql = f'SELECT COALESCE(SUM(pageviews), 0) FROM "{schemas.DEFAULT_DATASET}".url_metrics_5m WHERE url = ?'
        return int(con.execute(sql, [URL]).fetchone()[0])
    except duckdb.Error:  # the stream is still creating its tables
        return -1
    finally:
        con.close()


@contextlib.contextmanager
def local_emulator(root: str):
    """The local Pub/Sub emulator for a bench: the running one (PUBSUB_EMULATOR_HOST), else
    one started under `root` and stopped afterwards."""
    from weir.pubsub.emulator import ensure_emulator, stop_emulator

    started_here = "PUBSUB_EMULATOR_HOST" not in os.environ
    ensure_emulator(root)
    try:
        yield
    finally:
        if started_here:
            stop_emulator(root)
            os.environ.pop("PUBSUB_EMULATOR_HOST", None)


def start_stream(home: str, names: PubSubNames) -> subprocess.Popen:
    """`weir stream` (1-s early panes) on `home` for `names`' project; its log in home/stream.log.
    Without its daily closes: a close is a rebuild of a day, once a day, measured as rebuilds
    are; here it would land in the per-event CPU of whichever minute it ran in."""
    os.makedirs(home, exist_ok=True)
    env = {**os.environ, "WEIR_HOME": home, "WEIR_PROJECT": names.project, "WEIR_DATASET": schemas.DEFAULT_DATASET}
    return subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "weir"), "stream", "--early_s", "1", "--no-daily"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(home, "stream.log"), "ab"),
    )


def stop_stream(stream: subprocess.Popen) -> None:
    stream.send_signal(signal.SIGINT)  # the stream lands what it holds and exits
    try:
        stream.wait(timeout=90)
    except subprocess.TimeoutExpired:
        stream.kill()


def _own_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _children(pid: int) -> list[int]:
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                out += [int(c) for c in fh.read().split()]
        except OSError:
            pass
    return out


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU a process and its live descendants have used so far (the stream's
    archiver is a child process); Linux /proc, None elsewhere."""
    try:
        total, todo, seen = 0.0, [pid], set()
        while todo:
            p = todo.pop()
            if p in seen:
                continue
            seen.add(p)
            try:
                total += _own_cpu(p)
                todo += _children(p)
            except OSError:
                if p == pid:
                    raise
        return total
    except (OSError, ValueError, IndexError):
        return None


def measure_freshness(home: str, rate: float = 200, seconds: float = 30, settle_s: float = 60, say=print) -> dict:
    from google.cloud import pubsub_v1

    from weir.bench.run import peak_rss_mb

    names = PubSubNames(f"weir-fresh-{uuid.uuid4().hex[:6]}")
    ensure_topology(names)
    stream = start_stream(home, names)
    publisher = pubsub_v1.PublisherClient()
    samples: list[tuple[float, int]] = []  # (publish time, cumulative events after this batch)
    seen: dict[int, float] = {}  # sample index -> seconds until it was queryable
    try:
        time.sleep(8)  # the stream's start-up is not what is measured
        idle_from, idle_cpu = time.monotonic(), cpu_seconds(stream.pid)
        time.sleep(2)  # what the stream spends with nothing to do, to take off below
        idle_rate = None
        if idle_cpu is not None and (now_cpu := cpu_seconds(stream.pid)) is not None:
            idle_rate = (now_cpu - idle_cpu) / (time.monotonic() - idle_from)
        busy_from, busy_cpu = time.monotonic(), cpu_seconds(stream.pid)
        say(f"freshness: publishing {rate:.0f} page views/s for {seconds:.0f} s into a running weir stream ...")
        sent, start = 0, time.monotonic()
        per_tick = max(1, int(rate))
        while time.monotonic() - start < seconds:
            tick = time.monotonic()
            messages = []
            for _ in range(per_tick):
                ev = {
                    "event_id": str(uuid.uuid4()),
                    "action": "pageview",
                    "ts": int(time.time() * 1000),
                    "site": "fresh.example",
                    "url": URL,
                    "visitor_id": f"v{sent % 5000}",
                }
                messages.append((orjson.dumps(ev), {"event_id": ev["event_id"], "ts": str(ev["ts"])}))
                sent += 1
            for first in range(0, len(messages), PUBLISH_BATCH):  # one request each (weir.pubsub.raw)
                raw.publish(publisher, names.topic_path, messages[first : first + PUBLISH_BATCH])
            samples.append((time.monotonic(), sent))
            _poll(home, samples, seen)
            while time.monotonic() - tick < 1.0 - POLL_S:  # poll between batches too
                time.sleep(POLL_S)
                _poll(home, samples, seen)
            time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
        deadline = time.monotonic() + settle_s
        while time.monotonic() < deadline and len(seen) < len(samples):
            _poll(home, samples, seen)
            time.sleep(POLL_S)
        busy_s = time.monotonic() - busy_from
        cpu_end = cpu_seconds(stream.pid)
    finally:
        stream_peak_mb = peak_rss_mb(stream.pid)
        stop_stream(stream)
    cpu_us = None
    if busy_cpu is not None and cpu_end is not None and idle_rate is not None and samples:
        # From the first publish until every sample was counted (or the wait ran out),
        # less the idle rate: the stream's CPU for these events, per event.
        cpu_us = max(0.0, (cpu_end - busy_cpu) - idle_rate * busy_s) / samples[-1][1] * 1e6
    in_order = [round(seen.get(i, settle_s + seconds), 2) for i in range(len(samples))]
    unseen = len(samples) - len(seen)
    p50, p95 = percentile(in_order, 50), percentile(in_order, 95)
    # A stream that keeps up waits as long at the end as at the start; one falling behind
    # shows in the last third first.
    p95_late = percentile(in_order[len(in_order) * 2 // 3 :], 95)
    say(
        f"freshness: {len(samples)} one-second samples, {unseen} not seen within {settle_s:.0f} s; "
        f"p50 {p50:.1f} s, p95 {p95:.1f} s (last third of the samples: p95 {p95_late:.1f} s)"
        + (f"; the stream's CPU {cpu_us:.0f} us per event" if cpu_us is not None else "")
    )
    return {
        "p50_s": p50,
        "p95_s": p95,
        "p95_last_third_s": p95_late,
        "samples": len(samples),
        "unseen": unseen,
        "sent": samples[-1][1],
        "waits": in_order,  # per sample, in publishing order: shows a stream falling behind
        "peak_rss_mb": stream_peak_mb,
        "cpu_us_per_event": cpu_us,
    }


def _poll(home: str, samples: list[tuple[float, int]], seen: dict[int, float]) -> None:
    counted = _count(home)
    now = time.monotonic()
    for i, (published, cumulative) in enumerate(samples):
        if i not in seen and counted >= cumulative:
            seen[i] = now - published
