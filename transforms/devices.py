"""Device type from a device-model database: a user agent in, device-detector's type out.

A user agent names its device by model ("SM-T510", "AFTMM", "Telefunken Shell ...") far more
often than by a word like "Tablet" or "TV"; only a database of models knows that these are a
tablet, a Fire TV stick and a television. This module matches the model regexes of
matomo-org/device-detector (data/device_models.json, LGPL-3.0-or-later with the licence beside
it, refreshed by data/refresh_devices.py) the way device-detector's device parsers do: the
parsers in order, each brand's regex with the same left boundary, the first brand that
matches, then its first matching model.

In linear time, as everything a request can reach must be (transforms.regexlist).

    device_kind(ua) -> "smartphone" | "tablet" | "tv" | "desktop" | ... | None

None means the database does not know the device; the caller decides from other signs.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import re2

from weir.transforms.reference import reference_data
from weir.transforms.regexlist import RegexList, compile_one


def _override(regex: str):
    """DeviceDetector.php's own matchUserAgent: a narrower left boundary than the parsers'."""
    return re2.compile(f"(?i)(?:^|[^A-Z_-])(?:{regex})")


# DeviceDetector.php's overrides that need neither the OS nor the browser parsed.
_DESKTOP_FRAGMENT = _override(r"(?:Desktop|PC)(?: (x(?:32|64)|WOW64))?;")
_TV_FRAGMENT = _override(r"Andr0id|(?:Android(?: UHD)?|Google) TV|\(lite\) TV|BRAVIA|Firebolt| TV$")
_LATE_TV = _override(r"SmartTV|Tizen.+ TV .+$|\(TV;|Opera TV Store| OMI/")
_APAD = _override(r"Pad/APad")


class _Parser(NamedTuple):
    gate: object  # a compiled regex the user agent must match first, or None
    default: str | None  # the type when the gate matched but no brand did (televisions)
    brands: list  # [name, regex, device, relaxed, models]
    matcher: RegexList


@functools.cache
def _parsers() -> list[_Parser]:
    out = []
    for p in reference_data("device_models.json")["parsers"]:
        gate = compile_one(p["gate"]) if p["gate"] else None
        out.append(_Parser(gate, p["default"], p["brands"], RegexList([(b[1], b[3]) for b in p["brands"]])))
    return out


@functools.lru_cache(maxsize=4096)
def _models(parser: int, brand: int) -> RegexList:
    return RegexList([(m[0], m[2]) for m in _parsers()[parser].brands[brand][4]])


def _from_database(ua: str) -> str | None:
    if _DESKTOP_FRAGMENT.search(ua):
        return "desktop"  # device-detector looks no further (AbstractDeviceParser::parse)
    for n, parser in enumerate(_parsers()):
        if parser.gate is not None and not parser.gate.search(ua):
            continue
        i = parser.matcher.first(ua)
        if i is None:
            if parser.default:
                return parser.default
            continue
        _, _, kind, _, models = parser.brands[i]
        if models:
            j = _models(n, i).first(ua)
            if j is not None and models[j][1]:
                kind = models[j][1]
        return kind or parser.default  # the first parser that knows the brand decides
    return None


def device_kind(ua: str) -> str | None:
    """device-detector's device type for a user agent, or None when nothing says it."""
    kind = _from_database(ua)
    if kind == "smartphone" and _APAD.search(ua):
        kind = "tablet"
    if kind not in ("tv", "wearable", "peripheral") and _TV_FRAGMENT.search(ua):
        kind = "tv"
    if kind is None and _LATE_TV.search(ua):
        kind = "tv"
    return kind
