"""The local stream's status file: written by its supervisor, read by `weir status`.

One JSON object in `$WEIR_HOME/stream-status.json`, replaced atomically every few seconds
while the stream runs and once more when it stops (`running: false`, with `error` when it
stopped by itself). Beam-free: `weir status` reads it without loading Beam.

    {"running": true, "updated_at_ms": ..., "pid": ..., "subscription": "projects/...",
     "archived": 1234, "counters": {"events_accepted": ..., ...}, "watermark_lag_s": 2.5,
     "landing": "ok" | "failing", ["landing_failing_since_ms", "landing_failures",
     "landing_error"], ["pubsub": "failing", "pubsub_failing_since_ms"], ["error"]}
"""

from __future__ import annotations

import contextlib
import json
import os
import time

STATUS_FILE = "stream-status.json"


def status_path(home: str) -> str:
    return os.path.join(home, STATUS_FILE)


def write_status(
    home: str,
    *,
    running: bool,
    subscription: str,
    archived: int,
    counters: dict,
    watermark_lag_ms: int | None,
    health: dict,
) -> None:
    """Replaces the status file; `health` holds the landing's and Pub/Sub's state (and `error`)."""
    status = {
        **health,
        "running": running,
        "updated_at_ms": int(time.time() * 1000),
        "subscription": subscription,
        "archived": archived,
        "counters": counters,
        "watermark_lag_s": None if watermark_lag_ms is None else round(watermark_lag_ms / 1000, 1),
        "pid": os.getpid(),
    }
    path = status_path(home)
    tmp = f"{path}.{os.getpid()}.tmp"  # a name of this process's own: two writers never share one
    try:
        with open(tmp, "w") as fh:
            json.dump(status, fh)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def read_status(home: str) -> dict | None:
    """The status file as written, with `age_s` (seconds since it was written); None without one."""
    path = status_path(home)
    if not os.path.exists(path):
        return None
    with open(path) as fh:
        status = json.load(fh)
    status["age_s"] = round((time.time() * 1000 - status["updated_at_ms"]) / 1000, 1)
    return status


def format_counts(counters: dict, archived: int) -> str:
    """A stream's counters on one line, as `weir stream` and `weir status` print them."""
    accepted, dead = counters.get("events_accepted", 0), counters.get("dead_letters", 0)
    return (
        f"received={accepted + dead:,} accepted={accepted:,} dead_letters={dead:,} "
        f"duplicates={counters.get('duplicates', 0):,} too_late={counters.get('too_late', 0):,} archived={archived:,}"
    )
