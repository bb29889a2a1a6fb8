"""Serving the collector: uvicorn with limits on what one client may hold, and a clean stop.

- Headers: a connection whose request head has not arrived within `header_timeout_s` is
  closed (uvicorn's h11 protocol has only an idle keep-alive timer, so a client trickling
  its headers held a connection for ever: 300 slow clients were all still held after 60 s).
  A request head is at most 16 KiB (h11's limit, made explicit). Bodies have their own
  deadline in the app (`weir.collector.app.BODY_TIMEOUT_S`).
- Proxies: uvicorn's own proxy-header handling is off (`proxy_headers=False`; it would
  believe X-Forwarded-For from any loopback peer): the app reads the forwarding header
  itself, from the proxies the operator trusts only (weir.collector.proxies).
- Stopping: the relay is closed in the app's lifespan shutdown, which uvicorn runs on SIGINT
  and SIGTERM alike before it re-raises the signal; closing in a `finally` after
  `uvicorn.run` never ran on SIGTERM, so the buffer was neither published nor spilled.
"""

from __future__ import annotations

import contextlib
import socket

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from weir.collector.app import create_app
from weir.collector.relay import Relay

HEADER_TIMEOUT_S = 10.0
MAX_HEAD_BYTES = 16 * 1024


def bounded_protocol(header_timeout_s: float) -> type:
    """uvicorn's h11 protocol, closing connections whose request head is late."""

    class BoundedH11Protocol(H11Protocol):
        _generation = 0

        def _arm_head_timer(self) -> None:
            self._generation += 1
            generation = self._generation
            self.loop.call_later(header_timeout_s, self._head_timeout, generation)

        def _head_timeout(self, generation: int) -> None:
            # Still waiting for the head this timer was armed for (no request in progress).
            waiting = self.conn.their_state is h11.IDLE and (self.cycle is None or self.cycle.response_complete)
            if generation == self._generation and waiting and not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm_head_timer()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm_head_timer()  # the next request on a kept-alive connection gets the same limit

    return BoundedH11Protocol


def serve(
    relay: Relay,
    sock: socket.socket,
    header_timeout_s: float = HEADER_TIMEOUT_S,
    cors_origins=("*",),
    sites: frozenset[str] | None = None,
    cookieless=None,
    clients=None,
    geography=None,
    log_level: str = "warning",
) -> None:
    """Runs the collector on the listening `sock` (weir.listen) until SIGINT or SIGTERM;
    starts the relay, and closes it on the way out."""

    @contextlib.asynccontextmanager
    async def lifespan(app):
        relay.start()
        try:
            yield
        finally:
            relay.close()

    config = uvicorn.Config(
        create_app(
            relay,
            lifespan=lifespan,
            cors_origins=tuple(cors_origins),
            sites=sites,
            cookieless=cookieless,
            clients=clients,
            geography=geography,
        ),
        http=bounded_protocol(header_timeout_s),
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        proxy_headers=False,
        lifespan="on",
        log_level=log_level,
        access_log=False,  # uvicorn's names the client: weir.collector.metrics logs requests without it
    )
    uvicorn.Server(config).run(sockets=[sock])
