"""The `weir` command line (SPEC section 4)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import re
import signal
import sys
import threading
import time

from weir import config
from weir.pipelines.flags import (
    DATAFLOW_STREAM_FLAGS,
    LOCAL_RUNNERS,
    LOCAL_STREAM_FLAGS,
    REBUILD_FLAGS,
    add_flags,
    changed,
    pipeline_flags,
)
from weir.schemas import DEFAULT_DATASET
from weir.transforms.defaults import DEFAULT_ALLOWED_LATENESS_S
from weir.usage import UsageError, is_usage_error


def _common(p: argparse.ArgumentParser, top: bool = False) -> None:
    """The global options, on the top parser and on each subcommand, so they may come before
    or after it. A subcommand's copy defaults to SUPPRESS, so it never overwrites a value
    given before the subcommand."""
    default = None if top else argparse.SUPPRESS
    p.add_argument("--home", default=default, help="Local state directory (default $WEIR_HOME or ./.weir).")
    p.add_argument(
        "--project",
        default=default,
        help="Google Cloud project: BigQuery and Pub/Sub there instead of the local warehouse and emulator.",
    )
    p.add_argument(
        "--dataset", default=default, help=f"Dataset of the tables (default $WEIR_DATASET or {DEFAULT_DATASET})."
    )


ENVIRONMENT = f"""environment variables:
  WEIR_HOME               local state: archive, warehouse, staging (default ./.weir)
  WEIR_DATASET            the dataset of the tables (default {DEFAULT_DATASET})
  WEIR_PROJECT            the local emulator's project id (default weir-local)
  PUBSUB_EMULATOR_HOST    a Pub/Sub emulator to use instead of starting one (or the endpoint
                          standing in for Pub/Sub with --project)
  WEIR_PUBSUB_EMULATOR    'drongo' to use the PyPI Pub/Sub server instead of Google's emulator
  WEIR_GC_TUNING          0: run a local rebuild with Python's default garbage collector
                          (for measuring; see docs/performance.md)
  GOOGLE_APPLICATION_CREDENTIALS  a service account key, when Application Default Credentials
                          are not set up (with --project)

exit codes: 0 ok, 1 a check found a difference (verify, compare, emulator status, a day whose
  last close did not verify in status, daily),
  2 a usage or input error (one line), 70 a bug in weir (the traceback saved to a file),
  130 interrupted (Ctrl-C)"""


EXAMPLES = {
    "demo": "weir demo --events 30000 --date 2026-11-30\n  weir demo --today && weir serve\n"
    "  weir demo --live --rate 200 --duration 60",
    "rebuild": "weir rebuild --date 2026-11-30   (each site's day, from the archive's hours that hold it)\n"
    "  weir rebuild --input 'events/*.jsonl'",
    "sql": 'weir sql "SELECT url, SUM(pageviews) pv FROM url_metrics_1d GROUP BY url ORDER BY pv DESC LIMIT 5"',
    "init": "weir init --project my-project --dataset web_analytics",
    "stream": "weir stream &   (then: weir demo --live --rate 200)",
    "publish": "weir publish --input 'archive/dt=2026-11-30/*/*.avro' --rate 500",
    "plot": "weir plot --site dailyglobe.example --hours 24 --granularity 1h --out today.png",
    "status": "weir status --json",
    "verify": "weir verify --date 2026-11-30",
    "compare": "weir compare --date 2026-11-30 --left web_analytics --right rebuilt --grain 5m",
    "collect": "weir collect --port 8080 --cors-origin https://news.example",
    "serve": "weir serve --port 8000   (then: curl 'localhost:8000/api/top?by=section&minutes=60')",
    "bench-collect": "weir bench-collect --seconds 10 --concurrency 16",
    "bench-serve": "weir bench-serve --days 7 --events-per-day 100000",
    "emulator": "weir emulator status",
    "daily": "weir daily run --once   (weir stream runs it by itself)\n"
    "  weir daily close --date 2026-11-30 --timezone America/New_York",
    "site": "weir site set news.example --timezone America/New_York --name 'The News'\n  weir site list",
    "bench": "weir bench --events 100000 --freshness-seconds 0",
}


def _describe(sub) -> None:
    """Every subcommand's help: its description, the defaults of its options, an example."""
    for name, sp in sub.choices.items():
        sp.description = sp.description or next(a.help for a in sub._choices_actions if a.dest == name)
        sp.epilog = "\n".join(filter(None, [sp.epilog, f"example:\n  {EXAMPLES[name]}"]))
        sp.formatter_class = _DefaultsAndText


