"""The relay between the HTTP handlers and Pub/Sub: asynchronous, bounded, spilling.

Handlers hand messages over and answer at once. A background thread publishes from a bounded
in-memory buffer with the client's batching; what cannot be published (Pub/Sub unreachable,
a publish failing, or the buffer full) is appended to a local spill file (JSON lines), and
the thread re-publishes the spill once Pub/Sub answers again, then truncates it. The spill
is replayed at start-up too, and `close` spills whatever is still buffered, so neither an
outage nor a restart loses events. Delivery is at least once: the pipeline de-duplicates by
event_id.

What a 2xx promises: a submitted message is in the buffer or fsynced in the spill file. The
HTTP handlers never write the disk themselves: what overflows the buffer goes to a spill
writer thread (`spill_soon`), which appends and fsyncs everything waiting in one write (a
group commit), and the request is answered when its own lines are on disk, so the event loop
serves other requests meanwhile. When the buffer is full and the disk refuses the spill, the
handler answers 503 (`RelayUnavailable`), so the client keeps the events. A spill the
disk refuses from the background thread (Pub/Sub down and the disk full) keeps the messages
in memory and retries; `problem()` says so, and /healthz turns 503. A torn spill line (a
crash mid-write) is moved aside to `<spill>.torn` and counted, never blocking the replay of
the rest.

Without a spill file (`spill_path=None`, `weir collect --no-spill`: Cloud Run, whose disk is
memory and goes with the instance) a 2xx promises only the buffer, so the relay refuses
(RelayUnavailable, a 503) whenever Pub/Sub is not taking events or the buffer is full: the
tracker keeps its queue and sends again. What Pub/Sub refused after a 2xx is kept in memory
and retried; what is still unpublished when the process stops is counted (`lost_at_stop`)
and logged.
"""

from __future__ import annotations

import base64
import concurrent.futures
import itertools
import logging
import os
import queue
import threading
import time
from collections import Counter

import orjson

from weir.pubsub import PubSubNames

log = logging.getLogger(__name__)
PUBLISH_TIMEOUT_S = 5.0
# Payload bytes the buffer holds at most; past it events go to the spill file (and a 503 when
# the disk refuses too), so a flood of large events cannot exhaust memory.
MAX_BUFFER_BYTES = 64 * 1024 * 1024
RETRY_EVERY_S = 1.0
REPLAY_BATCH = 5000  # spilled messages a replay publishes at a time


class RelayUnavailable(RuntimeError):
    """Neither the buffer nor the spill file can take a message now."""


