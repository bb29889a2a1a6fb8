"""Streaming mode: Pub/Sub -> the graph -> live 5-minute rows, with the raw archive.

Locally: Beam's `ReadFromPubSub` on the streaming DirectRunner (named explicitly: the
default would try to download Prism) feeds the graph with `GraphConfig(streaming=True)`; rows
are upserted into the local warehouse by one coalescing writer (pipelines.local.sink); the archiver process
(pipelines.local.archiver) writes every message to the Avro archive from its own subscription before
acking it. Event time comes from the payload's `ts` in ParseEvents, as in a rebuild; the
record's receive time is the Pub/Sub publish time, as in the archive.

Restarts: running totals live in the pipeline's state, which a restart loses, and the
next pane of an open bucket replaces its row (without a replay, 300 page views become 10). So a
starting stream first archives what its archiver subscription still holds, then replays
from the archive every record received within the live dedupe horizon (every bucket that can
still change, `GraphConfig.live_dedupe_horizon_s`), while the Pub/Sub reader is held with
its watermark (pipelines.local.direct_pubsub.hold_reads). The replayed records rebuild the totals
and the dedupe state exactly, as a rebuild would; a message both replayed and still on the
subscription is a duplicate, counted once. Only then are reads released. A replay costs the
time to process the horizon's records (the stream's drain rate).

Supervision: a watcher thread waits on the pipeline, so a pipeline that fails (a
bundle that failed all its attempts) or ends stops `run_stream` with `StreamFailed` and the
reason, instead of a process that looks alive and lands nothing; the archiver's death does
the same. The status file says `running: false` and why, and carries the landing writer's
health (a landing that keeps failing is retried, and shown, never given up).
"""

from __future__ import annotations

import dataclasses
import glob
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.runners.direct.direct_runner import BundleBasedDirectRunner

from weir.pipelines.gc_tuning import collector_tuned
from weir.pipelines.graph import GraphConfig, build
from weir.pipelines.local.archiver import Archiver, ArchiverProcess
from weir.pipelines.local.direct_pubsub import (
    allow_bigger_pulls,
    hold_reads,
    read_batches,
    read_failure,
    release_reads,
)
from weir.pipelines.local.direct_specs import cache_dofn_specs
from weir.pipelines.local.sink import REPLAY_SOURCE_PREFIX, LocalStreamSink
from weir.pipelines.local.status import format_counts, write_status
from weir.pubsub import PubSubNames, ensure_topology
from weir.transforms.archive import hour_dir, raw_record, record_of_message
from weir.transforms.batches import BATCH_SIZE, ToBatches
from weir.transforms.compaction import without_replaced
from weir.transforms.counting import local_counts, local_gauges, reset_local_counts
from weir.transforms.read import read_avro
from weir.transforms.records import RawRecord
from weir.usage import UsageError
from weir.warehouse.local import LocalWarehouse

log = logging.getLogger(__name__)


def to_raw_record(message, subscription: str) -> RawRecord:
    """A Beam PubsubMessage -> RawRecord, received at its publish time (as the archiver has it)."""
    return raw_record(record_of_message(message), f"pubsub:{subscription}")


class ReadPubSubRecords(beam.PTransform):
    """Takes a pipeline root; produces `PCollection[list[RawRecord]]` from a subscription:
    batches (`yields_batches`: the graph makes none), one per read bundle with weir's reader
    (pipelines.local.direct_pubsub.read_batches), else made here."""

    yields_batches = True

    def __init__(self, subscription_path: str):
        super().__init__()
        self._subscription = subscription_path

    def expand(self, root):
        sub = self._subscription
        read = beam.io.ReadFromPubSub(subscription=sub, with_attributes=True)
        if read_batches(read, f"pubsub:{sub.rsplit('/', 1)[-1]}"):
            return root | "ReadPubSub" >> read
        return (
            root
            | "ReadPubSub" >> read
            | "ToRawRecord" >> beam.Map(to_raw_record, sub.rsplit("/", 1)[-1])
            | "Batches" >> ToBatches()
        )


class ReplayThenPubSub(beam.PTransform):
    """Takes a pipeline root; produces `PCollection[list[RawRecord]]` (batches, as
    `ReadPubSubRecords`): the replayed archive records (as the live read had them) and the
    subscription's records."""

    yields_batches = True

    def __init__(self, replayed: list[RawRecord], subscription_path: str):
        super().__init__()
        self._replayed, self._subscription = replayed, subscription_path

    def expand(self, root):
        live = root | "Live" >> ReadPubSubRecords(self._subscription)
        if not self._replayed:
            return live
        replayed = [self._replayed[i : i + BATCH_SIZE] for i in range(0, len(self._replayed), BATCH_SIZE)]
        return (root | "Replay" >> beam.Create(replayed), live) | "ReplayAndLive" >> beam.Flatten()


