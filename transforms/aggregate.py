"""Aggregation of enriched events into metric rows, driven by the registry.

Shape, chosen for the Python runners:
- `CombineBatch` turns a batch of events into one element per (site, url, bucket) key it
  touches, whose value is the list of its events' contributions: what each adds (sums and
  distinct keys) and its dimension values. Nothing is expanded into rows yet.
- A `GroupByKey` (in both modes; streaming's windowed, after `PreCombineInBundle`) brings a
  key's lists together and `ExpandContributions` expands them once into the key's group
  accumulator: every row of that URL and bucket (its URL row and its breakdown rows) in one
  dict. Before, each batch and bundle expanded its events into rows and every merge copied
  rows and united sets: profiled at 100,000 events, 1.8 M row merges and 7 M set unions
  were half of a rebuild.
- In batch, the grouping is per URL and day (`ExpandDay`): each bucket's rows are expanded
  and the day's rows are the buckets' merged, so one grouping makes both grains and the
  runner never holds a table of every bucket's decoded rows. Streaming groups per bucket,
  in its 5-minute windows, and leaves the days to the rebuild.
Measured on this machine, `FixedWindows` + `CombinePerKey` is ~10x slower on the Python
DirectRunner than a key that carries the bucket. Streaming passes its windowing and
triggers in through `windowing`; the keys and the expansion into rows are the same in both
modes.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.transforms.window import TimestampedValue

from weir.transforms.counting import counter
from weir.transforms.metrics import DIMENSIONS, MAX_VALUES, METRICS, NONE_VALUE, Dimension, Metric
from weir.transforms.records import Event
from weir.transforms.rows import RowBatch
from weir.transforms.sitetime import UTC_ONLY, SiteZones
from weir.transforms.sketches import EXACT_LIMIT, Sketch, add_key, finished, union
from weir.transforms.timeutil import bucket_5m

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

    Used by streaming's running totals (`RunningTotals`), whose inputs are the group
    accumulators of panes. Accumulators taken as inputs are copied, never aliased.
    """

    def __init__(self, metrics: tuple[Metric, ...] = METRICS):
        self._rows = MetricsCombineFn(metrics)

    def create_accumulator(self) -> dict:
        return {}

    def add_input(self, acc: dict, element: dict) -> dict:
        return self.merge_accumulators([acc, element])

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

    def values(self, event: Event) -> tuple:
        """The event's value of every dimension, in registry order (a list dimension's as a
        tuple of its distinct values)."""
        return tuple([self._multi(value_of(event)) if multi else value_of(event) for _, value_of, multi in self._dims])

    def row_keys(self, values: tuple) -> tuple:
        """The rows an event with these dimension values adds to: its URL row and one
        breakdown row per dimension value, as (dimension, value) pairs."""
        row_keys = self._row_keys.get(values)
        if row_keys is None:  # events repeat a few combinations of dimension values
            if len(self._row_keys) >= ROW_KEYS_CACHED:
                self._row_keys.clear()
            row_keys = [(URL_LEVEL, URL_LEVEL)]
            for (name, _, multi), value in zip(self._dims, values, strict=True):
                for one in (value or (None,)) if multi else (value,):
                    row_keys.append((name, NONE_VALUE if one is None or one == "" else str(one)))
            row_keys = self._row_keys[values] = tuple(row_keys)
        return row_keys

    def __call__(self, event: Event) -> list[tuple[Key, tuple]]:
        """[((site, url, bucket), (contribution, dimension values))], or [] for an event that
        adds nothing."""
        contrib = self.contribution(event)
        if contrib is None:
            return []
        return [((event["site"], event["url"], bucket_5m(event["ts"])), (contrib, self.values(event)))]


# Contributions cross groupings pickled, one bytes value per key and batch: the FnApiRunner's
# grouping keeps every value decoded, and decoded contributions were ~1 KB per event there,
# pickled ~0.2 KB (pickle shares the repeated dimension strings). A part is a list of them.
PICKLE_PROTOCOL = 5


def _contributions(part: list[bytes]):
    for blob in part:
        yield from pickle.loads(blob)


