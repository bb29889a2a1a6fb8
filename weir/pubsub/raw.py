"""Pulls, acks and publishes on the raw protobuf messages, for weir's own local subscribers
(the archiver, the DirectRunner's reader) and the bench's publisher.

- `pull` fills one batch from successive pulls while a backlog lasts: the emulator returns at
  most FULL_PULL messages a pull (its page; the service's is larger), so one pull per batch
  meant, at 8,000 events/s, 80 archive files, fsyncs and ack calls a second (measured, the
  archiver's largest costs).
- Both read and acknowledge through the raw protobufs: the client's proto-plus wrappers cost
  ~10x more per field read, and marshalling a list of ack ids into a request was a quarter of
  the archiver's CPU at 8,000 events/s (py-spy).
- `pull` calls the Pull method bare on the client's own gRPC channel (its credentials and
  endpoint), without the generated client's wrappers (retry and timeout closures, interceptors,
  request and response conversion): measured on the emulator, 3.7 -> 2.6 us of CPU per message
  pulled, in the stream's reader and in the archiver alike.
- `publish` sends a list of messages in one request: the client's `publish()`, a future and
  a batching thread per message, held the bench's publisher below 8,000 messages/s (a
  publisher must hold the rate it is asked for).
"""

from __future__ import annotations

FULL_PULL = 100  # a pull that returns this many means more are waiting
NEXT_PULL_DEADLINE_S = 0.2  # the deadline of the pulls after a full one: the backlog is there
ACK_BATCH = 1000  # ack ids per acknowledge request (the service caps a request's size)


def pull(client, subscription: str, max_messages: int, deadline_s: float) -> tuple[list, Exception | None]:
    """Up to `max_messages` raw `ReceivedMessage` protobufs from `subscription`, and the error
    that ended the pulls early, if one did (Pub/Sub unreachable: what was pulled before it is
    returned, nothing is lost, what was not acked is redelivered). An idle subscription
    returns ([], None) after `deadline_s`. Pulls are not retried by the client (its default
    retries for a minute): the caller decides."""
    from google.api_core.exceptions import DeadlineExceeded, GoogleAPICallError

    received: list = []
    deadline = deadline_s
    call = _pull_call(client, subscription)
    while len(received) < max_messages:
        try:
            got = call(max_messages - len(received), deadline)
        except DeadlineExceeded:
            break  # idle
        except GoogleAPICallError as exc:
            return received, exc
        received.extend(got)
        if len(got) < FULL_PULL:
            break  # the backlog is drained
        deadline = NEXT_PULL_DEADLINE_S
    return received, None


def _pull_call(client, subscription: str):
    """(max_messages, timeout s) -> the received raw messages of one Pull on `subscription`,
    raising the google.api_core errors the client would. Bare gRPC on the client's channel
    where its transport has one, else the client's own `pull`."""
    import grpc
    from google.api_core.exceptions import from_grpc_error
    from google.pubsub_v1.types import PullRequest, PullResponse

    channel = getattr(getattr(client, "transport", None), "grpc_channel", None)
    if channel is None:

        def client_pull(max_messages: int, timeout_s: float):
            response = client.pull(subscription=subscription, max_messages=max_messages, timeout=timeout_s, retry=None)
            return type(response).pb(response).received_messages

        return client_pull
    method = channel.unary_unary(
        "/google.pubsub.v1.Subscriber/Pull",
        request_serializer=PullRequest.pb().SerializeToString,
        response_deserializer=PullResponse.pb().FromString,
    )
    request = PullRequest.pb()
    metadata = (("x-goog-request-params", f"subscription={subscription}"),)  # the routing header the client sends

    def bare_pull(max_messages: int, timeout_s: float):
        try:
            response = method(
                request(subscription=subscription, max_messages=max_messages), timeout=timeout_s, metadata=metadata
            )
        except grpc.RpcError as exc:
            raise from_grpc_error(exc) from exc
        return response.received_messages

    return bare_pull


def acknowledge(client, subscription: str, ack_ids: list[str]) -> None:
    """Acks `ack_ids` on `subscription`, ACK_BATCH a request, each request built as its raw
    protobuf and wrapped without a copy."""
    from google.pubsub_v1.types import AcknowledgeRequest

    raw_request = AcknowledgeRequest.pb()
    for start in range(0, len(ack_ids), ACK_BATCH):
        request = raw_request(subscription=subscription, ack_ids=ack_ids[start : start + ACK_BATCH])
        client.acknowledge(request=AcknowledgeRequest.wrap(request))


def publish(client, topic: str, messages: list[tuple[bytes, dict[str, str]]]) -> list[str]:
    """Publishes (data, attributes) pairs to `topic` in one request (a `PublisherClient`);
    returns their message ids. Raises if the request fails: nothing is silently not sent."""
    from google.pubsub_v1.services.publisher import PublisherClient as GapicPublisher
    from google.pubsub_v1.types import PublishRequest, PubsubMessage

    message = PubsubMessage.pb()
    request = PublishRequest.pb()(topic=topic, messages=[message(data=d, attributes=a) for d, a in messages])
    # The generated client's one-request publish (which `PublisherClient` overrides with its batching).
    response = GapicPublisher.publish(client, request=PublishRequest.wrap(request))
    return list(type(response).pb(response).message_ids)
