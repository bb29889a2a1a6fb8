"""The stats API (/api/top, /api/now, /api/timeseries, /api/openapi.json) and the live
dashboard at / (static files in weir/serve/static/, which call the API like any client).

Every answer comes from `weir.query.client.QueryClient`, the same client `weir sql` and
`weir plot` use. A bad parameter is a 400 whose body names it and says why; nothing the
caller sends reaches SQL but as a query parameter (tests/test_serve.py sends hostile ones).
"""

from __future__ import annotations

import datetime as dt
from importlib import resources

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from weir.console.output import csv_text, plain
from weir.query.client import GRAINS, QueryClient, SeriesQuery
from weir.query.top import MAX_LIMIT, ORDER_BY, TopQuery
from weir.transforms.metrics import DIMENSIONS, METRICS
from weir.usage import UsageError
from weir.warehouse.base import QueryError, QueryResult, Warehouse

MAX_HOURS = 24 * 31
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)  # times the API takes: no web analytics before
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc)
# The longest range of each series granularity: a day of 5-minute points a week, an hour's a quarter.
MAX_SPAN = {"5m": dt.timedelta(days=8), "1h": dt.timedelta(days=92), "1d": dt.timedelta(days=3 * 366)}
ZONES_TTL_S = 30.0  # how long the API keeps the sites' time zones before reading them again
STATIC = str(resources.files("weir.serve").joinpath("static"))  # a directory of the installed package
# The page runs only its own script and calls only this server (nothing from the internet).
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'",
    "X-Content-Type-Options": "nosniff",
}


class Denied(Exception):
    def __init__(self, status: int, why: str):
        super().__init__(why)
        self.status = status


def load_keys(path: str) -> dict[str, tuple[str, ...] | None]:
    """An API key file, `{"keys": {"<key>": ["site", ...] or "*"}}` -> key: its sites (None: all).
    Raises ValueError with what is wrong."""
    import json

    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, dict) or not keys:
        raise UsageError(f'{path}: expected {{"keys": {{"<key>": ["site", ...] or "*"}}}}')
    out: dict[str, tuple[str, ...] | None] = {}
    for key, sites in keys.items():
        if len(key) < 16:
            raise UsageError(f"{path}: a key must be at least 16 characters")
        if sites == "*":
            out[key] = None
        elif isinstance(sites, list) and sites and all(isinstance(s, str) for s in sites):
            out[key] = tuple(sites)
        else:
            raise UsageError(f'{path}: the sites of a key are a list of names or "*"')
    return out


class BadParameter(UsageError):
    def __init__(self, name: str, why: str):
        super().__init__(f"{name}: {why}")
        self.name = name


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadParameter(name, f"not an integer: {raw[:50]!r}") from None
    if not low <= value <= high:
        raise BadParameter(name, f"must be from {low} to {high}")
    return value


def _time(request: Request, name: str) -> dt.datetime | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise BadParameter(name, f"not an ISO 8601 time: {raw[:50]!r}") from None
    value = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if not EARLIEST <= value <= LATEST:
        raise BadParameter(name, f"must be between {EARLIEST.year} and {LATEST.year}")
    return value


def _day(request: Request, zone: str) -> str | None:
    """`date`: YYYY-MM-DD, `today` or `yesterday`, a day of the site's calendar (`zone`)."""
    from weir.transforms.sitetime import local_day

    raw = request.query_params.get("date")
    if raw is None:
        return None
    if any(request.query_params.get(n) is not None for n in ("start", "end", "minutes")):
        raise BadParameter("date", "give a date or a range (start, end, minutes), not both")
    today = local_day(int(dt.datetime.now(dt.timezone.utc).timestamp() * 1000), zone)
    if raw in ("today", "yesterday"):
        day = dt.date.fromisoformat(today) - dt.timedelta(days=raw == "yesterday")
        return day.isoformat()
    try:
        return dt.date.fromisoformat(raw).isoformat()
    except ValueError:
        raise BadParameter("date", f"not YYYY-MM-DD, today or yesterday: {raw[:50]!r}") from None