class ExpandContributions:
    """(key, the contribution lists a key got) -> (key, its group accumulator) (see
    `GroupCombineFn`): every row of that URL and bucket, each row made once, here.

    Contributions travel as lists (a batch's, then a bundle's), grouped by key: adding and
    merging partial results are concatenations, and rows are expanded only after the
    grouping, with plain loops (no call per row and metric). A row's distinct keys past
    `sketches.EXACT_LIMIT` become a sketch here, as `sketches.union` makes them in merges.
    """

    def __init__(self, metrics: tuple[Metric, ...] = METRICS, dimensions: tuple[Dimension, ...] = DIMENSIONS):
        self._metrics, self._dimensions = metrics, dimensions
        self._keys = None  # made on first use, in the worker (its caches are per process)

    def __getstate__(self):
        return {"_metrics": self._metrics, "_dimensions": self._dimensions, "_keys": None}

    def rows(self, parts: Iterable[list[bytes]]) -> dict:
        """The group accumulator of every contribution in `parts` (lists of pickled lists)."""
        self._ready()
        rows: dict = {}
        template, row_keys_of = self._template, self._keys.row_keys
        for part in parts:
            for (sums, keys), values in _contributions(part):
                for row_key in row_keys_of(values):
                    row = rows.get(row_key)
                    if row is None:
                        row = rows[row_key] = template.copy()
                    for i, value in sums:
                        row[i] += value
                    for i, key in keys:
                        held = row[i]
                        if held is None:
                            row[i] = {key}
                        else:
                            held.add(key)
        return self._sketched_past_limit(rows)

    def _ready(self) -> None:
        if self._keys is None:
            self._keys = KeyContributions(self._metrics, self._dimensions)
            self._template = MetricsCombineFn(self._metrics).create_accumulator()
            self._distinct = range(len(_split(self._metrics)[0]), len(self._template))

    def merged(self, groups: list[dict]) -> dict:
        """One group accumulator of several (a day's buckets'), which are only read. Sets are
        united and become sketches past the limit only at the end, as `rows` does, so a day's
        row is the same as if it had been expanded from all the day's contributions."""
        self._ready()
        first = len(self._template) - len(self._distinct)
        out: dict = {}
        for rows in groups:
            for row_key, row in rows.items():
                mine = out.get(row_key)
                if mine is None:
                    out[row_key] = [v if i < first or v is None else union(None, v) for i, v in enumerate(row)]
                    continue
                for i in range(first):
                    mine[i] += row[i]
                for i in self._distinct:
                    theirs = row[i]
                    if theirs is None:
                        continue
                    held = mine[i]
                    if type(held) is set and type(theirs) is set:
                        held |= theirs  # no limit yet: see below
                    else:
                        mine[i] = union(held, theirs)
        return self._sketched_past_limit(out)

    def _sketched_past_limit(self, rows: dict) -> dict:
        """`rows` with every set of distinct keys past `sketches.EXACT_LIMIT` made a sketch."""
        for row in rows.values():
            for i in self._distinct:
                held = row[i]
                if type(held) is set and len(held) > EXACT_LIMIT:
                    row[i] = Sketch(finished(held))
        return rows

    def __call__(self, item: tuple[Key, Iterable[list]]) -> tuple[Key, dict]:
        key, parts = item
        return key, self.rows(parts)


class CombineBatch(beam.DoFn):
    """A batch of events -> one (key, [its contributions, pickled]) per (site, url, bucket) it
    touches, stamped with the earliest event of that key (so it holds the watermark no later
    than its events did, and falls in the window of its key's bucket).

    The batch's partial aggregation, done here rather than by the runner: one element per key
    and batch instead of one per event (the runner's per-element cost was half of
    a rebuild). `ExpandContributions` makes rows of them after the grouping."""

    def __init__(self, metrics: tuple[Metric, ...] = METRICS, dimensions: tuple[Dimension, ...] = DIMENSIONS):
        self._metrics, self._dimensions = metrics, dimensions
        self._aggregated = counter("events_aggregated")

    def setup(self):
        self._contributions = KeyContributions(self._metrics, self._dimensions)

    def process(self, events):
        self._aggregated.inc(len(events))
        slots: dict = {}
        for event in events:
            for key, value in self._contributions(event):
                slot = slots.get(key)
                if slot is None:
                    slots[key] = [[value], event["ts"]]
                else:
                    slot[0].append(value)
                    if event["ts"] < slot[1]:
                        slot[1] = event["ts"]
        for key, (contributions, ts) in slots.items():
            yield TimestampedValue((key, [pickle.dumps(contributions, PICKLE_PROTOCOL)]), ts / 1000.0)


