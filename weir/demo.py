"""`weir demo`: a realistic day of traffic, rebuilt locally, then the numbers people ask for."""

from __future__ import annotations

import datetime as dt
import glob
import os
import time

from apache_beam.options.pipeline_options import PipelineOptions

from weir.config import Settings
from weir.console.output import format_table
from weir.console.progress import bar, watching
from weir.pipelines.rebuild import run_rebuild
from weir.traffic.generator import DEFAULT_SITES, generate_day, write_avro_archive
from weir.transforms.archive import day_dir
from weir.usage import UsageError
from weir.warehouse.local import LocalWarehouse
from weir.warehouse.params import day as parse_day

TOP_URLS = """
SELECT site, url, pageviews, visitors, engaged_seconds
FROM url_metrics_1d
WHERE bucket_date = @day
ORDER BY pageviews DESC, url
LIMIT 10
"""

REFERRER_MIX = """
SELECT value AS referrer_category, SUM(pageviews) AS pageviews,
       ROUND(100 * SUM(pageviews) / SUM(SUM(pageviews)) OVER (), 1) AS share_pct,
       HLL_COUNT.MERGE(visitors_sketch) AS visitors
FROM breakdown_metrics_1d
WHERE bucket_date = @day AND dimension = 'referrer_category'
GROUP BY value
ORDER BY pageviews DESC
"""

DEAD_LETTERS = """
SELECT error_kind, stage, COUNT(*) AS dead_letters
FROM dead_letters
WHERE DATE(received_at) = @day
GROUP BY error_kind, stage
ORDER BY dead_letters DESC, error_kind
"""


def run_today(settings: Settings, events: int = 30_000, say=print) -> dict:
    """`weir demo --today`: the same weekday a week ago (the dashboard's week-ago lines), then
    today until now, as `run_demo` makes them; returns today's figures."""
    today = dt.datetime.now(dt.timezone.utc).date()
    week_ago = (today - dt.timedelta(days=7)).isoformat()
    say(f"weir demo --today: {week_ago} first, for the week-ago comparisons")
    run_demo(settings, events=events, day=week_ago, say=lambda _m: None)
    return run_demo(settings, events=events, day=today.isoformat(), say=say, until_now=True)


def run_demo(
    settings: Settings, events: int = 30_000, day: str | None = None, say=print, until_now: bool = False
) -> dict:
    """Generates, archives, rebuilds and reports one day; returns the figures it printed.
    `until_now` keeps only the records received by now (a demo of today so far)."""
    day = day or (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)).isoformat()
    parse_day(day)  # every argument is checked before anything is written
    if events < 1:
        raise UsageError(f"--events must be at least 1, got {events}")
    archive_day = day_dir(settings.archive_root, day)
    _refuse_foreign_data(archive_day, day)
    warehouse = LocalWarehouse(settings.home, settings.dataset)
    say(f"weir demo: WEIR_HOME={settings.home}")
    say(f"[1/4] generating ~{events:,} events for {day} on {len(DEFAULT_SITES)} sites ...")
    t0 = time.monotonic()
    records = generate_day(day, events=events)
    if until_now:
        now_ms = int(time.time() * 1000)
        records = [r for r in records if r[0] <= now_ms]
        if not records:  # just after midnight (UTC): today has nothing yet
            say(f"      nothing received yet on {day}; the day a week ago is there. Run it again in a few minutes.")
            return {"day": day, "loaded": {}, "dead_letters": 0, "counters": {}}
    for old in glob.glob(os.path.join(archive_day, "*", f"{DEMO_PREFIX}-*.avro")):
        os.remove(old)  # the demo's own files of an earlier run, and nothing else
    paths = write_avro_archive(records, settings.archive_root, prefix=DEMO_PREFIX)
    say(
        f"      {len(records):,} raw records archived as Avro in {len(paths)} hourly files "
        f"under {archive_day} ({time.monotonic() - t0:.1f} s)"
    )
    say("[2/4] rebuilding the day with the batch pipeline (DirectRunner: FnApiRunner) ...")
    options = PipelineOptions([f"--input={archive_day}/*/*.avro", f"--date={day}"])
    with watching("records_read", "      records read", total=len(records)):
        result = run_rebuild(  # today so far may be a handful of records, even only bad ones: land them
            options,
            warehouse,
            staging_root=settings.staging_root,
            progress=lambda m: say("      " + m),
            force=until_now,
        )
    rate = result.counters.get("records_read", 0) / max(result.seconds, 1e-9)
    say(
        f"      done in {result.seconds:.1f} s ({rate:,.0f} records/s); rows loaded: "
        + ", ".join(f"{t}={n:,}" for t, n in result.loaded.items())
    )
    say(f"[3/4] top URLs on {day}")
    params = {"day": dt.date.fromisoformat(day)}
    say(_indent(format_table(warehouse.query(TOP_URLS, params))))
    say("[4/4] referrer mix (page views) and dead letters")
    say(_indent(format_table(warehouse.query(REFERRER_MIX, params))))
    dead = warehouse.query(DEAD_LETTERS, params)
    total_dead = sum(r[2] for r in dead.rows)
    say(_indent(format_table(dead)))
    say(f'      {total_dead} dead letters, every one with its raw payload: weir sql "SELECT * FROM dead_letters"')
    say(f"\nTry: weir sql \"SELECT * FROM url_metrics_5m WHERE DATE(bucket_start) = '{day}' LIMIT 5\"")
    say(f"     weir verify --date {day}      (every record accounted for, every table adding up)")
    return {"day": day, "loaded": result.loaded, "dead_letters": total_dead, "counters": result.counters}


