"""Bigger pulls for Beam's DirectRunner Pub/Sub reader (local streaming only).

Beam 2.77's `_PubSubReadEvaluator._read_from_pubsub` pulls at most 10 messages per bundle
and waits up to 30 s on an idle subscription. Every bundle pays fixed costs downstream (one
warehouse transaction per table, ~35 ms each on the local DuckDB file), which capped a
local stream at ~25 events/s (measured); and the DirectRunner only looks at
processing-time triggers between bundles, so an idle 30 s pull held back the live bucket's
last early firing for up to 30 s. `allow_bigger_pulls` replaces that one method with the
same logic, a larger `max_messages` (filled by successive pulls while a backlog lasts) and
a 1 s pull deadline. A bundle takes what has arrived since the last one, so bundles grow
with the load: measured draining a 30,000-message backlog, 3,000-message bundles did ~2,400
events per CPU-second against ~1,700 with 1,000 (the runner's costs per bundle and the
pre-combined groups per bundle both shrink). It touches a private Beam API, so it first
checks the method is the one it knows (Beam is pinned in setup.py) and otherwise leaves
Beam alone and says so.

Pub/Sub unreachable (the emulator died): a pull is not retried by the client for a minute
(its default), it fails at once and the reader returns nothing, so a bundle never waits on
a dead endpoint and the stream can always stop; `read_failure()` says since when reads
fail and why, for the stream's supervisor (pipelines.local.stream), which gives up after a while.

`read_batches(read)` makes one `ReadFromPubSub` give one element per bundle, the list of its
records as the graph's `RawRecord`s, stamped with the earliest publish time among them, instead
of one Beam `PubsubMessage` per message: at 8,000 events/s, py-spy had ~20% of the
stream's interpreter time in making a message object, a timestamp and a record per message
and in the runner's per-element steps from the read to the first batch.

`hold_reads()` / `release_reads()` gate the reader: while held it reads nothing and holds
its watermark at the start of time, so a restarted stream can first replay its archive
(pipelines.local.stream) with every replayed bucket still open, and the first pane of a bucket
after a restart carries all it held before (no live bucket goes backwards).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timezone

from apache_beam.runners.direct import transform_evaluator as te
from apache_beam.utils.timestamp import MIN_TIMESTAMP, Timestamp

from weir.pubsub import raw
from weir.transforms.archive import raw_records_of_messages

log = logging.getLogger(__name__)
UTC = timezone.utc
PULL_DEADLINE_S = 1.0
# A pull returns at most 100 messages (the emulator's page), so one bundle keeps pulling while
# pulls come back full, up to max_messages (weir.pubsub.raw): measured, one 100-message pull
# per bundle capped a local stream at ~300 events/s, the runner's fixed costs per bundle being
# most of its time.
_ORIGINAL = te._PubSubReadEvaluator._read_from_pubsub
_ORIGINAL_FINISH = te._PubSubReadEvaluator.finish_bundle
_READS_OPEN = threading.Event()
_READS_OPEN.set()


_READ_FAILURE: dict = {}  # {"since": time.time(), "error": str} while pulls fail


def read_failure() -> dict | None:
    """{"since": epoch s, "error": str} while the reader's pulls fail, else None."""
    return dict(_READ_FAILURE) if _READ_FAILURE else None


def hold_reads() -> None:
    """Until `release_reads()`: the reader pulls nothing and holds the watermark back."""
    _READS_OPEN.clear()


def release_reads() -> None:
    _READS_OPEN.set()


def _finish_bundle(self):
    result = _ORIGINAL_FINISH(self)
    if not _READS_OPEN.is_set():
        result.keyed_watermark_holds = {None: MIN_TIMESTAMP}  # Beam's own hold is "now"
    return result


def _make_reader(max_messages: int):
    def _read_from_pubsub(self, timestamp_attribute):
        from apache_beam.io.gcp.pubsub import PubsubMessage

        def element(message):
            # `message` is the raw protobuf: the proto-plus wrapper Beam reads it through
            # cost ~10% of the stream's CPU at 2,000 events/s (py-spy), for the same fields.
            parsed = PubsubMessage(message.data, dict(message.attributes))
            parsed.message_id = message.message_id or None
            parsed.publish_time = message.publish_time.ToDatetime(tzinfo=UTC)
            if message.ordering_key:
                parsed.ordering_key = message.ordering_key
            if timestamp_attribute and timestamp_attribute in parsed.attributes:
                stamp = parsed.attributes[timestamp_attribute]
                try:
                    ts = Timestamp(micros=int(stamp) * 1000)
                except ValueError:
                    ts = Timestamp.from_rfc3339(stamp)
            else:
                ts = Timestamp(micros=message.publish_time.ToMicroseconds())
            return ts, parsed

        if not _READS_OPEN.is_set():
            time.sleep(0.05)  # held (hold_reads): nothing is pulled, so nothing is acked
            return []
        batch_source = getattr(self.source, BATCHES_ATTR, None)
        client = self._get_subscriber_client(self._applied_ptransform)
        received, error = raw.pull(client, self._sub_name, max_messages, PULL_DEADLINE_S)
        if error is not None:  # unreachable: what was pulled before goes on, the rest waits
            if not _READ_FAILURE:
                _READ_FAILURE.update(since=time.time(), error=str(error)[:300])
                log.warning("pulling %s failed; retrying: %s", self._sub_name, error)
            time.sleep(PULL_DEADLINE_S)
        else:
            _READ_FAILURE.clear()
        if batch_source is None:
            results = [element(rm.message) for rm in received]
        elif received:  # one element: the bundle's records (read_batches)
            records = raw_records_of_messages([rm.message for rm in received], batch_source)
            earliest = min(rm.message.publish_time.ToMicroseconds() for rm in received)
            results = [(Timestamp(micros=earliest), records)]
        else:
            results = []
        raw.acknowledge(client, self._sub_name, [rm.ack_id for rm in received])
        return results

    _read_from_pubsub.weir_max_messages = max_messages
    return _read_from_pubsub


BATCHES_ATTR = "weir_batch_source"  # set on a read's source by read_batches


def read_batches(read, source: str) -> bool:
    """Makes `read` (a `beam.io.ReadFromPubSub(..., with_attributes=True)`) give lists of
    `RawRecord`s whose `source` is `source`, one per bundle (module docstring), once
    `allow_bigger_pulls` has installed weir's reader; False (and `read` unchanged) otherwise,
    when the caller must make records and batches itself."""
    if not hasattr(te._PubSubReadEvaluator._read_from_pubsub, "weir_max_messages"):
        return False
    setattr(read._source, BATCHES_ATTR, source)
    return True


def allow_bigger_pulls(max_messages: int = 3000) -> bool:
    """Makes the DirectRunner pull up to `max_messages` per bundle; False if Beam changed."""
    current = te._PubSubReadEvaluator._read_from_pubsub
    if current is not _ORIGINAL and not hasattr(current, "weir_max_messages"):
        log.warning("Beam's DirectRunner Pub/Sub reader is not the one weir knows; keeping its 10-message pulls")
        return False
    consts = _ORIGINAL.__code__.co_consts
    if 10 not in consts or not any(isinstance(c, tuple) and "max_messages" in c for c in consts):
        log.warning("Beam's DirectRunner Pub/Sub reader changed; keeping its own pulls")
        return False
    te._PubSubReadEvaluator._read_from_pubsub = _make_reader(max_messages)
    te._PubSubReadEvaluator.finish_bundle = _finish_bundle
    _READ_FAILURE.clear()  # a new stream in this process starts with a clean record
    return True
