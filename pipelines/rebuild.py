"""Batch mode: rebuild the days of an archive, idempotently.

archive files -> the graph (pipelines.graph) -> staged NDJSON per (table, day) ->
`Warehouse.replace_days` after the pipeline succeeded (by this process, or by the job's
own last step on Dataflow: pipelines.commit). The days replaced are `--date`, or
every day the input has rows for (events by event time, dead letters by receive time), in
every table; so a rebuild run twice over the same input leaves identical tables.

Guards: staging is removed whatever happens (a failure, Ctrl-C), so a failed
rebuild never leaves a full disk behind; and a rebuild without `--date`, which replaces every
day its input names, refuses to replace a day whose events would fall by more than
`MAX_SHRINK` (a stray record from a client with a wrong clock, in an hour's files, named a
day the input does not hold) unless forced.
"""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from dataclasses import dataclass, field

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions, StandardOptions

from weir.pipelines.commit import CommitStagedDays, parts_to_replace
from weir.pipelines.flags import LOCAL_RUNNERS
from weir.pipelines.gc_tuning import collector_tuned
from weir.pipelines.graph import build
from weir.pipelines.options import WeirOptions, graph_config, site_zones, validate
from weir.transforms.read import ReadArchive
from weir.transforms.sinks import StagedFilesSink, staged_files, staged_records
from weir.usage import UsageError
from weir.warehouse import Warehouse, WarehouseRef
from weir.warehouse.scope import Part, days_of, predicate

log = logging.getLogger(__name__)

LOCAL_BATCH_RUNNER = "FnApiRunner"  # named explicitly: the default would try to download Prism
MAX_SHRINK = 0.10  # without --date, a day may lose at most this share of its events unless forced


class WouldShrink(UsageError):
    """A rebuild without --date would replace days with far fewer events than they hold."""


@dataclass
class RebuildResult:
    """What a rebuild did: the days replaced, rows loaded per table, the job's counters."""

    days: list[str]
    loaded: dict[str, int]
    counters: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _runner(options: PipelineOptions):
    name = options.view_as(StandardOptions).runner
    if name in (None, "", "FnApiRunner", "DirectRunner"):
        from apache_beam.runners.portability.fn_api_runner import FnApiRunner

        return FnApiRunner()
    return name


def counters_of(result) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in result.metrics().query()["counters"]:
        # Runners fill in committed, attempted or both; take whichever is there.
        value = max(int(c.committed or 0), int(c.attempted or 0))
        out[c.key.metric.name] = out.get(c.key.metric.name, 0) + value
    return out


def staging_location(options: PipelineOptions, local_root: str | None = None, remote: bool | None = None) -> str:
    """Where a rebuild stages its table files: --staging; else, on a remote runner,
    <temp_location>/weir-staging (its workers cannot see this machine's folders); else
    `local_root` ($WEIR_HOME/staging from the CLI). `remote` defaults to "--runner is not a
    local one". Raises ValueError when a remote job would stage where its workers cannot reach."""
    opts = options.view_as(WeirOptions)
    runner = options.view_as(StandardOptions).runner
    if remote is None:
        remote = bool(runner) and runner not in LOCAL_RUNNERS
    if remote:
        temp = options.view_as(GoogleCloudOptions).temp_location
        root = opts.staging or (f"{temp.rstrip('/')}/weir-staging" if temp else None)
        if not (root or "").startswith("gs://"):
            raise UsageError(
                f"a rebuild on {runner or 'Dataflow'} needs --staging gs://BUCKET/PATH (or --temp_location gs://...): "
                "its workers stage there"
            )
        return root
    if not (opts.staging or local_root):
        raise UsageError("a rebuild needs a staging location (--staging)")
    return opts.staging or local_root


def _staging_run(options: PipelineOptions, local_root: str | None, remote: bool | None = None) -> str:
    return FileSystems.join(staging_location(options, local_root, remote), f"run-{uuid.uuid4().hex[:12]}")


def day_hour_patterns(archive: str, date: str, zone: str | None, zones) -> tuple[list[str], int, int]:
    """(globs of the archive's hour folders that can hold a record of `date` (each site's, or
    `zone`'s sites'), and the receive span they cover): from the clock skew an event may have
    before the day to the lateness after it (transforms.sitetime.DayScope.input_span)."""
    from weir.transforms.archive import hour_dir
    from weir.transforms.sitetime import DayScope, hours_between

    start, end = DayScope(date, zone).input_span(zones)
    return [FileSystems.join(hour_dir(archive, h), "*.avro") for h in hours_between(start, end)], start, end


