"""Referrer category and registrable domain, as Parse.ly defines them. Pure functions.

Categories: `direct` (no referrer), `internal` (the referrer's registrable domain is the
site's or the page's), `search`, `social` (from the lists in data/referrers.json, shipped
with the package), `other` (anything else, including referrers that are not http(s) URLs,
which get no domain).
"""

from __future__ import annotations

import functools
import ipaddress
import json
from importlib import resources

from publicsuffixlist import PublicSuffixList

from weir.transforms.urls import host_of


@functools.cache
def _psl() -> PublicSuffixList:
    return PublicSuffixList()  # the list ships inside the wheel: no download


@functools.cache
def _lists() -> dict[str, dict[str, frozenset[str]]]:
    data = json.loads(resources.files("weir.transforms").joinpath("data/referrers.json").read_text("utf-8"))
    out = {}
    for category in ("search", "social"):
        entries = data[category]
        out[category] = {
            "hosts": frozenset(e for e in entries if not e.endswith(".*")),
            "brands": frozenset(e[:-2] for e in entries if e.endswith(".*")),
        }
    return out


@functools.lru_cache(maxsize=65536)
def registrable_domain(host: str | None) -> str | None:
    """example.co.uk for www.example.co.uk; the host itself for IPs and bare names."""
    if not host:
        return None
    host = host.lower().rstrip(".")
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    return _psl().privatesuffix(host) or host


def _brand(domain: str) -> str:
    """google for google.co.uk: the registrable domain without its public suffix."""
    suffix = _psl().publicsuffix(domain)
    return domain[: -len(suffix) - 1] if suffix and domain.endswith("." + suffix) else domain


def _list_category(host: str, domain: str) -> str | None:
    for category, entries in _lists().items():
        # Most specific first: news.ycombinator.com is listed as a host, google.* as a brand.
        labels = host.split(".")
        for i in range(len(labels) - 1):
            if ".".join(labels[i:]) in entries["hosts"]:
                return category
        if _brand(domain) in entries["brands"]:
            return category
    return None


@functools.lru_cache(maxsize=65536)
def classify(referrer: str | None, site: str, page_host: str | None) -> tuple[str, str | None]:
    """(referrer_category, referrer_domain) of a page view's referrer."""
    if not referrer or not referrer.strip():
        return "direct", None
    if not referrer.lower().startswith(("http://", "https://")):
        return "other", None  # app and extension referrers (android-app://...) have no web domain
    host = host_of(referrer)
    if not host or ("." not in host and host != "localhost"):
        return "other", None
    domain = registrable_domain(host)
    own = {registrable_domain(site.lower()), registrable_domain(page_host)}
    if domain in own:
        return "internal", domain
    return _list_category(host, domain) or "other", domain
