"""BigQuery's NET.HOST, NET.PUBLIC_SUFFIX and NET.REG_DOMAIN, for the local warehouse.

On the public suffix list shipped with `publicsuffixlist` (ICANN section only, as BigQuery:
private domains are not suffixes; an unknown top-level label is none), so nothing is
downloaded. As BigQuery: no normalization (a host keeps its case), surrounding spaces are
ignored, a URL without a scheme is read as starting with its host, and what has no host is
NULL. The examples of BigQuery's documentation are tests/test_sql_fidelity.py.
"""

from __future__ import annotations

import functools
import re

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


@functools.cache
def _psl():
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList(only_icann=True, accept_unknown=False)


def host(url: str | None) -> str | None:
    if url is None:
        return None
    rest = url.strip()
    rest = _SCHEME.sub("", rest, count=1)
    if rest.startswith("//"):
        rest = rest[2:]
    rest = re.split(r"[/?#]", rest, maxsplit=1)[0]
    rest = rest.rsplit("@", 1)[-1]  # user:password@
    if rest.startswith("["):  # an IPv6 literal keeps its brackets
        end = rest.find("]")
        rest = rest[: end + 1] if end > 0 else ""
    else:
        rest = rest.split(":", 1)[0]  # :port
    return rest or None


def _labels(url: str | None) -> list[str] | None:
    """The host's labels, or None where no suffix can be found (no host, an IP literal,
    dots next to each other inside the name)."""
    name = host(url)
    if name is None or name.startswith("[") or re.fullmatch(r"[0-9.]+", name):
        return None
    name = name.strip(".")
    labels = name.split(".")
    if any(not label for label in labels):
        return None
    return labels


def public_suffix(url: str | None) -> str | None:
    labels = _labels(url)
    if labels is None:
        return None
    suffix = _psl().publicsuffix(".".join(labels).lower())
    if suffix is None:
        return None
    return ".".join(labels[-(suffix.count(".") + 1) :])  # as written, not lower-cased


def reg_domain(url: str | None) -> str | None:
    labels = _labels(url)
    suffix = public_suffix(url)
    if labels is None or suffix is None:
        return None
    n = suffix.count(".") + 1
    if len(labels) <= n:
        return None  # only a suffix: nothing registrable
    return ".".join(labels[-(n + 1) :])
