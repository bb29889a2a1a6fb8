"""Referrer category and registrable domain, as Parse.ly defines them. Pure functions.

Categories: `direct` (no referrer), `internal` (the referrer's registrable domain is the
site's or the page's), `ai` (an AI assistant: ChatGPT, Gemini, Perplexity, Claude, ...),
`search`, `social` (from data/referrers.json: Matomo's maintained, CC0 lists of AI
assistants, search engines and social networks, shipped with the package; see its `_about`
for the source commit, the matching rules and how to refresh it), `other` (anything else:
webmail, which no permissive list covers, and referrers that are not http(s) URLs, which
get no domain). `ai` is an addition to Parse.ly's five (docs/decisions.md).

An Android app's referrer (`android-app://com.linkedin.android/...`) is classified by its
package id: the packages the lists name, and weir's additions for networks they list by web
host only (`apps` in the data file), take the network's category and its web domain
(linkedin.com), so phones' readers land with the network's web readers. Any other app
(Gmail, Slack) is `other` with no domain; `events.referrer`
keeps its package id.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList

from weir.transforms.reference import reference_data
from weir.transforms.urls import host_of


@functools.cache
def _psl() -> PublicSuffixList:
    return PublicSuffixList()  # the list ships inside the wheel: no download


_TLD_PREFIXES = r"(?:(?:com|org|net|co|it|edu)\.)?"  # '{}' as the last label also matches co.uk, com.au, ...


def _pattern(host: str) -> str:
    """A regex for a host entry, '{}' standing for one label (the last also for co.uk, ...)."""
    pieces = host.split("{}")
    out = []
    for i, piece in enumerate(pieces):
        out.append(re.escape(piece))
        if i < len(pieces) - 1:
            last = i == len(pieces) - 2 and host.endswith("{}")
            out.append(_TLD_PREFIXES + "[a-z0-9-]+" if last else "[a-z0-9-]+")
    return "".join(out)


class _Matcher:
    """One category's entries: exact hosts, hosts with '{}' placeholders, host + path."""

    def __init__(self, entries: list[str], subdomains: bool):
        self.subdomains = subdomains
        self.hosts: set[str] = set()
        self.paths: list[tuple[re.Pattern, str]] = []  # a handful: (host regex, path prefix)
        patterns = []
        for entry in entries:
            host, slash, path = entry.partition("/")
            if slash:
                self.paths.append((re.compile(r"\A" + _pattern(host) + r"\Z"), "/" + path))
            elif "{}" in host:
                patterns.append(_pattern(host))
            else:
                self.hosts.add(host)
        # An anchored alternation of literals and [a-z0-9-]+: linear in the host's length.
        self._wild = re.compile(r"\A(?:" + "|".join(patterns) + r")\Z") if patterns else None

    def _host_matches(self, host: str) -> bool:
        return host in self.hosts or (self._wild is not None and self._wild.match(host) is not None)

    def matches(self, host: str, path: str) -> bool:
        if self.subdomains:  # the host or any parent domain of it
            labels = host.split(".")
            candidates = [".".join(labels[i:]) for i in range(len(labels) - 1)]
        else:  # the host, without its www., or a host it is inside of below its registrable
            # domain: it.images.search.yahoo.com is in images.search.yahoo.com's service, but
            # mail.google.com is not in google.com's (a registrable domain is a brand, not a
            # search engine), so a listed search host never spreads to a brand's other products.
            candidates = [host, host[4:]] if host.startswith("www.") else [host]
            labels, floor = host.split("."), (registrable_domain(host) or host).count(".")
            candidates += [".".join(labels[i:]) for i in range(1, len(labels)) if len(labels) - i - 1 > floor]
        for candidate in candidates:
            if self._host_matches(candidate):
                return True
            if any(h.match(candidate) and path.startswith(p) for h, p in self.paths):
                return True
        return False


@functools.cache
def _lists() -> dict[str, _Matcher]:
    data = reference_data("referrers.json")
    # AI first (gemini.google.com is not Google search, x.com/i/grok is not X); social before
    # search, because the source lists the search boxes of social networks (facebook.com,
    # youtube.com) as search engines too, and a reader from there comes from the network.
    return {
        "ai": _Matcher(data["ai"], subdomains=True),
        "social": _Matcher(data["social"], subdomains=True),
        "search": _Matcher(data["search"], subdomains=False),
    }


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


def _list_category(host: str, path: str) -> str | None:
    for category, matcher in _lists().items():
        if matcher.matches(host, path):
            return category
    return None


@functools.lru_cache(maxsize=65536)
def classify(referrer: str | None, site: str, page_host: str | None) -> tuple[str, str | None]:
    """(referrer_category, referrer_domain) of a page view's referrer."""
    if not referrer or not referrer.strip():
        return "direct", None
    if referrer[:14].lower() == "android-app://":
        return _app(referrer[14:])
    if not referrer.lower().startswith(("http://", "https://")):
        return "other", None  # extension and other non-web referrers have no web domain
    host = host_of(referrer)
    if not host or ("." not in host and host != "localhost"):
        return "other", None
    domain = registrable_domain(host)
    own = {registrable_domain(site.lower()), registrable_domain(page_host)}
    if domain in own:
        return "internal", domain
    return _list_category(host, _path_of(referrer)) or "other", domain


@functools.cache
def _apps() -> dict[str, list]:
    return reference_data("referrers.json")["apps"]


def _app(rest: str) -> tuple[str, str | None]:
    """(category, domain) of an android-app:// referrer, `rest` what follows the scheme."""
    package = rest.split("/", 1)[0].lower()
    known = _apps().get(package)
    if known is None:
        return "other", None
    category, host = known
    return category, registrable_domain(host)


def _path_of(url: str) -> str:
    try:
        return urlsplit(url).path or "/"
    except ValueError:
        return "/"
