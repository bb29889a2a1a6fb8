"""Streaming windows and triggers for the 5-minute buckets, and the too-late rule.

Windows: 5-minute event-time windows (the bucket is also in the key, so batch and
streaming group the same events). Triggers: an early firing every `early_s` seconds of
processing time so the current bucket is live, the on-time firing when the watermark passes
the window's end, and a late firing for every late element within the allowed lateness.
Panes discard and `transforms.aggregate.RunningTotals` adds each to the key's total in state,
so every firing carries the bucket's whole value and the sink replaces the row (a query
never sees a sum of panes).

Too late is decided on the record's receive time, not on the runner's watermark: an event
is too late when its bucket ended more than `allowed_lateness_s` before it was received.
That rule is deterministic (the archive keeps receive times, so a rebuild knows which
events the stream turned away) and `ParseEvents` diverts such events to the dead letters
*before* grouping. Beam's own allowed lateness is larger by `SLACK_S`, so as long as the
pipeline lags real time by less than that, Beam never drops an element that was not counted.
"""

from __future__ import annotations

import time

import apache_beam as beam
from apache_beam.transforms import trigger, window
from apache_beam.utils.timestamp import Duration

from weir.transforms.counting import gauge
from weir.transforms.defaults import DEFAULT_ALLOWED_LATENESS_S, DEFAULT_EARLY_S
from weir.transforms.records import DeadLetter
from weir.transforms.timeutil import BUCKET_5M_MS, bucket_5m

SLACK_S = 600


def live_buckets(allowed_lateness_s: int = DEFAULT_ALLOWED_LATENESS_S, early_s: int = DEFAULT_EARLY_S):
    """The WindowInto for streaming aggregation: 5-minute windows, early/on-time/late panes."""
    return beam.WindowInto(
        window.FixedWindows(BUCKET_5M_MS // 1000),
        trigger=trigger.AfterWatermark(early=trigger.AfterProcessingTime(early_s), late=trigger.AfterCount(1)),
        accumulation_mode=trigger.AccumulationMode.DISCARDING,  # totals: aggregate.RunningTotals
        allowed_lateness=Duration(seconds=allowed_lateness_s + SLACK_S),
    )


def dedupe_horizon_floor_s(allowed_lateness_s: int) -> int:
    """The shortest streaming dedupe horizon consistent with the too-late rule.

    An event is accepted while it is received at most a bucket plus `allowed_lateness_s`
    after its time, and the dedupe forgets an event_id when the watermark passes its time plus
    the horizon. With a horizon shorter than the accepting span, a copy received late but in
    time (a replay an hour on) found its id forgotten and was counted twice live. So the
    horizon covers the span, plus `SLACK_S` for a pipeline lagging real time (as Beam's own
    lateness does)."""
    return BUCKET_5M_MS // 1000 + allowed_lateness_s + SLACK_S


def is_too_late(event: dict, allowed_lateness_s: int) -> bool:
    received = event.get("received_at")
    if received is None:
        return False
    return bucket_5m(event["ts"]) + BUCKET_5M_MS + allowed_lateness_s * 1000 < received


def too_late_letter(event: dict, payload: bytes, allowed_lateness_s: int) -> DeadLetter:
    """The dead letter of an event `is_too_late` turned away (the next rebuild counts it)."""
    return late_letter(
        event,
        payload,
        f"event time {event['ts']} is more than {allowed_lateness_s} s past its 5-minute bucket "
        f"when received at {event['received_at']}; the next rebuild of its day counts it",
    )


def late_letter(event: dict, payload: bytes, message: str) -> DeadLetter:
    """A `too_late` dead letter of a valid event, dated by its receive time."""
    return DeadLetter(
        received_at=event["received_at"],
        stage="window",
        error_kind="too_late",
        error_message=message,
        source=event.get("source"),
        event_id=event["event_id"],
        site=event["site"],
        event_ts=event["ts"],
        payload=payload,
    )


class _WatermarkLag(beam.DoFn):
    """Sets `watermark_lag_ms` at each on-time pane: how long after its window ended the
    watermark passed it (the firing is the runner telling us so), measured in processing time."""

    def __init__(self):
        self._lag = gauge("watermark_lag_ms")

    def process(self, row, window=beam.DoFn.WindowParam, pane=beam.DoFn.PaneInfoParam):
        from apache_beam.utils.windowed_value import PaneInfoTiming

        if pane.timing == PaneInfoTiming.ON_TIME:
            self._lag.set(max(0, int(time.time() * 1000) - int(window.end.micros // 1000)))
        return []


class WatermarkLag(beam.PTransform):
    """Watches a windowed aggregate's panes; outputs nothing (a gauge, see `_WatermarkLag`)."""

    def expand(self, rows):
        return rows | "OnTimePanes" >> beam.ParDo(_WatermarkLag())
