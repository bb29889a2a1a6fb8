"""Deduplication by (site, event_id): one copy of each event goes on, the others are counted.

An event's identity is its site and its event_id (`identity`): event_ids are made by each
site's tracker, so two sites may well share one, and neither may suppress the other's event
(issue #14). Each extra copy goes to `.duplicates` as itself, so the ledger books it to its
own site and day.

Two implementations of one contract, chosen by the input's boundedness:
- Bounded input (rebuilds): a `GroupByKey` on the identity, then the earliest-received copy goes
  on. The whole input is one horizon, and the choice does not depend on the grouping order,
  so a rebuild run twice keeps the same copies. Measured here, a stateful DoFn costs ~2.4 ms
  per element on the FnApiRunner (a state round trip per key). Copies travel as JSON bytes
  and no combiner is lifted: duplicates are ~1%, so pre-combining saved nothing while its
  table held up to 100,000 decoded events (measured at 100,000 events: the dedupe stage
  12.3 -> 7.0 s, the rebuild's peak RSS 840 -> 759 MB).
- Unbounded input (streaming): a stateful DoFn remembers each identity and forgets it with
  an event-time timer `horizon` after the event, so state stays bounded. It needs no
  Pub/Sub `id_label` (which only Dataflow honours), so it behaves the same on every runner.
  Two keyings of that state, one contract:
  - `keying="event_id"` (Dataflow): one key, one flag and one timer per identity; Dataflow
    keeps per-key state and timers cheaply.
  - `keying="sharded"` (the local DirectRunner): keys are the event's 10-second epoch of
    event time, each holding the identities seen, cleared by one timer when the epoch is
    `horizon` old. The DirectRunner scans every key's timers on
    each pass of its monitor, so a key per event made the local stream slow down as it ran
    (py-spy: timer extraction dominated at 2,000 events/s); a few hundred keys per hour do
    not. Copies of an event carry the same `ts`, so they meet in the same key; two events
    sharing an identity but not an epoch are kept apart here (and removed by the rebuild,
    which de-duplicates by identity alone).
Copies of a retried event are byte-identical but for their receive time, so both keep the
same event.
"""

from __future__ import annotations

import apache_beam as beam
import orjson
from apache_beam.coders import BooleanCoder, StrUtf8Coder
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import BagStateSpec, ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.transforms.window import TimestampedValue

from weir.transforms.counting import counter
from weir.transforms.defaults import DEFAULT_HORIZON_S


def identity(event) -> str:
    """The dedupe key: site and event_id, length-prefixed so no two pairs give one string."""
    site = event["site"]
    return f"{len(site)}:{site}{event['event_id']}"


def _key_by_identity(event):
    return identity(event), event


def _key_by_identity_compact(event):
    # As JSON bytes: the runner's grouping holds every copy of the day in memory as decoded
    # values; a dict is ~2.3 KB of Python objects there, its JSON ~0.5 KB (measured: the
    # rebuild's peak memory grew ~4.4 KB per event, most of it here). Events are made of
    # JSON values by ParseEvents, so the round trip is exact.
    return identity(event), orjson.dumps(event)


def _arrival(event) -> tuple:
    received = event.get("received_at")
    return (received is None, received or 0, event.get("source") or "")


def _split_copies(copies: list[bytes]) -> tuple[dict, list[dict]]:
    """(the copy that goes on, the other copies). The one that goes on is the earliest
    received; among copies received together (a line repeated in one file) the one whose
    JSON sorts first, so the choice never depends on the order the runner groups them in."""
    if len(copies) == 1:
        return orjson.loads(copies[0]), []
    decoded = sorted((orjson.loads(c) for c in copies), key=lambda e: (_arrival(e), orjson.dumps(e)))
    return decoded[0], decoded[1:]


class _EmitFirstCopy(beam.DoFn):
    def __init__(self):
        self._dupes = counter("duplicates")

    def process(self, item):
        _, copies = item
        if type(copies) is not list:
            copies = list(copies)
        event, others = _split_copies(copies)
        # Grouping re-stamps elements at the window's end: restore event time.
        yield TimestampedValue(event, event["ts"] / 1000.0)
        for other in others:  # each copy as itself: the ledger books it to its own day
            self._dupes.inc()
            yield beam.pvalue.TaggedOutput("duplicates", other)


