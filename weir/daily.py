"""Days that close themselves: each site's day is rebuilt and verified once it has ended.

    every minute (weir stream's thread, `weir daily run`, or Cloud Scheduler's job):
      for each zone in use (UTC holds every site not set), oldest day first:
        the day ended + the stream's allowed lateness, and the stream has landed past that,
        and no close of it is recorded               -> close   (reason closed / catch-up)
        the stream turned away records of the day as too late after its last close,
        within the day's lateness                    -> re-close (reason late)
      a close = rebuild --date D --timezone ZONE (from the archive alone), then weir verify
      of D for those sites; one `day_closes` row says what it read and whether it balanced.

Why after the stream's allowed lateness: until then the stream may still land rows of the
day, and a rebuild that read its input before would delete them when it commits. After it,
the stream lands nothing for the day (too late is decided on receive time), and `ready`
tells whether the stream has caught up with what was received before then.

In: the warehouse (sites, day_closes, dead_letters), the archive root. Out: `Close` records;
the rebuild runs in a child process (`weir daily close`), so a stream that runs the service
keeps its interpreter to itself.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from weir.transforms.defaults import DEFAULT_ALLOWED_LATENESS_S
from weir.transforms.sitetime import DAY_LATENESS_S, DayScope, SiteZones, closes_at, day_span, local_day
from weir.warehouse.base import QueryError, Warehouse, is_missing_table

log = logging.getLogger(__name__)

CATCH_UP_DAYS = 35  # how many days back a service that was down closes what it missed
CHECK_EVERY_S = 60.0


@dataclass(frozen=True)
class Due:
    """A day of one zone's sites that needs closing, and why."""

    day: str
    zone: str
    reason: str  # closed, catch-up, late
    close_ms: int  # when the day could first be closed


@dataclass(frozen=True)
class Close:
    day: str
    zone: str
    status: str  # verified, unbalanced, failed
    message: str = ""


