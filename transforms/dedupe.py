"""Deduplication by (site, event_id): one copy of each event goes on, the others are counted.

An event's identity is its site and its event_id (`identity`): event_ids are made by each
site's tracker, so two sites may well share one, and neither may suppress the other's event.
Each extra copy goes to `.duplicates` as itself, so the ledger books it to its
own site and day.

Two implementations of one contract, chosen by the input's boundedness:
- Bounded input (rebuilds): events are split into `PARTS` partitions by a hash of their
  identity, grouped by partition (one element per partition and batch), and each partition
  is de-duplicated in memory: of each identity's copies the earliest-received goes on. The
  whole input is one horizon, and the choice does not depend on the grouping order, so a
  rebuild run twice keeps the same copies. Measured here, a stateful DoFn costs ~2.4 ms per
  element on the FnApiRunner (a state round trip per key), and a GroupByKey per event
  ~14 us, so neither. Copies travel as compressed JSON arrays; duplicates are ~1%, so no combiner is
  lifted (measured at 100,000 events: a lifted one's table held up to 100,000 decoded events).
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

import zlib
from typing import NamedTuple

import apache_beam as beam
import orjson
import zstandard
from apache_beam.coders import BooleanCoder, BytesCoder
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import BagStateSpec, ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.transforms.window import TimestampedValue

from weir.transforms.batches import BATCH_SIZE, ToBatches, stamped_by_event_time
from weir.transforms.counting import counter
from weir.transforms.defaults import DEFAULT_HORIZON_S


def identity(event) -> str:
    """The dedupe key: site and event_id, length-prefixed so no two pairs give one string."""
    site = event["site"]
    return f"{len(site)}:{site}{event['event_id']}"


PARTS = 32  # partitions of a rebuild's dedupe: each is de-duplicated alone, in memory
_ZSTD_LEVEL = 1


def _partition_of(ident: str) -> int:
    # crc32, not hash(): str hashes differ between worker processes.
    return zlib.crc32(ident.encode()) % PARTS


def _by_partition(events: list) -> list[tuple[int, bytes]]:
    """A batch of events -> [(partition, its events of the batch as one compressed JSON array)].

     Copies of an event share its identity, so they meet in one partition, wherever and
     whenever each was received. Compact, because the FnApiRunner's grouping holds every value
     of the day decoded, and hands them to the next stage encoded too: measured at 1 M events
    , the dedupe's grouping of JSON took the rebuild's peak memory from 0.9 to
     3.2 GB. A dict is ~2.3 KB of Python objects there, an event's JSON ~0.55 KB, its share of
     a zstd-compressed array of a partition's events of the batch ~0.07 KB (~1.5 us per event
     to compress and decompress). Events are made of JSON values by ParseEvents, so the round
     trip is exact. One element per partition and batch, not per event: ~14 us per element
     through the runner's grouping was a tenth of the rebuild."""
    parts: dict[int, list] = {}
    for event in events:
        part = _partition_of(identity(event))
        chunk = parts.get(part)
        if chunk is None:
            chunk = parts[part] = []
        chunk.append(event)
    compress = zstandard.ZstdCompressor(level=_ZSTD_LEVEL).compress
    return [(part, compress(orjson.dumps(chunk))) for part, chunk in parts.items()]


def _arrival(event) -> tuple:
    received = event.get("received_at")
    return (received is None, received or 0, event.get("source") or "")


def _split_copies(copies: list[dict]) -> tuple[dict, list[dict]]:
    """(the copy that goes on, the other copies). The one that goes on is the earliest
    received; among copies received together (a line repeated in one file) the one whose
    JSON sorts first, so the choice never depends on the order the runner groups them in."""
    ordered = sorted(copies, key=lambda e: (_arrival(e), orjson.dumps(e)))
    return ordered[0], ordered[1:]


class _EmitFirstCopies(beam.DoFn):
    """(partition, its compressed JSON arrays of events) -> batches of the copies that go on, and each
    other copy, as itself, to "duplicates" (the ledger books it to its own day)."""

    def __init__(self):
        self._dupes = counter("duplicates")

    def process(self, item):
        _, chunks = item
        copies: dict = {}
        decompress = zstandard.ZstdDecompressor().decompress
        for chunk in chunks:
            for event in orjson.loads(decompress(chunk)):
                ident = identity(event)
                held = copies.get(ident)
                if held is None:
                    copies[ident] = event
                elif type(held) is list:
                    held.append(event)
                else:
                    copies[ident] = [held, event]
        batch = []
        for held in copies.values():
            if type(held) is dict:
                batch.append(held)
                continue
            event, others = _split_copies(held)
            batch.append(event)
            self._dupes.inc(len(others))
            for other in others:
                yield beam.pvalue.TaggedOutput("duplicates", other)
        # Grouping re-stamps elements at the window's end: restore event time.
        for start in range(0, len(batch), BATCH_SIZE):
            yield stamped_by_event_time(batch[start : start + BATCH_SIZE])


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


def _key_by_identity(event):
    return TimestampedValue((identity(event), event), event["ts"] / 1000.0)


