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

from transforms.timeutil import day_str

UNKNOWN_SITE = "(unknown)"
FIELDS = (
    "received",
    "counted",
    "bots",
    "dead_letters",
    "duplicates",
    "too_late",
    "pageviews",
    "bot_pageviews",
    "engaged_seconds",
)
_INDEX = {name: i for i, name in enumerate(FIELDS)}


def _entry(site, ts_ms: int, **counts) -> tuple:
    vec = [0] * len(FIELDS)
    for name, n in counts.items():
        vec[_INDEX[name]] = n
    return (site if isinstance(site, str) and site else UNKNOWN_SITE, day_str(ts_ms)), tuple(vec)


def receipt_of_event(event) -> tuple:
    return _entry(event["site"], event["ts"], received=1)


def receipt_of_dead(dead) -> tuple:
    return _entry(dead.get("site"), dead["received_at"], received=1)


def of_enriched(event) -> tuple:
    bot = event["is_bot"]
    pageview = event["action"] == "pageview"
    engaged = (event.get("engaged_seconds") or 0) if (not bot and event["action"] == "heartbeat") else 0
    return _entry(
        event["site"],
        event["ts"],
        counted=int(not bot),
        bots=int(bot),
        pageviews=int(pageview and not bot),
        bot_pageviews=int(pageview and bot),
        engaged_seconds=engaged,
    )


def of_dead(dead) -> tuple:
    kind = "too_late" if dead["error_kind"] == "too_late" else "dead_letters"
    return _entry(dead.get("site"), dead["received_at"], **{kind: 1})


def of_duplicate(event) -> tuple:
    return _entry(event["site"], event["ts"], duplicates=1)


def _sum(vectors) -> tuple:
    return tuple(map(sum, zip(*vectors, strict=True)))


def to_row(item) -> dict:
    (site, day), vec = item
    return {"site": site, "day": day, **dict(zip(FIELDS, vec, strict=True))}


class Ledger(beam.PTransform):
    """Takes a dict of PCollections {"received_events", "received_dead", "enriched", "dead",
    "duplicates"}; produces `PCollection[dict]` ledger rows."""

    def expand(self, inputs):
        parts = [
            inputs["received_events"] | "ReceiptEvents" >> beam.Map(receipt_of_event),
            inputs["received_dead"] | "ReceiptDead" >> beam.Map(receipt_of_dead),
            inputs["enriched"] | "Counted" >> beam.Map(of_enriched),
            inputs["dead"] | "Dead" >> beam.Map(of_dead),
            inputs["duplicates"] | "Duplicates" >> beam.Map(of_duplicate),
        ]
        return (
            parts
            | "AllEntries" >> beam.Flatten()
            | "SumPerSiteDay" >> beam.CombinePerKey(_sum)
            | "LedgerRows" >> beam.Map(to_row)
        )
