"""Time helpers against the standard library's own formatting."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from weir.transforms.timeutil import bucket_5m, day_from_path, day_str, day_to_ms, ts_str


def test_formatting_matches_datetime_for_many_instants():
    rng = random.Random(0)
    for ms in [0, 1, 86_399_999, 86_400_000, 951_782_400_000] + [rng.randrange(4_102_444_800_000) for _ in range(500)]:
        d = dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)
        assert day_str(ms) == d.date().isoformat()
        assert ts_str(ms) == d.strftime("%Y-%m-%d %H:%M:%S.") + f"{ms % 1000:03d}000+00:00"
        assert dt.datetime.fromisoformat(ts_str(ms)) == d.replace(microsecond=(ms % 1000) * 1000)


def test_buckets_and_days():
    assert bucket_5m(day_to_ms("2025-11-20") + 299_999) == day_to_ms("2025-11-20")
    assert bucket_5m(day_to_ms("2025-11-20") + 300_000) == day_to_ms("2025-11-20") + 300_000


@pytest.mark.parametrize(
    "path, day",
    [
        ("gs://b/archive/dt=2025-11-20/hour=03/part-0.avro", "2025-11-20"),
        ("/data/2025/11/20/x.jsonl", "2025-11-20"),
        ("/data/x-2025-13-45.jsonl", None),
        ("/data/events.jsonl", None),
    ],
)
def test_day_from_path(path, day):
    assert day_from_path(path) == (day_to_ms(day) if day else None)
