"""Time helpers: ms <-> UTC strings and bucket arithmetic. Pure functions."""

from __future__ import annotations

import datetime as dt
import re

UTC = dt.timezone.utc
DAY_MS = 86_400_000
BUCKET_5M_MS = 300_000

_PATH_DAY = re.compile(r"(?<!\d)(\d{4})[-/](\d{2})[-/](\d{2})(?!\d)")


def bucket_5m(ts_ms: int) -> int:
    """Start (ms) of the 5-minute bucket holding ts_ms."""
    return ts_ms - ts_ms % BUCKET_5M_MS


def day_start(ts_ms: int) -> int:
    """Start (ms) of the UTC day holding ts_ms."""
    return ts_ms - ts_ms % DAY_MS


def day_str(ts_ms: int) -> str:
    """UTC date of ts_ms as YYYY-MM-DD."""
    return dt.datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%d")


def day_to_ms(day: str) -> int:
    """Start (ms) of the UTC day YYYY-MM-DD; ValueError when it is not a date."""
    d = dt.date.fromisoformat(day)
    return int(dt.datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() * 1000)


def ts_str(ts_ms: int) -> str:
    """ms as a timestamp literal both BigQuery (JSON loads) and DuckDB read: UTC, microseconds."""
    secs, ms = divmod(ts_ms, 1000)
    base = dt.datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"{base}.{ms:03d}000+00:00"


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
