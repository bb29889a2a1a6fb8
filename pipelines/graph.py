"""The one pipeline graph of weir, shared by batch rebuilds and streaming.

    source -> ToBatches -> ParseEvents -> [scope filter] -> DedupeEvents -> Enrich -> AggregateMetrics
                                \\-> dead letters                                  \\-> events rows
    every table's batches of rows -> sink.write(table)

Between the source and the aggregation, elements are batches of records or events
(transforms.batches): the runners' cost per element, not the work, was half of a rebuild.
Dead letters and duplicates stay single records (they are few). Every table's
rows reach its sink in batches too (a batch's event rows, one dead letter's or ledger day's
row as lists of row dicts; a group's metric rows as a `transforms.rows.RowBatch` of columns,
which iterates as row dicts), each in the window and pane of what it was made from;
`table_rows` gives single rows (tests, custom sinks).

`build` takes the source and the sink as arguments and returns the PCollections it made,
so tests inject `beam.Create`/`TestStream` sources and assert on the outputs. The modes
differ only in their source, sink and `GraphConfig` (windowing for streaming).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import apache_beam as beam

from weir import schemas
from weir.transforms.aggregate import AggregateMetrics
from weir.transforms.batches import ToBatches, Unbatch
from weir.transforms.counting import counter
from weir.transforms.dedupe import DedupeEvents
from weir.transforms.defaults import DEFAULT_ALLOWED_LATENESS_S, DEFAULT_EARLY_S, DEFAULT_HORIZON_S
from weir.transforms.enrich import Enrich
from weir.transforms.ledger import Ledger
from weir.transforms.metrics import DIMENSIONS, METRICS
from weir.transforms.parse import ParseEvents
from weir.transforms.rows import dead_letter_row, event_row
from weir.transforms.sitetime import DAY_LATENESS_S, SiteZones
from weir.transforms.windowing import WatermarkLag, dedupe_horizon_floor_s, live_buckets

TABLES = tuple(schemas.tables())  # the graph makes every table of the catalogue (schemas/tables.json)


class Sink(Protocol):
    """Where table rows go: `write(table)` returns a PTransform over a PCollection of batches
    of the table's rows (each a list of row dicts or a `RowBatch`: iterate it for the dicts)."""

    def write(self, table: str) -> beam.PTransform: ...


@dataclass(frozen=True)
class GraphConfig:
    """What differs between runs of the graph; validated before the graph is built.

    Attributes:
      days: only events of these days (and dead letters received on them) are kept, each
        site's day in its own zone (`zones`); the rest are counted as out of scope. Empty
        keeps everything.
      zones: each site's calendar (transforms.sitetime): daily rows, ledger days and `days`.
      scope_zone: with `days`, only the sites whose calendar is in this zone are kept (a
        close of the day where that zone's day has ended); None keeps every site.
      day_lateness_s: batch: an event received more than this after its site's day ended is
        a `too_late` dead letter of its receive day (transforms.parse).
      fallback_received_ms: the receive time given to dead letters that carry no time at all.
      dedupe_horizon_s: event-time horizon within which a repeated event is a duplicate; in
        streaming at least `transforms.windowing.dedupe_horizon_floor_s(allowed_lateness_s)`
        (see `live_dedupe_horizon_s`).
      streaming: live mode: events too late for their bucket become dead letters, the
        5-minute aggregation fires early/on-time/late panes (transforms.windowing), and daily
        tables are left to the rebuild.
      allowed_lateness_s, early_s: streaming lateness and early-firing period.
      dedupe_keying: how streaming dedupe keys its state (transforms.dedupe): "event_id"
        (Dataflow) or "sharded" (the local DirectRunner).
    """

    days: frozenset[str] = frozenset()
    zones: SiteZones = field(default_factory=SiteZones)
    scope_zone: str | None = None
    day_lateness_s: int = DAY_LATENESS_S
    fallback_received_ms: int = 0
    dedupe_horizon_s: int = DEFAULT_HORIZON_S
    streaming: bool = False
    allowed_lateness_s: int = DEFAULT_ALLOWED_LATENESS_S
    early_s: int = DEFAULT_EARLY_S
    dedupe_keying: str = "event_id"
    metrics: tuple = field(default=METRICS)
    dimensions: tuple = field(default=DIMENSIONS)

    @property
    def live_dedupe_horizon_s(self) -> int:
        """The horizon the stream uses: never shorter than the span the too-late rule accepts,
        so no copy it accepts can be counted twice."""
        return max(self.dedupe_horizon_s, dedupe_horizon_floor_s(self.allowed_lateness_s))

    def __post_init__(self):
        if self.dedupe_horizon_s <= 0:
            raise ValueError("dedupe_horizon_s must be positive")
        if self.allowed_lateness_s < 0 or self.early_s <= 0:
            raise ValueError("allowed_lateness_s must be >= 0 and early_s > 0")
        for day in self.days:
            if len(day) != 10:
                raise ValueError(f"days must be YYYY-MM-DD, got {day!r}")