def _range(request: Request, default_minutes: int) -> tuple[dt.datetime, dt.datetime]:
    start, end = _time(request, "start"), _time(request, "end")
    if start is None:
        minutes = _int(request, "minutes", default_minutes, 5, MAX_HOURS * 60)
        end = end or dt.datetime.now(dt.timezone.utc)
        start = end - dt.timedelta(minutes=minutes)
    end = end or dt.datetime.now(dt.timezone.utc)
    if end <= start:
        raise BadParameter("end", "must be after start")
    return start, end


_BASE = {"site", "format"}
_RANGE_PARAMS = {"minutes", "date", "start", "end"}
PARAMETERS = {  # what each endpoint understands; anything else is refused, never ignored
    "top": _BASE | _RANGE_PARAMS | {"by", "limit", "order_by"},
    "now": _BASE,
    "timeseries": _BASE | _RANGE_PARAMS | {"metric", "granularity", "url", "dimension", "value"},
    "content": _BASE | _RANGE_PARAMS | {"url"},
}


def _known(request: Request, endpoint: str) -> None:
    """A 400 naming a parameter the endpoint does not understand: an ignored filter would be a
    wrong number."""
    unknown = sorted(set(request.query_params) - PARAMETERS[endpoint])
    if unknown:
        raise BadParameter(
            unknown[0], f"not a parameter of /api/{endpoint} (it takes {', '.join(sorted(PARAMETERS[endpoint]))})"
        )


def _choice(request: Request, name: str, default: str | None, choices) -> str | None:
    value = request.query_params.get(name, default)
    if value is not None and value not in choices:
        raise BadParameter(name, f"must be one of {', '.join(sorted(choices))}")
    return value


def _answer(request: Request, rows: list[dict], extra: dict | None = None) -> Response:
    fmt = _choice(request, "format", "json", {"json", "csv"})
    if fmt == "csv":
        columns = list(rows[0]) if rows else []
        cells = [tuple(_inert(v) for v in r.values()) for r in rows]
        return Response(csv_text(QueryResult(columns, cells)), media_type="text/csv")
    return JSONResponse({**(extra or {}), "rows": [{k: plain(v) for k, v in r.items()} for r in rows]})


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _inert(value):
    """A CSV cell a spreadsheet will not run: text that would start a formula (a tracked page's
    section `=HYPERLINK(...)`) gets a leading apostrophe, as OWASP advises; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _loopback_host(request: Request) -> bool:
    """Whether the request's Host names this machine (localhost, 127.x, ::1), port aside."""
    host = request.headers.get("host", "")
    name = host[1 : host.index("]")] if host.startswith("[") and "]" in host else host.rsplit(":", 1)[0]
    return name == "localhost" or name == "::1" or name.startswith("127.")


