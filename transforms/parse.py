"""The `ParseEvents` composite: `RawRecord`s in, timestamped `Event`s and `DeadLetter`s out."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.transforms.window import TimestampedValue

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

    def process(self, record):
        kind, value = parse_record(record, self._fallback)
        if kind == "event":
            self._accepted.inc()
            if self._too_late_after_s is not None and is_too_late(value, self._too_late_after_s):
                self._too_late.inc()
                yield beam.pvalue.TaggedOutput(
                    "dead", too_late_letter(value, record["payload"], self._too_late_after_s)
                )
                return
            # Event time comes from the payload's ts, in every mode: a rebuild reproduces the
            # buckets the stream made from the same events.
            yield TimestampedValue(value, value["ts"] / 1000.0)
        else:
            self._dead.inc()
            counter(f"dead_letters_{value['error_kind']}").inc()
            yield beam.pvalue.TaggedOutput("dead", value)


class ParseEvents(beam.PTransform):
    """Takes `PCollection[RawRecord]`; produces `.events` (`Event`, stamped with event time)
    and `.dead` (`DeadLetter`). Every input lands in exactly one of the two.

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