class PreCombineInBundle(beam.DoFn):
    """Streaming: (key, contributions) -> (key, contributions), one per key and window per
    bundle (applied before the 5-minute windowing: the key's bucket is its window).

    What combiner lifting does in batch, done by hand because the streaming DirectRunner does
    not lift: py-spy showed its per-element trigger and state machinery in the windowed
    GroupByKey taking most of the local stream's CPU. A bundle holds several batches
    (`CombineBatch` combines within one). Each output carries the earliest timestamp of what
    it combines in the window they were in.
    """

    def start_bundle(self):
        self._slots: dict = {}

    def process(self, item, window=beam.DoFn.WindowParam, timestamp=beam.DoFn.TimestampParam):
        key, contributions = item
        slot = self._slots.get((key, window))
        if slot is None:
            self._slots[(key, window)] = [list(contributions), timestamp]  # inputs are never modified
            return
        slot[0].extend(contributions)
        if timestamp < slot[1]:
            slot[1] = timestamp

    def finish_bundle(self):
        from apache_beam.utils.windowed_value import WindowedValue

        for (key, window), (contributions, timestamp) in self._slots.items():
            yield WindowedValue((key, contributions), timestamp, [window])
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


def by_day(item: tuple[Key, list], zones: SiteZones = UTC_ONLY) -> tuple[Key, tuple[int, list]]:
    """((site, url, bucket), contributions) -> ((site, url, day), (bucket, contributions)),
    `day` the site's local day (a UTC-aligned 5-minute bucket lies in one local day of every
    zone: transforms.sitetime)."""
    (site, url, bucket), contributions = item
    return (site, url, zones.day_of(site, bucket)), (bucket, contributions)


class ExpandDay(beam.DoFn):
    """Batch: ((site, url, day), its (bucket, contributions) parts) -> the group accumulator
    of each 5-minute bucket (tagged "5m") and, with `daily`, of the day (tagged "1d").

    One grouping per URL and day makes both grains: the day's rows are its buckets' rows
    merged (sketches merge exactly), and no second grouping holds every bucket's decoded rows
    (measured at 100,000 events: the roll-up's grouping of 5-minute accumulators was ~1 KB
    per event)."""

    def __init__(self, expand: ExpandContributions, daily: bool):
        self._expand, self._daily = expand, daily

    def process(self, item):
        (site, url, day), parts = item
        buckets: dict[int, list] = {}
        for bucket, contributions in parts:
            lists = buckets.get(bucket)
            if lists is None:
                buckets[bucket] = [contributions]
            else:
                lists.append(contributions)
        expand, day_rows = self._expand, []
        for bucket, lists in buckets.items():
            rows = expand.rows(lists)
            yield beam.pvalue.TaggedOutput("5m", ((site, url, bucket), rows))
            day_rows.append(rows)
        if self._daily:
            yield beam.pvalue.TaggedOutput("1d", ((site, url, day), expand.merged(day_rows)))


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
    """((site, url, bucket), group accumulator) -> the group's metrics-table rows, as one
    `RowBatch` tagged "url" (its URL row) and one tagged "breakdown" (its breakdown rows), in
    the input's window and pane.

    Batches, not single rows, because the sinks take batches of rows (pipelines.graph): at
    ~4.6 rows per event, one element per row through the formatting and the sink's steps was
    the runner's largest per-element cost left in a rebuild. Columns, not row
    dicts, because the staged sink writes Arrow columns: a dict per row, made here and taken
    apart there, was a measured share of a rebuild (docs/performance.md)."""

    def __init__(self, grain: str, metrics: tuple[Metric, ...] = METRICS):
        self._grain = grain
        sum_metrics, distinct_metrics = _split(metrics)
        self._sum_names = list(enumerate(m.name for m in sum_metrics))
        self._distinct = [(len(sum_metrics) + i, m.name, m.sketch_column) for i, m in enumerate(distinct_metrics)]

    def process(self, item):
        (site, url, bucket), rows = item
        # Rows of one group often hold the very same keys (the URL row, channel=website,
        # the only browser...): each distinct key set is sketched once per group.
        done: dict = {}
        url_accs, dims, values, breakdown_accs = [], [], [], []
        for (dim, value), acc in rows.items():
            if dim == URL_LEVEL:
                url_accs.append(acc)
            else:
                dims.append(dim)
                values.append(value)
                breakdown_accs.append(acc)
        if url_accs:
            yield beam.pvalue.TaggedOutput("url", self._batch(site, url, bucket, url_accs, done))
        if breakdown_accs:
            batch = self._batch(site, url, bucket, breakdown_accs, done)
            batch.columns["dimension"], batch.columns["value"] = dims, values
            yield beam.pvalue.TaggedOutput("breakdown", batch)

    def _batch(self, site: str, url: str, bucket, accs: list[list], done: dict) -> RowBatch:
        n = len(accs)
        bucket_column = "bucket_start" if self._grain == "5m" else "bucket_date"
        columns: dict[str, list] = {"site": [site] * n, "url": [url] * n, bucket_column: [bucket] * n}
        for i, name in self._sum_names:
            columns[name] = [acc[i] for acc in accs]
        for i, name, sketch_column in self._distinct:
            finished_ = [_finish(acc[i], done) for acc in accs]
            columns[name] = [estimate for estimate, _ in finished_]
            if sketch_column:
                columns[sketch_column] = [data for _, data in finished_]
        return RowBatch(columns, n)


