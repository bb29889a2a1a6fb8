"""The `ParseEvents` composite: batches of `RawRecord`s in, batches of `Event`s (stamped
with the earliest event time among them) and single `DeadLetter`s out."""

from __future__ import annotations

import apache_beam as beam

from weir.transforms.batches import stamped
from weir.transforms.counting import counter
from weir.transforms.validate import parse_record
from weir.transforms.windowing import is_too_late, too_late_letter


class _ParseFn(beam.DoFn):
    def __init__(self, fallback_received_ms: int, too_late_after_s: int | None):
        self._fallback = fallback_received_ms
        self._too_late_after_s = too_late_after_s
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
            events.append(value)
            if earliest is None or value["ts"] < earliest:
                earliest = value["ts"]
        if dead:
            self._dead.inc(dead)
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
    """

    def __init__(self, fallback_received_ms: int = 0, too_late_after_s: int | None = None):
        super().__init__()
        self._fallback = fallback_received_ms
        self._too_late_after_s = too_late_after_s

    def expand(self, records):
        fn = _ParseFn(self._fallback, self._too_late_after_s)
        return records | "ParseValidate" >> beam.ParDo(fn).with_outputs("dead", main="events")
