"""Time helpers: ms <-> UTC strings and bucket arithmetic. Pure functions."""

from __future__ import annotations

import datetime as dt
import functools
import re

UTC = dt.timezone.utc
EPOCH_DATE = dt.date(1970, 1, 1)
DAY_MS = 86_400_000
BUCKET_5M_MS = 300_000

_PATH_DAY = re.compile(r"(?<!\d)(\d{4})[-/](\d{2})[-/](\d{2})(?!\d)")


def bucket_5m(ts_ms: int) -> int:
    """Start (ms) of the 5-minute bucket holding ts_ms."""
    return ts_ms - ts_ms % BUCKET_5M_MS


def day_start(ts_ms: int) -> int:
    """Start (ms) of the UTC day holding ts_ms."""
    return ts_ms - ts_ms % DAY_MS


@functools.lru_cache(maxsize=4096)
def _day_of_index(day_index: int) -> str:
    return (EPOCH_DATE + dt.timedelta(days=day_index)).isoformat()


def day_str(ts_ms: int) -> str:
    """UTC date of ts_ms as YYYY-MM-DD (memoised per day: it runs once per output row)."""
    return _day_of_index(ts_ms // DAY_MS)


def day_to_ms(day: str) -> int:
    """Start (ms) of the UTC day YYYY-MM-DD; ValueError when it is not a date."""
    d = dt.date.fromisoformat(day)
    return int(dt.datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() * 1000)


@functools.lru_cache(maxsize=4096)  # bucket starts repeat on every row of their bucket
def ts_str(ts_ms: int) -> str:
    """ms as a timestamp literal both BigQuery (JSON loads) and DuckDB read: UTC, microseconds."""
    day_index, in_day = divmod(ts_ms, DAY_MS)
    secs, ms = divmod(in_day, 1000)
    hours, rest = divmod(secs, 3600)
    return f"{_day_of_index(day_index)} {hours:02d}:{rest // 60:02d}:{rest % 60:02d}.{ms:03d}000+00:00"


def day_from_path(path: str | None) -> int | None:
    """Start (ms) of the day named in an archive path (dt=2026-11-20/, 2026/11/20/), else None."""
    if not path:
        return None
    for m in reversed(list(_PATH_DAY.finditer(path))):
        try:
            return day_to_ms(f"{m.group(1)}-{m.group(2)}-{m.group(3)}")
        except ValueError:
            continue
    return None
