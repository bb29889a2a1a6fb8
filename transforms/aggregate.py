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
from apache_beam.coders import PickleCoder
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer

from weir.transforms.counting import counter
from weir.transforms.metrics import DIMENSIONS, MAX_VALUES, METRICS, NONE_VALUE, Dimension, Metric
from weir.transforms.records import Event
from weir.transforms.sketches import add_key, finished, union
from weir.transforms.timeutil import bucket_5m, day_str

ROW_KEYS_CACHED = 50_000  # distinct combinations of dimension values remembered per worker
URL_LEVEL = ""  # the `dimension` of per-URL (not breakdown) keys
Key = tuple  # (site, url, bucket): the grouping key; rows within a group are (dimension, value)


def _split(metrics: tuple[Metric, ...]) -> tuple[list[Metric], list[Metric]]:
    return [m for m in metrics if m.kind == "sum"], [m for m in metrics if m.kind == "distinct"]


class MetricsCombineFn(beam.CombineFn):
    """Combines contributions into one row's accumulator; merges accumulators too.

    A row's accumulator is a plain list: the sums of the sum metrics, then one
    `transforms.sketches.Distinct` per distinct metric (registry order). Plain lists of ints
    and sets cross the runner as fast as anything Python pickles (profiled: per-row objects
    with their own pickling were a large part of the aggregation). Used row by row inside
    `GroupCombineFn`, which does the grouping and the roll-ups.
    """

    def __init__(self, metrics: tuple[Metric, ...] = METRICS):
        sum_metrics, distinct_metrics = _split(metrics)
        self._template = [0] * len(sum_metrics) + [None] * len(distinct_metrics)
        self._first_distinct = len(sum_metrics)

    def create_accumulator(self) -> list:
        return self._template.copy()

    def add_input(self, row: list, element) -> list:
        sums, keys = element
        for i, value in sums:
            row[i] += value
        for i, key in keys:
            row[i] = add_key(row[i], key)
        return row

    def merge_accumulators(self, accumulators: Iterable[list]) -> list:
        """Merges into the first accumulator; the others are only read."""
        it = iter(accumulators)
        out = next(it)
        first = self._first_distinct
        for row in it:
            for i in range(first):
                out[i] += row[i]
            for i in range(first, len(out)):
                out[i] = union(out[i], row[i])
        return out

    def extract_output(self, row: list) -> list:
        return row


def contribution(event: Event, metrics: tuple[Metric, ...] = METRICS) -> tuple | None:
    """What one event adds to a row (see `KeyContributions.contribution`)."""
    return KeyContributions(metrics, ()).contribution(event)


class GroupCombineFn(beam.CombineFn):
    """Combines everything one (site, url, bucket) group gets into `{(dimension, value):
    row accumulator}` (see `MetricsCombineFn`): its URL row under `(URL_LEVEL, URL_LEVEL)` and
    one entry per breakdown row.

    Inputs are an event's `(contribution, row keys)` (from `KeyContributions`) or whole
    group accumulators (pre-combined in a bundle, or 5-minute groups rolled up into days).
    Accumulators taken as inputs are copied, never aliased: the same 5-minute accumulator
    also feeds the 5-minute rows.
    """

    def __init__(self, metrics: tuple[Metric, ...] = METRICS):
        self._rows = MetricsCombineFn(metrics)

    def create_accumulator(self) -> dict:
        return {}

    def add_input(self, acc: dict, element) -> dict:
        if type(element) is dict:
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
        out = next(it, None)
        if out is None:  # an empty pane (discarding panes: an on-time firing with nothing new)
            return self.create_accumulator()
        rows = self._rows
        for acc in it:
            for row_key, row in acc.items():
                mine = out.get(row_key)
                if mine is None:
                    mine = out[row_key] = rows.create_accumulator()
                rows.merge_accumulators([mine, row])
        return out

    def extract_output(self, acc: dict) -> dict:
        return acc


