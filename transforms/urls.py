"""Canonical page URLs and campaign fields (SPEC section 2). Pure functions.

Decisions the contract leaves open: default ports (:80 for http, :443 for https) are
dropped; the host is lower-cased but not converted between Unicode and punycode (the
tracker sends what the browser's location shows); an empty query (`?`) is dropped; the
order of the kept parameters is preserved; a URL that cannot be split is returned as is.
"""

from __future__ import annotations

import functools
from urllib.parse import parse_qsl, urlsplit, urlunsplit

CLICK_IDS = frozenset({"gclid", "fbclid", "msclkid"})
CAMPAIGN_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(name: str) -> bool:
    lname = name.lower()
    return lname.startswith("utm_") or lname in CLICK_IDS


def _netloc(parts) -> str:
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        host = f"{host}:{port}"
    userinfo = parts.netloc.rpartition("@")[0]
    return f"{userinfo}@{host}" if userinfo else host


@functools.lru_cache(maxsize=65536)
def canonical_url(url: str) -> str:
    """The URL analysts group by: see the module docstring for the rules."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url
    query = parts.query
    if query:
        # Split on "&" ourselves so parameters we keep stay byte-for-byte as sent.
        kept = [p for p in query.split("&") if p and not _is_tracking(p.partition("=")[0])]
        query = "&".join(kept)
    return urlunsplit((parts.scheme.lower(), _netloc(parts), parts.path, query, ""))


@functools.lru_cache(maxsize=65536)
def campaign(url: str) -> dict[str, str | None]:
    """The five utm_* values of the page URL (the first of each; None when absent)."""
    out: dict[str, str | None] = dict.fromkeys(CAMPAIGN_FIELDS)
    try:
        query = urlsplit(url).query
    except ValueError:
        return out
    for name, value in parse_qsl(query, keep_blank_values=False):
        lname = name.lower()
        if lname in out and out[lname] is None:
            out[lname] = value
    return out


MAX_HOST_CHARS = 253  # DNS (RFC 1035); a longer "host" names nothing and only costs work


@functools.lru_cache(maxsize=65536)
def host_of(url: str) -> str | None:
    """Lower-cased host of a URL, or None when it has none (or one longer than DNS allows)."""
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    return host if host and len(host) <= MAX_HOST_CHARS else None
