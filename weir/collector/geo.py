"""Where a reader is: country and region from the client address, looked up at the collector.

In: an address (`ipaddress` object, from weir.collector.proxies). Out: (country, region):
`country` an ISO 3166-1 alpha-2 code, `region` an ISO 3166-2 subdivision code ("GB-ENG"),
either None when not known. The address is not kept.

- By default the country comes from `iptocc`, which ships the five Regional Internet
  Registries' delegation data inside its wheel (MIT OR Apache-2.0; the registries' statistics
  are published for anyone's use): offline, about 100 ns a lookup, refreshed with each
  release, no region. It is the country a block is registered to, which agrees with
  commercial geolocation for about 95% of IPv4 addresses.
- `--geo-db FILE.mmdb` reads a MaxMind-format database the operator licensed (GeoIP2 or
  GeoLite2 City or Country, DB-IP's, IPinfo's) with the `maxminddb` reader: its
  `country.iso_code` and, where it has one, its first `subdivisions[].iso_code` as the region.
- Private, loopback, link-local, documentation and other non-global addresses are unknown,
  never looked up, so a test or a proxy's own address never lands as a guess.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from weir.usage import UsageError

_COUNTRY = re.compile(r"[A-Z]{2}")
# Codes some data uses for "somewhere in a region" or "anonymous": not a country, so unknown.
_NOT_COUNTRIES = frozenset({"EU", "AP", "ZZ", "A1", "A2", "O1"})
_SUBDIVISION = re.compile(r"[A-Z0-9]{1,3}")
Lookup = Callable[[str], tuple[str | None, str | None]]


def _registry_country(text: str) -> tuple[str | None, str | None]:
    from iptocc import country_code

    return country_code(text), None


def _mmdb_reader(path: str) -> Lookup:
    import maxminddb

    try:
        reader = maxminddb.open_database(path, maxminddb.MODE_MMAP)
    except (OSError, maxminddb.InvalidDatabaseError) as exc:
        raise UsageError(f"--geo-db {path}: not a readable MaxMind-format database ({exc})") from None

    def lookup(text: str) -> tuple[str | None, str | None]:
        record = reader.get(text)
        if not isinstance(record, dict):
            return None, None
        country = _iso_code(record.get("country"))
        subdivisions = record.get("subdivisions")
        region = _iso_code(subdivisions[0]) if isinstance(subdivisions, list) and subdivisions else None
        return country, region

    return lookup


def _iso_code(entry: object) -> str | None:
    """A database entry's `iso_code`, when it is an object that has a string one."""
    code = entry.get("iso_code") if isinstance(entry, dict) else None
    return code if isinstance(code, str) else None


class Geography:
    """`where(address)` -> (country, region); `source` says which data answers."""

    def __init__(self, database: str | None = None):
        self.source = database or "iptocc (Regional Internet Registries' delegations)"
        self._lookup = _mmdb_reader(database) if database else _registry_country

    def where(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> tuple[str | None, str | None]:
        if address is None or not address.is_global:
            return None, None
        country, region = self._lookup(str(address))
        country = country.upper() if isinstance(country, str) and _COUNTRY.fullmatch(country.upper()) else None
        if country in _NOT_COUNTRIES:
            country = None
        if country is None or not isinstance(region, str) or not _SUBDIVISION.fullmatch(region.upper()):
            return country, None
        return country, f"{country}-{region.upper()}"