class _StatefulDedupeFn(beam.DoFn):
    SEEN = ReadModifyWriteStateSpec("seen", BooleanCoder())
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def __init__(self, horizon_s: int):
        self._horizon_s = horizon_s
        self._dupes = counter("duplicates")

    def process(
        self, item, ts=beam.DoFn.TimestampParam, seen=beam.DoFn.StateParam(SEEN), expiry=beam.DoFn.TimerParam(EXPIRY)
    ):
        _, event = item
        if seen.read():
            self._dupes.inc()
            yield beam.pvalue.TaggedOutput("duplicates", event)
            return
        seen.write(True)
        expiry.set(ts + self._horizon_s)
        yield event

    @on_timer(EXPIRY)
    def expire(self, seen=beam.DoFn.StateParam(SEEN)):
        seen.clear()


SHARD_EPOCH_S = 10


def _key_by_epoch(event):
    return event["ts"] // (SHARD_EPOCH_S * 1000), event


class _ShardedDedupeFn(beam.DoFn):
    """The local stream's dedupe state: per 10-second epoch of event time, a bag of the
    event_ids seen, read into a set once per key and bundle; only new ids are written.

    Why a bag and short epochs: the DirectRunner re-encodes a whole set state on every commit
    and decodes the whole state on the first read in a bundle, so with a set per minute a
    bundle's cost grew with the minute's ids (py-spy at 2,000 events/s: 20-35% of the stream's
    CPU in state reads and commits). A bag commits only what was added, and a 10-second
    epoch bounds what a bundle reads to ~20,000 ids at that rate. One timer per key: ~400
    keys per hour of horizon, few enough for the runner's scan of every key's timers.
    """

    SEEN = BagStateSpec("seen", StrUtf8Coder())
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def __init__(self, horizon_s: int):
        self._horizon_s = horizon_s
        self._dupes = counter("duplicates")

    def start_bundle(self):
        self._seen: dict = {}  # key -> set of ids (the bag, read once in this bundle)

    def process(self, item, seen=beam.DoFn.StateParam(SEEN), expiry=beam.DoFn.TimerParam(EXPIRY)):
        key, event = item
        ids = self._seen.get(key)
        if ids is None:
            ids = self._seen[key] = set(seen.read())
            if not ids:  # first id of this key: arm its one timer
                expiry.set((key + 1) * SHARD_EPOCH_S + self._horizon_s)
        event_id = identity(event)
        if event_id in ids:
            self._dupes.inc()
            yield beam.pvalue.TaggedOutput("duplicates", event)
            return
        ids.add(event_id)
        seen.add(event_id)
        yield event

    @on_timer(EXPIRY)
    def expire(self, key=beam.DoFn.KeyParam, seen=beam.DoFn.StateParam(SEEN)):
        seen.clear()
        self._seen.pop(key, None)


class DedupeEvents(beam.PTransform):
    """Takes `PCollection[Event]`; produces `.events` (one copy per (site, event_id), event-time
    timestamps kept) and `.duplicates` (each extra copy, for the ledger).

    Args:
      horizon_s: streaming only: how long (event time) an event_id is remembered.
      keying: streaming only: "event_id" (Dataflow) or "sharded" (the local DirectRunner).
    """

    def __init__(self, horizon_s: int = DEFAULT_HORIZON_S, keying: str = "event_id"):
        super().__init__()
        if keying not in ("event_id", "sharded"):
            raise ValueError("keying must be 'event_id' or 'sharded'")
        self._horizon_s, self._keying = horizon_s, keying

    def expand(self, events):
        if not events.is_bounded and self._keying == "sharded":
            keyed = events | "KeyByEpoch" >> beam.Map(_key_by_epoch).with_output_types(tuple[int, dict])
            return keyed | "FirstSeenSharded" >> beam.ParDo(_ShardedDedupeFn(self._horizon_s)).with_outputs(
                "duplicates", main="events"
            )
        if events.is_bounded:
            return (
                events
                | "KeyByEventId" >> beam.Map(_key_by_identity_compact).with_output_types(tuple[str, bytes])
                | "Copies" >> beam.GroupByKey()
                | "Emit" >> beam.ParDo(_EmitFirstCopy()).with_outputs("duplicates", main="events")
            )
        keyed = events | "KeyByEventId" >> beam.Map(_key_by_identity).with_output_types(tuple[str, dict])
        return keyed | "FirstSeen" >> beam.ParDo(_StatefulDedupeFn(self._horizon_s)).with_outputs(
            "duplicates", main="events"
        )
