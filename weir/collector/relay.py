"""The relay between the HTTP handlers and Pub/Sub: asynchronous, bounded, spilling.

Handlers call `submit` and return at once. A background thread publishes from a bounded
in-memory buffer with the client's batching; what cannot be published (Pub/Sub unreachable,
a publish failing, or the buffer full) is appended to a local spill file (JSON lines), and
the thread re-publishes the spill once Pub/Sub answers again, then truncates it. The spill
is replayed at start-up too, and `close` spills whatever is still buffered, so neither an
outage nor a restart loses events. Delivery is at least once: the pipeline de-duplicates by
event_id.
"""

from __future__ import annotations

import base64
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
RETRY_EVERY_S = 1.0


class Relay:
    """Publishes submitted messages; counts received, published, spilled, replayed, rejected."""

    def __init__(self, names: PubSubNames, spill_path: str, max_buffer: int = 10_000, batch_max: int = 500):
        self.names, self.spill_path, self.batch_max = names, spill_path, batch_max
        self.buffer: queue.Queue = queue.Queue(maxsize=max_buffer)
        self.counters: Counter = Counter()
        self._lock = threading.Lock()  # counters and the spill file
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="weir-relay", daemon=True)
        self._publisher = None
        os.makedirs(os.path.dirname(spill_path) or ".", exist_ok=True)

    # -- the handlers' side -------------------------------------------------------------
    def submit(self, data: bytes, attributes: dict[str, str]) -> None:
        self.count("received")
        try:
            self.buffer.put_nowait((data, attributes))
        except queue.Full:  # never block a response: the disk takes the overflow
            self._spill([(data, attributes)])

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counters[name] += n

    def spill_depth(self) -> int:
        with self._lock:
            if not os.path.exists(self.spill_path):
                return 0
            with open(self.spill_path, "rb") as fh:
                return sum(1 for _ in fh)

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> Relay:
        self._thread.start()
        return self

    def close(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        if self._thread.ident is not None:  # started
            self._thread.join(timeout_s)
        leftover = []
        while True:
            try:
                leftover.append(self.buffer.get_nowait())
            except queue.Empty:
                break
        if leftover:
            self._spill(leftover)

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
        failed = []
        for message, future in futures:
            try:
                future.result(timeout=PUBLISH_TIMEOUT_S * 2)
            except Exception:  # unreachable, deadline, not found: all mean "keep it for later"
                failed.append(message)
        return failed

    def _spill(self, messages: list[tuple[bytes, dict]]) -> None:
        lines = b"".join(
            orjson.dumps({"data": base64.b64encode(d).decode(), "attributes": a}) + b"\n" for d, a in messages
        )
        with self._lock:
            with open(self.spill_path, "ab") as fh:
                fh.write(lines)
                fh.flush()
                os.fsync(fh.fileno())
            self.counters["spilled"] += len(messages)

    def _replay(self) -> None:
        with self._lock:
            if not os.path.exists(self.spill_path) or os.path.getsize(self.spill_path) == 0:
                return
            with open(self.spill_path, "rb") as fh:
                spilled = [orjson.loads(line) for line in fh if line.strip()]
        messages = [(base64.b64decode(m["data"]), m["attributes"]) for m in spilled]
        if self._publish(messages):
            return  # still unreachable: try again later, the file is untouched
        with self._lock:
            # Lines appended while we were publishing stay for the next round.
            with open(self.spill_path, "rb") as fh:
                rest = fh.readlines()[len(spilled) :]
            tmp = self.spill_path + ".tmp"
            with open(tmp, "wb") as fh:
                fh.writelines(rest)
            os.replace(tmp, self.spill_path)
            self.counters["replayed"] += len(messages)
            self.counters["published"] += len(messages)

    def _run(self) -> None:
        last_replay = 0.0
        while not self._stop.is_set():
            batch = []
            try:
                batch.append(self.buffer.get(timeout=0.05))
                while len(batch) < self.batch_max:
                    batch.append(self.buffer.get_nowait())
            except queue.Empty:
                pass
            if batch:
                failed = self._publish(batch)
                self.count("published", len(batch) - len(failed))
                if failed:
                    self._spill(failed)
            if time.monotonic() - last_replay > RETRY_EVERY_S:
                last_replay = time.monotonic()
                try:
                    self._replay()
                except Exception:
                    log.exception("spill replay failed; will retry")