class Relay:
    """Publishes submitted messages; counts received, published, spilled, replayed, rejected."""

    def __init__(
        self,
        names: PubSubNames,
        spill_path: str | None,
        max_buffer: int = 10_000,
        batch_max: int = 500,
        max_buffer_bytes: int = MAX_BUFFER_BYTES,
    ):
        self.names, self.spill_path, self.batch_max = names, spill_path, batch_max
        self.buffer: queue.Queue = queue.Queue(maxsize=max_buffer)
        self.max_buffer_bytes = max_buffer_bytes
        self.buffered_bytes = 0  # payload bytes in the buffer: memory is bounded by bytes, not only by count
        self.counters: Counter = Counter()
        self._lock = threading.Lock()  # counters and the buffer's bytes: held for an addition, no more
        self._file_lock = threading.Lock()  # the spill file: never taken on the HTTP handlers' path
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="weir-relay", daemon=True)
        self._publisher = None
        self._unspilled: list[tuple[bytes, dict]] = []  # what the disk refused, retried (background thread)
        self._spill_error: str | None = None
        self.publish_failing_since: float | None = None  # time.time() of the first publish that failed whole
        # Spills the handlers wait for, written by one thread: (messages, the future each waits on).
        self._spill_requests: list[tuple[list, concurrent.futures.Future]] = []
        self._spill_wanted = threading.Condition()
        self._writer: threading.Thread | None = None
        self._writer_stop = False
        if spill_path is not None:
            os.makedirs(os.path.dirname(spill_path) or ".", exist_ok=True)

    @property
    def _file(self) -> str:
        """The spill file's path, for the methods that only run with one."""
        if self.spill_path is None:
            raise OSError("this collector keeps no spill file (--no-spill)")
        return self.spill_path

    # -- the handlers' side -------------------------------------------------------------
    def submit(self, data: bytes, attributes: dict[str, str]) -> None:
        self.submit_all([(data, attributes)])

    def submit_all(self, messages: list[tuple[bytes, dict[str, str]]]) -> None:
        """Takes every message (buffered, or spilled when the buffer is full) or raises
        `RelayUnavailable` having taken none that it did not keep. Writes the spill in the
        caller's thread: the HTTP handlers use `buffer_what_fits` and `spill_soon` instead."""
        overflow = self.buffer_what_fits(messages)
        if overflow:
            try:
                self._spill(overflow)
            except OSError as exc:
                self.spill_refused(messages, overflow, exc)
        self.count("received", len(messages))

    def spill_refused(self, messages: list, overflow: list, exc: BaseException):
        """Counts what was kept of a request whose overflow the disk refused; raises
        `RelayUnavailable` (the handler's 503)."""
        # The buffered part is kept and will be published; the client retries the batch on
        # the 503 and the pipeline removes the copies by event_id.
        self.count("received", len(messages) - len(overflow))
        raise RelayUnavailable(f"the collector cannot keep events now: spill failed: {exc}") from None

    def spill_soon(self, messages: list[tuple[bytes, dict[str, str]]]) -> concurrent.futures.Future:
        """Hands `messages` to the spill writer thread; the future is done when they are
        fsynced (or holds the OSError the disk gave)."""
        done: concurrent.futures.Future = concurrent.futures.Future()
        with self._spill_wanted:
            if self._writer is None or not self._writer.is_alive():
                self._writer_stop = False
                self._writer = threading.Thread(target=self._write_spills, name="weir-spill-writer", daemon=True)
                self._writer.start()
            self._spill_requests.append((messages, done))
            self._spill_wanted.notify()
        return done

    def _write_spills(self) -> None:
        """The spill writer: everything waiting goes in one append and one fsync."""
        while True:
            with self._spill_wanted:
                while not self._spill_requests and not self._writer_stop:
                    self._spill_wanted.wait()
                if not self._spill_requests:
                    return
                pending, self._spill_requests = self._spill_requests, []
            try:
                self._spill([m for batch, _ in pending for m in batch])
            except OSError as exc:
                for _, done in pending:
                    done.set_exception(exc)
            else:
                for _, done in pending:
                    done.set_result(None)

    def buffer_what_fits(self, messages: list[tuple[bytes, dict[str, str]]]) -> list[tuple[bytes, dict[str, str]]]:
        """Puts what fits in the buffer without waiting; returns the rest (for the spill), or
        raises `RelayUnavailable` when nothing may be taken now."""
        if self.spill_path is None and self.publish_failing_since is not None:
            raise RelayUnavailable("Pub/Sub is not taking events and this collector keeps no spill file: send later")
        if len(self._unspilled) >= self.buffer.maxsize:  # memory holds what the disk refused: no more
            raise RelayUnavailable(f"the collector cannot keep events now: spill failed: {self._spill_error}")
        overflow = []
        for message in messages:
            size = len(message[0])
            with self._lock:
                fits = self.buffered_bytes + size <= self.max_buffer_bytes
                if fits:
                    self.buffered_bytes += size
            if not fits:  # the byte budget is spent: the disk takes it, memory stays bounded
                overflow.append(message)
                continue
            try:
                self.buffer.put_nowait(message)
            except queue.Full:  # never block a response: the disk takes the overflow
                with self._lock:
                    self.buffered_bytes -= size
                overflow.append(message)
        return overflow

    def problem(self) -> str | None:
        """Why the relay cannot keep its promise now, or None when it can."""
        if self._thread.ident is not None and not self._thread.is_alive() and not self._stop.is_set():
            return "the relay thread has stopped"
        since = self.publish_failing_since
        if self.spill_path is None and (since is not None or self._unspilled):
            waited = f" for {time.time() - since:.0f} s" if since is not None else ""
            return (
                f"Pub/Sub has not taken events{waited}: {len(self._unspilled)} wait in memory, and new events are "
                "refused with 503 (no spill file) so trackers keep them"
            )
        if self._unspilled:
            return f"{len(self._unspilled)} events wait in memory: spill failed: {self._spill_error}"
        if since is not None:
            return (
                f"Pub/Sub has not taken an event for {time.time() - since:.0f} s: events are kept in the spill "
                f"file ({self.spill_depth()} waiting) and sent when it answers"
            )
        return None

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counters[name] += n

    def spill_depth(self) -> int | None:
        """Lines in the spill file; None when it cannot be read (the error is in `problem()`)."""
        if self.spill_path is None:
            return 0
        try:  # no lock: whole lines are counted, and the file is only ever replaced whole
            with open(self.spill_path, "rb") as fh:
                return sum(1 for _ in fh)
        except FileNotFoundError:
            return 0
        except OSError:
            return None

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> Relay:
        self._thread.start()
        return self

    def close(self, timeout_s: float = 30.0) -> None:
        """Stops the threads (the spill writer after what it was handed); spills what is still
        buffered (raises OSError if the disk refuses)."""
        self._stop.set()
        if self._thread.ident is not None:  # started
            self._thread.join(timeout_s)
        with self._spill_wanted:
            self._writer_stop = True
            self._spill_wanted.notify()
        if self._writer is not None:
            self._writer.join(timeout_s)
        leftover = self._unspilled
        self._unspilled = []
        while True:
            try:
                message = self.buffer.get_nowait()
            except queue.Empty:
                break
            leftover.append(message)
            self._taken([message])
        if leftover and self.spill_path is None:  # one last try, then say what is lost
            failed = self._publish(leftover)
            self.count("published", len(leftover) - len(failed))
            if failed:
                self.count("lost_at_stop", len(failed))
                log.error("stopping with %d events Pub/Sub did not take and no spill file: lost", len(failed))
        elif leftover:
            self._spill(leftover)

    def _taken(self, messages: list[tuple[bytes, dict]]) -> None:
        """Messages left the buffer: their bytes leave the budget."""
        with self._lock:
            self.buffered_bytes -= sum(len(m[0]) for m in messages)

    # -- the background thread ------------------------------------------------------------
    def _client(self):
        if self._publisher is None:
            from google.cloud import pubsub_v1

            self._publisher = pubsub_v1.PublisherClient(
                batch_settings=pubsub_v1.types.BatchSettings(max_messages=self.batch_max, max_latency=0.02)
            )
        return self._publisher

    def _publish(self, messages: list[tuple[bytes, dict]]) -> list[tuple[bytes, dict]]:
        """Publishes; returns the messages that failed."""
        from google.api_core import retry as retries

        client = self._client()
        retry = retries.Retry(initial=0.1, maximum=1.0, timeout=PUBLISH_TIMEOUT_S)
        futures = [
            (m, client.publish(self.names.topic_path, m[0], retry=retry, timeout=PUBLISH_TIMEOUT_S, **m[1]))
            for m in messages
        ]
        # Wait in slices, so that a stopping collector (SIGTERM) spills what is still in flight
        # within a second instead of waiting out the publish timeout (a copy both published
        # and replayed later is removed by the pipeline's dedupe).
        deadline = time.monotonic() + PUBLISH_TIMEOUT_S * 2
        pending = [f for _, f in futures]
        while pending and time.monotonic() < deadline:
            done, not_done = concurrent.futures.wait(pending, timeout=0.2)
            pending = list(not_done)
            if self._stop.is_set() and pending:
                concurrent.futures.wait(pending, timeout=1.0)
                break
        failed = []
        for message, future in futures:
            if not future.done():
                failed.append(message)
                continue
            try:
                future.result(timeout=0)
            except Exception:  # unreachable, deadline, not found: all mean "keep it for later"
                failed.append(message)
        if failed and len(failed) == len(messages):
            if self.publish_failing_since is None:
                self.publish_failing_since = time.time()
        elif messages:
            self.publish_failing_since = None
        return failed

    def _spill(self, messages: list[tuple[bytes, dict]]) -> None:
        """Appends and fsyncs; raises OSError (disk full, read-only, no spill file) having
        written nothing that a replay would read as a whole line."""
        if self.spill_path is None:
            raise OSError("this collector keeps no spill file (--no-spill)")
        lines = b"".join(
            orjson.dumps({"data": base64.b64encode(d).decode(), "attributes": a}) + b"\n" for d, a in messages
        )
        with self._file_lock:
            try:
                with open(self.spill_path, "ab") as fh:
                    start = fh.tell()
                    if start and not self._ends_with_newline():
                        # A crash mid-write left a torn last line: end it, or the first line
                        # appended now would be glued to it and set aside with it.
                        lines = b"\n" + lines
                    try:
                        fh.write(lines)
                        fh.flush()
                        os.fsync(fh.fileno())
                    except OSError:
                        fh.truncate(start)  # a partial append would be a torn line
                        raise
            except OSError as exc:
                self.count("spill_errors")
                self._spill_error = str(exc)
                raise
        self.count("spilled", len(messages))

    def _ends_with_newline(self) -> bool:
        with open(self._file, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) == b"\n"

    def _keep(self, messages: list[tuple[bytes, dict]]) -> None:
        """The background thread's spill: what the disk refuses stays in memory for a retry."""
        pending = self._unspilled + messages
        if self.spill_path is None:  # memory only; _step publishes it again
            self._unspilled = pending
            return
        try:
            self._spill(pending)
        except OSError:
            log.exception("spilling %d events failed; kept in memory, retrying", len(pending))
            self._unspilled = pending
            return
        self._unspilled = []

    def _read_spill(self, limit: int | None = None) -> tuple[list[tuple[bytes, dict]], int]:
        """(the whole messages of the spill's first `limit` lines (None: all), how many lines
        were read). Torn lines (a crash mid-write) among them are moved to `<spill>.torn` once:
        the spill file is rewritten without them (the caller holds the file lock, so nothing
        is being appended)."""
        good, good_lines, torn = [], [], []
        with open(self._file, "rb") as fh:
            lines = list(itertools.islice(fh, limit))
        for line in lines:
            if not line.strip():
                continue
            try:
                message = orjson.loads(line)
                good.append((base64.b64decode(message["data"]), message["attributes"]))
                good_lines.append(line if line.endswith(b"\n") else line + b"\n")
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                torn.append(line if line.endswith(b"\n") else line + b"\n")
        if torn:
            with open(self._file + ".torn", "ab") as fh:
                fh.writelines(torn)
                fh.flush()
                os.fsync(fh.fileno())
            with open(self._file, "rb") as fh:
                rest = list(itertools.islice(fh, len(lines), None))  # beyond what was read: kept as it is
            tmp = f"{self._file}.{os.getpid()}.tmp"
            with open(tmp, "wb") as fh:
                fh.writelines(good_lines + rest)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self._file)
            self.count("spill_torn", len(torn))
            log.warning("%d torn spill lines moved to %s.torn", len(torn), self._file)
        return good, len(good_lines) if torn else len(lines)

    def _replay(self) -> None:
        """Publishes the spill's first REPLAY_BATCH messages and removes them from the file:
        while Pub/Sub stays down a try reads that much, not the whole outage's file."""
        with self._file_lock:
            if not os.path.exists(self._file) or os.path.getsize(self._file) == 0:
                return
            messages, read_lines = self._read_spill(REPLAY_BATCH)
        if messages and self._publish(messages):
            return  # still unreachable: try again later, the file is untouched
        with self._file_lock:
            # Lines appended while we were publishing stay for the next round.
            with open(self._file, "rb") as fh:
                rest = fh.readlines()[read_lines:]
            tmp = f"{self._file}.{os.getpid()}.tmp"
            with open(tmp, "wb") as fh:
                fh.writelines(rest)
            os.replace(tmp, self._file)
        self.count("replayed", len(messages))
        self.count("published", len(messages))

    def _run(self) -> None:
        last_replay = 0.0
        while not self._stop.is_set():
            try:
                last_replay = self._step(last_replay)
            except Exception:  # the thread must outlive any one failure; /healthz shows lasting ones
                log.exception("relay step failed; retrying")
                time.sleep(RETRY_EVERY_S)

    def _step(self, last_replay: float) -> float:
        batch = []
        try:
            batch.append(self.buffer.get(timeout=0.05))
            while len(batch) < self.batch_max:
                batch.append(self.buffer.get_nowait())
        except queue.Empty:
            pass
        if batch:
            self._taken(batch)
        if batch:
            failed = self._publish(batch)
            self.count("published", len(batch) - len(failed))
            if failed:
                self._keep(failed)
        if time.monotonic() - last_replay > RETRY_EVERY_S:
            last_replay = time.monotonic()
            if self._unspilled and self.spill_path is None:  # retry what Pub/Sub refused
                pending, self._unspilled = self._unspilled, []
                failed = self._publish(pending)
                self.count("published", len(pending) - len(failed))
                self._unspilled = failed + self._unspilled
            elif self._unspilled:
                self._keep([])  # retry what the disk refused
            elif self.spill_path is not None:
                try:
                    self._replay()
                except Exception:
                    log.exception("spill replay failed; will retry")
        return last_replay
