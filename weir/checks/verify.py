"""`weir verify --date D`: does the day balance, and do the tables hold what the ledger counted?

Checks, per site (from the `ledger` a rebuild writes):
- balance: received = counted + bots + dead_letters + duplicates + too_late;
- `events` holds `counted` human and `bots` bot rows; `dead_letters` holds `dead_letters`
  (and `too_late`) rows;
- every metrics table adds up to the ledger's page views, bot page views and engaged
  seconds: url_metrics_5m, url_metrics_1d, and each dimension of the breakdown tables.
"""

from __future__ import annotations

from dataclasses import dataclass

from weir.transforms.accounting import FIELDS, UNKNOWN_SITE
from weir.transforms.metrics import DIMENSIONS
from weir.transforms.sitetime import DayScope, SiteZones
from weir.warehouse.base import Warehouse
from weir.warehouse.params import day as parse_day
from weir.warehouse.scope import parts_of_day, predicate

MULTI_DIMENSIONS = frozenset(d.name for d in DIMENSIONS if d.multi)

METRIC_TOTALS = ("pageviews", "bot_pageviews", "engaged_seconds")


@dataclass(frozen=True)
class Check:
    site: str
    what: str
    expected: int
    actual: int
    at_least: bool = False  # a multi-valued dimension counts an event once per value

    @property
    def ok(self) -> bool:
        return self.actual >= self.expected if self.at_least else self.expected == self.actual


def _by_site(warehouse: Warehouse, sql: str, params: dict) -> dict[str, tuple]:
    return {row[0]: row[1:] for row in warehouse.query(sql, params).rows}


def verify_day(warehouse: Warehouse, day: str, zones: SiteZones | None = None) -> list[Check]:
    """Every check for `day` (YYYY-MM-DD, validated), each site's in its zone (`zones`, else
    the sites table's); an empty ledger for the day is itself a failed check. The day reaches
    SQL as a query parameter, never as text."""
    if zones is None:
        from weir import sites

        zones = sites.zones(warehouse)
    parts = parts_of_day(DayScope(parse_day(day).isoformat()), zones)

    def within(table: str) -> str:
        where, typed = predicate(table, parts, "bigquery")
        params.update({name: value for name, _, value in typed})
        return where

    params: dict = {"day": parse_day(day)}
    d = "@day"
    cols = ", ".join(FIELDS)
    ledger = {
        r["site"]: r for r in warehouse.query(f"SELECT site, {cols} FROM ledger WHERE day = {d}", params).records()
    }
    if not ledger:
        return [Check("*", "ledger rows for the day (rebuild the day first)", 1, 0)]
    events = _by_site(
        warehouse,
        f"""SELECT site, COUNTIF(NOT is_bot), COUNTIF(is_bot) FROM events
                                     WHERE {within("events")} GROUP BY site""",
        params,
    )
    dead = _by_site(
        warehouse,
        f"""SELECT COALESCE(site, '{UNKNOWN_SITE}'), COUNTIF(error_kind != 'too_late'),
                                   COUNTIF(error_kind = 'too_late') FROM dead_letters
                                   WHERE {within("dead_letters")} GROUP BY 1""",
        params,
    )
    totals = ", ".join(f"SUM({m})" for m in METRIC_TOTALS)
    tables = {
        "url_metrics_5m": _by_site(
            warehouse,
            f"SELECT site, {totals} FROM url_metrics_5m WHERE {within('url_metrics_5m')} GROUP BY site",
            params,
        ),
        "url_metrics_1d": _by_site(
            warehouse, f"SELECT site, {totals} FROM url_metrics_1d WHERE bucket_date = {d} GROUP BY site", params
        ),
    }
    for grain, cond in (("5m", within("breakdown_metrics_5m")), ("1d", f"bucket_date = {d}")):
        rows = warehouse.query(
            f"SELECT dimension, site, {totals} FROM breakdown_metrics_{grain} WHERE {cond} GROUP BY dimension, site",
            params,
        ).rows
        for dim in sorted({r[0] for r in rows}):
            tables[f"breakdown_metrics_{grain}[{dim}]"] = {r[1]: r[2:] for r in rows if r[0] == dim}
    checks = []
    for site, led in sorted(ledger.items()):
        parts = led["counted"] + led["bots"] + led["dead_letters"] + led["duplicates"] + led["too_late"]
        checks.append(
            Check(site, "received = counted + bots + dead_letters + duplicates + too_late", led["received"], parts)
        )
        ev = events.get(site, (0, 0))
        checks.append(Check(site, "events rows (human)", led["counted"], ev[0]))
        checks.append(Check(site, "events rows (bots)", led["bots"], ev[1]))
        dl = dead.get(site, (0, 0))
        checks.append(Check(site, "dead_letters rows", led["dead_letters"], dl[0]))
        checks.append(Check(site, "dead_letters rows (too_late)", led["too_late"], dl[1]))
        for table, sums in tables.items():
            got = sums.get(site, (0,) * len(METRIC_TOTALS))
            multi = any(table.endswith(f"[{d}]") for d in MULTI_DIMENSIONS)
            for metric, value in zip(METRIC_TOTALS, got, strict=True):
                checks.append(Check(site, f"{table}: {metric}", led[metric], int(value or 0), at_least=multi))
    return checks


def format_checks(checks: list[Check], day: str) -> str:
    bad = [c for c in checks if not c.ok]
    lines = [f"weir verify {day}: {len(checks) - len(bad)} of {len(checks)} checks hold"]
    for c in bad:
        lines.append(
            f"  MISMATCH {c.site}: {c.what}: expected {'at least ' if c.at_least else ''}{c.expected}, "
            f"found {c.actual} ({c.actual - c.expected:+d})"
        )
    if not bad:
        sites = sorted({c.site for c in checks})
        lines.append(f"  balanced for {len(sites)} site(s): {', '.join(sites)}")
    return "\n".join(lines)
