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

from weir import schemas
from weir.transforms.accounting import FIELDS, UNKNOWN_SITE
from weir.transforms.metrics import DIMENSIONS, METRICS
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


def verify_day(
    warehouse: Warehouse, day: str, zones: SiteZones | None = None, archive: str | None = None
) -> list[Check]:
    """Every check for `day` (YYYY-MM-DD, validated), each site's in its zone (`zones`, else
    the sites table's); an empty ledger for the day is itself a failed check. With `archive`
    (its root), `events` is checked against the archive too (weir.checks.archive). The day
    reaches SQL as a query parameter, never as text."""
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
        booked = led["counted"] + led["bots"] + led["dead_letters"] + led["duplicates"] + led["too_late"]
        checks.append(
            Check(site, "received = counted + bots + dead_letters + duplicates + too_late", led["received"], booked)
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
    checks += _sites_without_ledger(warehouse, parts, set(ledger))
    checks += _recomputed_from_events(warehouse, parts, parse_day(day).isoformat())
    if archive:
        from weir.checks.archive import archive_checks

        checks += archive_checks(warehouse, archive, parse_day(day).isoformat(), zones, parts)
    return checks


def _sites_without_ledger(warehouse: Warehouse, parts: list, ledger_sites: set[str]) -> list[Check]:
    """A site with rows of the day in any table must have a ledger row: a table can gain a
    site (or a site lose its ledger row) only by hand."""
    checks = []
    for table in (*schemas.metric_tables(), *schemas.per_event_tables()):
        where, typed = predicate(table, parts, "bigquery")
        rows = warehouse.query(
            f"SELECT COALESCE(site, '{UNKNOWN_SITE}'), COUNT(*) FROM {table} WHERE {where} GROUP BY 1",
            {name: value for name, _, value in typed},
        ).rows
        for site, n in rows:
            if site not in ledger_sites:
                checks.append(Check(site, f"{table}: rows of a site the ledger does not have", 0, int(n)))
    return checks


def _recomputed_from_events(warehouse: Warehouse, parts: list, day: str) -> list[Check]:
    """Every row of the URL metric tables, every metric column, against the same row made
    again from `events` in SQL (the registry's `sql` of each metric): sums exactly, distinct
    counts and the visitors sketch by their HLL++ estimate over the same keys (a sketch of the
    same keys gives the same estimate; its bytes may differ in the count of values added).
    Then each breakdown dimension's totals of every sum metric, and its visitors merged,
    against the events'. Per site: how many rows hold, and rows on one side only."""
    sums = [m for m in METRICS if m.kind == "sum"]
    distinct = [m for m in METRICS if m.kind == "distinct"]
    events_cols = [f"SUM({m.sql}) AS {m.name}" for m in sums] + [
        f"COALESCE(HLL_COUNT.EXTRACT(HLL_COUNT.INIT({m.sql})), 0) AS {m.name}" for m in distinct
    ]
    table_cols = [f"COALESCE({m.name}, 0) AS {m.name}" for m in METRICS] + [
        f"COALESCE(HLL_COUNT.EXTRACT({m.sketch_column}), 0) AS {m.sketch_column}" for m in distinct if m.sketch_column
    ]
    ev_where, ev_typed = predicate("events", parts, "bigquery")
    checks: list[Check] = []
    for table, bucket, bucket_col in (
        ("url_metrics_5m", "TIMESTAMP_SECONDS(DIV(UNIX_SECONDS(event_ts), 300) * 300)", "bucket_start"),
        ("url_metrics_1d", "CAST(@the_day AS DATE)", "bucket_date"),
    ):
        params = {name: value for name, _, value in ev_typed}
        params["the_day"] = day
        made = warehouse.query(
            f"SELECT site, url, {bucket} AS b, {', '.join(events_cols)} FROM events WHERE {ev_where} GROUP BY 1, 2, 3",
            params,
        ).records()
        where, typed = predicate(table, parts, "bigquery")
        held = warehouse.query(
            f"SELECT site, url, {bucket_col} AS b, {', '.join(table_cols)} FROM {table} WHERE {where}",
            {name: value for name, _, value in typed},
        ).records()
        want = {(r["site"], r["url"], str(r["b"])): r for r in made if any(r[m.name] for m in METRICS)}
        have = {(r["site"], r["url"], str(r["b"])): r for r in held}
        for site in sorted({k[0] for k in want} | {k[0] for k in have}):
            mine = [k for k in want if k[0] == site]
            checks.append(
                Check(site, f"{table}: rows no event makes", 0, sum(1 for k in have if k[0] == site and k not in want))
            )
            checks.append(Check(site, f"{table}: rows made from events", len(mine), sum(1 for k in mine if k in have)))
            for m in METRICS:
                columns = [m.name] + ([m.sketch_column] if m.sketch_column else [])
                for column in columns:
                    same = sum(1 for k in mine if k in have and int(have[k][column] or 0) == int(want[k][m.name] or 0))
                    checks.append(Check(site, f"{table}: {column} as events make it, rows", len(mine), same))
    checks += _breakdowns_from_events(warehouse, parts, sums, ev_where, ev_typed)
    return checks


def _breakdowns_from_events(
    warehouse: Warehouse, parts: list, sums: list, ev_where: str, ev_typed: list
) -> list[Check]:
    """Each breakdown dimension's totals of every sum metric, and its visitors merged, per
    site, against `events` (a multi-valued dimension counts an event once per value)."""
    cols = ", ".join(
        [f"SUM({m.sql}) AS {m.name}" for m in sums]
        + ["HLL_COUNT.EXTRACT(HLL_COUNT.INIT(IF(NOT is_bot, FARM_FINGERPRINT(visitor_id), NULL))) AS visitors"]
    )
    totals = {
        r["site"]: r
        for r in warehouse.query(
            f"SELECT site, {cols} FROM events WHERE {ev_where} GROUP BY site", {n: v for n, _, v in ev_typed}
        ).records()
    }
    checks: list[Check] = []
    for table in schemas.metric_tables():
        if not table.startswith("breakdown_"):
            continue
        where, typed = predicate(table, parts, "bigquery")
        merged = ", ".join(
            [f"SUM({m.name}) AS {m.name}" for m in sums] + ["HLL_COUNT.MERGE(visitors_sketch) AS visitors"]
        )
        rows = warehouse.query(
            f"SELECT dimension, site, {merged} FROM {table} WHERE {where} GROUP BY dimension, site",
            {n: v for n, _, v in typed},
        ).records()
        for r in rows:
            want = totals.get(r["site"], {})
            multi = r["dimension"] in MULTI_DIMENSIONS
            for m in sums:
                checks.append(
                    Check(
                        r["site"],
                        f"{table}[{r['dimension']}]: {m.name}",
                        int(want.get(m.name) or 0),
                        int(r[m.name] or 0),
                        at_least=multi,
                    )  # fmt: skip
                )
            checks.append(
                Check(
                    r["site"],
                    f"{table}[{r['dimension']}]: visitors merged",
                    int(want.get("visitors") or 0),
                    int(r["visitors"] or 0),
                )  # fmt: skip
            )
    return checks


def checks_json(checks: list[Check], day: str, archive_read: bool) -> dict:
    """What `weir verify --json` prints: the day, whether all hold, and every check."""
    return {
        "date": day,
        "ok": all(c.ok for c in checks),
        "archive_read": archive_read,
        "checks": [
            {
                "site": c.site,
                "what": c.what,
                "expected": c.expected,
                "actual": c.actual,
                "at_least": c.at_least,
                "ok": c.ok,
            }  # fmt: skip
            for c in checks
        ],
    }


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