def day_inputs(archive: str, date: str, zone: str | None, zones) -> list[str]:
    """`day_hour_patterns` of the hours that hold a file."""
    patterns, start, end = day_hour_patterns(archive, date, zone, zones)
    found = [p for p, m in zip(patterns, FileSystems.match(patterns), strict=True) if m.metadata_list]
    if not found:
        raise UsageError(f"the archive {archive} holds no file received between {_utc(start)} and {_utc(end)} UTC")
    return found


def _utc(ms: int) -> str:
    from weir.transforms.timeutil import ts_str

    return ts_str(ms)[:16]


def resolve_input(opts: WeirOptions) -> None:
    """Without --input, a rebuild of --date reads the day's hours of --archive."""
    if not opts.input and opts.date and opts.archive:
        opts.input = day_inputs(opts.archive, opts.date, opts.timezone, site_zones(opts))


def build_rebuild(
    options: PipelineOptions, staging: str, commit: WarehouseRef | None = None, staging_format: str = "ndjson"
) -> beam.Pipeline:
    """The rebuild job: the graph over `--input`, staged under `staging` in `staging_format`
    (the warehouse's: transforms.sinks); with `commit`, the job's last step replaces the days
    in that warehouse itself (pipelines.commit)."""
    opts = options.view_as(WeirOptions)
    opts.mode = "rebuild"  # what this job is, whatever --mode said
    validate(opts)
    resolve_input(opts)
    config = graph_config(opts)
    pipeline = beam.Pipeline(runner=_runner(options), options=options)
    sink = StagedFilesSink(staging, fmt=staging_format)
    build(pipeline, ReadArchive(opts.input), sink, config)
    if commit is not None:
        pipeline | "Commit" >> CommitStagedDays(
            commit, staging, opts.date, sink.written, opts.timezone, site_zones(opts)
        )
    return pipeline


def launch_rebuild(options: PipelineOptions, commit: WarehouseRef):
    """Submits a rebuild that commits itself (a Flex Template launch); returns the PipelineResult
    without waiting. Its staging files are left to the staging bucket's lifecycle rule."""
    staging = _staging_run(options, None, remote=True)
    return build_rebuild(options, staging, commit).run()


def run_rebuild(
    options: PipelineOptions,
    warehouse: Warehouse,
    staging_root: str | None = None,
    progress=print,
    commit_in_job: WarehouseRef | None = None,
    force: bool = False,
) -> RebuildResult:
    """Runs the batch graph over `--input` and commits the result to `warehouse`: from this
    process after the job succeeded, or, with `commit_in_job` (the same warehouse as plain
    values), as the job's own last step, as a job on Dataflow does. `force` replaces days
    that would lose more than MAX_SHRINK of their events (see the module docstring)."""
    opts = options.view_as(WeirOptions)
    opts.mode = "rebuild"  # what this job is, whatever --mode said
    validate(opts)
    resolve_input(opts)
    for pattern in opts.input:  # refused before anything runs, not 96 lines of Beam traceback
        if not FileSystems.match([pattern])[0].metadata_list:
            raise UsageError(f"--input {pattern} matches no file")
    started = time.monotonic()
    staging = _staging_run(options, staging_root)
    if "://" not in staging:
        _claim_local_staging(staging)
    try:  # staging goes whatever happens: a failure, Ctrl-C (KeyboardInterrupt), a refusal
        with collector_tuned():
            return _run(opts, options, warehouse, staging, progress, commit_in_job, force, started)
    finally:
        _cleanup(staging)


def _run(opts, options, warehouse, staging, progress, commit_in_job, force, started) -> RebuildResult:
    progress(f"rebuild: reading {', '.join(opts.input)}")
    result = build_rebuild(options, staging, commit_in_job, warehouse.staging_format).run()
    result.wait_until_finish()
    counters = counters_of(result)
    progress(
        "rebuild: pipeline done: "
        + ", ".join(
            f"{k}={counters.get(k, 0)}" for k in ("records_read", "events_accepted", "dead_letters", "duplicates")
        )
    )
    staged = staged_files(staging)
    parts = parts_to_replace(opts.date, opts.timezone, site_zones(opts), staged)
    days = days_of(parts)
    if commit_in_job is not None:
        loaded = {k[len("rows_committed_") :]: v for k, v in counters.items() if k.startswith("rows_committed_")}
        progress(f"rebuild: the job replaced {counters.get('days_committed', 0)} day(s) in {warehouse.dataset}")
    else:
        if not force:
            _refuse_non_events(counters)
        if not opts.date and not force:
            _refuse_shrinking(warehouse, staged, parts)
        progress(f"rebuild: replacing {len(days)} day(s) in {warehouse.dataset}: {', '.join(days) or '-'}")
        loaded = warehouse.replace_parts(staged, parts) if parts else {}
    return RebuildResult(days, loaded, counters, time.monotonic() - started)