DEMO_PREFIX = "demo"  # the demo's archive files: the only ones it ever removes


def _refuse_foreign_data(archive_day: str, day: str) -> None:
    """ValueError when the day's archive holds files weir demo did not make (a stream's, a
    collector's): the demo replaces the day in the warehouse, so it would lose them."""
    foreign = [
        p
        for p in glob.glob(os.path.join(archive_day, "*", "*"))
        if os.path.isfile(p) and not os.path.basename(p).startswith(f"{DEMO_PREFIX}-")
    ]
    if foreign:
        raise UsageError(
            f"{day} already holds {len(foreign)} archive file(s) weir demo did not make (under {archive_day}); "
            "the demo would replace that day. Choose another --date, or another --home for the demo"
        )


def _indent(text: str) -> str:
    return "\n".join("      " + line for line in text.splitlines())


def live_payloads(rate: float, duration_s: float | None, seed: int):
    """Generated traffic stamped with the current time as it is sent: `ts` is now, so the
    stream's live 5-minute buckets move (a replay of yesterday's archive is all too late).
    Malformed records and duplicate deliveries come along, as in the demo's day."""
    import orjson

    started = time.monotonic()
    batch = 0
    while True:
        day = dt.datetime.now(dt.timezone.utc).date().isoformat()
        for _, payload in generate_day(day, events=max(100, int(rate * 60)), seed=seed + batch):
            if duration_s is not None and time.monotonic() - started >= duration_s:
                return
            try:
                event = orjson.loads(payload)
            except orjson.JSONDecodeError:
                event = None
            if isinstance(event, dict) and isinstance(event.get("ts"), int):
                now = int(time.time() * 1000)
                event["ts"] = now
                if "received_at" in event:
                    event["received_at"] = now
                payload = orjson.dumps(event)
            yield payload
        batch += 1


def run_live(names, rate: float, duration_s: float | None, say=print) -> int:
    """Publishes live traffic to the local topic until `duration_s` or Ctrl-C; returns how many."""
    from weir.pubsub import ensure_topology
    from weir.pubsub.publish import publish

    if rate <= 0:
        raise UsageError(f"--rate must be positive for --live, got {rate:g}")
    ensure_topology(names)  # the subscriptions exist before the first message: none is lost
    say(
        f"weir demo --live: {rate:g} events/s to {names.topic_path}"
        + (f" for {duration_s:g} s" if duration_s else " (Ctrl-C stops)")
    )
    sent = 0
    try:
        shown = bar(desc="published", unit="events")
        sent = publish(live_payloads(rate, duration_s, seed=int(time.time())), names, rate=rate, say=say, shown=shown)
    except KeyboardInterrupt:
        say("weir demo --live: stopped")
    return sent