class _InScope(beam.DoFn):
    """Keeps rows whose site's day is in scope (and, with `zone`, whose site's calendar is in
    that zone); counts the rest (never a silent drop). With `batched`, elements are batches
    and the kept rows of each go on as one (or none)."""

    def __init__(
        self,
        days: frozenset[str],
        time_field: str,
        what: str,
        batched: bool = False,
        zones: SiteZones | None = None,
        zone: str | None = None,
    ):
        self._days, self._field, self._batched = days, time_field, batched
        self._zones, self._zone = zones or SiteZones(), zone
        self._skipped = counter(f"{what}_out_of_scope")

    def _holds(self, item) -> bool:
        site, zones = item.get("site"), self._zones
        if self._zone is not None and zones.zone_of(site) != self._zone:
            return False
        return zones.day_of(site, item[self._field]) in self._days

    def process(self, element):
        if not self._batched:
            if self._holds(element):
                yield element
            else:
                self._skipped.inc()
            return
        kept = [item for item in element if self._holds(item)]
        if len(kept) < len(element):
            self._skipped.inc(len(element) - len(kept))
        if kept:
            yield kept


def _event_rows(events: list) -> list[dict]:
    return [event_row(e) for e in events]


def _as_batch(row: dict) -> list[dict]:
    return [row]


def _dead_letter_rows(dead) -> list[dict]:
    return [dead_letter_row(dead)]


def table_rows(out: dict) -> dict:
    """`build`'s outputs with every table's batches of rows made single rows
    (`PCollection[dict]`); the other outputs as they are."""
    return {name: out[name] | f"Rows_{name}" >> Unbatch() if name in TABLES else out[name] for name in out}


def build(root, source: beam.PTransform, sink: Sink | None, config: GraphConfig = GraphConfig()) -> dict:
    """Applies the whole graph to `root` (a Pipeline).

    Args:
      source: PTransform producing `PCollection[RawRecord]` (archive files, Pub/Sub, Create),
        which the graph batches; or, with a true `yields_batches` attribute, producing
        `PCollection[list[RawRecord]]` itself (the local stream's reader).
      sink: receives every table's rows; None writes nothing (tests).
      config: see `GraphConfig`.

    Returns:
      {table name: PCollection[list[row dict]]} (batches; `table_rows` unbatches them) for
      every table in TABLES the config produces, plus
      "enriched" (PCollection[list[Event]], batches) and "duplicates" (PCollection[Event]).
    """
    raw = root | "Read" >> source
    if not getattr(source, "yields_batches", False):
        raw = raw | "Batches" >> ToBatches()
    too_late_s = config.allowed_lateness_s if config.streaming else None
    day_zones = None if config.streaming else config.zones
    parsed = raw | "Parse" >> ParseEvents(
        config.fallback_received_ms,
        too_late_after_s=too_late_s,
        day_zones=day_zones,
        day_lateness_s=config.day_lateness_s,
    )
    events, dead = parsed.events, parsed.dead
    if config.days:
        zones, zone = config.zones, config.scope_zone
        events = events | "EventsInScope" >> beam.ParDo(
            _InScope(config.days, "ts", "events", batched=True, zones=zones, zone=zone)
        )
        dead = dead | "DeadInScope" >> beam.ParDo(
            _InScope(config.days, "received_at", "dead_letters", zones=zones, zone=zone)
        )
    received_events, received_dead = events, dead
    windowing = None
    if config.streaming:
        windowing = live_buckets(config.allowed_lateness_s, config.early_s)
    horizon_s = config.live_dedupe_horizon_s if config.streaming else config.dedupe_horizon_s
    deduped = events | "Dedupe" >> DedupeEvents(horizon_s, config.dedupe_keying)
    enrichment = deduped.events | "Enrich" >> Enrich()
    enriched = enrichment.events
    aggregate = AggregateMetrics(
        config.metrics, config.dimensions, windowing, daily=not config.streaming, zones=config.zones
    )
    out = dict(enriched | "Aggregate" >> aggregate)
    if config.streaming:
        out["url_metrics_5m"] | "WatermarkLag" >> WatermarkLag()
    out["events"] = enriched | "EventRows" >> beam.Map(_event_rows)
    all_dead = (dead, enrichment.dead) | "AllDeadLetters" >> beam.Flatten()
    out["dead_letters"] = all_dead | "DeadLetterRows" >> beam.Map(_dead_letter_rows)
    if not config.streaming:  # the stream leaves the ledger to the rebuild of its day
        out["ledger"] = (
            {
                "received_events": received_events,
                "received_dead": received_dead,
                "enriched": enriched,
                "dead": dead,
                "enrich_failed": enrichment.dead,
                "duplicates": deduped.duplicates,
            }
            | "Ledger" >> Ledger(config.zones)
            | "LedgerBatches" >> beam.Map(_as_batch)
        )
    if sink is not None:
        for table in TABLES:
            if table in out:
                out[table] | f"Write_{table}" >> sink.write(table)
    out["enriched"] = enriched
    out["duplicates"] = deduped.duplicates
    return out
