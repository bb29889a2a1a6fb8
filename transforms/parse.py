"""The `ParseEvents` composite: `RawRecord`s in, timestamped `Event`s and `DeadLetter`s out."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.transforms.window import TimestampedValue

from transforms.counting import counter
from transforms.validate import parse_record


class _ParseFn(beam.DoFn):
    def __init__(self, fallback_received_ms: int, keep_payload: bool):
        self._fallback = fallback_received_ms
        self._keep_payload = keep_payload
        self._accepted = counter("events_accepted")
        self._dead = counter("dead_letters")

    def process(self, record):
        kind, value = parse_record(record, self._fallback)
        if kind == "event":
            self._accepted.inc()
            if self._keep_payload:
                value["raw_payload"] = record["payload"]
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
      keep_payload: keep the raw bytes on each event as `raw_payload` (streaming needs them
        for the dead letter of an event that turns out too late).
    """

    def __init__(self, fallback_received_ms: int = 0, keep_payload: bool = False):
        super().__init__()
        self._fallback = fallback_received_ms
        self._keep_payload = keep_payload

    def expand(self, records):
        fn = _ParseFn(self._fallback, self._keep_payload)
        return records | "ParseValidate" >> beam.ParDo(fn).with_outputs("dead", main="events")
