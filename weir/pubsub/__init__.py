"""Pub/Sub for weir (a service: imports the schemas and transforms only).

This module: the names (topic, subscriptions), the topology (`ensure_topology`) and the
message attributes weir sets. Beside it: `emulator` (the local emulator's lifecycle),
`fallback` (the PyPI server standing in where the official emulator is not installed) and
`publish` (files of events onto the topic).
"""

from __future__ import annotations

from dataclasses import dataclass

TOPIC = "events"
SUBSCRIPTION = "events-sub"  # the streaming pipeline's (SPEC §4)
ARCHIVE_SUBSCRIPTION = "events-archive"  # the local archiver's: every message, archived before ack


@dataclass(frozen=True)
class PubSubNames:
    project: str
    topic: str = TOPIC
    subscription: str = SUBSCRIPTION
    archive_subscription: str = ARCHIVE_SUBSCRIPTION

    @property
    def topic_path(self) -> str:
        return f"projects/{self.project}/topics/{self.topic}"

    def subscription_path(self, name: str | None = None) -> str:
        return f"projects/{self.project}/subscriptions/{name or self.subscription}"


def ensure_topology(names: PubSubNames, ack_deadline_s: int = 60, timeout_s: float | None = None) -> None:
    """Creates the topic and both subscriptions when missing. With `timeout_s`, each call
    gives up after that long, unretried (google.api_core's errors), instead of the client's
    default of retrying for minutes."""
    from google.api_core.exceptions import AlreadyExists
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]  # the package's namespace, unseen by mypy

    bounded = {"retry": None, "timeout": timeout_s} if timeout_s is not None else {}
    publisher = pubsub_v1.PublisherClient()
    try:
        publisher.create_topic(name=names.topic_path, **bounded)
    except AlreadyExists:
        pass
    subscriber = pubsub_v1.SubscriberClient()
    with subscriber:
        for sub in (names.subscription, names.archive_subscription):
            try:
                subscriber.create_subscription(
                    name=names.subscription_path(sub),
                    topic=names.topic_path,
                    ack_deadline_seconds=ack_deadline_s,
                    **bounded,
                )
            except AlreadyExists:
                pass


# The message attributes weir sets (SPEC §1), named once: Dataflow's read takes event time from
# TIMESTAMP_ATTRIBUTE and drops repeats by DEDUPE_ATTRIBUTE (pipelines.dataflow_stream).
TIMESTAMP_ATTRIBUTE = "ts"
TIMESTAMP_SOURCE_ATTRIBUTE = "ts_source"  # "received": the send time stands in for a bad ts
EVENT_ID_ATTRIBUTE = "event_id"
DEDUPE_ATTRIBUTE = "dedupe_key"


def dedupe_attribute(site: str, event_id: str) -> str:
    """The value Dataflow's `id_label` drops repeats by: a digest of the event's identity
    (site and event_id, as `transforms.dedupe.identity`), so two sites' events that share an
    event_id are never taken for copies; a digest, because attribute values stop at 1 KB."""
    import hashlib

    key = f"{len(site)}:{site}{event_id}".encode("utf-8", "surrogatepass")
    return hashlib.blake2b(key, digest_size=16).hexdigest()


def attributes_of(event: dict, now_ms: int | None = None) -> dict[str, str]:
    """SPEC §1 attributes (event_id, ts as ms) of a decoded event, where they are valid, and
    `dedupe_key` (see `dedupe_attribute`).

    A message without a valid `ts` gets `now_ms` (the send time) instead, when given, and
    `ts_source=received`: a Dataflow read with `timestamp_attribute` needs a time on every
    message, and the bad event must still travel to become a dead letter. The payload is
    untouched, so the dead letter says what was wrong."""
    from weir.transforms.validate import Rejection, parse_ts

    out = {}
    if isinstance(event.get("event_id"), str) and event["event_id"]:
        out[EVENT_ID_ATTRIBUTE] = event["event_id"][:1024]
        if isinstance(event.get("site"), str) and event["site"]:
            out[DEDUPE_ATTRIBUTE] = dedupe_attribute(event["site"], event["event_id"])
    try:
        out[TIMESTAMP_ATTRIBUTE] = str(parse_ts(event.get("ts")))
    except Rejection:
        if now_ms is not None:
            out.update(_received_time(now_ms))
    return out


def _received_time(now_ms: int) -> dict[str, str]:
    return {TIMESTAMP_ATTRIBUTE: str(now_ms), TIMESTAMP_SOURCE_ATTRIBUTE: "received"}


def attributes_for(payload: bytes, now_ms: int | None = None) -> dict[str, str]:
    """SPEC §1 attributes of a raw payload (see `attributes_of`); an unparseable one gets only
    the `now_ms` fallback time, so it still travels and becomes a dead letter."""
    import orjson

    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        obj = None
    if isinstance(obj, dict):
        return attributes_of(obj, now_ms)
    return {} if now_ms is None else _received_time(now_ms)