class _DefaultsAndText(argparse.RawDescriptionHelpFormatter):
    """Each option's default where it has one and its help does not already say it; the
    epilog's example kept as written."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if "default" in text.lower() or default in (None, False, argparse.SUPPRESS) or action.nargs == 0:
            return text
        return f"{text} (default: {default})"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("weir-analytics")
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


def _warehouse(args, shared_reads: bool = False, reads_only: bool = False):
    """The settings and the warehouse of the command's home or project. `reads_only`: the
    command only reads, so a local home that does not exist is a mistyped --home or
    WEIR_HOME, refused (a read would otherwise create it and answer from nothing)."""
    from weir.warehouse import open_warehouse

    s = config.resolve(args.home, args.project, args.dataset)
    if reads_only and not s.project:
        _existing_home(s.home)
    if s.project:
        _require_credentials(emulated=False)  # BigQuery has no emulator variable to stand in
    extra = {}
    if getattr(args, "bq_location", None):
        extra["location"] = args.bq_location
    return s, open_warehouse(s.project, s.dataset, s.home, shared_reads=shared_reads, **extra)


def _logging_flags(p, access_help: str) -> None:
    """--log-level and --access-log, for the commands that serve HTTP."""
    p.add_argument(
        "--log-level",
        dest="log_level",
        choices=("debug", "info", "warning", "error"),
        default="warning",
        help="What is logged to stderr (default warning).",
    )
    p.add_argument("--access-log", dest="access_log", action="store_true", help=access_help)


def _log_level(args) -> str:
    """Applies --log-level (and --access-log) to weir's logging; returns the level's name."""
    logging.getLogger().setLevel(args.log_level.upper())
    if getattr(args, "access_log", False):
        logging.getLogger("weir.collector.access").setLevel(logging.INFO)
    return args.log_level


def _existing_home(home: str) -> None:
    if not os.path.isdir(home):
        raise UsageError(
            f"no weir home at {home}: nothing was ever written there; check --home or WEIR_HOME "
            "(weir demo or weir stream make one)"
        )


def cmd_demo(args) -> int:
    from weir.demo import run_demo, run_live, run_today

    _local_only(args, "the demo runs on this machine only (for Google Cloud see docs/google-cloud.md)")
    if args.live:
        _, names = _pubsub_names(args)
        sent = run_live(names, args.rate, args.duration)
        print(f"weir demo --live: published {sent:,} events")
        return 0
    settings = config.resolve(args.home, None, args.dataset)
    if args.today:
        if args.date:
            raise UsageError("--today and --date name two days: give one")
        run_today(settings, events=args.events)
        print("Watch it: weir serve, then open http://127.0.0.1:8000/")
        return 0
    run_demo(settings, events=args.events, day=args.date)
    return 0


def cmd_rebuild(args, beam_args: list[str]) -> int:
    from apache_beam.options.pipeline_options import PipelineOptions

    from weir.pipelines.rebuild import run_rebuild

    if args.runner:
        _require_gcp_extra(args.runner)
    if not args.runner or args.runner in LOCAL_RUNNERS:  # a remote runner may take flags of its own
        from weir.pipelines.options import refuse_unknown_flags

        refuse_unknown_flags(beam_args, known=_flags_of("rebuild"))
    settings, warehouse = _warehouse(args)
    if args.date and not args.input and not args.archive:
        if settings.project:
            raise UsageError("a rebuild of --date on Google Cloud reads the archive: give --archive gs://BUCKET/PATH")
        args.archive = settings.archive_root  # the local stream's and the demo's archive
    from weir import sites

    zones = sites.zones(warehouse)
    if args.date and not settings.project and not args.force:
        _refuse_open_day(settings.home, args.date, args.timezone, zones)
    flags = pipeline_flags(args, REBUILD_FLAGS) + beam_args
    if not any(f.startswith("--site_zones") for f in beam_args):
        flags.append(f"--site_zones={json.dumps(zones.as_dict())}")
    if args.runner:
        flags.append(f"--runner={args.runner}")
    if args.project:
        flags.append(f"--project={args.project}")
    options = PipelineOptions(flags)
    commit_in_job = None
    if args.runner and args.runner not in LOCAL_RUNNERS:
        # A remote job commits its own days (pipelines.commit): its staging is not local.
        from weir.warehouse import WarehouseRef

        commit_in_job = WarehouseRef(settings.project, settings.dataset, location=args.bq_location)
    from weir.console.progress import watching

    with watching("records_read", "rebuild: records read"):
        result = run_rebuild(
            options,
            warehouse,
            staging_root=settings.staging_root,  # where --staging is not given (pipelines.rebuild.staging_location)
            commit_in_job=commit_in_job,
            force=args.force,
        )
    print(
        f"rebuilt {len(result.days)} day(s) in {result.seconds:.1f} s: "
        + ", ".join(f"{t}={n}" for t, n in result.loaded.items())
    )
    return 0


def cmd_site(args) -> int:
    from weir import sites
    from weir.console.output import print_result
    from weir.warehouse.base import QueryResult

    _, warehouse = _warehouse(args, reads_only=args.site_command == "list")
    if args.site_command == "set":
        if args.timezone is None and args.name is None:
            raise UsageError("weir site set needs --timezone and/or --name")
        before, after = sites.set_site(warehouse, args.site, args.timezone, args.name)
        print(
            f"{after.site}: time zone {after.timezone}"
            + (f", name {after.display_name!r}" if after.display_name else "")
        )
        if before is not None and before.timezone != after.timezone:
            print(
                f"  the time zone changed from {before.timezone}: days closed from now on are {after.timezone} days; "
                f"days already closed stay {before.timezone} days until rebuilt "
                f"(weir rebuild --date D for each day wanted; docs/operations.md)"
            )
        return 0
    rows = [(s.site, s.timezone, s.display_name or "", str(s.updated_at or "")) for s in sites.load(warehouse).values()]
    print_result(QueryResult(["site", "timezone", "display_name", "updated_at"], rows), args.format)
    if not rows and args.format == "table":
        print("no site has settings yet: every site's calendar is UTC (weir site set SITE --timezone ZONE)")
    return 0


def cmd_daily(args, beam_args: list[str]) -> int:
    from weir import daily

    settings, warehouse = _warehouse(args)
    archive = args.archive or (None if settings.project else settings.archive_root)
    if not archive:
        raise UsageError("on Google Cloud the daily closes read the archive: give --archive gs://BUCKET/PATH")
    flags = list(beam_args)
    if args.runner:
        _require_gcp_extra(args.runner)
        flags.append(f"--runner={args.runner}")
    if settings.project:
        flags.append(f"--project={settings.project}")
    if args.daily_command == "close":
        from weir.warehouse.params import day

        day(args.date)  # a mistyped day is the user's, said in one line
        result = daily.close_day(
            warehouse, args.date, args.timezone, archive, settings.staging_root, args.reason, args.now_ms, flags
        )
        print(
            f"weir daily close {result.day} ({result.zone}): {result.status}"
            + (f": {result.message}" if result.message else "")
        )
        if result.status == "failed":  # said above, with its reason; recorded in day_closes
            return 1
        return 0 if result.status == "verified" else 1
    service = daily.DailyService(
        warehouse,
        archive,
        daily.close_in_process(warehouse, archive, settings.staging_root, flags),
        lateness_s=args.allowed_lateness_s,
        catch_up_days=args.catch_up_days,
    )
    while True:
        for close in service.tick():
            print(
                f"weir daily: {close.day} ({close.zone}) {close.status}"
                + (f": {close.message}" if close.message else "")
            )
        if args.once:
            bad = [c for c in service.closed if c.status != "verified"]
            if not service.closed:
                print("weir daily: no day is due")
            return 1 if bad else 0
        time.sleep(daily.CHECK_EVERY_S)


def _refuse_open_day(home: str, day: str, zone: str | None, zones) -> None:
    """ValueError when a local stream is running and `day` has not closed yet in some zone in
    scope: until then the stream still lands the day's rows, and a rebuild that read the
    archive before they landed would delete them when it commits."""
    from weir.daily import open_while_streaming

    still_open = open_while_streaming(home, day, zone, zones)
    if still_open:
        raise UsageError(
            f"{day} is still open in {', '.join(still_open)} and `weir stream` is writing it; it closes by itself "
            "once it has ended (weir daily). Rebuilding it now would delete what the stream lands after the rebuild "
            "reads the archive. Pass --force to rebuild it anyway"
        )


def _flags_of(command: str) -> tuple[str, ...]:
    sub = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    return tuple(s for a in sub._actions for s in a.option_strings if s.startswith("--"))


def cmd_sql(args) -> int:
    from weir.console.output import print_result
    from weir.query.client import QueryClient

    _, warehouse = _warehouse(args, reads_only=not args.write)
    print_result(QueryClient(warehouse).sql(args.query, write=args.write), args.format)
    return 0


def _when(text: str, zone: str = "UTC"):
    """An ISO time; without an offset, in `zone` (a site's time zone)."""
    import zoneinfo

    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{text!r} is not a time: give an ISO 8601 time such as 2026-11-30T12:00") from None
    return value if value.tzinfo else value.replace(tzinfo=zoneinfo.ZoneInfo(zone))


def cmd_plot(args) -> int:
    from weir import sites
    from weir.query.client import QueryClient, SeriesQuery
    from weir.query.plot import NothingToPlot, plot_series

    _, warehouse = _warehouse(args, reads_only=True)
    zone = sites.zones(warehouse).zone_of(args.site) if args.site else "UTC"
    end = _when(args.end, zone) if args.end else dt.datetime.now(dt.timezone.utc)
    start = _when(args.start, zone) if args.start else end - dt.timedelta(hours=args.hours)
    query = SeriesQuery(args.metric, start, end, args.granularity, args.site, args.url, zone=zone)
    try:
        points = plot_series(QueryClient(warehouse), query, args.out)
    except NothingToPlot as exc:  # a check that found nothing: no chart, exit 1
        print(f"weir plot: nothing to plot: {exc}", file=sys.stderr)
        return 1
    print(
        f"wrote {args.out}: {points['buckets']} buckets, {points['now']} with data, {points['week_ago']} a week earlier"
    )
    return 0


def cmd_init(args) -> int:
    settings, warehouse = _warehouse(args)
    warehouse.ensure_tables()
    where = f"BigQuery {settings.project}.{settings.dataset}" if settings.project else warehouse.path
    print(f"tables ready in {where}: {', '.join(warehouse.tables())}")
    return 0


def _pubsub_names(args):
    """Settings and Pub/Sub names: with --project that project's real Pub/Sub (Application
    Default Credentials; no emulator is started, nothing is created: Terraform made the
    topic and subscriptions), else the local emulator, started if needed."""

    from weir.pubsub import PubSubNames
    from weir.pubsub.emulator import ensure_emulator

    settings = config.resolve(args.home, None, args.dataset)
    if getattr(args, "project", None):
        _require_credentials()
        return settings, PubSubNames(project=args.project)
    host = ensure_emulator(settings.home)
    print(f"Pub/Sub emulator at {host}")
    return settings, _local_names()


def _local_names():
    """The local emulator's topic and subscriptions, in project $WEIR_PROJECT (SPEC §4)."""

    from weir.pubsub import PubSubNames

    return PubSubNames(project=os.environ.get("WEIR_PROJECT", config.LOCAL_PROJECT))


def _require_credentials(emulated: bool = True) -> None:
    """ValueError with the fix when no Google credentials are found (a Pub/Sub emulator, with
    `emulated`, needs none)."""

    if emulated and os.environ.get("PUBSUB_EMULATOR_HOST"):
        return
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        google.auth.default()
    except DefaultCredentialsError as exc:
        raise UsageError(
            f"no Google credentials ({str(exc).splitlines()[0][:160]}); run `gcloud auth application-default "
            "login`, or set GOOGLE_APPLICATION_CREDENTIALS to a service account key file"
        ) from None


def _require_gcp_extra(runner: str) -> None:
    """ValueError naming the extra when a remote runner's part of Apache Beam is missing: the
    default install carries Beam without its [gcp] extra (the local product needs none of it)."""
    import importlib.util

    if runner in LOCAL_RUNNERS:
        return
    if importlib.util.find_spec("apitools") is None or importlib.util.find_spec("google.cloud.dataflow") is None:
        raise UsageError(
            f"--runner {runner} needs Apache Beam's Google Cloud parts, not installed: "
            "pip install 'weir-analytics[gcp]' (from a clone: pip install '.[gcp]')"
        )


def _local_only(args, why: str) -> None:
    """Refuses --project for a command that has no cloud mode, saying why."""
    if getattr(args, "project", None):
        raise UsageError(f"--project is not for weir {args.command}: {why}")


def _submit_stream(args, beam_args: list[str]) -> int:
    from weir.pipelines.main import submit
    from weir.pubsub import SUBSCRIPTION

    _require_gcp_extra(args.runner)
    if not args.project or not args.archive:
        raise UsageError("a stream on Dataflow needs --project and --archive gs://BUCKET/PATH")
    settings = config.resolve(args.home, args.project, args.dataset)
    if not args.subscription:
        args.subscription = f"projects/{args.project}/subscriptions/{SUBSCRIPTION}"
    flags = [
        "--mode=stream",
        f"--runner={args.runner}",
        f"--project={args.project}",
        f"--dataset={settings.dataset}",
        *pipeline_flags(args, DATAFLOW_STREAM_FLAGS),
    ]
    result = submit(flags + beam_args)
    job_id = getattr(result, "job_id", None)
    print(f"stream: submitted {job_id() if callable(job_id) else 'the job'}; it runs until drained")
    return 0


def cmd_stream(args, beam_args: list[str] | None = None) -> int:
    if args.runner and args.runner not in LOCAL_RUNNERS:
        return _submit_stream(args, beam_args or [])
    if beam_args:
        raise UsageError(f"unrecognized arguments: {' '.join(beam_args)}")
    remote_only = changed(args, tuple(n for n in DATAFLOW_STREAM_FLAGS if n not in LOCAL_STREAM_FLAGS))
    if remote_only:
        raise UsageError(f"{', '.join(sorted(remote_only))}: only for a stream on Dataflow (--runner DataflowRunner)")
    _local_only(args, "a local stream lands in the local warehouse; on Google Cloud add --runner DataflowRunner")
    from apache_beam.options.pipeline_options import PipelineOptions

    from weir.daily import stream_companion
    from weir.pipelines.local.status import format_counts
    from weir.pipelines.local.stream import StreamFailed, claim_home, run_stream
    from weir.pipelines.options import WeirOptions, graph_config, validate

    opts = PipelineOptions(["--mode=stream", *pipeline_flags(args, LOCAL_STREAM_FLAGS)]).view_as(WeirOptions)
    validate(opts)
    claim_home(config.resolve(args.home).home).close()  # another stream here: said before anything starts
    settings, names = _pubsub_names(args)
    if interrupted():
        raise KeyboardInterrupt
    graph = graph_config(opts)
    clock = time.time
    if args.clock_start:  # tests: the daily closes see this time at start, then real time passing
        started, at = time.time(), dt.datetime.fromisoformat(args.clock_start).timestamp()

        def clock() -> float:
            return at + time.time() - started

    try:
        run = run_stream(
            settings.home,
            settings.dataset,
            names,
            settings.archive_root,
            graph,
            duration_s=args.duration,
            companion=None
            if args.no_daily
            else stream_companion(settings.home, settings.dataset, clock, args.daily_every_s),
            interrupted=interrupted,
        )
    except StreamFailed as exc:
        print(
            f"weir stream: stopped: {exc}; every event received is in the archive, so a rebuild of its "
            "day counts it (weir rebuild --date DAY)",
            file=sys.stderr,
        )
        return 1
    print(f"stream: stopped after {run.seconds:.0f} s: {format_counts(run.counters, run.archived)}")
    if run.error:
        print(f"weir stream: {run.error}", file=sys.stderr)
        return 1
    return 0


def cmd_publish(args) -> int:
    from weir.pubsub import ensure_topology
    from weir.pubsub.publish import publish, read_payloads

    _, names = _pubsub_names(args)
    if not args.project:  # the local emulator: made on demand; a real project's topic is Terraform's
        ensure_topology(names)
    from weir.console.progress import bar

    n = publish(read_payloads(args.input), names, rate=args.rate, shown=bar(desc="published", unit="messages"))
    print(f"published {n:,} messages to {names.topic_path}")
    return 0


def cmd_status(args) -> int:
    """Only looks: starts no emulator, creates no topic."""
    import json

    _local_only(
        args,
        "it reads the local stream's status; on Google Cloud read subscription/num_undelivered_messages "
        "in Cloud Monitoring and the job's metrics in the Dataflow console",
    )
    from weir.checks.status import status_report
    from weir.pipelines.local.status import format_counts
    from weir.pubsub.emulator import find_emulator
    from weir.warehouse.local import LocalWarehouse

    settings = config.resolve(args.home, None, args.dataset)
    _existing_home(settings.home)
    names = _local_names()
    host = find_emulator(settings.home)
    if host:
        os.environ["PUBSUB_EMULATOR_HOST"] = host
    subscription = names.subscription_path() if host else None
    warehouse = LocalWarehouse(settings.home, settings.dataset)
    report = status_report(settings.home, warehouse if os.path.exists(warehouse.path) else None, subscription)
    report["pubsub_emulator"] = host
    from weir.daily import unhealthy_closes

    report["days_not_verified"] = unhealthy_closes(warehouse) if os.path.exists(warehouse.path) else []
    report["problems"] = _stream_problems(report.get("stream"))
    if args.json:  # one JSON object, nothing else
        print(json.dumps(report, default=str))
        return 1 if report["days_not_verified"] or report["problems"] else 0
    stream = report.get("stream")
    problems = _stream_problems(stream)
    unhealthy = 1 if report["days_not_verified"] or problems else 0
    if stream:
        state = "running" if stream["running"] and stream["age_s"] < 10 else "not running"
        print(
            f"stream: {state} (status written {stream['age_s']} s ago) "
            f"{format_counts(stream['counters'], stream['archived'])}"
        )
        print(f"watermark lag: {stream.get('watermark_lag_s')} s (at the latest on-time firing of a bucket)")
        if stream.get("error"):
            print(f"stream stopped: {stream['error']}")
        if stream.get("landing") == "failing":
            print(f"landing: failing for {stream['landing_failures']} attempts, retrying: {stream['landing_error']}")
        if stream.get("pubsub") == "failing":
            print("Pub/Sub: not answering; the stream stops if it does not answer within a minute")
    else:
        print("stream: never run from this WEIR_HOME")
    if not host:
        print("backlog: unknown: no Pub/Sub emulator is running for this WEIR_HOME (weir stream starts one)")
    elif report.get("backlog") is None:
        print(f"backlog: unknown: {names.subscription_path()} does not exist yet (weir stream creates it)")
    else:
        more = "+" if report.get("backlog_is_lower_bound") else ""
        print(f"backlog: {report['backlog']}{more} messages waiting in {names.subscription_path()}")
    print(
        f"newest bucket: {report['newest_bucket']}; newest event: {report.get('newest_event')}; "
        f"behind real time: {report.get('behind_real_time_s')} s"
    )
    for bad in report["days_not_verified"]:
        print(f"day {bad['day']} ({bad['timezone']}): its last close is {bad['status']}: {bad['message']}")
    for problem in problems:
        print(f"unhealthy: {problem}")
    return unhealthy


def _stream_problems(stream: dict | None) -> list[str]:
    """What is wrong with a stream that says it runs: a status file gone stale (the process
    died, or cannot write: a full disk), landings that keep failing (a full disk said so)."""
    if not stream or not stream.get("running"):
        return []
    out = []
    error = " ".join(str(stream.get(k) or "") for k in ("landing_error", "error"))
    if stream.get("landing") == "failing":
        disk = "disk full: " if "No space left" in error or "Errno 28" in error else ""
        failures = stream.get("landing_failures")
        out.append(f"{disk}landings have failed {failures} times, retrying: {error.strip()[:200]}")
    if stream.get("age_s", 0) > STATUS_STALE_S:
        out.append(
            f"the stream's status was last written {stream['age_s']:.0f} s ago though it says it runs: it died, "
            "or cannot write (a full disk?)"
        )
    return out


STATUS_STALE_S = 30.0  # the stream writes its status every 2 s


def cmd_verify(args) -> int:
    from weir.checks.verify import checks_json, format_checks, verify_day

    settings, warehouse = _warehouse(args, reads_only=True)
    archive = args.archive or (None if settings.project else settings.archive_root)
    if archive and "://" not in archive and not os.path.isdir(archive):
        archive = None
    checks = verify_day(warehouse, args.date, archive=archive)
    if args.json:
        print(json.dumps(checks_json(checks, args.date, archive_read=bool(archive))))
        return 0 if all(c.ok for c in checks) else 1
    print(format_checks(checks, args.date))
    if not archive:
        print("  the archive was not read (none here; give --archive ROOT): events are checked against the tables only")
    return 0 if all(c.ok for c in checks) else 1


def cmd_compare(args) -> int:
    from weir.checks.compare import compare, diffs_json, format_diffs

    _, warehouse = _warehouse(args, reads_only=True)
    diffs = compare(warehouse, args.left, args.right, args.date, args.grain)
    if args.json:
        print(json.dumps(diffs_json(diffs, args.left, args.right, args.date), default=str))
    else:
        print(format_diffs(diffs, args.left, args.right, args.date))
    return 1 if any(d.differs for d in diffs) else 0


def cmd_collect(args) -> int:
    from weir.collector.geo import Geography
    from weir.collector.proxies import ClientAddresses, parse_networks
    from weir.collector.relay import Relay
    from weir.collector.server import serve
    from weir.listen import listening_socket
    from weir.pubsub import ensure_topology

    # Every refusal (a bad proxy range, a database that is not one, a port in use) comes before
    # anything is printed.
    clients = ClientAddresses(parse_networks(args.trusted_proxy or ()), args.proxy_header)
    if args.no_geo and args.geo_db:
        raise UsageError("--no-geo and --geo-db contradict each other: give one")
    geography = None if args.no_geo else Geography(args.geo_db)
    sock = listening_socket(args.host, args.port)
    if args.trusted_proxy:
        print(f"collect: the client is read from {args.proxy_header} of {', '.join(args.trusted_proxy)} only")
    if geography is not None:
        print(f"collect: country and region from {geography.source}")
    settings, names = _pubsub_names(args)
    if not args.project:  # a real project's topic is Terraform's; the collector may only publish
        _topology_in_background(names, ensure_topology)
    relay = Relay(names, None if args.no_spill else os.path.join(settings.home, "collector-spill.jsonl"))
    spill = relay.spill_path or "none: 503 while Pub/Sub takes nothing"
    print(f"collector on http://{args.host}:{args.port} -> {names.topic_path} (spill: {spill})")
    sites = frozenset(args.site) if args.site else None
    cookieless = None
    if args.cookieless_secret:
        from weir.collector.cookieless import CookielessIds

        with open(args.cookieless_secret, "rb") as fh:
            secret = fh.read().strip()
        if len(secret) < 16:
            raise UsageError(f"--cookieless-secret {args.cookieless_secret}: needs 16 bytes or more")
        cookieless = CookielessIds(secret)
    elif args.cookieless:
        from weir.collector.cookieless import CookielessIds

        cookieless = CookielessIds()  # a random secret in this process only
    if sites:
        print(f"collect: events only for {', '.join(sorted(sites))}; others are refused with 403")
    serve(
        relay,
        sock,
        header_timeout_s=args.header_timeout,
        cors_origins=args.cors_origin or ("*",),
        sites=sites,
        cookieless=cookieless,
        clients=clients,
        geography=geography,
        log_level=_log_level(args),
    )
    return 0


def _topology_in_background(names, ensure_topology) -> None:
    """Creates the local topic and subscriptions, retrying in a thread while Pub/Sub does not
    answer: the collector listens meanwhile and keeps what it is sent in its spill file."""
    import threading

    def ensure() -> None:
        said = False
        while True:
            try:
                ensure_topology(names, timeout_s=5)
                if said:
                    print("collect: Pub/Sub answers again; the spill is being sent", file=sys.stderr)
                return
            except Exception as exc:  # google.api_core errors: not answering
                if not said:
                    print(
                        f"collect: Pub/Sub does not answer ({str(exc)[:120]}); listening anyway, keeping events "
                        "in the spill file until it does",
                        file=sys.stderr,
                    )
                    said = True
                time.sleep(5)

    threading.Thread(target=ensure, name="weir-topology", daemon=True).start()


def cmd_serve(args) -> int:
    import uvicorn

    from weir.serve.app import create_app, load_keys

    keys = load_keys(args.keys) if args.keys else None
    if keys is None and args.host not in ("127.0.0.1", "localhost", "::1"):
        raise UsageError(f"--host {args.host} serves other machines: give --keys FILE (docs/api.md)")
    from weir.listen import listening_socket

    _, warehouse = _warehouse(args, shared_reads=True, reads_only=True)
    sock = listening_socket(args.host, args.port)
    print(f"weir serve: the live dashboard on http://{args.host}:{args.port}/")
    print(f"weir serve: the stats API on http://{args.host}:{args.port}/api/ (description: /api/openapi.json)")
    _log_level(args)
    app = create_app(warehouse, keys)
    server = uvicorn.Server(uvicorn.Config(app, log_level=args.log_level, access_log=args.access_log))
    if args.access_log:  # uvicorn logs requests at INFO: shown whatever --log-level says of the rest
        logging.getLogger("uvicorn.access").setLevel(logging.INFO)
    server.run(sockets=[sock])
    return 0


def cmd_bench_collect(args) -> int:
    from weir.bench.collector import run_collector_bench

    _local_only(args, "it loads a collector on this machine, against the local emulator")
    settings, _ = _pubsub_names(args)
    run_collector_bench(
        settings.home, args.seconds, args.concurrency, args.batch, pubsub_down=args.pubsub_down, weir_exe=args.weir_exe
    )
    return 0


def cmd_emulator(args) -> int:
    from weir.pubsub.emulator import emulator_state, ensure_emulator, stop_emulator

    _local_only(args, "the emulator is local; a real project has no emulator")
    settings = config.resolve(args.home, None, None)
    if args.action == "start":
        os.environ.pop("PUBSUB_EMULATOR_HOST", None)  # this home's own, not one named elsewhere
        print(f"Pub/Sub emulator at {ensure_emulator(settings.home)} (weir emulator stop stops it)")
        return 0
    if args.action == "status":
        state = emulator_state(settings.home)
        if not state or not state["answers"]:
            print(f"no Pub/Sub emulator running for {settings.home}")
            return 1
        print(f"Pub/Sub emulator at {state['host']} (pid {state['pid']}, {state.get('kind', 'gcloud')})")
        return 0
    print("stopped" if stop_emulator(settings.home) else "no emulator recorded under " + settings.home)
    return 0


def cmd_bench_serve(args) -> int:
    from weir.bench.serve import run_serve_bench

    _local_only(args, "it measures this machine, on generated data")
    run_serve_bench(args.days, args.events_per_day, args.sites, args.requests, live_samples=args.live_samples)
    return 0


def cmd_bench(args) -> int:
    from weir.bench.run import run_bench

    _local_only(args, "it measures this machine, on generated data")
    run_bench(
        args.events,
        sites=args.sites,
        freshness_rate=args.freshness_rate,
        freshness_seconds=args.freshness_seconds,
        max_rate=args.max_rate,
    )
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="weir",
        description="Open web content analytics on Beam and BigQuery.",
        epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"weir {_version()}")
    _common(p, top=True)
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="Generate a day of traffic, rebuild it locally, show the results.")
    _common(d)
    d.add_argument("--events", type=int, default=30_000, help="About how many events to generate.")
    d.add_argument("--date", default=None, help="Day to generate (default: yesterday, UTC).")
    d.add_argument(
        "--today",
        action="store_true",
        help="Today until now, and the same day a week ago: data for the dashboard (weir serve).",
    )
    d.add_argument(
        "--live",
        action="store_true",
        help="Instead: publish generated traffic stamped with the current time to the local topic, "
        "for a running `weir stream` (see --rate, --duration).",
    )
    d.add_argument("--rate", type=float, default=200, help="With --live: events per second (default 200).")
    d.add_argument("--duration", type=float, default=None, help="With --live: stop after this many seconds.")

    r = sub.add_parser(
        "rebuild",
        help="Batch mode: rebuild days from archive files (JSON lines or Avro).",
        epilog="Other flags (e.g. --region, --temp_location) go to Apache Beam.",
    )
    _common(r)
    add_flags(r, REBUILD_FLAGS)  # the job's own declarations (weir.pipelines.flags)
    r.add_argument(
        "--runner", default=None, help="Beam runner (default: the local FnApiRunner; DataflowRunner on GCP)."
    )
    r.add_argument("--bq-location", dest="bq_location", default=None, help="BigQuery location (e.g. EU, US).")
    r.add_argument(
        "--force",
        action="store_true",
        help=(
            "Without --date: replace days even where they would lose more than 10%% of their events; with --date: "
            "rebuild a day a running stream is still writing."
        ),
    )

    q = sub.add_parser("sql", help="Run BigQuery Standard SQL against the warehouse.")
    _common(q)
    q.add_argument("query", help="The SQL; table names resolve in the dataset.")
    q.add_argument("--format", choices=("table", "json", "csv"), default="table")
    q.add_argument(
        "--write",
        action="store_true",
        help="Allow statements that change data (INSERT, DELETE, CREATE, ...) and, locally, DuckDB's file access.",
    )

    i = sub.add_parser("init", help="Create the dataset and tables (from schemas/) where missing.")
    _common(i)

    st = sub.add_parser("stream", help="Streaming mode: live 5-minute buckets from Pub/Sub (the emulator locally).")
    _common(st)
    st.add_argument("--duration", type=float, default=None, help="Stop after this many seconds (default: Ctrl-C).")
    add_flags(st, DATAFLOW_STREAM_FLAGS)  # the job's own declarations (weir.pipelines.flags)
    # The spellings of weir 0.1 still work, unlisted (SPEC: names change only additively).
    hidden = {"type": int, "default": argparse.SUPPRESS, "help": argparse.SUPPRESS}
    st.add_argument("--allowed-lateness", dest="allowed_lateness_s", **hidden)
    st.add_argument("--early", dest="early_s", **hidden)
    st.add_argument(
        "--no-daily",
        dest="no_daily",
        action="store_true",
        help="Do not close days while streaming (another `weir daily run` does; docs/operations.md).",
    )
    # For tests only: the time the daily closes see at start, and how often they look.
    st.add_argument("--clock-start", dest="clock_start", default=None, help=argparse.SUPPRESS)
    st.add_argument("--daily-every-s", dest="daily_every_s", type=float, default=None, help=argparse.SUPPRESS)
    st.add_argument(
        "--runner",
        default=None,
        help="DataflowRunner: submit the streaming job to Dataflow (needs --project, --archive; Beam's "
        "--region, --temp_location, ... pass through). Default: run locally on the emulator.",
    )

    pb = sub.add_parser("publish", help="Publish events from files (JSON lines or Avro archive) to the topic.")
    _common(pb)
    pb.add_argument("--input", action="append", required=True, help="Path or glob, local or gs://. Repeatable.")
    pb.add_argument("--rate", type=float, default=0.0, help="Messages per second (default: as fast as possible).")

    pl = sub.add_parser("plot", help="Write a PNG chart of a metric over time, with the week-ago line.")
    _common(pl)
    pl.add_argument("--metric", default="pageviews", help="A metric of the registry (default pageviews).")
    pl.add_argument("--site", default=None)
    pl.add_argument("--url", default=None)
    pl.add_argument("--granularity", choices=("5m", "1h", "1d"), default="1h")
    pl.add_argument("--hours", type=float, default=24, help="How far back from --end (default 24).")
    pl.add_argument(
        "--start", default=None, help="ISO time (the site's time zone unless it has an offset); overrides --hours."
    )
    pl.add_argument("--end", default=None, help="ISO time, as --start (default now).")
    pl.add_argument("--out", default="weir-plot.png", help="PNG file to write.")

    ss = sub.add_parser("status", help="Stream status: backlog, newest bucket, lag behind real time, counters.")
    _common(ss)
    ss.add_argument("--json", action="store_true", help="Print the report as one JSON object instead of text.")

    v = sub.add_parser("verify", help="Check a day balances and the tables hold what the ledger counted.")
    _common(v)
    v.add_argument("--date", required=True, help="The day (YYYY-MM-DD), each site's in its own time zone.")
    v.add_argument(
        "--archive",
        default=None,
        help="The archive's root, to check events against what it accepts (default $WEIR_HOME/archive when there).",
    )
    v.add_argument(
        "--json", action="store_true", help="One JSON object: the day, ok, every check (exit code the same)."
    )

    c = sub.add_parser("compare", help="Diff two sets of metric tables bucket by bucket for a day.")
    _common(c)
    c.add_argument("--date", required=True, help="The day (YYYY-MM-DD), each site's in its own time zone.")
    c.add_argument("--left", required=True, help="A dataset (all metrics tables) or dataset.table.")
    c.add_argument("--right", required=True, help="A dataset (all metrics tables) or dataset.table.")
    c.add_argument(
        "--grain",
        choices=("5m", "1d", "both"),
        default="both",
        help="Which tables when comparing datasets (a stream has only 5m rows).",
    )
    c.add_argument("--json", action="store_true", help="One JSON object: the day, differs, each table's counts.")

    dl = sub.add_parser(
        "daily",
        help="Close each site's days by themselves: rebuild and verify every day that has ended.",
        epilog="weir stream runs the same service; this command is for cron, Cloud Run jobs and catch-up by hand.",
    )
    _common(dl)
    daily_sub = dl.add_subparsers(dest="daily_command", required=True, metavar="{run,close}")
    dlr = daily_sub.add_parser("run", help="Close every due day, oldest first; then every minute (or once).")
    _common(dlr)
    dlr.add_argument(
        "--once", action="store_true", help="Close what is due now, then exit (1 if a day did not verify)."
    )
    dlr.add_argument("--catch-up-days", dest="catch_up_days", type=int, default=35, help="How many days back to look.")
    dlr.add_argument("--allowed_lateness_s", type=int, default=DEFAULT_ALLOWED_LATENESS_S,
                     help="The stream's allowed lateness: a day closes this long after it ended.")  # fmt: skip
    dlc = daily_sub.add_parser("close", help="Close one day of one zone's sites now (rebuild, verify, record).")
    _common(dlc)
    dlc.add_argument("--date", required=True, help="The day (YYYY-MM-DD) in that zone.")
    dlc.add_argument("--timezone", default="UTC", help="The zone whose sites' day it is (UTC: every site not set).")
    dlc.add_argument(
        "--reason", default="manual", choices=("manual", "closed", "catch-up", "late"), help=argparse.SUPPRESS
    )
    dlc.add_argument("--now-ms", dest="now_ms", type=int, default=None, help=argparse.SUPPRESS)
    for p_ in (dlr, dlc):
        p_.add_argument(
            "--archive", default=None, help="The archive's root (default $WEIR_HOME/archive; gs://... on Google Cloud)."
        )
        p_.add_argument("--runner", default=None, help="Beam runner of the rebuilds (DataflowRunner on Google Cloud).")

    si = sub.add_parser("site", help="Sites' settings: time zone and display name.")
    _common(si)
    site_sub = si.add_subparsers(dest="site_command", required=True, metavar="{set,list}")
    sis = site_sub.add_parser("set", help="Create or change a site's settings (only what is given changes).")
    _common(sis)
    sis.add_argument("site", help="The site's id, as events carry it.")
    sis.add_argument("--timezone", default=None, help="IANA time zone of the site's calendar, e.g. America/New_York.")
    sis.add_argument("--name", default=None, help="The site's name as editors read it.")
    sil = site_sub.add_parser("list", help="Every site with settings.")
    _common(sil)
    sil.add_argument("--format", choices=("table", "json", "csv"), default="table")

    sv = sub.add_parser("serve", help="The live dashboard and the stats API: top pages, right now, time series.")
    _common(sv)
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--host", default="127.0.0.1", help="Address to listen on (default: this machine only).")
    sv.add_argument("--keys", default=None, help='API key file: {"keys": {"<key>": ["site", ...] or "*"}}.')
    _logging_flags(sv, "A line per request on stderr (uvicorn's: client address, request line, status).")

    co = sub.add_parser("collect", help="The collector: tracker hits over HTTP in, Pub/Sub out.")
    _common(co)
    co.add_argument("--port", type=int, default=8080)
    co.add_argument("--host", default="127.0.0.1")
    co.add_argument(
        "--trusted-proxy",
        dest="trusted_proxy",
        action="append",
        metavar="CIDR|PRESET",
        help="A proxy whose forwarding header is believed: an address, a CIDR range or a preset "
        "(loopback, private, cloud-run, google-lb). Repeatable; default: none (the peer is the client).",
    )
    co.add_argument(
        "--proxy-header",
        dest="proxy_header",
        choices=("x-forwarded-for", "forwarded"),
        default="x-forwarded-for",
        help="The header trusted proxies set (default x-forwarded-for; Forwarded is RFC 7239's).",
    )
    co.add_argument(
        "--geo-db",
        dest="geo_db",
        default=None,
        metavar="FILE.mmdb",
        help="A MaxMind-format database (GeoIP2/GeoLite2 City or Country, DB-IP) for country and region; "
        "default: the countries of the Regional Internet Registries' data shipped with weir (no region).",
    )
    co.add_argument("--no-geo", dest="no_geo", action="store_true", help="Look up no country or region.")
    co.add_argument(
        "--no-spill",
        dest="no_spill",
        action="store_true",
        help="Keep no spill file (where the disk is not durable, e.g. Cloud Run): while Pub/Sub takes nothing, "
        "answer 503 so trackers keep their events and send them again.",
    )
    co.add_argument(
        "--cors-origin",
        dest="cors_origin",
        action="append",
        help="An origin whose pages may send events (e.g. https://news.example). Repeatable; default: any.",
    )
    co.add_argument(
        "--site",
        dest="site",
        action="append",
        help="A site this collector takes events for (the events' `site`). Repeatable; default: any. "
        "A request with an event for another site is refused whole with 403 and counted.",
    )
    co.add_argument(
        "--cookieless",
        action="store_true",
        help="Give events without a visitor_id a per-day id derived from site, client address and user agent "
        "(the address is not kept). A random secret in this process: ids differ between instances.",
    )
    co.add_argument(
        "--cookieless-secret",
        dest="cookieless_secret",
        default=None,
        help="A file with a secret (16+ bytes) for --cookieless ids, the same on every collector instance.",
    )
    co.add_argument(
        "--header-timeout",
        type=float,
        default=10.0,
        help="Seconds a connection may take to send a request's headers before it is closed (default 10).",
    )
    _logging_flags(co, "A line per request on stderr: method, path, status and time; never the client's address.")

    bc = sub.add_parser("bench-collect", help="Load the collector on loopback; report requests/s and p99 latency.")
    _common(bc)
    bc.add_argument("--seconds", type=float, default=10)
    bc.add_argument("--concurrency", type=int, default=16)
    bc.add_argument("--batch", type=int, default=10, help="Events per request.")
    bc.add_argument(
        "--pubsub-down",
        dest="pubsub_down",
        action="store_true",
        help="Measure during a Pub/Sub outage: the collector's Pub/Sub is a port nothing listens on.",
    )
    # Another install's `weir`, whose collector is loaded instead (before/after comparisons).
    bc.add_argument("--weir-exe", dest="weir_exe", default=None, help=argparse.SUPPRESS)

    bs = sub.add_parser("bench-serve", help="Time the stats API warm (p50/p95) over a week of generated traffic.")
    _common(bs)
    bs.add_argument("--days", type=int, default=7)
    bs.add_argument("--events-per-day", dest="events_per_day", type=int, default=100_000)
    bs.add_argument("--sites", type=int, default=5)
    bs.add_argument("--requests", type=int, default=100, help="Timed requests per query.")
    bs.add_argument(
        "--live-samples",
        dest="live_samples",
        type=int,
        default=10,
        help="Page views published to a running weir stream, each timed until the API counts it (0 skips).",
    )

    em = sub.add_parser(
        "emulator",
        help="The local Pub/Sub emulator of this WEIR_HOME: start it, say whether it runs, stop it.",
        epilog="Example: weir emulator status",
    )
    em.add_argument("action", choices=("start", "status", "stop"))
    em.add_argument("--home", default=None)

    b = sub.add_parser("bench", help="Measure floor, enrichment and rebuild throughput on generated traffic.")
    b.add_argument("--events", type=int, default=100_000, help="About how many events to generate.")
    b.add_argument("--sites", type=int, default=50, help="How many sites.")
    b.add_argument(
        "--freshness-rate",
        dest="freshness_rate",
        type=float,
        default=2000,
        help="Events/s published into a running stream to measure freshness (default 2000).",
    )
    b.add_argument(
        "--max-rate",
        dest="max_rate",
        action="store_true",
        help="Also find the highest rate (1,000-8,000/s) the local stream keeps up with (several minutes).",
    )
    b.add_argument(
        "--freshness-seconds",
        dest="freshness_seconds",
        type=float,
        default=60,
        help="How long to publish (default 60: a stream that falls behind shows it after a minute, "
        "not in 20 s); 0 skips the freshness measurement.",
    )
    _describe(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Beam without its [gcp] extra (the default install) warns on import that BigQuery's
    # apitools client is missing; weir never uses it locally, and a remote runner says so itself.
    logging.getLogger().handlers[0].addFilter(lambda record: not record.getMessage().startswith("apitools not found"))
    # WriteToFiles warns about temp files it already moved; weir deletes the whole staging run.
    logging.getLogger("apache_beam.io.fileio").setLevel(logging.ERROR)
    args, rest = parser().parse_known_args(argv)
    if rest and args.command not in ("rebuild", "stream", "daily"):
        parser().error(f"unrecognized arguments: {' '.join(rest)}")
    handle = threading_main()
    # The stream handles SIGINT itself once it runs; until then a Ctrl-C is recorded, not raised:
    # importing Apache Beam swallows a KeyboardInterrupt raised inside it, and the stream ran on.
    on_interrupt = _record_interrupt if args.command == "stream" else _on_interrupt
    previous = signal.signal(signal.SIGINT, on_interrupt) if handle else None
    try:
        return _run(args, rest)
    finally:
        if handle:
            signal.signal(signal.SIGINT, previous)


def _run(args, rest: list[str]) -> int:
    try:
        if args.command == "rebuild":
            return cmd_rebuild(args, rest)
        if args.command == "stream":
            return cmd_stream(args, rest)
        if args.command == "daily":
            return cmd_daily(args, rest)
        commands = {
            "demo": cmd_demo,
            "sql": cmd_sql,
            "init": cmd_init,
            "bench": cmd_bench,
            "stream": cmd_stream,
            "publish": cmd_publish,
            "emulator": cmd_emulator,
            "status": cmd_status,
            "verify": cmd_verify,
            "compare": cmd_compare,
            "site": cmd_site,
            "plot": cmd_plot,
            "collect": cmd_collect,
            "serve": cmd_serve,
            "bench-collect": cmd_bench_collect,
            "bench-serve": cmd_bench_serve,
        }
        return commands[args.command](args)
    except KeyboardInterrupt:  # Ctrl-C: one line, no traceback (a rebuild has removed its staging)
        print(f"weir {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `weir status | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:
        if _INTERRUPTED:  # Beam re-raises a Ctrl-C inside a step as its own error
            print(f"weir {args.command}: interrupted", file=sys.stderr)
            return 130
        if is_usage_error(exc):  # the user's mistake: one line
            print(f"weir {args.command}: error: {_plain(str(exc))}", file=sys.stderr)
            return 2
        return _report_bug(args.command, exc)


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # sqlglot underlines the failing token with these
_INTERRUPTED = False


def _on_interrupt(signum, frame):
    """Ctrl-C: remember it, silence the logging (Beam logs an interrupted step with its whole
    traceback), and interrupt as Python would; main() says so in one line and exits 130."""
    global _INTERRUPTED
    _INTERRUPTED = True
    logging.disable(logging.CRITICAL)
    raise KeyboardInterrupt


def _record_interrupt(signum, frame):
    """Ctrl-C while a stream starts: remembered; the stream stops as soon as it can."""
    global _INTERRUPTED
    _INTERRUPTED = True


def interrupted() -> bool:
    return _INTERRUPTED


def threading_main() -> bool:
    return threading.current_thread() is threading.main_thread()


EXIT_BUG = 70  # EX_SOFTWARE (sysexits.h): weir failed, not the user


def _report_bug(command: str, exc: BaseException) -> int:
    """An exception weir did not expect: a short report on stderr, the traceback in a file."""
    import tempfile
    import traceback

    fd, path = tempfile.mkstemp(prefix=f"weir-{command}-", suffix=".traceback.txt")
    with os.fdopen(fd, "w") as fh:
        fh.write(f"weir {' '.join(sys.argv[1:])}\n\n")
        traceback.print_exception(exc, file=fh)
    print(
        f"weir {command}: unexpected error (weir's fault, not your input): {type(exc).__name__}: "
        f"{_plain(str(exc))[:300]}\n  the traceback is in {path}; please include it in a report",
        file=sys.stderr,
    )
    return EXIT_BUG


def _plain(message: str) -> str:
    """An error message without terminal escape codes when stderr is not a terminal."""
    return message if sys.stderr.isatty() else _ANSI.sub("", message)


if __name__ == "__main__":
    sys.exit(main())
