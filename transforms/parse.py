"""The `ParseEvents` composite: batches of `RawRecord`s in, batches of `Event`s (stamped
with the earliest event time among them) and single `DeadLetter`s out."""

from __future__ import annotations

import apache_beam as beam

from weir.transforms.batches import stamped
from weir.transforms.counting import counter, gauge
from weir.transforms.records import DeadLetter
from weir.transforms.sitetime import DAY_LATENESS_S, SiteZones
from weir.transforms.validate import parse_record
from weir.transforms.windowing import is_too_late, late_letter, too_late_letter


def day_too_late_letter(event: dict, payload: bytes, zones: SiteZones, lateness_s: int) -> DeadLetter:
    """The dead letter of an event received more than `lateness_s` after its site's day ended:
    booked to the day it was received on, so no record is left between two days' inputs."""
    return late_letter(
        event,
        payload,
        f"event time {event['ts']} is on {zones.day_of(event['site'], event['ts'])} in "
        f"{zones.zone_of(event['site'])}, and it was received at {event['received_at']}, more than "
        f"{lateness_s} s after that day ended; it counts as too late on the day it was received",
    )


class _ParseFn(beam.DoFn):
    def __init__(
        self,
        fallback_received_ms: int,
        too_late_after_s: int | None,
        day_zones: SiteZones | None = None,
        day_lateness_s: int = DAY_LATENESS_S,
    ):
        self._fallback = fallback_received_ms
        self._too_late_after_s = too_late_after_s
        self._day_zones, self._day_lateness_s = day_zones, day_lateness_s
        self._newest_received = gauge("newest_received_ms")  # streaming: how far the stream has read
        self._newest = 0
        self._accepted = counter("events_accepted")
        self._dead = counter("dead_letters")
        self._too_late = counter("too_late")

    def process(self, records):
        events, earliest, dead = [], None, 0
        for record in records:
            kind, value = parse_record(record, self._fallback)
            if kind != "event":
                dead += 1
                counter(f"dead_letters_{value['error_kind']}").inc()
                yield beam.pvalue.TaggedOutput("dead", value)
                continue
            if self._too_late_after_s is not None and is_too_late(value, self._too_late_after_s):
                self._too_late.inc()
                self._accepted.inc()
                yield beam.pvalue.TaggedOutput(
                    "dead", too_late_letter(value, record["payload"], self._too_late_after_s)
                )
                continue
            zones = self._day_zones
            if zones is not None and zones.day_too_late(
                value["site"], value["ts"], value.get("received_at"), self._day_lateness_s
            ):
                self._too_late.inc()
                self._accepted.inc()
                yield beam.pvalue.TaggedOutput(
                    "dead", day_too_late_letter(value, record["payload"], zones, self._day_lateness_s)
                )
                continue
            events.append(value)
            if earliest is None or value["ts"] < earliest:
                earliest = value["ts"]
        if dead:
            self._dead.inc(dead)
        if self._too_late_after_s is not None and records:
            # The daily close waits until the stream has read past the day's close (weir.daily).
            newest = max(r["received_at"] or 0 for r in records)
            if newest > self._newest:
                self._newest = newest
                self._newest_received.set(newest)
        if events:
            self._accepted.inc(len(events))
            # Event time comes from the payload's ts, in every mode: a rebuild reproduces the
            # buckets the stream made from the same events.
            yield stamped(events, earliest)


class ParseEvents(beam.PTransform):
    """Takes `PCollection[list[RawRecord]]` (transforms.batches); produces `.events`
    (`list[Event]`, stamped with the earliest event time in the list) and `.dead`
    (`DeadLetter`). Every input record lands in exactly one of the two.

    Args:
      fallback_received_ms: dates dead letters that carry no time at all (see
        `transforms.validate.parse_record`).
      too_late_after_s: streaming: valid events `transforms.windowing.is_too_late` turns away
        become dead letters here (counted as `too_late`, not `dead_letters`). Decided on
        receive time, so it needs no watermark; done here, where the raw payload the dead
        letter keeps is at hand, rather than carrying every event's payload to a step of
        its own.
      day_zones: batch: events received more than `day_lateness_s` after their site's day
        ended (in the site's zone) become `too_late` dead letters of their receive day, so
        a day's rebuild reads a bounded span of the archive and every record has one day.
    """

    def __init__(
        self,
        fallback_received_ms: int = 0,
        too_late_after_s: int | None = None,
        day_zones: SiteZones | None = None,
        day_lateness_s: int = DAY_LATENESS_S,
    ):
        super().__init__()
        self._fallback = fallback_received_ms
        self._too_late_after_s = too_late_after_s
        self._day_zones, self._day_lateness_s = day_zones, day_lateness_s

    def expand(self, records):
        fn = _ParseFn(self._fallback, self._too_late_after_s, self._day_zones, self._day_lateness_s)
        return records | "ParseValidate" >> beam.ParDo(fn).with_outputs("dead", main="events")
