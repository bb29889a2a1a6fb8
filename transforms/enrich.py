"""Derived fields of SPEC section 2, computed the same way in every mode.

`enrich_event` is pure: a validated `Event` in, the same dict with the derived fields out
(`url` becomes the canonical URL, the URL as sent moves to `raw_url`). The client IP is
dropped here, the first step after validation, so it is never written anywhere.
`Enrich` is the Beam composite around it: an event whose enrichment raises becomes a dead
letter (stage `enrich`, kind `enrich_failed`, the validated event as its payload) rather than
failing its bundle, which on the local stream would stop the pipeline. Bounded
inputs (transforms.validate) and the property tests keep this path empty; it is the net
under them.
"""

from __future__ import annotations

import apache_beam as beam
import orjson

from weir.transforms.counting import counter
from weir.transforms.fingerprint import farm_fingerprint
from weir.transforms.records import DeadLetter, Event
from weir.transforms.referrers import classify
from weir.transforms.urls import campaign, canonical_url, host_of
from weir.transforms.useragents import parse_user_agent


def visitor_type(session_index: int | None) -> str | None:
    if session_index is None:
        return None
    return "new" if session_index == 1 else "returning"


def channel_of(extra) -> str:
    if isinstance(extra, dict) and isinstance(extra.get("channel"), str) and extra["channel"]:
        return extra["channel"].lower()
    return "website"


def enrich_event(event: Event) -> Event:
    """Adds canonical URL, campaign, referrer, device/browser/OS, bot flag, visitor fields."""
    event = dict(event)  # never mutate an element Beam may still hold elsewhere
    raw_url = event["url"]
    event.pop("ip", None)  # geo from IP is a later, opt-in step; the raw IP is never kept
    category, domain = classify(event.get("referrer"), event["site"], host_of(raw_url))
    ua = parse_user_agent(event.get("user_agent"))
    event.update(campaign(raw_url))
    event.update(
        raw_url=raw_url,
        url=canonical_url(raw_url),
        referrer_category=category,
        referrer_domain=domain,
        device_type=ua.device_type,
        browser=ua.browser,
        os=ua.os,
        is_bot=ua.is_bot,
        visitor_type=visitor_type(event.get("session_index")),
        visitor_fp=farm_fingerprint(event["visitor_id"]),
        channel=channel_of(event.get("extra")),
    )
    return event


def enrich_failure(event: Event, exc: BaseException) -> DeadLetter:
    """The dead letter of an event whose enrichment raised."""
    return DeadLetter(
        received_at=event.get("received_at") or event["ts"],
        stage="enrich",
        error_kind="enrich_failed",
        error_message=f"enrichment failed: {type(exc).__name__}: {str(exc)[:500]}",
        source=event.get("source"),
        event_id=event["event_id"],
        site=event["site"],
        event_ts=event["ts"],
        payload=orjson.dumps({k: v for k, v in event.items() if k != "ip"}),
    )


class _EnrichFn(beam.DoFn):
    def __init__(self):
        self._failed = counter("enrich_failed")

    def process(self, events):
        out = []
        for event in events:
            try:
                out.append(enrich_event(event))
            except Exception as exc:  # the net under bounded inputs: a dead letter, not a failed bundle
                self._failed.inc()
                yield beam.pvalue.TaggedOutput("dead", enrich_failure(event, exc))
        if out:
            yield out  # the batch's timestamp: no event in it is earlier than before


class Enrich(beam.PTransform):
    """Takes `PCollection[list[Event]]` (validated, transforms.batches); produces `.events`
    (the same batches with SPEC §2 fields) and `.dead` (single `DeadLetter`s of events whose
    enrichment raised; see the module docstring)."""

    def expand(self, batches):
        return batches | "EnrichEvent" >> beam.ParDo(_EnrichFn()).with_outputs("dead", main="events")