class AggregateMetrics(beam.PTransform):
    """Takes `PCollection[list[Event]]` (enriched, de-duplicated; transforms.batches),
    produces metric rows in batches (lists of row dicts, one per group: see `FormatRows`).

    Returns a dict of `PCollection[list[dict]]` keyed by table name: url_metrics_5m,
    breakdown_metrics_5m, and with `daily=True` url_metrics_1d, breakdown_metrics_1d.

    Args:
      windowing: a PTransform applied to the bundle-combined groups before grouping
        (streaming: 5-minute windows with triggers); None keeps the global window (batch).
      daily: also make the daily rows (batch only: the stream leaves days to the rebuild).
      zones: each site's calendar: a daily row's `bucket_date` is the site's local day.
    """

    def __init__(self, metrics=METRICS, dimensions=DIMENSIONS, windowing=None, daily=True, zones=UTC_ONLY):
        super().__init__()
        if windowing is not None and daily:
            raise ValueError("daily rows are made in batch only (windowing=None)")
        self._metrics, self._dimensions = metrics, dimensions
        self._windowing, self._daily, self._zones = windowing, daily, zones

    def expand(self, events):
        metrics, dimensions = self._metrics, self._dimensions
        contribs = events | "CombineBatch" >> beam.ParDo(CombineBatch(metrics, dimensions))
        expand = ExpandContributions(metrics, dimensions)
        # GroupByKeys, not lifted CombinePerKeys: batches are already combined, and a lifted
        # combine's table held up to 100,000 keys' decoded partial results in memory.
        if self._windowing is None:
            accs = (
                contribs
                | "KeyByDay" >> beam.Map(by_day, zones=self._zones)
                | "GroupByDay" >> beam.GroupByKey()
                | "ExpandDay" >> beam.ParDo(ExpandDay(expand, self._daily)).with_outputs("5m", "1d")
            )
            out = self._format(accs["5m"], "5m")
            if self._daily:
                out.update(self._format(accs["1d"], "1d"))
            return out
        # Streaming. Pre-combined before windowing: the bucket is in the key, so the bundle's
        # groups are the windows' groups, and the WindowInto step then sees one element per
        # group and bundle instead of one per batch (a DirectRunner step costs per element).
        acc_5m = (
            contribs
            | "PreCombine5m" >> beam.ParDo(PreCombineInBundle())
            | "Window5m" >> self._windowing
            | "Group5m" >> beam.GroupByKey()
            | "Expand5m" >> beam.Map(expand)
            | "RunningTotals5m"
            >> beam.ParDo(RunningTotals(GroupCombineFn(metrics), self._windowing.windowing.allowed_lateness))
        )
        return self._format(acc_5m, "5m")

    def _format(self, accs, grain: str) -> dict:
        rows = accs | f"Format{grain}" >> beam.ParDo(FormatRows(grain, self._metrics)).with_outputs("url", "breakdown")
        return {f"url_metrics_{grain}": rows.url, f"breakdown_metrics_{grain}": rows.breakdown}
