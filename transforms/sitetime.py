"""Each site's calendar: which local day an instant falls on, and which UTC span a local day is.

Pure functions (no Beam), shared by the graph (daily rows, the ledger, a rebuild's scope), the
rebuild's choice of archive hours, `weir verify` and the query client.

In: a mapping site -> IANA zone name (`SiteZones`; a site not in it keeps UTC, as does the
ledger's `(unknown)` site) and times in ms since the epoch. Out: local days as "YYYY-MM-DD"
and [start, end) spans in ms. A local day is whatever lies between two local midnights, so
a day that springs forward has 23 hours and one that falls back has 25.

Why 15 minutes: every offset a zone has used since 1972 is a whole number of quarter hours
(Asia/Kolkata +05:30, Asia/Kathmandu +05:45), and zones change offset only on a quarter
hour. So a UTC-aligned 5-minute bucket always lies inside one local day, and the local day
of an instant can be memoised per (zone, quarter hour).
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from dataclasses import dataclass

from weir.transforms.timeutil import day_str

UTC_ZONE = "UTC"
QUARTER_MS = 900_000
# How long after a site's day ended an event still counts in that day: events received later
# are `too_late` dead letters of the day they were received on (in a rebuild, too), so
# every archived record belongs to exactly one day. Also the span a close reads past the day.
DAY_LATENESS_S = 86_400
# How far ahead of its receive time an event's clock may run (transforms.validate): the span
# a day's input reads before the day.
CLOCK_SKEW_S = 86_400


class UnknownZone(ValueError):
    """A time zone name that is not in the IANA database."""

    usage_error = True  # the user's: weir.usage (the command line's one-line errors)


@functools.cache
def zone(name: str) -> zoneinfo.ZoneInfo:
    """The zone called `name` (an IANA name such as America/New_York); UnknownZone if none is."""
    if not isinstance(name, str) or not name or name != name.strip() or name.startswith("/") or ".." in name:
        raise UnknownZone(f"unknown time zone {name!r}: give an IANA name such as America/New_York")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise UnknownZone(f"unknown time zone {name!r}: give an IANA name such as America/New_York") from None


def check_zone(name: str) -> str:
    """`name` when it is a zone whose offsets since 2000 are whole quarter hours (see the module
    docstring); UnknownZone otherwise."""
    tz = zone(name)
    for year in range(2000, 2038):
        for month in (1, 4, 7, 10):
            offset = dt.datetime(year, month, 1, 12, tzinfo=tz).utcoffset()
            if offset is not None and offset.total_seconds() % 900:
                raise UnknownZone(f"time zone {name!r} has an offset that is not whole quarter hours ({offset})")
    return name


@functools.lru_cache(maxsize=65_536)
def _local_day_of_quarter(zone_name: str, quarter: int) -> str:
    instant = dt.datetime.fromtimestamp(quarter * QUARTER_MS / 1000, dt.timezone.utc)
    return instant.astimezone(zone(zone_name)).date().isoformat()


def local_day(ts_ms: int, zone_name: str = UTC_ZONE) -> str:
    """The date (YYYY-MM-DD) on the wall calendar of `zone_name` at the instant `ts_ms`."""
    if zone_name == UTC_ZONE:
        return day_str(ts_ms)
    return _local_day_of_quarter(zone_name, ts_ms // QUARTER_MS)


@functools.lru_cache(maxsize=16_384)
def day_span(day: str, zone_name: str = UTC_ZONE) -> tuple[int, int]:
    """[start, end) in ms of the local day `day` (YYYY-MM-DD) in `zone_name`: from its first
    instant to the next day's first instant. ValueError when `day` is not a date."""
    d = dt.date.fromisoformat(day)
    return _midnight(d, zone_name), _midnight(d + dt.timedelta(days=1), zone_name)


def _midnight(d: dt.date, zone_name: str) -> int:
    """The first instant of local date `d` (a zone that skips midnight starts the day when its
    clocks jump: with fold=0, a time in the gap is read with the offset before it)."""
    ms = int(dt.datetime(d.year, d.month, d.day, tzinfo=zone(zone_name)).timestamp() * 1000)
    # Walk to the first instant that really is on `d` (a gap at midnight: 00:00 is read with the
    # earlier offset, which can land before the jump), in quarter hours.
    while local_day(ms - QUARTER_MS, zone_name) == d.isoformat():
        ms -= QUARTER_MS
    while local_day(ms, zone_name) != d.isoformat():
        ms += QUARTER_MS
    return ms


def days_between(first: str, last: str) -> list[str]:
    """Every date from `first` to `last`, both included (empty when last < first)."""
    a, b = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return [(a + dt.timedelta(days=i)).isoformat() for i in range((b - a).days + 1)]


