"""The collector's Prometheus metrics (`prometheus_client`): counters read from the relay at
scrape time, gauges of its buffer and spill, and request latency histograms per route.

In: a `Relay`. Out: a registry of its own (one per app, so tests and several apps in one
process never share series) and the text `/metrics` serves, with HELP and TYPE lines.
"""

from __future__ import annotations

import logging
import time

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

COUNTERS = {
    "received": "Events handed on by the endpoints (buffered or spilled).",
    "published": "Events published to Pub/Sub.",
    "spilled": "Events written to the spill file (Pub/Sub unreachable or the buffer full).",
    "replayed": "Spilled events published once Pub/Sub answered again.",
    "rejected": "Requests refused with a 4xx.",
    "spill_errors": "Spill writes the disk refused (the events were kept in memory and retried).",
    "spill_torn": "Torn spill lines set aside to <spill>.torn.",
    "lost_at_stop": "Events a collector without a spill file (--no-spill) could not publish before it stopped.",
    "head_requests": "HEAD requests of the pixel (link checkers, prefetches): answered, no event recorded.",
}
# `weir collect --access-log`: a line per request (method, path, status, time), never the
# client's address nor the query string (a pixel's event).
ACCESS = logging.getLogger("weir.collector.access")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class _RelayCollector:
    def __init__(self, relay):
        self._relay = relay

    def collect(self):
        counts = dict(self._relay.counters)
        for name, help_text in COUNTERS.items():
            family = CounterMetricFamily(f"weir_collector_{name}", help_text)
            family.add_metric([], counts.get(name, 0))
            yield family
        by_reason = CounterMetricFamily(
            "weir_collector_rejected_by_reason", "Requests refused with a 4xx, by reason.", labels=["reason"]
        )
        for name, n in sorted(counts.items()):
            if name.startswith("rejected:"):
                by_reason.add_metric([name.split(":", 1)[1]], n)
        yield by_reason
        addresses = CounterMetricFamily(
            "weir_collector_client_address",
            "Requests by where the client address came from: direct (the peer), forwarded (a trusted "
            "proxy's header), untrusted_peer (a forwarding header from a peer not trusted: ignored), "
            "invalid_header (a trusted proxy's header named no address: no geography).",
            labels=["source"],
        )
        for name, n in sorted(counts.items()):
            if name.startswith("client_address:"):
                addresses.add_metric([name.split(":", 1)[1]], n)
        yield addresses
        yield GaugeMetricFamily(
            "weir_collector_buffer_depth", "Events in the in-memory buffer.", value=self._relay.buffer.qsize()
        )
        depth = self._relay.spill_depth()
        if depth is not None:  # unreadable: /healthz says why
            yield GaugeMetricFamily("weir_collector_spill_depth", "Lines in the spill file.", value=depth)


class CollectorMetrics:
    """The registry of one collector app: `observe(route, status, seconds)`, `render()`."""

    def __init__(self, relay):
        self.registry = CollectorRegistry()
        self.registry.register(_RelayCollector(relay))
        self._latency = Histogram(
            "weir_collector_request_seconds",
            "Time to answer a request, by route and status.",
            ("route", "status"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def middleware(self, app):
        """ASGI middleware timing every HTTP request (its path and status); Starlette calls
        it as `middleware(app=...)`."""

        async def timed(scope, receive, send):
            if scope["type"] != "http":
                return await app(scope, receive, send)
            started = time.perf_counter()
            status = {"code": 500}

            async def send_status(message):
                if message["type"] == "http.response.start":
                    status["code"] = message["status"]
                await send(message)

            try:
                await app(scope, receive, send_status)
            finally:
                seconds = time.perf_counter() - started
                self._latency.labels(scope.get("path", ""), str(status["code"])).observe(seconds)
                if ACCESS.isEnabledFor(logging.INFO):
                    ACCESS.info(
                        "%s %s %d %.1f ms", scope.get("method"), scope.get("path"), status["code"], seconds * 1e3
                    )

        return timed

    def render(self) -> bytes:
        return generate_latest(self.registry)