def _ms(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return int(value.timestamp() * 1000)
    return int(value)


def last_closes(warehouse: Warehouse) -> dict[tuple[str, str], dict]:
    """The latest close of each (day, zone) (none in a dataset without the table yet)."""
    try:
        rows = warehouse.query(
            "SELECT CAST(day AS STRING) AS day, timezone, closed_at, input_until, status, attempt, message "
            "FROM day_closes ORDER BY closed_at"
        ).records()
    except QueryError as exc:
        if is_missing_table(exc, "day_closes"):
            return {}
        raise
    return {(r["day"], r["timezone"]): r for r in rows}


def _late_since(warehouse: Warehouse, zones: SiteZones, day: str, zone: str, after_ms: int) -> int:
    """How many records of `day` (in `zone`'s sites) the stream turned away as too late after
    `after_ms`, within the day's lateness: what a re-close would add."""
    from weir.warehouse.scope import parts_of_day

    (part,) = parts_of_day(DayScope(day, zone), zones)
    site_sql = ""
    params: dict = {
        "start": part.start_ms,
        "end": part.end_ms,
        "after": after_ms,
        "until": part.end_ms + DAY_LATENESS_S * 1000,
    }
    if part.sites is not None:
        site_sql, params["sites"] = " AND site IN UNNEST(@sites)", list(part.sites)
    elif part.except_sites:
        site_sql, params["others"] = " AND site NOT IN UNNEST(@others)", list(part.except_sites)
    rows = warehouse.query(
        "SELECT COUNT(*) FROM dead_letters WHERE error_kind = 'too_late' AND event_ts >= TIMESTAMP_MILLIS(@start) "
        "AND event_ts < TIMESTAMP_MILLIS(@end) AND received_at > TIMESTAMP_MILLIS(@after) "
        f"AND received_at <= TIMESTAMP_MILLIS(@until){site_sql}",
        params,
    ).rows
    return int(rows[0][0] or 0)


def due_days(
    warehouse: Warehouse,
    zones: SiteZones,
    now_ms: int,
    lateness_s: int = DEFAULT_ALLOWED_LATENESS_S,
    catch_up_days: int = CATCH_UP_DAYS,
    has_input: Callable[[str, str], bool] = lambda day, zone: True,
) -> list[Due]:
    """Every (day, zone) to close or re-close at `now_ms`, oldest first. A day with no archive
    input (`has_input`) is not closed: there is nothing to count."""
    closes = last_closes(warehouse)
    due = []
    for zone in zones.zones():
        today = local_day(now_ms, zone)
        first = (dt.date.fromisoformat(today) - dt.timedelta(days=catch_up_days)).isoformat()
        day = first
        while day <= today:
            close_ms = closes_at(day, zone, lateness_s)
            if close_ms > now_ms:
                break
            last = closes.get((day, zone))
            if last is None or last["status"] == "failed":
                if has_input(day, zone):
                    recent = now_ms - close_ms < 3_600_000  # due within the hour: not a catch-up
                    due.append(Due(day, zone, "closed" if recent else "catch-up", close_ms))
            elif now_ms <= day_span(day, zone)[1] + (DAY_LATENESS_S + lateness_s + 3600) * 1000:
                # A record of the day can be accepted until the day's lateness has passed; the
                # stream lands its too_late letter up to its own lateness (and an hour) later.
                after = _ms(last["input_until"]) or _ms(last["closed_at"]) or 0
                if _late_since(warehouse, zones, day, zone, after):
                    due.append(Due(day, zone, "late", close_ms))
            day = (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()
    return sorted(due, key=lambda d: (d.close_ms, d.zone))


def record_close(
    warehouse: Warehouse,
    day: str,
    zone: str,
    status: str,
    reason: str,
    input_span: tuple[int, int] | None,
    received: int | None,
    message: str = "",
) -> None:
    """Appends the close's row to `day_closes`."""
    warehouse.ensure_tables()
    last = last_closes(warehouse).get((day, zone))
    attempt = int(last["attempt"] or 0) + 1 if last else 1
    now = dt.datetime.now(dt.timezone.utc)
    start, until = input_span or (None, None)
    warehouse.query(
        "INSERT INTO day_closes (day, timezone, closed_at, input_from, input_until, status, received, attempt, "
        "reason, message) VALUES (CAST(@day AS DATE), @zone, @at, TIMESTAMP_MILLIS(@start), TIMESTAMP_MILLIS(@until), "
        "@status, @received, @attempt, @reason, @message)",
        {
            "day": day,
            "zone": zone,
            "at": now,
            "start": start if start is not None else 0,
            "until": until if until is not None else 0,
            "status": status,
            "received": received or 0,
            "attempt": attempt,
            "reason": reason,
            "message": message[:1000],
        },
        write=True,
    )


def unhealthy_closes(warehouse: Warehouse) -> list[dict]:
    """The days whose latest close did not verify or failed (what `weir status` reports)."""
    return [
        {"day": day, "timezone": zone, "status": r["status"], "message": r["message"] or ""}
        for (day, zone), r in sorted(last_closes(warehouse).items())
        if r["status"] != "verified"
    ]


def close_day(
    warehouse: Warehouse,
    day: str,
    zone: str,
    archive: str,
    staging_root: str,
    reason: str = "manual",
    now_ms: int | None = None,
    rebuild_flags: list[str] | None = None,
) -> Close:
    """Rebuilds `day` for `zone`'s sites from the archive, verifies it, records the close.
    The input read is every archive hour that can hold the day's records up to now."""
    import orjson
    from apache_beam.options.pipeline_options import PipelineOptions

    from weir import sites
    from weir.checks.verify import verify_day
    from weir.pipelines.rebuild import run_rebuild

    zones = sites.zones(warehouse)
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    start, end = DayScope(day, zone).input_span(zones)
    span = (start, min(end, now_ms))
    flags = [
        f"--date={day}",
        f"--timezone={zone}",
        f"--archive={archive}",
        f"--site_zones={orjson.dumps(zones.as_dict()).decode()}",
        *(rebuild_flags or []),
    ]
    try:
        run_rebuild(PipelineOptions(flags), warehouse, staging_root, progress=lambda _m: None, force=True)
    except Exception as exc:  # recorded and reported; the next check tries again
        message = f"the rebuild of {day} ({zone}) failed: {str(exc)[:400]}"
        log.error("daily close: %s", message)
        record_close(warehouse, day, zone, "failed", reason, span, None, message)
        return Close(day, zone, "failed", message)
    in_zone = set(zones.sites_in(zone)) if zone != "UTC" else None
    checks = [
        c
        for c in verify_day(warehouse, day, zones, archive=archive)
        if c.site == "*"
        or (in_zone is not None and c.site in in_zone)
        or (in_zone is None and zones.zone_of(c.site) == "UTC")
    ]
    received = sum(c.expected for c in checks if c.what.startswith("received ="))
    bad = [c for c in checks if not c.ok and c.site != "*"]
    if bad:
        message = "; ".join(f"{c.site}: {c.what}: expected {c.expected}, found {c.actual}" for c in bad[:5])
        log.error("daily close: %s (%s) does not verify: %s", day, zone, message)
        record_close(warehouse, day, zone, "unbalanced", reason, span, received, message)
        return Close(day, zone, "unbalanced", message)
    record_close(warehouse, day, zone, "verified", reason, span, received)
    log.info("daily close: %s (%s) closed and verified, %d records", day, zone, received)
    return Close(day, zone, "verified")


STREAM_FRESH_S = 30.0  # a status file older than this is a stream that is not running


def open_while_streaming(
    home: str, day: str, zone: str | None, zones: SiteZones, now_ms: int | None = None
) -> list[str]:
    """The zones in scope in which `day` has not closed yet, when a local stream is running
    under `home` (its status file is fresh and says so); [] otherwise."""
    from weir.pipelines.local.status import read_status

    status = read_status(home)
    if not status or not status.get("running") or status.get("age_s", 1e9) > STREAM_FRESH_S:
        return []
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    lateness = int(status.get("allowed_lateness_s") or DEFAULT_ALLOWED_LATENESS_S)
    return [z for z in DayScope(day, zone).zones(zones) if closes_at(day, z, lateness) > now_ms]


def archive_has_input(archive: str, zones: SiteZones) -> Callable[[str, str], bool]:
    """Whether the archive holds any file in the hours a (day, zone) reads."""
    from apache_beam.io.filesystems import FileSystems

    from weir.pipelines.rebuild import day_hour_patterns

    def has(day: str, zone: str) -> bool:
        patterns, _, _ = day_hour_patterns(archive, day, zone, zones)
        return any(m.metadata_list for m in FileSystems.match(patterns))

    return has


class DailyService:
    """Closes due days when asked (`tick`), oldest first.

    Args:
      close: close(due, now_ms) -> Close; runs one close (in this process by default; the
        local stream runs each in a child process: `close_in_child`).
      clock: seconds since the epoch (time.time; tests inject another).
      ready: ready(close_ms) -> whether what was received before `close_ms` has landed (the
        local stream's own view; a service alone takes the lateness as enough).
    """

    def __init__(
        self,
        warehouse: Warehouse,
        archive: str,
        close: Callable[[Due, int], Close],
        lateness_s: int = DEFAULT_ALLOWED_LATENESS_S,
        clock: Callable[[], float] = time.time,
        ready: Callable[[int], bool] = lambda close_ms: True,
        catch_up_days: int = CATCH_UP_DAYS,
    ):
        self.warehouse, self.archive, self._close = warehouse, archive, close
        self.lateness_s, self.clock, self.ready, self.catch_up_days = lateness_s, clock, ready, catch_up_days
        self.closed: list[Close] = []

    def tick(self) -> list[Close]:
        """Closes every day due now (oldest first) whose input has landed; returns the closes."""
        from weir import sites

        zones = sites.zones(self.warehouse)
        now_ms = int(self.clock() * 1000)
        done = []
        due = due_days(
            self.warehouse, zones, now_ms, self.lateness_s, self.catch_up_days, archive_has_input(self.archive, zones)
        )
        for item in due:
            if not self.ready(item.close_ms):
                break  # later days wait too: oldest first
            done.append(self._close(item, now_ms))
        self.closed += done
        return done


def close_in_process(warehouse: Warehouse, archive: str, staging_root: str, rebuild_flags: list[str] | None = None):
    """A `close` for DailyService that rebuilds in this process (`weir daily run`)."""

    def close(item: Due, now_ms: int) -> Close:
        return close_day(warehouse, item.day, item.zone, archive, staging_root, item.reason, now_ms, rebuild_flags)

    return close


def close_in_child(home: str, dataset: str):
    """A `close` for DailyService that runs `weir daily close` in a child process (the local
    stream: a rebuild in its own process would share the stream's interpreter lock)."""

    def close(item: Due, now_ms: int) -> Close:
        argv = [
            sys.executable, "-m", "weir.cli", "daily", "close",
            "--date", item.day, "--timezone", item.zone, "--reason", item.reason,
            "--now-ms", str(now_ms), "--home", home, "--dataset", dataset,
        ]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        status = {0: "verified", 1: "unbalanced"}.get(done.returncode, "failed")
        lines = (done.stderr or done.stdout).strip().splitlines() if done.returncode else []
        if done.returncode not in (0, 1):
            log.error("daily close of %s (%s) failed: %s", item.day, item.zone, (done.stderr or "")[-600:])
        return Close(item.day, item.zone, status, lines[-1] if lines else "")

    return close


class StreamCloser(threading.Thread):
    """The stream's daily closes: every CHECK_EVERY_S, closes the days that are due (each in
    a child process: weir.daily.close_in_child) once the stream has landed what was received
    before their close. The stream knows that best: it has read past the close time (the
    newest receive time it has read), or it has read nothing for IDLE_S; either way its
    writer lands what it holds first."""

    IDLE_S = 20.0

    def __init__(self, home, dataset, lateness_s, clock, writer, early_s, progress, every_s=None):
        from weir.warehouse.local import LocalWarehouse

        super().__init__(name="weir-daily", daemon=True)
        self._writer, self._early_s, self._progress = writer, early_s, progress
        self.every_s = every_s or CHECK_EVERY_S
        if every_s:  # tests: look and call the stream idle sooner
            self.IDLE_S = every_s
        self._stopping = threading.Event()
        self._seen = (None, time.monotonic())  # (progress counts, since when)
        self._past: dict[int, float] = {}  # close time -> when the stream was first seen past it
        self.service = DailyService(
            LocalWarehouse(home, dataset),
            os.path.join(home, "archive"),
            close_in_child(home, dataset),
            lateness_s=lateness_s,
            clock=clock,
            ready=self._ready,
        )
        self.unhealthy: list[str] = []

    def observe(self, counts: dict) -> None:
        """Called by the stream's loop: notes when the stream last read anything."""
        now = (counts.get("events_accepted", 0), counts.get("dead_letters", 0))
        if now != self._seen[0]:
            self._seen = (now, time.monotonic())

    def _ready(self, close_ms: int) -> bool:
        from weir.pipelines.local.direct_pubsub import read_failure
        from weir.transforms.counting import local_gauges

        newest = local_gauges().get("newest_received_ms") or 0
        idle = time.monotonic() - self._seen[1] >= self.IDLE_S and not read_failure()
        if newest >= close_ms:  # read past it: let the pipeline's panes out (early firings) first
            first = self._past.setdefault(close_ms, time.monotonic())
            settled = time.monotonic() - first >= 2 * self._early_s + 2
        else:
            settled = False
        if not (settled or idle):
            return False
        self._writer.flush()  # what the writer holds lands before the close reads the tables
        return True

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                for close in self.service.tick():
                    line = f"daily: {close.day} ({close.zone}) closed: {close.status}"
                    self._progress(line + (f": {close.message}" if close.message else ""))
                    if close.status != "verified":
                        log.error("daily close of %s (%s) did not verify: %s", close.day, close.zone, close.message)
            except Exception as exc:  # reported; the next check tries again
                log.error("daily closes: %s", exc)
            if self._stopping.wait(self.every_s):
                return

    def stop(self) -> None:
        self._stopping.set()


def stream_companion(home: str, dataset: str, clock: Callable[[], float] = time.time, every_s: float | None = None):
    """What `weir stream` runs beside the pipeline (pipelines.local.stream.run_stream's
    `companion`): the daily closes, on `clock`."""

    def make(writer, config, progress) -> StreamCloser:
        return StreamCloser(home, dataset, config.allowed_lateness_s, clock, writer, config.early_s, progress, every_s)

    return make