def _by_epoch(events: list) -> list[TimestampedValue]:
    """A batch of events -> [(epoch, its events)], each stamped with its earliest event."""
    epochs: dict[int, list] = {}
    for event in events:
        epoch = event["ts"] // (SHARD_EPOCH_S * 1000)
        chunk = epochs.get(epoch)
        if chunk is None:
            chunk = epochs[epoch] = []
        chunk.append(event)
    return [TimestampedValue((epoch, chunk), min(e["ts"] for e in chunk) / 1000.0) for epoch, chunk in epochs.items()]


class _ShardedDedupeFn(beam.DoFn):
    """The local stream's dedupe state: per 10-second epoch of event time, a bag of the
    identities seen, read into a set once per key and bundle; only new ones are written.

    Why a bag and short epochs: the DirectRunner re-encodes a whole set state on every commit
    and decodes the whole state on the first read in a bundle, so with a set per minute a
    bundle's cost grew with the minute's ids (py-spy at 2,000 events/s: 20-35% of the stream's
    CPU in state reads and commits). A bag commits only what was added, and a 10-second
    epoch bounds what a bundle reads to ~80,000 ids at 8,000 events/s. Each bag entry is the
    identities one element added, as one JSON array: read back with one `orjson.loads` each,
    where an entry per identity cost a coder call and a generator step per id on every
    bundle's first read (py-spy at 8,000 events/s: ~8% of the stream's interpreter time).
    One timer per key: ~400 keys per hour of horizon, few enough for the runner's scan of
    every key's timers.
    """

    SEEN = BagStateSpec("seen", BytesCoder())
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def __init__(self, horizon_s: int):
        self._horizon_s = horizon_s
        self._dupes = counter("duplicates")

    def start_bundle(self):
        self._seen: dict = {}  # key -> set of identities (the bag, read once in this bundle)

    def process(self, item, seen=beam.DoFn.StateParam(SEEN), expiry=beam.DoFn.TimerParam(EXPIRY)):
        key, events = item
        ids = self._seen.get(key)
        if ids is None:
            ids = self._seen[key] = set()
            for entry in seen.read():
                ids.update(orjson.loads(entry))
            if not ids:  # first identity of this key: arm its one timer
                expiry.set((key + 1) * SHARD_EPOCH_S + self._horizon_s)
        kept, added = [], []
        for event in events:
            event_id = identity(event)
            if event_id in ids:
                self._dupes.inc()
                yield beam.pvalue.TaggedOutput("duplicates", event)
                continue
            ids.add(event_id)
            added.append(event_id)
            kept.append(event)
        if added:
            seen.add(orjson.dumps(added))
        if kept:
            yield kept

    @on_timer(EXPIRY)
    def expire(self, key=beam.DoFn.KeyParam, seen=beam.DoFn.StateParam(SEEN)):
        seen.clear()
        self._seen.pop(key, None)


class Deduped(NamedTuple):
    """DedupeEvents' outputs: batches of the copies that go on; every other copy, singly."""

    events: beam.PCollection
    duplicates: beam.PCollection


class DedupeEvents(beam.PTransform):
    """Takes `PCollection[list[Event]]` (transforms.batches); produces `.events` (batches of
    one copy per (site, event_id), each batch stamped with its earliest event time) and
    `.duplicates` (each extra copy as a single `Event`, for the ledger).

    Args:
      horizon_s: streaming only: how long (event time) an event_id is remembered.
      keying: streaming only: "event_id" (Dataflow) or "sharded" (the local DirectRunner).
    """

    def __init__(self, horizon_s: int = DEFAULT_HORIZON_S, keying: str = "event_id"):
        super().__init__()
        if keying not in ("event_id", "sharded"):
            raise ValueError("keying must be 'event_id' or 'sharded'")
        self._horizon_s, self._keying = horizon_s, keying

    def expand(self, batches):
        if not batches.is_bounded and self._keying == "sharded":
            keyed = batches | "KeyByEpoch" >> beam.FlatMap(_by_epoch).with_output_types(tuple[int, list])
            out = keyed | "FirstSeenSharded" >> beam.ParDo(_ShardedDedupeFn(self._horizon_s)).with_outputs(
                "duplicates", main="events"
            )
            return Deduped(out.events, out.duplicates)
        if batches.is_bounded:
            out = (
                batches
                | "ByPartition" >> beam.FlatMap(_by_partition).with_output_types(tuple[int, bytes])
                | "Copies" >> beam.GroupByKey()
                | "Emit" >> beam.ParDo(_EmitFirstCopies()).with_outputs("duplicates", main="events")
            )
            return Deduped(out.events, out.duplicates)
        # Dataflow keeps a key's state cheaply: one key per identity, then batches again.
        keyed = batches | "KeyByEventId" >> beam.FlatMap(_per_event).with_output_types(tuple[str, dict])
        first = keyed | "FirstSeen" >> beam.ParDo(_StatefulDedupeFn(self._horizon_s)).with_outputs(
            "duplicates", main="events"
        )
        return Deduped(first.events | "Rebatch" >> ToBatches(), first.duplicates)


def _per_event(events: list) -> list:
    return [_key_by_identity(e) for e in events]
