"""The local streaming job's archiver: every message, good or bad, archived before it is acked.

Why a separate subscriber rather than a Beam write: the DirectRunner's Pub/Sub reader acks
messages as soon as it pulls them (Beam's `_PubSubReadEvaluator`; measured against the
Pub/Sub emulator), so a write later in the pipeline would lose what was in flight
when the process died. The archiver pulls from its own subscription (`events-archive`,
every message of the topic), writes them to the hourly Avro archive (fsynced, renamed into
place), and only then acks. A crash between write and ack redelivers the messages, which
are then archived twice; rebuilds de-duplicate by event_id, so nothing is lost or double
counted. (On Dataflow, where acks wait for durable checkpoints, the archive is written by
the pipeline itself.)
"""

from __future__ import annotations

import logging
import threading
import time

from weir.pipelines.gc_tuning import collector_tuned
from weir.pubsub import raw
from weir.transforms.archive import archive_records, record_of_message

log = logging.getLogger(__name__)
# Messages per archive file at most: one file, one fsync and one round of acks per batch. At
# 8,000 events/s a batch fills in ~0.6 s; the subscription's ack deadline is far longer.
MAX_MESSAGES = 5000
# How often closed hours are compacted (transforms.compaction): between pulls, in this
# process, so no archive file of this archiver is written while its hour is compacted.
COMPACT_EVERY_S = 60.0


class Archiver(threading.Thread):
    """Pulls `subscription`, archives under `root`, acks; until `stop()` (then drains once)."""

    def __init__(
        self, subscription_path: str, root: str, max_messages: int = MAX_MESSAGES, stopping=None, counted=None
    ):
        super().__init__(name="weir-archiver", daemon=True)
        self.subscription_path, self.root, self.max_messages = subscription_path, root, max_messages
        self._stopping = stopping if stopping is not None else threading.Event()
        self._counted = counted  # a shared multiprocessing.Value when run in its own process
        self.archived = 0
        self.error: BaseException | None = None

    def pull_once(self, subscriber, timeout_s: float = 2.0) -> int:
        """Pulls one batch (successive pulls while a backlog lasts, up to `max_messages`),
        archives it as one file per receive hour, then acks it; returns how many. A pull that
        fails with nothing in hand raises (the caller retries); one that fails after others
        succeeded ends the batch, which is archived and acked."""
        received, error = raw.pull(subscriber, self.subscription_path, self.max_messages, timeout_s)
        if not received:
            if error is not None:
                raise error
            return 0
        records = [record_of_message(rm.message) for rm in received]
        archive_records(self.root, records)
        raw.acknowledge(subscriber, self.subscription_path, [rm.ack_id for rm in received])
        self.archived += len(records)
        if self._counted is not None:
            self._counted.value = self.archived
        return len(records)

    def drain(self) -> int:
        """Archives what the subscription holds now, until a pull comes back empty; returns how
        many. A restarted stream does this first, so its archive holds every message the
        previous stream read (pipelines.local.stream replays it)."""
        from google.cloud import pubsub_v1

        subscriber = pubsub_v1.SubscriberClient()
        try:
            drained = 0
            while n := self.pull_once(subscriber, timeout_s=1.0):
                drained += n
            return drained
        finally:
            subscriber.close()

    def run(self) -> None:
        from google.api_core.exceptions import GoogleAPICallError
        from google.cloud import pubsub_v1

        subscriber = pubsub_v1.SubscriberClient()
        failing = False
        compacted = time.monotonic()
        try:
            while not self._stopping.is_set():
                if time.monotonic() - compacted >= COMPACT_EVERY_S:
                    compacted = time.monotonic()
                    self._compact()
                try:
                    self.pull_once(subscriber)
                    failing = False
                except GoogleAPICallError as exc:  # unreachable: what it holds waits on the subscription
                    if not failing:
                        log.warning("archiver: pulling failed, retrying: %s", str(exc)[:200])
                    failing = True
                    self._stopping_wait(1.0)
            try:
                while self.pull_once(subscriber, timeout_s=1.0):  # drain what is already there
                    pass
            except GoogleAPICallError as exc:  # nothing is lost: un-acked messages stay for the next run
                log.warning(
                    "archiver: Pub/Sub unreachable while stopping; the rest stays on the subscription (%s)",
                    str(exc)[:120],
                )
        except BaseException as exc:  # surfaced by `weir stream`, which stops with an error
            self.error = exc
            log.exception("archiver failed")
        finally:
            subscriber.close()

    def _compact(self) -> None:
        """Compacts the archive's closed hours; a failure is logged and tried again later
        (the hours' files stay as they are: nothing is lost)."""
        from weir.transforms.compaction import compact_closed_hours

        try:
            replaced = compact_closed_hours(self.root)
            if replaced:
                log.info("archiver: compacted %d files of closed hours", replaced)
        except Exception as exc:
            log.warning("archiver: compacting closed hours failed, will retry: %s", exc)

    def _stopping_wait(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self._stopping.is_set():
            time.sleep(0.1)

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stopping.set()
        self.join(timeout_s)


def _run_in_child(subscription_path, root, max_messages, stopping, counted, errors, parent_pid) -> None:
    """The archiver process's body: archive until told to stop or until the parent is gone
    (a killed `weir stream` must not leave an archiver behind; what it held un-acked is
    redelivered to the next one)."""
    import os

    class _Stopping:
        def is_set(self) -> bool:
            return stopping.is_set() or os.getppid() != parent_pid

    archiver = Archiver(subscription_path, root, max_messages, stopping=_Stopping(), counted=counted)
    with collector_tuned():  # as in the stream's own process (pipelines.gc_tuning)
        archiver.run()
    if archiver.error is not None:
        errors.put(repr(archiver.error))


class ArchiverProcess:
    """The Archiver in a process of its own, so its pulls, Avro encoding and fsyncs do not
    share the stream's interpreter lock (py-spy: ~25% of the `weir stream` process's CPU
    at 2,000 events/s). Same interface as `Archiver`: start(), stop(), archived, error."""

    def __init__(self, subscription_path: str, root: str, max_messages: int = MAX_MESSAGES):
        import multiprocessing
        import os

        ctx = multiprocessing.get_context("spawn")  # no fork of a process that holds gRPC channels
        self._stopping, self._counted, self._errors = ctx.Event(), ctx.Value("q", 0), ctx.Queue()
        self._error: str | None = None
        self._process = ctx.Process(
            target=_run_in_child,
            args=(subscription_path, root, max_messages, self._stopping, self._counted, self._errors, os.getpid()),
            name="weir-archiver",
            daemon=True,
        )

    def start(self) -> None:
        self._process.start()

    @property
    def archived(self) -> int:
        return int(self._counted.value)

    @property
    def error(self) -> str | None:
        if self._error is None and not self._errors.empty():
            self._error = self._errors.get()
        if self._error is None and self._process.exitcode not in (None, 0):
            self._error = f"archiver process exited with code {self._process.exitcode}"
        if self._error is None and self._process.exitcode == 0 and not self._stopping.is_set():
            self._error = "archiver process stopped on its own"
        return self._error

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stopping.set()
        self._process.join(timeout_s)
        if self._process.is_alive():
            self._process.terminate()
