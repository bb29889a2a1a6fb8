"""Aggregation of enriched events into metric rows, driven by the registry.

Shape, chosen for the Python runners: the 5-minute bucket is part of the grouping key, the
key is (site, url, bucket) with every row of that URL and bucket (its URL row and its
breakdown rows) combined inside one accumulator, and the aggregation is one `CombinePerKey`
(combiner lifting pre-aggregates inside bundles).
Measured on this machine, `FixedWindows` + `CombinePerKey` is ~10x slower on the Python
DirectRunner than a key that carries the bucket. Streaming passes its windowing and
triggers in through `windowing`; the keys and the CombineFn are the same in both modes.
Daily rows are a roll-up of the 5-minute accumulators (sketches merge exactly), not a
second pass over the events.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import apache_beam as beam
from zetasketch_py import HyperLogLogPlusPlus

from transforms.counting import counter
from transforms.metrics import DIMENSIONS, METRICS, NONE_VALUE, Dimension, Metric
from transforms.records import Event
from transforms.sketches import new_sketch
from transforms.timeutil import bucket_5m, day_str

URL_LEVEL = ""  # the `dimension` of per-URL (not breakdown) keys
Key = tuple  # (site, url, bucket): the grouping key; rows within a group are (dimension, value)


class Accumulator:
    """Running sums and HLL++ sketches of one row. Pickles its sketches as bytes."""

    __slots__ = ("sums", "sketches")

    def __init__(self, sums: list[int], sketches: list[Any]):
        self.sums = sums
        self.sketches = sketches

    def __getstate__(self):
        return self.sums, [s.to_bytes() if s is not None else None for s in self.sketches]

    def __setstate__(self, state):
        self.sums, raw = state
        self.sketches = [HyperLogLogPlusPlus.from_bytes(b) if b is not None else None for b in raw]


def _split(metrics: tuple[Metric, ...]) -> tuple[list[Metric], list[Metric]]:
    return [m for m in metrics if m.kind == "sum"], [m for m in metrics if m.kind == "distinct"]


class MetricsCombineFn(beam.CombineFn):
    """Combines contributions `(sums, keys)` into an `Accumulator`; merges accumulators too.

    Used row by row inside `GroupCombineFn`, which does the grouping and the roll-ups.
    """

    def __init__(self, metrics: tuple[Metric, ...] = METRICS):
        self._sum_metrics, self._distinct_metrics = _split(metrics)

    def create_accumulator(self) -> Accumulator:
        return Accumulator([0] * len(self._sum_metrics), [None] * len(self._distinct_metrics))

    def add_input(self, acc: Accumulator, element) -> Accumulator:
        sums, keys = element
        acc_sums = acc.sums
        for i, v in enumerate(sums):
            acc_sums[i] += v
        for i, key in enumerate(keys):
            if key is not None:
                sketch = acc.sketches[i]
                if sketch is None:
                    sketch = acc.sketches[i] = new_sketch()
                sketch.add(key)
        return acc

    def merge_accumulators(self, accumulators: Iterable[Accumulator]) -> Accumulator:
        it = iter(accumulators)
        out = next(it)
        for acc in it:
            out.sums = [a + b for a, b in zip(out.sums, acc.sums, strict=False)]
            for i, sketch in enumerate(acc.sketches):
                if sketch is None:
                    continue
                if out.sketches[i] is None:
                    out.sketches[i] = HyperLogLogPlusPlus.from_bytes(sketch.to_bytes())
                else:
                    out.sketches[i].merge(sketch.to_bytes())
        return out

    def extract_output(self, acc: Accumulator) -> Accumulator:
        return acc


def contribution(event: Event, metrics: tuple[Metric, ...] = METRICS) -> tuple | None:
    """What one event adds to a row: (sums, distinct keys); None when it adds nothing."""
    sum_metrics, distinct_metrics = _split(metrics)
    sums = tuple(int(m.value(event) or 0) for m in sum_metrics)
    keys = tuple(m.value(event) for m in distinct_metrics)
    if not any(sums) and all(k is None for k in keys):
        return None
    return sums, keys


class GroupCombineFn(beam.CombineFn):
    """Combines everything one (site, url, bucket) group gets into `{(dimension, value):
    Accumulator}`: its URL row under `(URL_LEVEL, URL_LEVEL)` and one entry per breakdown row.

    Inputs are an event's `(contribution, row keys)` (from `keyed_contributions`) or whole
    group accumulators (pre-combined in a bundle, or 5-minute groups rolled up into days).
    Accumulators taken as inputs are copied, never aliased: the same 5-minute accumulator
    also feeds the 5-minute rows.
    """

    def __init__(self, metrics: tuple[Metric, ...] = METRICS):
        self._rows = MetricsCombineFn(metrics)

    def create_accumulator(self) -> dict:
        return {}

    def add_input(self, acc: dict, element) -> dict:
        if isinstance(element, dict):
            return self.merge_accumulators([acc, element])
        contrib, row_keys = element
        rows = self._rows
        for row_key in row_keys:
            row = acc.get(row_key)
            if row is None:
                row = acc[row_key] = rows.create_accumulator()
            rows.add_input(row, contrib)
        return acc

    def merge_accumulators(self, accumulators: Iterable[dict]) -> dict:
        it = iter(accumulators)
        out = next(it)
        rows = self._rows
        for acc in it:
            for row_key, row in acc.items():
                mine = out.get(row_key)
                out[row_key] = rows.merge_accumulators([mine if mine is not None else rows.create_accumulator(), row])
        return out

    def extract_output(self, acc: dict) -> dict:
        return acc


def keyed_contributions(
    event: Event, metrics: tuple[Metric, ...] = METRICS, dimensions: tuple[Dimension, ...] = DIMENSIONS
) -> list[tuple[Key, tuple]]:
    """Event -> [((site, url, bucket), (contribution, row keys))]: one element per event, whose
    row keys are its URL row and one breakdown row per dimension. Grouping by URL and bucket
    rather than by row is ~12x fewer keys through the runner's grouping (profiled: the
    per-key machinery, not the arithmetic, was the cost)."""
    contrib = contribution(event, metrics)
    if contrib is None:
        return []
    row_keys = [(URL_LEVEL, URL_LEVEL)]
    for dim in dimensions:
        value = dim.value(event)
        row_keys.append((dim.name, NONE_VALUE if value in (None, "") else str(value)))
    return [((event["site"], event["url"], bucket_5m(event["ts"])), (contrib, tuple(row_keys)))]


class PreCombineInBundle(beam.DoFn):
    """Streaming: (key, (contribution, row keys)) -> (key, group accumulator), one per key and
    window per bundle.

    What combiner lifting does in batch, done by hand because the streaming DirectRunner does
    not lift: py-spy showed its per-element trigger and state machinery in the windowed
    GroupByKey taking most of the local stream's CPU, ~12 contributions per event. Each
    output carries the earliest timestamp of what it combines (so it holds the watermark no
    later than its inputs did) in the window they were in; `GroupCombineFn` takes group
    accumulators as inputs, so the grouping after it is unchanged.
    """

    def __init__(self, combine: GroupCombineFn):
        self._combine = combine

    def start_bundle(self):
        self._slots: dict = {}

    def process(self, item, window=beam.DoFn.WindowParam, timestamp=beam.DoFn.TimestampParam):
        key, value = item
        slot = self._slots.get((key, window))
        if slot is None:
            slot = self._slots[(key, window)] = [self._combine.create_accumulator(), timestamp]
        elif timestamp < slot[1]:
            slot[1] = timestamp
        slot[0] = self._combine.add_input(slot[0], value)

    def finish_bundle(self):
        from apache_beam.utils.windowed_value import WindowedValue

        for (key, window), (acc, timestamp) in self._slots.items():
            yield WindowedValue((key, acc), timestamp, [window])
        self._slots = {}


def to_day(item: tuple[Key, dict]) -> tuple[Key, dict]:
    (site, url, bucket), acc = item
    return (site, url, day_str(bucket)), acc


class FormatRows(beam.DoFn):
    """((site, url, bucket), group accumulator) -> metrics-table row dicts, tagged "url" or
    "breakdown"."""

    def __init__(self, grain: str, metrics: tuple[Metric, ...] = METRICS):
        self._grain = grain
        self._sum_metrics, self._distinct_metrics = _split(metrics)

    def process(self, item):
        (site, url, bucket), rows = item
        bucket_column = "bucket_start" if self._grain == "5m" else "bucket_date"
        for (dim, value), acc in rows.items():
            row: dict[str, Any] = {"site": site, "url": url, bucket_column: bucket}
            for m, total in zip(self._sum_metrics, acc.sums, strict=False):
                row[m.name] = total
            for m, sketch in zip(self._distinct_metrics, acc.sketches, strict=False):
                row[m.name] = int(sketch.result()) if sketch is not None else 0
                if m.sketch_column:
                    row[m.sketch_column] = sketch.to_bytes() if sketch is not None else None
            if dim == URL_LEVEL:
                yield beam.pvalue.TaggedOutput("url", row)
            else:
                row["dimension"], row["value"] = dim, value
                yield beam.pvalue.TaggedOutput("breakdown", row)


class AggregateMetrics(beam.PTransform):
    """Takes `PCollection[Event]` (enriched, de-duplicated), produces metric rows.

    Returns a dict of `PCollection[dict]` keyed by table name: url_metrics_5m,
    breakdown_metrics_5m, and with `daily=True` url_metrics_1d, breakdown_metrics_1d.

    Args:
      windowing: a PTransform applied to the keyed contributions before grouping
        (streaming: 5-minute windows with triggers); None keeps the global window (batch).
      daily: also roll the 5-minute accumulators up into daily rows.
    """

    def __init__(self, metrics=METRICS, dimensions=DIMENSIONS, windowing=None, daily=True):
        super().__init__()
        self._metrics, self._dimensions = metrics, dimensions
        self._windowing, self._daily = windowing, daily

    def expand(self, events):
        metrics, dimensions = self._metrics, self._dimensions
        aggregated = counter("events_aggregated")

        def keyed(event):
            aggregated.inc()
            return keyed_contributions(event, metrics, dimensions)

        contribs = events | "KeyByBucket" >> beam.FlatMap(keyed)
        combine = GroupCombineFn(metrics)
        if self._windowing is not None:
            contribs = (
                contribs | "Window5m" >> self._windowing | "PreCombine5m" >> beam.ParDo(PreCombineInBundle(combine))
            )
        acc_5m = contribs | "Combine5m" >> beam.CombinePerKey(combine)
        out = self._format(acc_5m, "5m")
        if self._daily:
            acc_1d = acc_5m | "KeyByDay" >> beam.Map(to_day) | "RollUp1d" >> beam.CombinePerKey(combine)
            out.update(self._format(acc_1d, "1d"))
        return out

    def _format(self, accs, grain: str) -> dict:
        rows = accs | f"Format{grain}" >> beam.ParDo(FormatRows(grain, self._metrics)).with_outputs("url", "breakdown")
        return {f"url_metrics_{grain}": rows.url, f"breakdown_metrics_{grain}": rows.breakdown}
