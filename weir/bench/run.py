"""`weir bench`: one run, honest figures, one summary line.

Phases, each in a child process so its peak memory is its own:
- floor: one plain-Python pass over the JSON-lines file with the pipeline's JSON library
  (orjson), computing per-URL 5-minute and daily page-view counts. What the machine can do.
- enrich: parse + validate + enrich alone (no Beam), events/s, cold caches.
- rebuild: the full batch graph on the FnApiRunner over the same file, through the local
  warehouse commit; events/s and its ratio to the floor; then over a day a quarter the
  size, so the growth of its peak memory per record shows.
- freshness: page views published at a fixed rate into a running `weir stream` (local
  Pub/Sub emulator); p50/p95 of the time until each second's events are counted in a
  queryable 5-minute row (weir.bench.freshness), and the stream's CPU per event (its
  process and its archiver child, idle rate taken off). `--freshness-seconds 0` skips it (`na`).
- max rate (`--max-rate`): the same at 1,000 to 8,000 events/s, each in a fresh stream for
  `--freshness-seconds`, until one falls behind (p95 over 10 s, or a sample unseen).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
import shutil
import sys
import tempfile
import time
from collections import Counter

import orjson

from weir.traffic.generator import generate_day, write_json_lines

BENCH_DAY = "2025-11-20"


def _sites(n: int) -> list[str]:
    return [f"site{i:02d}.example" for i in range(n)]


def _floor(path: str) -> dict:
    five, daily = Counter(), Counter()
    n = 0
    with open(path, "rb") as fh:
        for line in fh:
            n += 1
            try:
                e = orjson.loads(line)
                ts, site, url = int(e["ts"]), e["site"], e["url"]
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                continue
            if e.get("action") == "pageview":
                five[(site, url, ts - ts % 300_000)] += 1
                daily[(site, url, ts - ts % 86_400_000)] += 1
    return {"records": n, "rows": len(five) + len(daily)}


def _enrich(path: str) -> dict:
    from weir.transforms.enrich import enrich_event
    from weir.transforms.validate import parse_record

    n = 0
    with open(path, "rb") as fh:
        for line in fh:
            kind, value = parse_record(
                {"payload": line.rstrip(b"\n"), "received_at": None, "source": path, "attributes": {}}
            )
            if kind == "event":
                enrich_event(value)
            n += 1
    return {"records": n}


def _rebuild(path: str) -> dict:
    from apache_beam.options.pipeline_options import PipelineOptions

    from weir.pipelines.rebuild import run_rebuild
    from weir.warehouse.local import LocalWarehouse

    home = tempfile.mkdtemp(prefix="weir-bench-")
    try:
        result = run_rebuild(
            PipelineOptions([f"--input={path}"]),
            LocalWarehouse(home),
            staging_root=os.path.join(home, "staging"),
            progress=lambda _m: None,
        )
        return {"records": result.counters.get("records_read", 0), "loaded": result.loaded}
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _child(fn, path, queue):
    import logging

    logging.getLogger("apache_beam").setLevel(logging.ERROR)
    start = time.perf_counter()
    out = fn(path)
    out["seconds"] = time.perf_counter() - start
    out["peak_rss_mb"] = peak_rss_mb()
    queue.put(out)


def peak_rss_mb(pid: int | str = "self") -> float | None:
    """A process's peak resident memory so far. VmHWM belongs to the address space, which
    exec replaces; `ru_maxrss` survives exec on Linux, so a spawned child would report at
    least its parent's peak (the bench's parent holds the generated day: ~650 MB at 100k
    events). Without /proc (macOS): this process's `ru_maxrss`, or None for another."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    if pid != "self":
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def measure(fn, path: str) -> dict:
    ctx = mp.get_context("spawn")  # a fresh interpreter: its peak memory is its own
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn, path, queue))
    proc.start()
    out = queue.get()
    proc.join()
    return out


def _freshness(work: str, rate: float, seconds: float, say) -> dict:
    from weir.bench.freshness import local_emulator, measure_freshness

    with local_emulator(os.path.join(work, "pubsub")):
        return measure_freshness(os.path.join(work, "stream"), rate=rate, seconds=seconds, say=say)


MAX_RATE_STEPS = (1000, 2000, 3000, 4000, 6000, 8000)  # events/s tried by --max-rate, in order


def max_sustained_rate(work: str, seconds: float, say) -> dict:
    """The highest of MAX_RATE_STEPS the local stream keeps up with for `seconds`: freshness
    p95 at most 10 s and every sample seen; each rate in a fresh stream, stopping at the
    first that fails. Also what the publisher achieved at each (it must hold the rate too)."""
    tried, best = [], None
    for rate in MAX_RATE_STEPS:
        started = time.monotonic()
        fresh = _freshness(os.path.join(work, f"rate-{rate}"), rate, seconds, lambda _m: None)
        achieved = fresh["sent"] / max(seconds, 1e-9)
        ok = fresh["p95_s"] <= 10 and fresh["unseen"] == 0
        tried.append(
            {"rate": rate, "achieved": achieved, **{k: fresh[k] for k in ("p95_s", "unseen", "cpu_us_per_event")}}
        )
        say(
            f"  {rate:,}/s: published {achieved:,.0f}/s, p95 {fresh['p95_s']:.1f} s, unseen {fresh['unseen']}, "
            f"CPU {fresh['cpu_us_per_event'] or 0:.0f} us/event -> {'kept up' if ok else 'fell behind'} "
            f"({time.monotonic() - started:.0f} s)"
        )
        if not ok:
            break
        best = rate
    return {"max_rate": best, "tried": tried}


