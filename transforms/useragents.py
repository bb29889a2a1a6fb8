"""Device type, browser, OS and bot flag from a user agent. Pure functions, cached.

Browser and OS families come from `ua-parser` (its bundled rules, regex engine from
`ua-parser[regex]`); bots from `crawlerdetect`'s patterns (a port of the maintained
CrawlerDetect list, matched in linear time by `transforms.crawlers`) or ua-parser's `Spider`
device. Device type is derived from the parsed device and OS
plus the well-known Mobile/Tablet tokens, because ua-parser reports device families, not
types. User agents repeat heavily, so results are memoised per string.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from ua_parser import parse

from weir.transforms.crawlers import is_crawler

DESKTOP_OS = frozenset(
    {
        "Windows",
        "Mac OS X",
        "macOS",
        "Linux",
        "Ubuntu",
        "Fedora",
        "Chrome OS",
        "ChromeOS",
        "FreeBSD",
        "OpenBSD",
        "Debian",
        "Windows NT",
    }
)
TABLET_DEVICES = ("iPad", "Kindle", "Tablet", "Nexus 7", "Nexus 9", "Nexus 10", "Galaxy Tab", "SM-T", "Lenovo Tab")
MOBILE_OS = frozenset(
    {"iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS", "Firefox OS", "Symbian OS", "HarmonyOS"}
)


class UserAgentInfo(NamedTuple):
    device_type: str  # desktop, mobile, tablet, other
    browser: str
    os: str
    is_bot: bool


def _device_type(ua: str, os_family: str, device_family: str) -> str:
    if any(t in device_family for t in TABLET_DEVICES) or "Tablet" in ua or "iPad" in ua:
        return "tablet"
    if os_family == "Android" and "Mobile" not in ua:
        return "tablet"  # Android's convention: phones say "Mobile", tablets do not
    if os_family in MOBILE_OS or "Mobi" in ua:
        return "mobile"
    if os_family in DESKTOP_OS or os_family.startswith("Windows") or os_family.startswith("Mac"):
        return "desktop"
    return "other"


@functools.lru_cache(maxsize=100_000)
def parse_user_agent(ua: str | None) -> UserAgentInfo:
    """A user agent string (or None) -> device type, browser family, OS family, is_bot."""
    if not ua:
        return UserAgentInfo("other", "Other", "Other", False)
    result = parse(ua)
    browser = result.user_agent.family if result.user_agent else "Other"
    os_family = result.os.family if result.os else "Other"
    device = result.device.family if result.device else "Other"
    is_bot = device == "Spider" or is_crawler(ua)
    device_type = "other" if is_bot else _device_type(ua, os_family, device)
    return UserAgentInfo(device_type, browser, os_family, is_bot)
