"""The collector's HTTP endpoints (Starlette, served by uvicorn).

- `GET /p.gif?event_id=…&action=…` — one event in the query string; answers a 1x1 GIF.
- `POST /events` — a JSON array of events (the tracker batches); answers 202.
- `GET /healthz`, `GET /metrics` (Prometheus text: received, published, spilled, replayed,
  rejected, buffer and spill depth).

Both event endpoints answer at once (publishing is the relay's job), with no-cache headers
and CORS any site's tracker can use. They stamp `received_at`, add `user_agent` and the
client IP (from X-Forwarded-For only when the peer is a configured proxy), validate cheaply
(size, JSON well-formedness, objects only) and reject abuse with a clear 4xx. The pipeline
does the real validation.
"""

from __future__ import annotations

import base64
import time

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from weir.collector.relay import Relay
from weir.pubsub import attributes_of

GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
MAX_BODY_BYTES = 1024 * 1024
MAX_EVENTS = 500
MAX_QUERY_BYTES = 8192
INT_PARAMS = ("ts", "session_index", "engaged_seconds")
JSON_PARAMS = ("metadata", "extra")
HEADERS = {
    "Cache-Control": "no-cache, no-store, must-revalidate",
    "Pragma": "no-cache",
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": "86400",
}


def client_ip(request: Request, trusted_proxies: frozenset[str]) -> str | None:
    peer = request.client.host if request.client else None
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded and peer in trusted_proxies:
        return forwarded.split(",")[0].strip() or peer
    return peer


def _from_query(params) -> dict:
    event: dict = {}
    for key, value in params.items():
        if key in INT_PARAMS and value.lstrip("-").isdigit():
            event[key] = int(value)
        elif key in JSON_PARAMS:
            try:
                event[key] = orjson.loads(value)
            except orjson.JSONDecodeError:
                event[key] = value  # kept as sent; the pipeline decides
        else:
            event[key] = value
    return event


def create_app(relay: Relay, trusted_proxies: tuple[str, ...] = ()) -> Starlette:
    proxies = frozenset(trusted_proxies)

    def reject(status: int, reason: str) -> Response:
        relay.count("rejected")
        return JSONResponse({"error": reason}, status_code=status, headers=HEADERS)

    def accept(request: Request, events: list[dict]) -> None:
        now = int(time.time() * 1000)
        ua, ip = request.headers.get("user-agent"), client_ip(request, proxies)
        for event in events:
            event["received_at"] = now
            if ua and not event.get("user_agent"):
                event["user_agent"] = ua
            if ip:
                event["ip"] = ip
            relay.submit(orjson.dumps(event), attributes_of(event, now))

    async def pixel(request: Request) -> Response:
        if len(request.url.query) > MAX_QUERY_BYTES:
            return reject(414, f"query string over {MAX_QUERY_BYTES} bytes")
        if not request.query_params:
            return reject(400, "no event in the query string")
        accept(request, [_from_query(request.query_params)])
        return Response(GIF, media_type="image/gif", headers=HEADERS)

    async def events(request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return reject(413, f"body over {MAX_BODY_BYTES} bytes")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return reject(413, f"body over {MAX_BODY_BYTES} bytes")
        try:
            batch = orjson.loads(body)
        except orjson.JSONDecodeError:
            return reject(400, "body is not JSON")
        if isinstance(batch, dict):
            batch = [batch]
        if not isinstance(batch, list) or not all(isinstance(e, dict) for e in batch):
            return reject(400, "body must be a JSON array of event objects")
        if len(batch) > MAX_EVENTS:
            return reject(413, f"more than {MAX_EVENTS} events in one request")
        accept(request, batch)
        return JSONResponse({"accepted": len(batch)}, status_code=202, headers=HEADERS)

    async def preflight(request: Request) -> Response:
        return Response(status_code=204, headers=HEADERS)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True, "buffer_depth": relay.buffer.qsize()}, headers=HEADERS)

    async def metrics(request: Request) -> Response:
        c = relay.counters
        lines = [
            f"weir_collector_{name}_total {c.get(name, 0)}"
            for name in ("received", "published", "spilled", "replayed", "rejected")
        ]
        lines.append(f"weir_collector_buffer_depth {relay.buffer.qsize()}")
        lines.append(f"weir_collector_spill_depth {relay.spill_depth()}")
        return PlainTextResponse("\n".join(lines) + "\n")

    return Starlette(
        routes=[
            Route("/p.gif", pixel, methods=["GET"]),
            Route("/events", events, methods=["POST"]),
            Route("/events", preflight, methods=["OPTIONS"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ]
    )
