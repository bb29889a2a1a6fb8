"""Cookieless visitors: a per-day id the collector derives, so no id is stored in the browser.

In: the event's site, the request's client address and user agent, the UTC day. Out: a
`visitor_id` "cl-<32 hex>" = HMAC-SHA256(day key, site, address, user agent). The address is
read for this and forgotten: it is never put in an event, a log, the spill or Pub/Sub.

The day key is HMAC-SHA256(secret, day): with `--cookieless-secret FILE` every collector
instance derives the same ids (one visitor is one visitor behind a load balancer); without
one, a random secret lives in this process's memory only, so ids cannot be recomputed
once it exits. Either way the id changes at midnight UTC: cookieless visitors are counted
per day (a reader on two days is two visitors, and new vs returning is not known), and two
readers behind one address with the same browser are one visitor. That is what
privacy-first analytics products count too; docs/collector.md says it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

PREFIX = "cl-"


class CookielessIds:
    def __init__(self, secret: bytes | None = None):
        self._secret = secret or secrets.token_bytes(32)
        self._day: str | None = None
        self._key = b""

    def visitor_id(self, site: str, address: str, user_agent: str, now_ms: int) -> str:
        day = dt.datetime.fromtimestamp(now_ms / 1000, dt.timezone.utc).date().isoformat()
        if day != self._day:
            self._day, self._key = day, hmac.new(self._secret, day.encode(), hashlib.sha256).digest()
        message = "\x1f".join((site, address, user_agent)).encode("utf-8", "replace")
        return PREFIX + hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]
