"""The ledger: per site and day, what the pipeline received and where every record went.

    received = counted + bots + dead_letters + duplicates + too_late

`received` is tallied from the parser's output (every input record is an event or a dead
letter there), the other terms from the ends of the graph (after dedupe and enrichment), so
a record lost between stages unbalances the ledger. It also carries the totals every
metrics table must add up to (page views, bot page views, engaged seconds), which is how
`weir verify` notices rows missing from a table. Batch only: the stream leaves the ledger to
the rebuild of its day.
"""

from __future__ import annotations

import functools

import apache_beam as beam

from weir.transforms.accounting import FIELDS, UNKNOWN_SITE
from weir.transforms.sitetime import UTC_ONLY, SiteZones

_INDEX = {name: i for i, name in enumerate(FIELDS)}


_ZERO = (0,) * len(FIELDS)
_RECEIVED_ONE = tuple(int(name == "received") for name in FIELDS)
_DUPLICATE_ONE = tuple(int(name == "duplicates") for name in FIELDS)
_COUNTED, _BOTS, _PAGEVIEWS, _BOT_PAGEVIEWS, _ENGAGED = (
    _INDEX[name] for name in ("counted", "bots", "pageviews", "bot_pageviews", "engaged_seconds")
)
Entry = tuple[tuple[str, str], tuple[int, ...]]  # ((site, day), counts in FIELDS order)


def _where(site, ts_ms: int, zones: SiteZones = UTC_ONLY) -> tuple[str, str]:
    """(site, the site's local day at ts_ms): the ledger's row for a record."""
    site = site if isinstance(site, str) and site else UNKNOWN_SITE
    return site, zones.day_of(site, ts_ms)


def _entry(site, ts_ms: int, zones: SiteZones = UTC_ONLY, **counts) -> Entry:
    vec = list(_ZERO)
    for name, n in counts.items():
        vec[_INDEX[name]] = n
    return _where(site, ts_ms, zones), tuple(vec)


def receipt_of_event(event, zones: SiteZones = UTC_ONLY) -> Entry:
    return _where(event["site"], event["ts"], zones), _RECEIVED_ONE


def receipt_of_dead(dead, zones: SiteZones = UTC_ONLY) -> Entry:
    return _where(dead.get("site"), dead["received_at"], zones), _RECEIVED_ONE


def of_enriched(event, zones: SiteZones = UTC_ONLY) -> Entry:
    bot = event["is_bot"]
    pageview = event["action"] == "pageview"
    engaged = (event.get("engaged_seconds") or 0) if (not bot and event["action"] == "heartbeat") else 0
    counts = list(_ZERO)
    counts[_COUNTED], counts[_BOTS], counts[_ENGAGED] = int(not bot), int(bot), engaged
    counts[_PAGEVIEWS], counts[_BOT_PAGEVIEWS] = int(pageview and not bot), int(pageview and bot)
    return _where(event["site"], event["ts"], zones), tuple(counts)


def of_dead(dead, zones: SiteZones = UTC_ONLY) -> Entry:
    kind = "too_late" if dead["error_kind"] == "too_late" else "dead_letters"
    return _entry(dead.get("site"), dead["received_at"], zones, **{kind: 1})


def of_enrich_failure(dead, zones: SiteZones = UTC_ONLY) -> Entry:
    # Booked where its receipt was (the event's site and event day), so the day balances;
    # its dead_letters row is dated by receive time like every dead letter.
    return _entry(dead["site"], dead["event_ts"], zones, dead_letters=1)


def of_duplicate(event, zones: SiteZones = UTC_ONLY) -> Entry:
    return _where(event["site"], event["ts"], zones), _DUPLICATE_ONE


def _sum(vectors) -> tuple:
    return tuple(map(sum, zip(*vectors, strict=True)))


def _per_batch(entry):
    """`entry` (one item -> Entry) lifted to batches: one summed Entry per (site, day) in a
    batch, so the ledger costs the runner a few elements per batch, not one per event."""

    def entries(batch: list) -> list[Entry]:
        sums: dict = {}
        for item in batch:
            where, vec = entry(item)
            held = sums.get(where)
            if held is None:
                sums[where] = list(vec)
            else:
                for i, n in enumerate(vec):
                    if n:
                        held[i] += n
        return [(where, tuple(vec)) for where, vec in sums.items()]

    return entries


def to_row(item) -> dict:
    (site, day), vec = item
    return {"site": site, "day": day, **dict(zip(FIELDS, vec, strict=True))}


class Ledger(beam.PTransform):
    """Takes a dict of PCollections {"received_events", "received_dead", "enriched", "dead",
    "duplicates"} and optionally "enrich_failed"; produces `PCollection[dict]` ledger rows.
    "received_events" and "enriched" are batches of events (transforms.batches); the others
    single records. A row's day is its site's local day (`zones`): events by event time,
    dead letters by receive time."""

    def __init__(self, zones: SiteZones = UTC_ONLY):
        super().__init__()
        self._zones = zones

    def expand(self, inputs):
        z = self._zones

        def at(fn):
            return functools.partial(fn, zones=z)

        # Each part is summed where it is made (a lifted combine in its producer's stage),
        # and only those sums are flattened: a Flatten of parts made in different stages is
        # materialised by the FnApiRunner, which held ~3 entries per event in memory until
        # the last stage (profiled at 100,000 events). One declared type for every part, so
        # no re-encoding between them.
        parts = {
            "ReceiptEvents": (inputs["received_events"], beam.FlatMap(_per_batch(at(receipt_of_event)))),
            "ReceiptDead": (inputs["received_dead"], beam.Map(at(receipt_of_dead))),
            "Counted": (inputs["enriched"], beam.FlatMap(_per_batch(at(of_enriched)))),
            "Dead": (inputs["dead"], beam.Map(at(of_dead))),
            "Duplicates": (inputs["duplicates"], beam.Map(at(of_duplicate))),
        }
        if "enrich_failed" in inputs:
            parts["EnrichFailed"] = (inputs["enrich_failed"], beam.Map(at(of_enrich_failure)))
        sums = [
            pcoll
            | label >> entries.with_output_types(Entry)
            | f"{label}PerSiteDay" >> beam.CombinePerKey(_sum).with_output_types(Entry)
            for label, (pcoll, entries) in parts.items()
        ]
        return (
            sums
            | "AllEntries" >> beam.Flatten()
            | "SumPerSiteDay" >> beam.CombinePerKey(_sum)
            | "LedgerRows" >> beam.Map(to_row)
        )
