"""What a rebuild replaces, as SQL: each site's local day in every table.

A rebuild of day D replaces, for every site in scope, the rows of D *in that site's zone*:
`bucket_date = D` in the daily tables and `day = D` in the ledger, and in the tables keyed by
time (events, dead letters, 5-minute buckets) the UTC span of D in the site's zone. Sites are
grouped by zone, so the SQL has one term per zone, not per site; UTC's term names the sites
to leave out (those in other zones) rather than those to keep, so a site nobody configured,
and the ledger's `(unknown)`, are covered too.

In: `transforms.sitetime.DayScope` or (site, day) pairs, and `SiteZones`. Out: `Part`s, and a
predicate per table for BigQuery (`@name` parameters) or DuckDB (`$name`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from weir import schemas
from weir.transforms.accounting import UNKNOWN_SITE
from weir.transforms.sitetime import DayScope, SiteZones, day_span


@dataclass(frozen=True)
class Part:
    """One zone's share of a day: its UTC span, and the sites in it (None: every site but
    `except_sites`)."""

    day: str
    zone: str
    start_ms: int
    end_ms: int
    sites: tuple[str, ...] | None
    except_sites: tuple[str, ...] = ()


def parts_of_day(scope: DayScope, zones: SiteZones) -> list[Part]:
    return [Part(scope.day, z, s, e, sites, others) for z, (s, e), sites, others in scope.groups(zones)]


def parts_of_site_days(pairs: Iterable[tuple[str, str]], zones: SiteZones) -> list[Part]:
    """Exactly these (site, local day) pairs (a rebuild without --date: the days its input has)."""
    grouped: dict[tuple[str, str], set[str]] = {}
    for site, day in pairs:
        grouped.setdefault((day, zones.zone_of(site)), set()).add(site)
    return [Part(day, z, *day_span(day, z), tuple(sorted(sites))) for (day, z), sites in sorted(grouped.items())]


def days_of(parts: list[Part]) -> list[str]:
    return sorted({p.day for p in parts})


def _date_column(spec: schemas.TableSpec) -> str | None:
    """The column holding the local day, for tables keyed by day (daily metrics, the ledger)."""
    field = spec.field(spec.partition_field)
    return spec.partition_field if field.type == "DATE" else None


def predicate(table: str, parts: list[Part], dialect: str) -> tuple[str, list[tuple[str, str, object]]]:
    """SQL that is true for the rows of `table` in `parts`, and its parameters as (name, type,
    value), type one of STRING, DATE, INT64, ARRAY<STRING>. `dialect` "bigquery" or "duckdb"."""
    spec = schemas.table(table)
    date_col = _date_column(spec)
    time_col = spec.partition_field
    site = f"COALESCE(site, '{UNKNOWN_SITE}')"
    terms: list[str] = []
    params: list[tuple[str, str, object]] = []
    bq = dialect == "bigquery"

    def ref(name: str) -> str:
        return f"@{name}" if bq else f"${name}"

    def member(name: str) -> str:
        return f"{site} IN UNNEST(@{name})" if bq else f"list_contains(${name}, {site})"

    def instant(name: str) -> str:  # spans start on whole seconds (quarter hours)
        return f"TIMESTAMP_MILLIS(@{name})" if bq else f"to_timestamp(${name} / 1000)"

    for i, p in enumerate(parts):
        conds = []
        if date_col:
            conds.append(f"{date_col} = CAST({ref(f'day{i}')} AS DATE)")
            params.append((f"day{i}", "STRING", p.day))
        else:
            conds.append(f"{time_col} >= {instant(f'start{i}')} AND {time_col} < {instant(f'end{i}')}")
            params += [(f"start{i}", "INT64", p.start_ms), (f"end{i}", "INT64", p.end_ms)]
        if p.sites is not None:
            conds.append(member(f"sites{i}"))
            params.append((f"sites{i}", "ARRAY<STRING>", list(p.sites)))
        elif p.except_sites:
            conds.append(f"NOT {member(f'others{i}')}")
            params.append((f"others{i}", "ARRAY<STRING>", list(p.except_sites)))
        terms.append("(" + " AND ".join(conds) + ")")
    return ("(" + " OR ".join(terms) + ")") if terms else "FALSE", params
