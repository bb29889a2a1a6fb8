"""`weir verify`'s check of `events` against the raw archive: the events a day's archive
accepts are the day's rows, by count and by a digest of their ids, per site.

The archive is the one copy of what was received; the tables are derived from it. A rebuild
keeps, of each site's day, the events the parser accepts and the scope holds (each site's
local day, received within the day's lateness), one per (site, event_id); an event that
enrichment rejected is a dead letter instead. This check reads the same archive hours the
rebuild reads, applies the same pure functions (no Beam), and compares the (site, event_id)
sets with the `events` table's: a row forged, renamed or removed by hand, consistently in
every table, is still found here.

In: the warehouse, the archive root, the day and the sites' zones. Out: `verify.Check`s.
"""

from __future__ import annotations

import hashlib

from weir.transforms.sitetime import DayScope, SiteZones


def accepted_ids(archive: str, day: str, zones: SiteZones) -> dict[str, set[str]]:
    """{site: event_ids} of the events a rebuild of `day` accepts from the archive."""
    from apache_beam.io.filesystems import FileSystems

    from weir.pipelines.rebuild import day_hour_patterns
    from weir.transforms.compaction import without_replaced
    from weir.transforms.read import read_avro
    from weir.transforms.sitetime import DAY_LATENESS_S
    from weir.transforms.validate import parse_record

    patterns, _, _ = day_hour_patterns(archive, day, None, zones)
    scope = DayScope(day)
    out: dict[str, set[str]] = {}
    for match in FileSystems.match(patterns):
        for path in without_replaced(m.path for m in match.metadata_list):
            with FileSystems.open(path) as fh:
                for record in read_avro(path, fh):
                    kind, value = parse_record(record)
                    if kind != "event" or zones.day_too_late(
                        value["site"], value["ts"], value.get("received_at"), DAY_LATENESS_S
                    ):
                        continue
                    if scope.holds(zones, value["site"], value["ts"]):
                        out.setdefault(value["site"], set()).add(value["event_id"])
    return out


def digest(ids: set[str]) -> str:
    return hashlib.sha256("\n".join(sorted(ids)).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def archive_checks(warehouse, archive: str, day: str, zones: SiteZones, parts: list) -> list:
    """Per site: the events rows of the day are the archive's accepted events (less those
    enrichment turned into dead letters), by count and by digest of ids."""
    from weir.checks.verify import Check
    from weir.warehouse.scope import predicate

    expected = accepted_ids(archive, day, zones)
    where, typed = predicate("events", parts, "bigquery")
    held: dict[str, set[str]] = {}
    for site, event_id in warehouse.query(
        f"SELECT site, event_id FROM events WHERE {where}", {n: v for n, _, v in typed}
    ).rows:
        held.setdefault(site, set()).add(event_id)
    dl_where, dl_typed = predicate("dead_letters", parts, "bigquery")
    rejected = warehouse.query(  # accepted by the parser, then turned away by enrichment
        f"SELECT site, event_id FROM dead_letters WHERE stage = 'enrich' AND {dl_where}",
        {n: v for n, _, v in dl_typed},
    ).rows
    for site, event_id in rejected:
        expected.get(site, set()).discard(event_id)
    checks = []
    for site in sorted(set(expected) | set(held)):
        want, have = expected.get(site, set()), held.get(site, set())
        checks.append(Check(site, "events rows: the archive's accepted events", len(want), len(have)))
        same = digest(want) == digest(have)
        checks.append(Check(site, f"events ids: digest of the archive's ({digest(want)})", 1, int(same)))
    return checks
