"""The collector's HTTP endpoints (Starlette, served by uvicorn).

- `GET /p.gif?event_id=…&action=…` — one event in the query string; answers a 1x1 GIF.
- `POST /events` — a JSON array of events (the tracker batches); answers 202.
- `GET /weir.js` — the tracker (weir.tracker), cached for an hour and revalidated by ETag,
  readable cross-origin so a page may pin it with Subresource Integrity.
- `GET /healthz`, `GET /metrics` (Prometheus, `prometheus_client`: received, published,
  spilled, replayed, rejected, spill errors and torn lines, buffer and spill depth, request
  latency histograms; weir.collector.metrics).

Both event endpoints answer at once (publishing is the relay's job), with no-cache headers
and CORS (Starlette's middleware) for the configured origins, any site's by default. They
stamp `received_at` and add `user_agent`, validate cheaply (size, JSON the pipeline can
read, objects only, nesting and user-agent limits) and reject abuse with a clear 4xx. A
request is checked whole before any of its events is handed on, so a 4xx publishes nothing
and a 2xx has handed on every event. The pipeline does the real validation.

The client address is read (behind trusted proxies only: weir.collector.proxies) to look up
the reader's country and region (weir.collector.geo) and, in cookieless mode, to derive a
per-day visitor id (weir.collector.cookieless); then it is forgotten. It is never put in an
event, and the `ip`, `country` and `region` members a client sends are dropped: the
collector forwards no address to Pub/Sub, the archive or its spill file, and a page cannot
say where its reader is.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
import urllib.parse

import orjson
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import weir.tracker
from weir.collector.geo import Geography
from weir.collector.metrics import CollectorMetrics
from weir.collector.proxies import ClientAddresses
from weir.collector.relay import Relay, RelayUnavailable
from weir.pubsub import attributes_of
from weir.transforms.validate import MAX_EVENT_BYTES, MAX_JSON_DEPTH, MAX_USER_AGENT_CHARS, too_deep

GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
MAX_BODY_BYTES = 1024 * 1024
MAX_EVENTS = 500
MAX_QUERY_BYTES = 8192
BODY_TIMEOUT_S = 10.0
TRACKER_MAX_AGE_S = 3600  # a new weir.js reaches readers within the hour
INT_PARAMS = ("ts", "session_index", "engaged_seconds", "scroll_quarters")
_INT = re.compile(r"-?[0-9]{1,18}")  # what fits in INT64 for sure; anything else stays a string
JSON_PARAMS = ("metadata", "extra")
_NOT_FROM_CLIENTS = ("ip", "country", "region")
HEADERS = {"Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache"}


class BadRequest(ValueError):
    """A request the collector refuses whole: (status, reason, kind: the metrics' label)."""

    def __init__(self, status: int, reason: str, kind: str = "invalid"):
        super().__init__(reason)
        self.status, self.reason, self.kind = status, reason, kind


_LONG_DIGITS = re.compile(rb"\d{20}")  # cheap test before the slow one below


def _has_huge_integer(body: bytes) -> bool:
    """Whether the JSON `body` holds an integer that does not fit in 64 bits (read exactly by
    the standard library, which keeps big integers)."""
    import json

    def huge(value) -> bool:
        if isinstance(value, bool):
            return False
        if isinstance(value, int):
            return not -(2**63) <= value < 2**64
        if isinstance(value, dict):
            return any(huge(v) for v in value.values())
        if isinstance(value, list):
            return any(huge(v) for v in value)
        return False

    try:
        return huge(json.loads(body))
    except (ValueError, RecursionError):
        return False


def _from_query(params) -> dict:
    event: dict = {}
    for key, value in params.items():
        if key in INT_PARAMS and _INT.fullmatch(value):
            event[key] = int(value)
        elif key in JSON_PARAMS:
            try:
                event[key] = orjson.loads(value)
            except orjson.JSONDecodeError:
                event[key] = value  # kept as sent; the pipeline decides
        else:
            event[key] = value
    return event


def _messages(
    events: list[dict],
    user_agent: str | None,
    now: int,
    sites: frozenset[str] | None = None,
    cookieless=None,
    address: str | None = None,
    place: tuple[str | None, str | None] = (None, None),
) -> list[tuple[bytes, dict]]:
    """Stamps and encodes a request's events; raises `BadRequest` before anything is handed on.
    With `sites`, an event for any other site refuses the request (403). With `cookieless`
    (weir.collector.cookieless.CookielessIds), an event without a visitor_id gets the day's
    derived one, from the client `address` (which goes no further). `place` is the reader's
    (country, region), each set on every event where known."""
    if user_agent is not None and len(user_agent) > MAX_USER_AGENT_CHARS:
        raise BadRequest(431, f"User-Agent over {MAX_USER_AGENT_CHARS} characters", "too_large")
    out = []
    for event in events:
        site = event.get("site")
        if sites is not None and not isinstance(site, str):  # a list or object is no site (nor hashable)
            shown = "missing" if site is None else f"a {type(site).__name__}, not a site name"
            raise BadRequest(403, f"site {shown} is not one this collector serves", "site_not_served")
        if sites is not None and site not in sites:
            raise BadRequest(403, f"site {str(site)[:100]!r} is not one this collector serves", "site_not_served")
        if too_deep(event, MAX_JSON_DEPTH):
            raise BadRequest(400, f"an event nests deeper than {MAX_JSON_DEPTH} levels")
        for name in _NOT_FROM_CLIENTS:  # never forwarded, never believed (module docstring)
            event.pop(name, None)
        event["received_at"] = now
        if place[0]:
            event["country"] = place[0]
            if place[1]:
                event["region"] = place[1]
        if cookieless is not None and not event.get("visitor_id") and isinstance(event.get("site"), str):
            event["visitor_id"] = cookieless.visitor_id(event["site"], address or "", user_agent or "", now)
        if user_agent and not event.get("user_agent"):
            event["user_agent"] = user_agent
        try:
            data = orjson.dumps(event)
        except (orjson.JSONEncodeError, TypeError) as exc:
            raise BadRequest(400, f"an event cannot be encoded: {exc}") from None
        if len(data) > MAX_EVENT_BYTES:  # the pipeline would only dead-letter it (too_large)
            raise BadRequest(413, f"an event over {MAX_EVENT_BYTES} bytes", "too_large")
        out.append((data, attributes_of(event, now)))
    return out


def create_app(
    relay: Relay,
    lifespan=None,
    cors_origins: tuple[str, ...] = ("*",),
    sites: frozenset[str] | None = None,
    cookieless=None,
    clients: ClientAddresses | None = None,
    geography: Geography | None = None,
) -> Starlette:
    """The collector's routes over `relay`; `lifespan` (Starlette's) runs at start and stop;
    `cors_origins` the origins whose pages may send events ("*": any); `sites` the sites it
    takes events for (None: any); `cookieless` derives visitor ids (see `_messages`);
    `clients` which proxies' forwarding headers to believe (None: none, the peer is the
    client); `geography` looks up the reader's country and region (None: no geography)."""
    observed = CollectorMetrics(relay)
    clients = clients or ClientAddresses()
    header_name = clients.header

    def reject(status: int, reason: str, kind: str = "invalid") -> Response:
        relay.count("rejected")
        relay.count(f"rejected:{kind}")  # /metrics: weir_collector_rejected_by_reason{reason=kind}
        return JSONResponse({"error": reason}, status_code=status, headers=HEADERS)

    async def accept(request: Request, events: list[dict]) -> Response | None:
        """Hands every event on, or none: a refusal's Response, or None when all were taken.
        What overflows the buffer is spilled by the relay's writer thread: this request waits
        for its own lines to be fsynced, the event loop does not."""
        peer = request.client.host if request.client else None
        client, outcome = clients.client(peer, request.headers.getlist(header_name))
        relay.count(f"client_address:{outcome}")
        place = geography.where(client) if geography is not None else (None, None)
        address = str(client) if client is not None else peer  # for cookieless ids only, then forgotten
        try:
            now = int(time.time() * 1000)
            messages = _messages(events, request.headers.get("user-agent"), now, sites, cookieless, address, place)
        except BadRequest as bad:
            return reject(bad.status, bad.reason, bad.kind)
        try:
            overflow = relay.buffer_what_fits(messages)
            if overflow:
                try:
                    await asyncio.wrap_future(relay.spill_soon(overflow))
                except OSError as exc:
                    relay.spill_refused(messages, overflow, exc)
        except RelayUnavailable as exc:  # neither buffer nor disk would take them: no 2xx
            return JSONResponse({"error": str(exc)}, status_code=503, headers=HEADERS)
        relay.count("received", len(messages))
        return None

    async def pixel(request: Request) -> Response:
        if request.method == "HEAD":  # a link checker or a prefetch asking about the image: no event
            relay.count("head_requests")
            return Response(GIF, media_type="image/gif", headers=HEADERS)
        if len(request.url.query) > MAX_QUERY_BYTES:
            return reject(414, f"query string over {MAX_QUERY_BYTES} bytes", "too_large")
        if not request.query_params:
            return reject(400, "no event in the query string")
        try:  # Starlette would read bytes that are not UTF-8 as U+FFFD: a changed event, silently
            for part in request.url.query.split("&"):
                urllib.parse.unquote_to_bytes(part.replace("+", " ")).decode("utf-8")
        except UnicodeDecodeError:
            return reject(400, "the query string is not UTF-8 once percent-decoded", "invalid_utf8")
        refused = await accept(request, [_from_query(request.query_params)])
        return refused or Response(GIF, media_type="image/gif", headers=HEADERS)

    async def events(request: Request) -> Response:
        origin = request.headers.get("origin")
        if "*" not in cors_origins and origin is not None and origin not in cors_origins:
            # CORS only stops a page from reading the answer: a text/plain POST (what the
            # tracker's sendBeacon sends) goes out without a preflight, so the origin is checked here.
            return reject(403, f"origin {origin[:100]!r} may not send events here", "origin_not_allowed")
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return reject(413, f"body over {MAX_BODY_BYTES} bytes", "too_large")

        async def read() -> bytes | None:
            body = bytearray()
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_BODY_BYTES:
                    return None
            return bytes(body)

        try:  # a client trickling its body holds no connection for long
            body = await asyncio.wait_for(read(), BODY_TIMEOUT_S)
        except asyncio.TimeoutError:
            return reject(408, f"body not received within {BODY_TIMEOUT_S:g} s", "timeout")
        if body is None:
            return reject(413, f"body over {MAX_BODY_BYTES} bytes", "too_large")
        try:
            batch = orjson.loads(body)
        except orjson.JSONDecodeError:
            return reject(400, "body is not JSON")
        if _LONG_DIGITS.search(body) and _has_huge_integer(body):
            # orjson reads an integer beyond 64 bits as a float: the event would be sent on changed.
            return reject(400, "a number in the body is an integer beyond 64 bits")
        if isinstance(batch, dict):
            batch = [batch]
        if not isinstance(batch, list) or not all(isinstance(e, dict) for e in batch):
            return reject(400, "body must be a JSON array of event objects")
        if len(batch) > MAX_EVENTS:
            return reject(413, f"more than {MAX_EVENTS} events in one request", "too_large")
        refused = await accept(request, batch)
        return refused or JSONResponse({"accepted": len(batch)}, status_code=202, headers=HEADERS)

    tracker = weir.tracker.script()
    tracker_etag = '"' + weir.tracker.integrity() + '"'
    tracker_headers = {
        "Cache-Control": f"public, max-age={TRACKER_MAX_AGE_S}",
        "ETag": tracker_etag,
        "Access-Control-Allow-Origin": "*",  # a <script crossorigin integrity=…> needs to read it
        "X-Content-Type-Options": "nosniff",
    }

    async def tracker_script(request: Request) -> Response:
        if tracker_etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=tracker_headers)
        return Response(tracker, media_type="text/javascript; charset=utf-8", headers=tracker_headers)

    async def healthz(request: Request) -> Response:
        problem = relay.problem()  # a dead relay thread or a spill the disk refuses is not healthy
        body: dict[str, object] = {"ok": problem is None, "buffer_depth": relay.buffer.qsize()}
        if problem:
            body["error"] = problem
        return JSONResponse(body, status_code=200 if problem is None else 503, headers=HEADERS)

    async def metrics(request: Request) -> Response:
        return Response(observed.render(), media_type=CONTENT_TYPE_LATEST)

    app = Starlette(
        routes=[
            Route("/p.gif", pixel, methods=["GET"]),
            Route("/events", events, methods=["POST"]),
            Route("/weir.js", tracker_script, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=list(cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["Content-Type"],
                max_age=86400,
            )
        ],
        lifespan=lifespan,
    )
    app.add_middleware(observed.middleware)  # outermost: times CORS answers too
    return app
