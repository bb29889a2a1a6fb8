"""`weir status`: is the stream keeping up? Backlog, newest bucket, lag behind real time, counters."""

from __future__ import annotations

import time

from weir.pipelines.local.status import read_status
from weir.warehouse.base import Warehouse

PEEK_LIMIT = 1000


def peek_backlog(subscription_path: str, limit: int = PEEK_LIMIT) -> int:
    """Messages waiting in a subscription, counted by pulling and at once releasing them
    (ack deadline 0), up to `limit`. The emulator has no monitoring API to ask instead; on
    Google Cloud read `subscription/num_undelivered_messages` in Cloud Monitoring."""
    from google.api_core.exceptions import DeadlineExceeded
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]  # the package's namespace, unseen by mypy

    with pubsub_v1.SubscriberClient() as sub:
        seen: set[str] = set()
        for _ in range(max(1, limit // 100)):
            try:
                response = sub.pull(subscription=subscription_path, max_messages=100, timeout=1)
            except DeadlineExceeded:
                break
            if not response.received_messages:
                break
            sub.modify_ack_deadline(
                subscription=subscription_path,
                ack_ids=[m.ack_id for m in response.received_messages],
                ack_deadline_seconds=0,
            )
            before = len(seen)
            seen.update(m.message.message_id for m in response.received_messages)
            if len(seen) == before or len(seen) >= limit:
                break
        return len(seen)


def status_report(home: str, warehouse: Warehouse | None, subscription_path: str | None) -> dict:
    """The stream's status file, the newest bucket and event (when there is a warehouse), the
    subscription's backlog (when given and it exists). Reads only."""
    now = int(time.time() * 1000)
    report: dict = {"now_ms": now}
    stream = read_status(home)
    if stream is not None:
        report["stream"] = stream
    newest = {"newest_bucket": None, "newest_event": None}
    if warehouse is not None:
        newest = warehouse.query(
            "SELECT MAX(bucket_start) AS newest_bucket, (SELECT MAX(event_ts) FROM events) AS newest_event "
            "FROM url_metrics_5m"
        ).records()[0]
    report["newest_bucket"] = newest["newest_bucket"].isoformat() if newest["newest_bucket"] else None
    if newest["newest_event"] is not None:
        report["newest_event"] = newest["newest_event"].isoformat()
        report["behind_real_time_s"] = round(now / 1000 - newest["newest_event"].timestamp(), 1)
    if subscription_path:
        from google.api_core.exceptions import NotFound

        try:
            report["backlog"] = peek_backlog(subscription_path)
            report["backlog_is_lower_bound"] = report["backlog"] >= PEEK_LIMIT
        except NotFound:  # no stream has made it yet: nothing to look at, nothing created
            report["backlog"] = None
    return report
