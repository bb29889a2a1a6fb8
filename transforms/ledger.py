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

import apache_beam as beam

from weir.transforms.accounting import FIELDS, UNKNOWN_SITE
from weir.transforms.timeutil import day_str

_INDEX = {name: i for i, name in enumerate(FIELDS)}


_ZERO = (0,) * len(FIELDS)
_RECEIVED_ONE = tuple(int(name == "received") for name in FIELDS)
_DUPLICATE_ONE = tuple(int(name == "duplicates") for name in FIELDS)
_COUNTED, _BOTS, _PAGEVIEWS, _BOT_PAGEVIEWS, _ENGAGED = (
    _INDEX[name] for name in ("counted", "bots", "pageviews", "bot_pageviews", "engaged_seconds")
)
Entry = tuple[tuple[str, str], tuple[int, ...]]  # ((site, day), counts in FIELDS order)


def _where(site, ts_ms: int) -> tuple[str, str]:
    return (site if isinstance(site, str) and site else UNKNOWN_SITE, day_str(ts_ms))


def _entry(site, ts_ms: int, **counts) -> Entry:
    vec = list(_ZERO)
    for name, n in counts.items():
        vec[_INDEX[name]] = n
    return _where(site, ts_ms), tuple(vec)


def receipt_of_event(event) -> Entry:
    return _where(event["site"], event["ts"]), _RECEIVED_ONE


def receipt_of_dead(dead) -> Entry:
    return _where(dead.get("site"), dead["received_at"]), _RECEIVED_ONE


def of_enriched(event) -> Entry:
    bot = event["is_bot"]
    pageview = event["action"] == "pageview"
    engaged = (event.get("engaged_seconds") or 0) if (not bot and event["action"] == "heartbeat") else 0
    counts = list(_ZERO)
    counts[_COUNTED], counts[_BOTS], counts[_ENGAGED] = int(not bot), int(bot), engaged
    counts[_PAGEVIEWS], counts[_BOT_PAGEVIEWS] = int(pageview and not bot), int(pageview and bot)
    return _where(event["site"], event["ts"]), tuple(counts)


def of_dead(dead) -> Entry:
    kind = "too_late" if dead["error_kind"] == "too_late" else "dead_letters"
    return _entry(dead.get("site"), dead["received_at"], **{kind: 1})


def of_enrich_failure(dead) -> Entry:
    # Booked where its receipt was (the event's site and event day), so the day balances;
    # its dead_letters row is dated by receive time like every dead letter.
    return _entry(dead["site"], dead["event_ts"], dead_letters=1)


def of_duplicate(event) -> Entry:
    return _where(event["site"], event["ts"]), _DUPLICATE_ONE


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
    single records."""

    def expand(self, inputs):
        # Each part is summed where it is made (a lifted combine in its producer's stage),
        # and only those sums are flattened: a Flatten of parts made in different stages is
        # materialised by the FnApiRunner, which held ~3 entries per event in memory until
        # the last stage (profiled at 100,000 events). One declared type for every part, so
        # no re-encoding between them.
        parts = {
            "ReceiptEvents": (inputs["received_events"], beam.FlatMap(_per_batch(receipt_of_event))),
            "ReceiptDead": (inputs["received_dead"], beam.Map(receipt_of_dead)),
            "Counted": (inputs["enriched"], beam.FlatMap(_per_batch(of_enriched))),
            "Dead": (inputs["dead"], beam.Map(of_dead)),
            "Duplicates": (inputs["duplicates"], beam.Map(of_duplicate)),
        }
        if "enrich_failed" in inputs:
            parts["EnrichFailed"] = (inputs["enrich_failed"], beam.Map(of_enrich_failure))
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