def _refuse_non_events(counters: dict) -> None:
    """ValueError when not one record was an event: a CSV or some other file, not an archive.
    Replacing its day would empty the day's tables for a pile of dead letters."""
    read, accepted = counters.get("records_read", 0), counters.get("events_accepted", 0)
    if read and not accepted:
        raise UsageError(
            f"the input holds no event: all {read:,} records are dead letters (is it JSON lines or Avro "
            "archive files?); nothing was replaced. Pass --force to land them as dead letters anyway"
        )


def _refuse_shrinking(warehouse: Warehouse, staged: dict, parts: list[Part]) -> None:
    """Raises WouldShrink when a site's day would keep less than (1 - MAX_SHRINK) of the events
    it holds (what the staged ledger counts, counted and bots, is what its events rows become)."""
    if not parts:
        return
    warehouse.ensure_tables()  # a first rebuild into a new dataset finds empty tables, not none
    after: dict[tuple[str, str], int] = {}
    ledger_files = [p for paths in staged.get("ledger", {}).values() for p in paths]
    for site, day, counted, bots in staged_records(ledger_files, ("site", "day", "counted", "bots")):
        after[(site, str(day))] = after.get((site, str(day)), 0) + int(counted or 0) + int(bots or 0)
    shrinking = []
    for part in parts:
        where, typed = predicate("events", [part], "bigquery")
        held = warehouse.query(
            f"SELECT site, COUNT(*) AS n FROM events WHERE {where} GROUP BY site",
            {name: value for name, _, value in typed},
        ).rows
        for site, before in sorted(held):
            now = after.get((site, part.day), 0)
            if before and now < (1 - MAX_SHRINK) * before:
                shrinking.append(f"{site} {part.day} ({int(before):,} -> {now:,} events)")
    if shrinking:
        raise WouldShrink(
            f"refusing to replace {len(shrinking)} day(s) with far fewer events: {', '.join(shrinking)}. "
            "The input does not hold these days whole (a record with a wrong clock names a day?). "
            "Rebuild one day with --date DAY, or pass --force to replace them anyway."
        )


OWNER_FILE = ".owner"  # a local staging run's process id: a run whose process is gone is removed
UNOWNED_STALE_S = 86_400  # a run without an owner file (older weir) is removed after a day


def _claim_local_staging(staging: str) -> None:
    """Makes this run's staging folder with its owner's process id, and removes the runs of
    rebuilds that were killed (SIGKILL, a lost machine) before they could clean up."""
    import os

    root = os.path.dirname(staging)
    os.makedirs(staging, exist_ok=True)
    with open(os.path.join(staging, OWNER_FILE), "w") as fh:
        fh.write(str(os.getpid()))
    for name in os.listdir(root):
        run = os.path.join(root, name)
        if not name.startswith("run-") or run == staging or not os.path.isdir(run):
            continue
        try:
            with open(os.path.join(run, OWNER_FILE)) as fh:
                pid = int(fh.read().strip() or 0)
        except (OSError, ValueError):
            pid = None
        if pid is None:
            stale = time.time() - os.path.getmtime(run) > UNOWNED_STALE_S
        else:
            try:
                os.kill(pid, 0)
                stale = False  # its rebuild is still running
            except ProcessLookupError:
                stale = True
            except PermissionError:
                stale = False  # another user's live process
        if stale:
            log.warning("removing the staging files of a rebuild that did not finish: %s", run)
            shutil.rmtree(run, ignore_errors=True)


def _cleanup(staging: str) -> None:
    try:
        if staging.startswith("gs://"):
            FileSystems.delete([staging + "/"])
        else:
            shutil.rmtree(staging, ignore_errors=True)
    except Exception as exc:  # the commit succeeded; leftover staging files are only clutter
        log.warning("could not remove staging files %s: %s", staging, exc)