@dataclass(frozen=True)
class SiteZones:
    """Which zone each site keeps its calendar in. Sites not named are in UTC.

    `pairs` is a sorted tuple of (site, zone name) so the value is hashable and pickles small
    (it travels to workers inside the graph's config)."""

    pairs: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, mapping: dict[str, str] | None) -> SiteZones:
        items = {}
        for site, name in (mapping or {}).items():
            check_zone(name)
            if name != UTC_ZONE:  # UTC is the default: keeping it out keeps lookups on the fast path
                items[site] = name
        return cls(tuple(sorted(items.items())))

    @functools.cached_property
    def _map(self) -> dict[str, str]:
        return dict(self.pairs)

    def as_dict(self) -> dict[str, str]:
        return dict(self._map)

    def zone_of(self, site) -> str:
        return self._map.get(site, UTC_ZONE) if isinstance(site, str) else UTC_ZONE

    def day_of(self, site, ts_ms: int) -> str:
        """The local day of `site` at `ts_ms`."""
        name = self._map.get(site) if self.pairs and isinstance(site, str) else None
        return day_str(ts_ms) if name is None else _local_day_of_quarter(name, ts_ms // QUARTER_MS)

    def zones(self) -> list[str]:
        """Every zone in use: UTC (the default) and each named site's."""
        return sorted({UTC_ZONE, *self._map.values()})

    def sites_in(self, zone_name: str) -> tuple[str, ...]:
        """The named sites of one zone (UTC's also holds every site not named)."""
        return tuple(s for s, z in self.pairs if z == zone_name)

    def zoned_sites(self) -> tuple[str, ...]:
        """The sites whose zone is not UTC."""
        return tuple(s for s, _ in self.pairs)

    def day_too_late(self, site, ts_ms: int, received_ms: int | None, lateness_s: int = DAY_LATENESS_S) -> bool:
        """True when an event was received more than `lateness_s` after its site's day ended."""
        if received_ms is None:
            return False
        zone_name = self.zone_of(site)
        end = day_span(local_day(ts_ms, zone_name), zone_name)[1]
        return received_ms > end + lateness_s * 1000


@dataclass(frozen=True)
class DayScope:
    """What a rebuild (or a close) replaces: local day `day` of every site, or only of the
    sites whose calendar is in `zone_name` (UTC's sites include every site not named)."""

    day: str
    zone_name: str | None = None

    def zones(self, zones: SiteZones) -> list[str]:
        return [self.zone_name] if self.zone_name else zones.zones()

    def holds(self, zones: SiteZones, site, ts_ms: int) -> bool:
        if self.zone_name is not None and zones.zone_of(site) != self.zone_name:
            return False
        return zones.day_of(site, ts_ms) == self.day

    def span(self, zones: SiteZones) -> tuple[int, int]:
        """The UTC span [start, end) covering this day in every zone in scope."""
        spans = [day_span(self.day, z) for z in self.zones(zones)]
        return min(s for s, _ in spans), max(e for _, e in spans)

    def input_span(self, zones: SiteZones, lateness_s: int = DAY_LATENESS_S) -> tuple[int, int]:
        """The receive times [start, end) that can hold a record of this day: from the clock
        skew an event may have before the day to the lateness after it."""
        start, end = self.span(zones)
        return start - CLOCK_SKEW_S * 1000, end + lateness_s * 1000

    def groups(self, zones: SiteZones) -> list[tuple[str, tuple[int, int], tuple[str, ...] | None, tuple[str, ...]]]:
        """Per zone in scope: (zone, its UTC span of the day, the sites in it or None for "every
        site not named elsewhere", the sites to leave out in that case)."""
        out: list[tuple[str, tuple[int, int], tuple[str, ...] | None, tuple[str, ...]]] = []
        for name in self.zones(zones):
            if name == UTC_ZONE:
                out.append((name, day_span(self.day, name), None, zones.zoned_sites()))
            else:
                out.append((name, day_span(self.day, name), zones.sites_in(name), ()))
        return out


def hours_between(start_ms: int, end_ms: int) -> list[int]:
    """The start (ms) of every UTC hour that overlaps [start_ms, end_ms)."""
    first = start_ms - start_ms % 3_600_000
    return list(range(first, end_ms, 3_600_000))


def closes_at(day: str, zone_name: str, lateness_s: int) -> int:
    """When (ms) a site's day can be closed: its end plus the stream's allowed lateness."""
    return day_span(day, zone_name)[1] + lateness_s * 1000


__all__ = [
    "CLOCK_SKEW_S",
    "DAY_LATENESS_S",
    "DayScope",
    "SiteZones",
    "UTC_ONLY",
    "UTC_ZONE",
    "UnknownZone",
    "check_zone",
    "closes_at",
    "day_span",
    "days_between",
    "hours_between",
    "local_day",
    "zone",
]


UTC_ONLY = SiteZones()  # every site in UTC: the default where no zones are given