class KeyContributions:
    """Event -> [((site, url, bucket), (contribution, row keys))]: one element per event, whose
    row keys are its URL row and one breakdown row per dimension. Grouping by URL and bucket
    rather than by row is ~12x fewer keys through the runner's grouping (profiled: the
    per-key machinery, not the arithmetic, was the cost). The registry is read once, here,
    not per event."""

    def __init__(self, metrics: tuple[Metric, ...] = METRICS, dimensions: tuple[Dimension, ...] = DIMENSIONS):
        sum_metrics, distinct_metrics = _split(metrics)
        self._sums = [(i, m.value) for i, m in enumerate(sum_metrics)]
        self._keys = [(len(sum_metrics) + i, m.value) for i, m in enumerate(distinct_metrics)]
        self._dims = [(d.name, d.value, d.multi) for d in dimensions]
        self._row_keys: dict[tuple, tuple] = {}
        self._dropped = counter("dimension_values_dropped")

    def contribution(self, event: Event) -> tuple | None:
        """What one event adds to a row, as positions in the row's accumulator: `(sums, keys)`,
        each a tuple of (index, value) for the metrics it touches only; None when it adds
        nothing. (A page view touches 1 of 5 sums; listing only those keeps the per-row work
        small.)"""
        sums = []
        for i, value_of in self._sums:
            value = value_of(event)
            if value:
                sums.append((i, int(value)))
        keys = []
        for i, key_of in self._keys:
            key = key_of(event)
            if key is not None:
                keys.append((i, key))
        if not sums and not keys:
            return None
        return tuple(sums), tuple(keys)

    def _multi(self, values) -> tuple:
        """A list dimension's distinct values, in order, at most MAX_VALUES (the rest counted)."""
        distinct = tuple(dict.fromkeys(v for v in values if v))
        if len(distinct) > MAX_VALUES:
            self._dropped.inc(len(distinct) - MAX_VALUES)
            distinct = distinct[:MAX_VALUES]
        return distinct

    def __call__(self, event: Event) -> list[tuple[Key, tuple]]:
        contrib = self.contribution(event)
        if contrib is None:
            return []
        values = tuple(
            [self._multi(value_of(event)) if multi else value_of(event) for _, value_of, multi in self._dims]
        )
        row_keys = self._row_keys.get(values)
        if row_keys is None:  # events repeat a few combinations of dimension values
            if len(self._row_keys) >= ROW_KEYS_CACHED:
                self._row_keys.clear()
            row_keys = [(URL_LEVEL, URL_LEVEL)]
            for (name, _, multi), value in zip(self._dims, values, strict=True):
                for one in (value or (None,)) if multi else (value,):
                    row_keys.append((name, NONE_VALUE if one is None or one == "" else str(one)))
            row_keys = self._row_keys[values] = tuple(row_keys)
        return [((event["site"], event["url"], bucket_5m(event["ts"])), (contrib, row_keys))]


