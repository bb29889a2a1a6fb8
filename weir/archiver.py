"""The local streaming job's archiver: every message, good or bad, archived before it is acked.

Why a separate subscriber rather than a Beam write: the DirectRunner's Pub/Sub reader acks
messages as soon as it pulls them (measured in LOCAL-CLOUD.md and Beam's
`_PubSubReadEvaluator`), so a write later in the pipeline would lose what was in flight
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

from transforms.archive import archive_records, record_of_message

log = logging.getLogger(__name__)


def received_ms(message) -> int:
    """Pub/Sub publish time in ms: the record's `received_at`, in the archive and the stream alike."""
    return int(message.publish_time.timestamp() * 1000)


class Archiver(threading.Thread):
    """Pulls `subscription`, archives under `root`, acks; until `stop()` (then drains once)."""

    def __init__(self, subscription_path: str, root: str, max_messages: int = 1000):
        super().__init__(name="weir-archiver", daemon=True)
        self.subscription_path, self.root, self.max_messages = subscription_path, root, max_messages
        self._stopping = threading.Event()
        self.archived = 0
        self.error: BaseException | None = None

    def pull_once(self, subscriber, timeout_s: float = 2.0) -> int:
        from google.api_core.exceptions import DeadlineExceeded

        try:
            response = subscriber.pull(
                subscription=self.subscription_path, max_messages=self.max_messages, timeout=timeout_s
            )
        except DeadlineExceeded:
            return 0
        if not response.received_messages:
            return 0
        # The raw protobuf: the client's proto-plus wrapper costs ~10x more per field read (py-spy).
        records = [record_of_message(rm.message._pb) for rm in response.received_messages]
        archive_records(self.root, records)
        subscriber.acknowledge(
            subscription=self.subscription_path, ack_ids=[rm.ack_id for rm in response.received_messages]
        )
        self.archived += len(records)
        return len(records)

    def run(self) -> None:
        from google.cloud import pubsub_v1

        subscriber = pubsub_v1.SubscriberClient()
        try:
            while not self._stopping.is_set():
                self.pull_once(subscriber)
            while self.pull_once(subscriber, timeout_s=1.0):  # drain what is already there
                pass
        except BaseException as exc:  # surfaced by `weir stream`, which stops with an error
            self.error = exc
            log.exception("archiver failed")
        finally:
            subscriber.close()

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stopping.set()
        self.join(timeout_s)