def create_app(warehouse: Warehouse, keys: dict[str, tuple[str, ...] | None] | None = None) -> Starlette:
    """The API over `warehouse`. With `keys` (see `load_keys`), every request needs one
    (`Authorization: Bearer <key>` or `X-API-Key`): 401 without a known key, 403 for a site
    the key does not cover; a key's answers only ever hold its sites."""
    client = QueryClient(warehouse)
    by_choices = {"url", *(d.name for d in DIMENSIONS)}
    zones_held: list = [None, 0.0]  # the sites' zones, read again after ZONES_TTL_S

    def zones():
        import time

        from weir import sites

        if zones_held[0] is None or time.monotonic() - zones_held[1] > ZONES_TTL_S:
            zones_held[:] = [sites.zones(warehouse), time.monotonic()]
        return zones_held[0]

    def day_range(request: Request, site: str | None) -> tuple[str | None, str, tuple[dt.datetime, dt.datetime] | None]:
        """(the `date` asked for, its zone, its span) of `site`'s calendar (UTC for all sites)."""
        from weir.transforms.sitetime import day_span

        zone = zones().zone_of(site) if site else "UTC"
        day = _day(request, zone)
        if day is None:
            return None, zone, None
        start, end = day_span(day, zone)
        utc = dt.timezone.utc
        return day, zone, (dt.datetime.fromtimestamp(start / 1000, utc), dt.datetime.fromtimestamp(end / 1000, utc))

    def access(request: Request, need_site: bool = False) -> tuple[str | None, tuple[str, ...] | None]:
        """(the site asked for, the sites the key may see: None for all)."""
        site = request.query_params.get("site")
        if keys is None:
            return site, None
        given = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix("Bearer ")
        if given not in keys:
            raise Denied(401, "a valid API key is needed (Authorization: Bearer <key>)")
        sites = keys[given]
        if sites is not None and site is not None and site not in sites:
            raise Denied(403, f"this key does not cover site {site[:100]!r}")
        if sites is not None and site is None and need_site:
            raise BadParameter("site", "required with a key limited to some sites")
        return site, sites

    # The handlers are plain functions: Starlette runs them in its thread pool, so a slow query
    # never holds the event loop (and with it every other request).
    def top(request: Request) -> Response:
        _known(request, "top")
        site, sites = access(request)
        day, zone, span = day_range(request, site)
        start, end = span or _range(request, 60)
        if day is not None and site is None:  # every site's own day: the widest span of them
            from weir.transforms.sitetime import DayScope

            lo, hi = DayScope(day).span(zones())
            start = dt.datetime.fromtimestamp(lo / 1000, dt.timezone.utc)
            end = dt.datetime.fromtimestamp(hi / 1000, dt.timezone.utc)
        query = TopQuery(
            by=_choice(request, "by", "url", by_choices),
            start=start,
            end=end,
            site=site,
            sites=sites,
            limit=_int(request, "limit", 10, 1, MAX_LIMIT),
            order_by=_choice(request, "order_by", "pageviews", set(ORDER_BY)),
            days=(day,) if day else (),
            zones=zones(),
        )
        rows = client.top(query)
        for row in rows:  # engaged time per visitor, as the newsroom reads it
            row["engaged_seconds_per_visitor"] = (
                round(row["engaged_seconds"] / row["visitors"], 1) if row["visitors"] else 0
            )
        extra = {"by": query.by, "start": start.isoformat(), "end": end.isoformat()}
        if day is not None:  # a day is each site's own (docs/decisions.md)
            extra.update({"date": day, "timezone": zone if site else "each site's own"})
        return _answer(request, rows, extra)

    def now(request: Request) -> Response:
        _known(request, "now")
        site, sites = access(request)
        figures = [client.right_now(site, m, sites=sites) for m in (5, 30)]
        return _answer(request, figures, {"site": site})

    def timeseries(request: Request) -> Response:
        _known(request, "timeseries")
        site, _ = access(request, need_site=True)  # a limited key names its site
        day, zone, span = day_range(request, site)
        start, end = span or _range(request, 24 * 60)
        dimension = _choice(request, "dimension", None, {d.name for d in DIMENSIONS})
        value = request.query_params.get("value")
        granularity = _choice(request, "granularity", "1h", set(GRAINS)) or "1h"
        if end - start > MAX_SPAN[granularity]:
            raise BadParameter("granularity", f"{granularity} series span at most {MAX_SPAN[granularity].days} days")
        query = SeriesQuery(
            metric=_choice(request, "metric", "pageviews", {m.name for m in METRICS}),
            start=start,
            end=end,
            granularity=granularity,
            site=site,
            url=request.query_params.get("url"),
            dimension=dimension,
            values=(value,) if value is not None else (),
            zone=zone,
        )
        rows = client.with_week_ago(query)
        extra = {"metric": query.metric, "granularity": query.granularity, "timezone": zone}
        return _answer(request, rows, {**extra, **({"date": day} if day else {})})

    def content(request: Request) -> Response:
        _known(request, "content")
        site, sites = access(request)
        url = request.query_params.get("url")
        if not url:
            raise BadParameter("url", "required: the page's URL as weir stores it (canonical)")
        day, _, span = day_range(request, site)
        start, end = span or _range(request, 24 * 60)
        rows = client.content(url, start, end, site=site, sites=sites)
        return _answer(request, rows, {"url": url, "start": start.isoformat(), "end": end.isoformat()})

    async def openapi(request: Request) -> Response:  # open: it says nothing about the data
        return JSONResponse(OPENAPI)

    async def dashboard(request: Request) -> Response:  # open: the page holds no data, the API does
        return FileResponse(f"{STATIC}/index.html", headers=_PAGE_HEADERS)

    app = Starlette(
        routes=[
            Route("/", dashboard),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
            Route("/api/top", top),
            Route("/api/now", now),
            Route("/api/timeseries", timeseries),
            Route("/api/content", content),
            Route("/api/openapi.json", openapi),
        ],
        exception_handlers={BadParameter: _bad, ValueError: _bad, QueryError: _failed, Denied: _denied},
    )
    if keys is None:  # serving this machine only: a page elsewhere must not reach it by a rebound name
        app.add_middleware(_LoopbackOnly)
    return app