def replay_records(archive_root: str, since_ms: int, subscription_path: str) -> list[RawRecord]:
    """Archived records received at `since_ms` or later, as the live read made them but for
    their source, `replay:pubsub:<subscription>`: their events rows are upserts (the same
    rows again), their dead letters were landed by the run that first read them, so the
    local sink skips and counts those (`dead_letters_replay_skipped`)."""
    source = f"{REPLAY_SOURCE_PREFIX}pubsub:{subscription_path.rsplit('/', 1)[-1]}"
    out: list[RawRecord] = []
    hour_ms = 3_600_000
    for hour in range(since_ms // hour_ms * hour_ms, int(time.time() * 1000) + hour_ms, hour_ms):
        for path in without_replaced(sorted(glob.glob(os.path.join(hour_dir(archive_root, hour), "*.avro")))):
            with open(path, "rb") as fh:
                for record in read_avro(path, fh):
                    if record["received_at"] is not None and record["received_at"] >= since_ms:
                        out.append(RawRecord(**{**record, "source": source}))
    return out


def _wait_replayed(replayed: int, early_s: int, failed) -> None:
    """Until every replayed record is parsed and the buckets' early panes have fired."""
    while True:
        counts = local_counts()
        if counts.get("events_accepted", 0) + counts.get("dead_letters", 0) >= replayed:
            break
        if failed():
            return
        time.sleep(0.1)
    time.sleep(2 * early_s + 1)  # an early firing (every early_s of processing time) carries them


PUBSUB_UNREACHABLE_S = 60  # then the stream stops (exit 1) rather than idle unseen
STATUS_LINE_S = 10  # how often `weir stream` prints its one-line status


class StreamFailed(RuntimeError):
    """The stream stopped by itself: its pipeline failed or ended, or its archiver died."""


class HomeBusy(UsageError):
    """Another stream writes this home: two writers of one warehouse, status file and archive
    would each stop the other's work (a usage error: stop the first, or use another home)."""


def claim_home(home: str):
    """An exclusive lock on `home/stream.lock`, held as long as the returned file stays open
    (the kernel drops it when the process ends, however it ends); raises HomeBusy."""
    import fcntl

    os.makedirs(home, exist_ok=True)
    fh = open(os.path.join(home, "stream.lock"), "a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "unknown"
        fh.close()
        raise HomeBusy(
            f"another weir stream (pid {holder}) writes {home}; stop it first, or give this one another --home"
        ) from None
    fh.seek(0)
    fh.truncate()
    fh.write(str(os.getpid()))
    fh.flush()
    return fh


@dataclass
class StreamRun:
    """What a stream run did."""

    seconds: float
    archived: int
    counters: dict
    error: str | None = None  # the last landing failed (the archive still has every event)


def build_local_stream(
    home: str,
    dataset: str,
    names: PubSubNames,
    config: GraphConfig,
    replayed: list[RawRecord] = (),
    sink: LocalStreamSink | None = None,
) -> beam.Pipeline:
    """The local streaming job, built and not run: the graph in streaming mode on the
    DirectRunner, over the replayed records and the subscription, into `sink` (a new
    LocalStreamSink of the local warehouse by default; whoever runs the pipeline closes it).
    `run_stream` runs it with its archiver and supervision; tests build it to look at it."""
    options = PipelineOptions([])  # not sys.argv: those are weir's flags, not Beam's
    options.view_as(StandardOptions).streaming = True
    pipeline = beam.Pipeline(runner=BundleBasedDirectRunner(), options=options)
    config = dataclasses.replace(config, dedupe_keying="sharded")  # the DirectRunner's keying (transforms.dedupe)
    source = ReplayThenPubSub(list(replayed), names.subscription_path())
    build(pipeline, source, sink or LocalStreamSink(home, dataset), config)
    return pipeline


def run_stream(
    home: str,
    dataset: str,
    names: PubSubNames,
    archive_root: str,
    config: GraphConfig,
    duration_s: float | None = None,
    progress=print,
    companion=None,
    interrupted=lambda: False,
) -> StreamRun:
    """Runs until `duration_s` passes, SIGINT or SIGTERM; then stops the pipeline and drains the
    archiver. The cyclic collector is tuned meanwhile (pipelines.gc_tuning), as in a rebuild.

    `companion`: companion(writer, config, progress) -> a thread-like object with start(),
    observe(counts) (called by the stream's loop with its counts) and stop(), started once
    the stream reads: the application's daily closes (weir.daily.StreamCloser), which need to
    know how far the stream has landed.

    `interrupted()`: whether a stop (Ctrl-C) came before the stream's own signal handlers
    were set (the application records it): the stream then stops at once, archiving what
    it drained."""
    claim = claim_home(home)
    try:
        with collector_tuned():
            return _run_stream(home, dataset, names, archive_root, config, duration_s, progress, companion, interrupted)
    finally:
        claim.close()


def _run_stream(
    home, dataset, names, archive_root, config, duration_s, progress, companion=None, interrupted=lambda: False
):
    ensure_topology(names)
    gated = allow_bigger_pulls()
    cache_dofn_specs()
    LocalWarehouse(home, dataset).ensure_tables()
    config = dataclasses.replace(config, dedupe_keying="sharded")  # the DirectRunner's keying (transforms.dedupe)
    archive_sub = names.subscription_path(names.archive_subscription)
    try:  # what the last stream read is archived first (and counted as archived)
        drained = Archiver(archive_sub, archive_root).drain()
    except Exception as exc:  # google.api_core errors: the endpoint is not answering
        where = os.environ.get("PUBSUB_EMULATOR_HOST") or "Google Cloud"
        raise StreamFailed(f"Pub/Sub at {where} does not answer: {str(exc)[:200]}") from None
    since_ms = int(time.time() * 1000) - config.live_dedupe_horizon_s * 1000
    replayed = replay_records(archive_root, since_ms, names.subscription_path())
    if replayed:
        progress(f"stream: replaying {len(replayed):,} archived records of the open buckets (drained {drained:,})")
        if gated:
            hold_reads()
    archiver = ArchiverProcess(archive_sub, archive_root)
    archiver.start()
    sink = LocalStreamSink(home, dataset)
    pipeline = build_local_stream(home, dataset, names, config, replayed, sink)
    stopping = []
    previous = {s: signal.signal(s, lambda *_: stopping.append(1)) for s in (signal.SIGINT, signal.SIGTERM)}
    if interrupted():  # asked to stop while starting
        stopping.append(1)
    started = time.monotonic()
    reset_local_counts()  # the pipeline runs in this process: its tally is the truth (transforms.counting)
    result = pipeline.run()
    outcome: dict = {}

    def watch() -> None:  # wait_until_finish is the DirectRunner's only way to report a failure
        try:
            result.wait_until_finish()
        except BaseException as exc:  # any failure ends the stream: say which
            outcome["error"] = exc

    watcher = threading.Thread(target=watch, name="weir-stream-watch", daemon=True)
    watcher.start()

    status_failing: list = []  # the error of the last status write that failed, while failing

    def status(running: bool, counters: dict, health: dict) -> None:  # what `weir status` shows
        try:
            write_status(
                home,
                running=running,
                subscription=names.subscription_path(),
                archived=drained + archiver.archived,
                counters=counters,
                watermark_lag_ms=local_gauges().get("watermark_lag_ms"),
                health={**health, "allowed_lateness_s": config.allowed_lateness_s},
            )
        except OSError as exc:  # a full disk: the stream goes on; `weir status` sees the file go stale
            if not status_failing:
                log.error("cannot write the status file (%s); the stream goes on and retries", exc)
            status_failing[:] = [exc]
            return
        if status_failing:
            log.warning("the status file is written again")
            status_failing.clear()

    writer = sink.writer
    status(True, local_counts(), writer.health())  # running from the start: replays land rows too
    if replayed:
        _wait_replayed(len(replayed), config.early_s, failed=lambda: not watcher.is_alive() or bool(stopping))
        release_reads()
    progress(f"stream: reading {names.subscription_path()}, archiving to {archive_root} (Ctrl-C stops)")
    closer = companion(writer, config, progress) if companion is not None else None
    if closer is not None:
        closer.start()
    last_status = 0.0

    last_line = time.monotonic()
    failure: str | None = None
    try:
        while not stopping and (duration_s is None or time.monotonic() - started < duration_s):
            if archiver.error is not None:
                failure = f"the archiver failed: {archiver.error}"
            elif not watcher.is_alive():
                error = outcome.get("error")
                failure = f"the pipeline failed: {error}" if error else "the pipeline ended by itself"
            elif (read := read_failure()) and time.time() - read["since"] > PUBSUB_UNREACHABLE_S:
                failure = f"Pub/Sub has not answered for {PUBSUB_UNREACHABLE_S} s: {read['error']}"
            if failure:
                raise StreamFailed(failure)
            if closer is not None:
                closer.observe(local_counts())
            if time.monotonic() - last_line > STATUS_LINE_S:  # a long-running service says how it does
                last_line = time.monotonic()
                counts = format_counts(local_counts(), drained + archiver.archived)
                progress(f"stream: {counts} landing={writer.health()['landing']}")
            if time.monotonic() - last_status > 2:
                read = read_failure()
                pubsub = {"pubsub": "failing", "pubsub_failing_since_ms": int(read["since"] * 1000)} if read else {}
                status(True, local_counts(), {**writer.health(), **pubsub})
                last_status = time.monotonic()
            time.sleep(0.2)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        progress("stream: stopping ...")
        if closer is not None:
            closer.stop()
        release_reads()
        result.cancel()
        try:
            sink.close()  # lands the rows the pipeline handed over before it stopped
        except Exception as exc:  # the archive has them; the next rebuild of their day lands them
            log.error("the last landing failed (%s); the archive keeps every event for a rebuild", exc)
            failure = failure or f"the last landing failed: {exc}"
        counters = local_counts()
        archiver.stop()
        status(False, counters, {**({"error": failure} if failure else {}), **writer.health()})
    return StreamRun(time.monotonic() - started, drained + archiver.archived, counters, failure)
