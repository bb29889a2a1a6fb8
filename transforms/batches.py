"""Batches as the graph's elements: lists of records or events, not one each.

The Python runners cost per element and step (~0.5 us for a fused Map, ~14 us for an event
through a GroupByKey, measured on the FnApiRunner), and with one element per event that
machinery, not the work, was half of a rebuild. So the graph's per-event steps (parse,
dedupe, enrichment, the bundle's partial aggregation) take and give lists. A batch is a
plain `list`; its timestamp is the earliest of its items' (event time where the items have
one), so in streaming a batch never holds the watermark later than its items would.

`ToBatches` makes them from single elements (a source's records; streaming dedupe's output
on Dataflow); `Unbatch` turns them back into single elements (tests, and sinks that take
rows). Which items share a batch depends on the runner's bundles: nothing downstream may
depend on it, and tests/test_batches.py checks that tables do not.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import MAX_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue

BATCH_SIZE = 2000  # items per batch: the runner's per-element cost is then ~0.1% of the work


def stamped(items: list, ts_ms: int) -> TimestampedValue:
    """`items` as one element at event time `ts_ms` (ms), the earliest of its items'."""
    return TimestampedValue(items, ts_ms / 1000.0)


def stamped_by_event_time(events: list) -> TimestampedValue:
    """A batch of events stamped with the earliest `ts` among them."""
    return stamped(events, min(e["ts"] for e in events))


class _Batch(beam.DoFn):
    """Single elements -> lists of at most `size`, per window, flushed at the end of each
    bundle (so a stream's batch waits for nothing but its bundle)."""

    def __init__(self, size: int):
        self._size = size

    def start_bundle(self):
        self._open: dict = {}  # window -> [items, earliest timestamp]

    def process(self, item, window=beam.DoFn.WindowParam, timestamp=beam.DoFn.TimestampParam):
        slot = self._open.get(window)
        if slot is None:
            slot = self._open[window] = [[], MAX_TIMESTAMP]
        slot[0].append(item)
        if timestamp < slot[1]:
            slot[1] = timestamp
        if len(slot[0]) >= self._size:
            del self._open[window]
            yield WindowedValue(slot[0], slot[1], [window])

    def finish_bundle(self):
        for window, (items, timestamp) in self._open.items():
            yield WindowedValue(items, timestamp, [window])
        self._open = {}


class ToBatches(beam.PTransform):
    """`PCollection[T]` -> `PCollection[list[T]]` (see the module docstring)."""

    def __init__(self, size: int | None = None):
        super().__init__()
        self._size = size

    def expand(self, items):
        return items | "Batch" >> beam.ParDo(_Batch(self._size or BATCH_SIZE))


class Unbatch(beam.PTransform):
    """`PCollection[list[T]]` -> `PCollection[T]`; each item keeps its batch's timestamp."""

    def expand(self, batches):
        return batches | "Unbatch" >> beam.FlatMap(_items)


def _items(batch: list) -> list:
    return batch
