"""Sites' settings: each site's time zone and display name, in the warehouse's `sites` table.

One place every mode reads: a rebuild and a close take each site's zone from here (passed to
the job as `--site_zones`), and the query client, `weir serve` and `weir verify` read the
site's calendar from it. The table lives beside the data (DuckDB locally, BigQuery with
`--project`), so analysts can join it, and Terraform creates it with the others.

In: a `Warehouse`. Out: `Site` records and `transforms.sitetime.SiteZones`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from weir.transforms.sitetime import UTC_ZONE, SiteZones, check_zone
from weir.usage import UsageError
from weir.warehouse.base import QueryError, Warehouse, is_missing_table

MAX_SITE_LENGTH = 253  # a host name's limit: a site is its main domain


@dataclass(frozen=True)
class Site:
    site: str
    timezone: str = UTC_ZONE
    display_name: str | None = None
    updated_at: dt.datetime | None = None


def load(warehouse: Warehouse) -> dict[str, Site]:
    """Every configured site, by id (none in a dataset that has no `sites` table yet)."""
    try:
        warehouse_rows = warehouse.query(
            "SELECT site, timezone, display_name, updated_at FROM sites ORDER BY site"
        ).records()
    except QueryError as exc:
        if is_missing_table(exc, "sites"):
            return {}
        raise
    return {
        r["site"]: Site(r["site"], r["timezone"] or UTC_ZONE, r["display_name"], r["updated_at"])
        for r in warehouse_rows
    }


def zones(warehouse: Warehouse) -> SiteZones:
    """Each configured site's zone (sites not configured keep UTC)."""
    return SiteZones.of({s.site: s.timezone for s in load(warehouse).values()})


def set_site(
    warehouse: Warehouse, site: str, timezone: str | None = None, display_name: str | None = None
) -> tuple[Site | None, Site]:
    """Creates or changes a site's settings; only what is given changes. Returns (before, after).
    ValueError (an UnknownZone for a zone name the IANA database does not have) before
    anything is written."""
    if not site or len(site) > MAX_SITE_LENGTH or site != site.strip():
        raise UsageError(f"a site is its id as events carry it (1-{MAX_SITE_LENGTH} characters), got {site!r}")
    if timezone is not None:
        check_zone(timezone)
    if display_name is not None and len(display_name) > 200:
        raise UsageError("--name is at most 200 characters")
    warehouse.ensure_tables()
    before = load(warehouse).get(site)
    after = Site(
        site,
        timezone if timezone is not None else (before.timezone if before else UTC_ZONE),
        display_name if display_name is not None else (before.display_name if before else None),
        dt.datetime.now(dt.timezone.utc).replace(microsecond=0),
    )
    warehouse.query(
        "DELETE FROM sites WHERE site = @site; "
        "INSERT INTO sites (site, timezone, display_name, updated_at) VALUES (@site, @tz, @name, @at)",
        {"site": site, "tz": after.timezone, "name": after.display_name or "", "at": after.updated_at},
        write=True,
    )
    if not after.display_name:  # an empty name is no name (parameters carry no NULL)
        warehouse.query("UPDATE sites SET display_name = NULL WHERE site = @site", {"site": site}, write=True)
    return before, after