class PreCombineInBundle(beam.DoFn):
    """Streaming: (key, (contribution, row keys)) -> (key, group accumulator), one per key and
    window per bundle (applied before the 5-minute windowing: the key's bucket is its window).

    What combiner lifting does in batch, done by hand because the streaming DirectRunner does
    not lift: py-spy showed its per-element trigger and state machinery in the windowed
    GroupByKey taking most of the local stream's CPU, ~12 contributions per event. Each
    output carries the earliest timestamp of what it combines (so it holds the watermark no
    later than its inputs did, and falls in the bucket of its key) in the window they were
    in; `GroupCombineFn` takes group accumulators as inputs, so the grouping after it is
    unchanged.
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


class RunningTotals(beam.DoFn):
    """Streaming: (key, group accumulator of what a pane adds) -> (key, group accumulator of
    everything the key's window has had so far), in the input's window and pane.

    The 5-minute panes discard (transforms.windowing): each firing groups only what came
    since the last one, and this step keeps the running total in state. With accumulating
    panes the DirectRunner's trigger driver kept every bundle's pre-combined group of the
    window and re-combined all of them at each firing, so a busy key's cost grew through
    its window and a stream at 2,000 events/s fell behind within a minute (measured: 300 s
    at 2,000 events/s, freshness grew from ~7 s to over 150 s). The state of a window is
    cleared when the window can receive nothing more (its end plus the allowed lateness).
    """

    TOTAL = ReadModifyWriteStateSpec("total", PickleCoder())
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def __init__(self, combine: GroupCombineFn, allowed_lateness):
        self._combine = combine
        self._lateness = allowed_lateness  # the windowing's (a Duration)

    def process(
        self,
        item,
        window=beam.DoFn.WindowParam,
        total=beam.DoFn.StateParam(TOTAL),
        expiry=beam.DoFn.TimerParam(EXPIRY),
    ):
        key, added = item
        acc = total.read()
        if acc is None:
            acc = self._combine.create_accumulator()
            expiry.set(window.max_timestamp() + self._lateness)
        acc = self._combine.merge_accumulators([acc, added])
        total.write(acc)
        yield key, acc

    @on_timer(EXPIRY)
    def expire(self, total=beam.DoFn.StateParam(TOTAL)):
        total.clear()


def to_day(item: tuple[Key, dict]) -> tuple[Key, dict]:
    (site, url, bucket), acc = item
    return (site, url, day_str(bucket)), acc


def _finish(slot, done: dict) -> tuple[int, bytes | None]:
    """(estimate, sketch bytes) of a row's distinct keys, memoised in `done` by key set."""
    if slot is None:
        return 0, None
    memo_key = frozenset(slot) if type(slot) is set else id(slot)
    out = done.get(memo_key)
    if out is None:
        sketch = finished(slot)
        out = done[memo_key] = (int(sketch.result()), sketch.to_bytes())
    return out


class FormatRows(beam.DoFn):
    """((site, url, bucket), group accumulator) -> metrics-table row dicts, tagged "url" or
    "breakdown"."""

    def __init__(self, grain: str, metrics: tuple[Metric, ...] = METRICS):
        self._grain = grain
        sum_metrics, distinct_metrics = _split(metrics)
        self._sum_names = [m.name for m in sum_metrics]
        self._distinct = [(len(sum_metrics) + i, m.name, m.sketch_column) for i, m in enumerate(distinct_metrics)]

    def process(self, item):
        (site, url, bucket), rows = item
        bucket_column = "bucket_start" if self._grain == "5m" else "bucket_date"
        # Rows of one group often hold the very same keys (the URL row, channel=website,
        # the only browser...): each distinct key set is sketched once per group.
        done: dict = {}
        for (dim, value), acc in rows.items():
            row: dict[str, Any] = {"site": site, "url": url, bucket_column: bucket}
            row.update(zip(self._sum_names, acc, strict=False))
            for i, name, sketch_column in self._distinct:
                estimate, data = _finish(acc[i], done)
                row[name] = estimate
                if sketch_column:
                    row[sketch_column] = data
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
      windowing: a PTransform applied to the bundle-combined groups before grouping
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

        key_contributions = KeyContributions(metrics, dimensions)

        def keyed(event):
            aggregated.inc()
            return key_contributions(event)

        contribs = events | "KeyByBucket" >> beam.FlatMap(keyed)
        combine = GroupCombineFn(metrics)
        if self._windowing is not None:
            # Pre-combined before windowing: the bucket is in the key, so the bundle's groups
            # are the windows' groups, and the WindowInto step then sees one element per group
            # and bundle instead of one per event (a DirectRunner step costs per element).
            contribs = (
                contribs | "PreCombine5m" >> beam.ParDo(PreCombineInBundle(combine)) | "Window5m" >> self._windowing
            )
        acc_5m = contribs | "Combine5m" >> beam.CombinePerKey(combine)
        if self._windowing is not None:
            acc_5m = acc_5m | "RunningTotals5m" >> beam.ParDo(
                RunningTotals(combine, self._windowing.windowing.allowed_lateness)
            )
        out = self._format(acc_5m, "5m")
        if self._daily:
            acc_1d = acc_5m | "KeyByDay" >> beam.Map(to_day) | "RollUp1d" >> beam.CombinePerKey(combine)
            out.update(self._format(acc_1d, "1d"))
        return out

    def _format(self, accs, grain: str) -> dict:
        rows = accs | f"Format{grain}" >> beam.ParDo(FormatRows(grain, self._metrics)).with_outputs("url", "breakdown")
        return {f"url_metrics_{grain}": rows.url, f"breakdown_metrics_{grain}": rows.breakdown}