class _LoopbackOnly:
    """Refuses a request whose Host is not this machine's: without keys weir serve answers only
    loopback, and a web page could otherwise point a name of its own at 127.0.0.1 (DNS
    rebinding) and read every site."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and not _loopback_host(Request(scope)):
            why = "this weir serve answers on this machine only (Host is not localhost); give --keys to serve others"
            response = JSONResponse({"error": why}, status_code=421)
            return await response(scope, receive, send)
        return await self.app(scope, receive, send)


async def _bad(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": str(exc)}, status_code=400)


async def _denied(request: Request, exc: Denied) -> Response:
    return JSONResponse({"error": str(exc)}, status_code=exc.status)


async def _failed(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": f"the query failed: {str(exc)[:300]}"}, status_code=500)


_COMMON = [
    {"name": "site", "in": "query", "schema": {"type": "string"}, "description": "One site (default: all)."},
    {"name": "format", "in": "query", "schema": {"enum": ["json", "csv"]}},
]
_RANGE = [
    {"name": "minutes", "in": "query", "schema": {"type": "integer"}, "description": "The last N minutes."},
    {
        "name": "date",
        "in": "query",
        "schema": {"type": "string"},
        "description": "One day of the site's calendar (its time zone; without site, each site's own day): "
        "YYYY-MM-DD, today or yesterday. Instead of minutes, start and end.",
    },
    {"name": "start", "in": "query", "schema": {"type": "string", "format": "date-time"}},
    {"name": "end", "in": "query", "schema": {"type": "string", "format": "date-time"}},
]
OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "weir stats API", "version": "1"},
    "paths": {
        "/api/top": {
            "get": {
                "summary": "Top URLs, sections, authors, tags, referrers, ... with page views, visitors, engaged time",
                "parameters": [
                    *_COMMON,
                    *_RANGE,
                    {"name": "by", "in": "query", "schema": {"type": "string"}, "description": "url or a dimension"},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": MAX_LIMIT}},
                    {"name": "order_by", "in": "query", "schema": {"enum": list(ORDER_BY)}},
                ],
            }
        },
        "/api/now": {"get": {"summary": "Page views and visitors of the last 5 and 30 minutes, and a week earlier",
                              "parameters": _COMMON}},
        "/api/content": {
            "get": {
                "summary": "One page's metadata (title, section, authors, tags, published) and its metrics",
                "parameters": [*_COMMON, *_RANGE, {"name": "url", "in": "query", "required": True,
                                                   "schema": {"type": "string"}}],
            }
        },
        "/api/timeseries": {
            "get": {
                "summary": "A metric over time with the week-ago series",
                "parameters": [
                    *_COMMON,
                    *_RANGE,
                    {"name": "metric", "in": "query", "schema": {"type": "string"}},
                    {"name": "granularity", "in": "query", "schema": {"enum": list(GRAINS)}},
                    {"name": "url", "in": "query", "schema": {"type": "string"}},
                    {"name": "dimension", "in": "query", "schema": {"type": "string"}},
                    {"name": "value", "in": "query", "schema": {"type": "string"}},
                ],
            }
        },
    },
}  # fmt: skip