def sql_cold_s(runs: int = 3) -> float:
    """The fastest of `runs` cold `weir sql "SELECT 1"` processes (a fresh interpreter each:
    what a user waits for), against an empty local warehouse. Issue #15: query commands
    import no Apache Beam, so this is interpreter start + DuckDB + sqlglot."""
    import subprocess
    import sys
    import time

    home = tempfile.mkdtemp(prefix="weir-bench-sql-")
    try:
        cmd = [sys.executable, "-m", "weir.cli", "sql", "SELECT 1", "--home", home]
        subprocess.run(cmd, check=True, capture_output=True)  # creates the warehouse file once
        best = float("inf")
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            best = min(best, time.perf_counter() - started)
        return best
    finally:
        shutil.rmtree(home, ignore_errors=True)


def run_bench(
    events: int,
    sites: int = 50,
    say=print,
    freshness_rate: float = 2000,
    freshness_seconds: float = 60,
    max_rate: bool = False,
) -> dict:
    work = tempfile.mkdtemp(prefix="weir-bench-data-")
    try:
        say(f"generating ~{events:,} events on {sites} sites (Zipf URLs, heartbeats, 1% bad input, duplicates) ...")
        records = generate_day(BENCH_DAY, events=events, sites=_sites(sites))
        path = write_json_lines(records, os.path.join(work, "day.jsonl"))
        del records
        figures = {}
        for name, fn in (("floor", _floor), ("enrich", _enrich), ("rebuild", _rebuild)):
            say(f"measuring {name} ...")
            r = measure(fn, path)
            r["events_per_s"] = r["records"] / r["seconds"]
            figures[name] = r
            say(
                f"  {name}: {r['records']:,} records in {r['seconds']:.2f} s = {r['events_per_s']:,.0f} events/s, "
                f"peak RSS {r['peak_rss_mb']:.0f} MB"
            )
        # The rebuild's peak memory at a quarter of the size too, so its growth with the day shows.
        quarter = write_json_lines(
            generate_day(BENCH_DAY, events=max(1, events // 4), sites=_sites(sites)),
            os.path.join(work, "quarter.jsonl"),
        )
        small = measure(_rebuild, quarter)
        figures["rebuild_quarter"] = small
        growth_kb = (
            (figures["rebuild"]["peak_rss_mb"] - small["peak_rss_mb"])
            * 1024
            / (figures["rebuild"]["records"] - small["records"])
            if figures["rebuild"]["records"] > small["records"]
            else float("nan")
        )
        say(
            f"  rebuild at a quarter of the size: {small['records']:,} records, peak RSS {small['peak_rss_mb']:.0f} MB "
            f"(growth {growth_kb:.1f} KB per record between the two)"
        )
        ratio = figures["rebuild"]["events_per_s"] / figures["floor"]["events_per_s"]
        peak = max(r["peak_rss_mb"] for r in figures.values())
        sql_cold = sql_cold_s()
        figures["sql"] = {"cold_s": sql_cold}
        say(f'  weir sql "SELECT 1" cold: {sql_cold:.2f} s (best of 3 fresh processes)')
        p50 = p95 = p95_late = unseen = cpu_us = "na"
        if freshness_seconds > 0:
            fresh = _freshness(work, freshness_rate, freshness_seconds, say)
            figures["freshness"] = fresh
            # Samples never counted enter at the whole wait: with unseen > 0 the percentiles
            # are lower bounds, and the summary says how many there were.
            p50, p95, unseen = f"{fresh['p50_s']:.1f}", f"{fresh['p95_s']:.1f}", str(fresh["unseen"])
            p95_late = f"{fresh['p95_last_third_s']:.1f}"
            if fresh.get("cpu_us_per_event") is not None:
                cpu_us = f"{fresh['cpu_us_per_event']:.0f}"
            if fresh.get("peak_rss_mb"):
                say(f"  freshness: the stream's peak RSS {fresh['peak_rss_mb']:.0f} MB")
                peak = max(peak, fresh["peak_rss_mb"])
        top_rate = "na"
        if max_rate:
            say(f"the highest rate the local stream sustains ({freshness_seconds:.0f} s each, p95 <= 10 s, all seen):")
            figures["max_rate"] = max_sustained_rate(work, freshness_seconds, say)
            top_rate = str(figures["max_rate"]["max_rate"] or 0)
        say(
            f"rebuild_events_per_s={figures['rebuild']['events_per_s']:.0f} "
            f"floor_events_per_s={figures['floor']['events_per_s']:.0f} ratio={ratio:.4g} "
            f"enrich_events_per_s={figures['enrich']['events_per_s']:.0f} "
            f"freshness_p50_s={p50} freshness_p95_s={p95} peak_rss_mb={peak:.0f} freshness_unseen={unseen} "
            f"freshness_p95_last_third_s={p95_late} sql_cold_s={sql_cold:.2f} "
            f"rebuild_peak_rss_mb={figures['rebuild']['peak_rss_mb']:.0f} "
            f"rebuild_quarter_peak_rss_mb={small['peak_rss_mb']:.0f} rebuild_growth_kb_per_record={growth_kb:.1f} "
            f"stream_cpu_us_per_event={cpu_us} stream_max_rate={top_rate}"
        )
        return figures
    finally:
        shutil.rmtree(work, ignore_errors=True)
