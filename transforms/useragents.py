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
import re
from typing import NamedTuple

from ua_parser import parse

from weir.transforms.crawlers import is_crawler
from weir.transforms.devices import device_kind

DESKTOP_OS = frozenset(
    {
        "Windows", "Mac OS X", "macOS", "Linux", "Ubuntu", "Kubuntu", "Xubuntu", "Fedora", "Chrome OS", "ChromeOS",
        "FreeBSD", "OpenBSD", "NetBSD", "Debian", "Windows NT", "CentOS", "Red Hat", "SUSE", "openSUSE", "Mint",
        "Linux Mint", "Arch Linux", "Gentoo", "Slackware", "Mandriva", "Solaris", "Mageia", "elementary OS",
    }
)  # fmt: skip
MOBILE_OS = frozenset(
    {"iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS", "Firefox OS", "Symbian OS", "HarmonyOS"}
)
# Model names of Android tablets that say "Mobile" or come from apps that say nothing: Samsung
# SM-T/SM-X/SM-P/GT-P, Lenovo TB-, Huawei MediaPad/MatePad (AGS, BAH, KOB), Amazon Kindle
# Fire (KF..), Nexus 7/9/10, and the words Tab, Pad, Tablet in a model.
_TABLET_MODEL = re.compile(
    r"\b(?:SM-[TXP]\d|GT-P\d|TB-?[A-Z0-9]|Lenovo ?TB|AGS\d?-|BAH\d?-|KOB2?-|KF[A-Z]{2,4}\b|Nexus (?:7|9|10)\b)"
    r"|(?:Tab|Pad|Tablet)(?:\b|\d)|MediaPad|MatePad|\biPad",
    re.IGNORECASE,
)
# Android television and set-top boxes, which do not say "Mobile" but are not tablets.
_TV = re.compile(r"\b(?:Android TV|GoogleTV|SmartTV|SMART-TV|BRAVIA|AFT[A-Z]{1,4}\b|MiBOX|CrKey|TV Box|\bTV\b)", re.I)
# Feature phones: WAP/MIDP-era browsers, KaiOS, Series 40.
_FEATURE_PHONE = re.compile(r"MIDP|J2ME|UP\.Browser|WAP2?\.0|Series ?40|SymbianOS|KAIOS|BREW|Obigo|NetFront", re.I)
_WINDOWS_PHONE = re.compile(r"Windows Phone|IEMobile|Lumia", re.I)


class UserAgentInfo(NamedTuple):
    device_type: str  # desktop, mobile, tablet, other
    browser: str
    os: str
    is_bot: bool


# device-detector's types (transforms.devices) in weir's four (SPEC: device_type).
_KINDS = {"desktop": "desktop", "smartphone": "mobile", "phablet": "mobile", "feature phone": "mobile"}
_KINDS["tablet"] = "tablet"


def _device_type(ua: str, os_family: str, device_family: str) -> str:
    kind = device_kind(ua)
    if kind is not None:
        return _KINDS.get(kind, "other")  # televisions, consoles, cars, wearables, ...
    return _heuristic_type(ua, os_family, device_family)


def _heuristic_type(ua: str, os_family: str, device_family: str) -> str:
    """When the model database does not know the device: the OS and the Mobile/Tablet tokens."""
    # "Tablet PC" is Windows' (and Surface-on-Linux) pen-input token: a desktop, not a tablet.
    tablet_token = "Tablet" in ua.replace("Tablet PC", "")
    if _WINDOWS_PHONE.search(ua) or _FEATURE_PHONE.search(ua):
        return "mobile"
    if os_family == "Android" or "Android" in ua:
        if _TV.search(ua):
            return "other"
        if _TABLET_MODEL.search(device_family) or _TABLET_MODEL.search(ua) or tablet_token:
            return "tablet"
        if "Mobile" in ua or not ua.startswith("Mozilla/"):
            return "mobile"  # phones say "Mobile"; app user agents say neither, and are mostly phones
        return "tablet"  # Android's convention: tablet browsers do not say "Mobile"
    if "iPad" in ua or tablet_token or any(t in device_family for t in ("iPad", "Kindle")):
        return "tablet"
    if os_family in MOBILE_OS or "Mobi" in ua or "iPhone" in ua:
        return "mobile"
    if os_family in DESKTOP_OS or os_family.startswith(("Windows", "Mac")) or "X11" in ua:
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
