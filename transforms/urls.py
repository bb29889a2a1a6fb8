"""Canonical page URLs and campaign fields (SPEC section 2). Pure functions.

Decisions the contract leaves open: default ports (:80 for http, :443 for https) are
dropped; the host is lower-cased but not converted between Unicode and punycode (the
tracker sends what the browser's location shows); an empty query (`?`) is dropped; the
order of the kept parameters is preserved; a URL that cannot be split, or has a port that is
not one, is returned as is (see `canonical_url`).
"""

from __future__ import annotations

import functools
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import ada_url

CLICK_IDS = frozenset({"gclid", "fbclid", "msclkid"})
CAMPAIGN_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(name: str) -> bool:
    lname = name.lower()
    return lname.startswith("utm_") or lname in CLICK_IDS


def _netloc(parts) -> str:
    """host[:port] with userinfo; raises ValueError for a port that is not one."""
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port  # ValueError when not a number in 0-65535
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        host = f"{host}:{port}"
    userinfo = parts.netloc.rpartition("@")[0]
    return f"{userinfo}@{host}" if userinfo else host


def _canonical_once(url: str) -> str:
    parts = urlsplit(url.strip())
    query = parts.query
    if query:
        # Split on "&" ourselves so parameters we keep stay byte-for-byte as sent.
        kept = [p for p in query.split("&") if p and not _is_tracking(p.partition("=")[0])]
        query = "&".join(kept)
    # Dropping the fragment or the tracking parameters can leave the URL ending in spaces
    # ("/a ?utm_source=x"), which the next reading would strip: strip them now.
    return urlunsplit((parts.scheme.lower(), _netloc(parts), parts.path, query, "")).rstrip()


@functools.lru_cache(maxsize=65536)
def canonical_url(url: str) -> str:
    """The URL analysts group by: see the module docstring for the rules.

    Never raises, and is idempotent for every input (canonical_url(canonical_url(x)) ==
    canonical_url(x); tests/test_urls_reference.py runs the URL standard's test inputs and
    generated URLs): a URL that cannot be split, has an invalid port, or whose canonical
    form would read back as another URL (a path starting with "//" and no host, which
    urlunsplit turns into a host) is returned as it came."""
    try:
        once = _canonical_once(url)
        if _canonical_once(once) != once:
            return url
    except ValueError:
        return url
    return once


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
    """Lower-cased host of a URL, or None when it has none (or one longer than DNS allows).

    The host as a browser reads it, by the URL standard's parser (`ada-url`, the one Node.js
    uses): IDNA to punycode ("faß.example" -> "xn--fa-hia.example", as location.href and
    document.referrer show it), IPv4 in any notation to dotted decimal, backslashes and
    missing slashes after http: as browsers take them. A URL the standard refuses (a space
    in the host, say) falls back to urlsplit's reading, so no event that had a host loses it."""
    url = url.strip()
    host: str | None
    try:
        host = ada_url.URL(url).hostname.strip("[]").lower()  # IPv6 without brackets, as urlsplit gives it
    except ValueError:
        try:
            host = urlsplit(url).hostname
        except ValueError:
            return None
    return host if host and len(host) <= MAX_HOST_CHARS else None
