"""Is this user agent a crawler? Two maintained pattern lists, matched in linear time.

CrawlerDetect's patterns (the `crawlerdetect` package) and, because that list lags behind
new crawlers (AI agents, monitoring services), monperrus/crawler-user-agents' patterns
(MIT, shipped as data/crawler_patterns.json with its source commit; refreshed by
data/refresh_crawlers.py) and device-detector's bots.yml (LGPL-3.0+, data/device_bots.json,
refreshed by data/refresh_devices.py; monitoring, feed fetchers and health checks the other
two miss). A user agent any list names is a crawler.

The patterns are the `crawlerdetect` package's (a port of the maintained CrawlerDetect list);
only the engine differs. The package joins ~1,500 patterns into one Python `re` alternation,
whose search backtracks at every start position of a letter run: measured here, 8-13 s for
a 10,000-character user agent and 147 s for 30,000, holding the interpreter lock.
RE2 (`google-re2`) guarantees time linear in the input, so no request can stall a worker:
the same 60,000-character string takes ~0.2 ms.

One pattern, `Yandex(?!Search)`, uses a lookahead RE2 does not have; it is checked apart,
in linear time too. The result equals `CrawlerDetect().is_crawler(ua)` for every input
(tests/test_crawlers.py compares the two).
"""

from __future__ import annotations

import functools

import re2
from crawlerdetect.providers.crawlers import data as _CRAWLERS
from crawlerdetect.providers.exclusions import data as _EXCLUSIONS

from weir.transforms.reference import reference_data
from weir.transforms.regexlist import RegexList

_LOOKAHEAD = "(?!"


def _options() -> re2.Options:
    opts = re2.Options()
    opts.case_sensitive = False  # crawlerdetect compiles with re.IGNORECASE
    opts.max_mem = 256 << 20  # the joined alternation's program is large; the default 8 MB is not enough
    opts.log_errors = False
    return opts


@functools.cache
def _compiled() -> tuple:
    plain = [p for p in _CRAWLERS if _LOOKAHEAD not in p]
    special = [p for p in _CRAWLERS if _LOOKAHEAD in p]
    if special != ["Yandex(?!Search)"]:
        # A new lookahead pattern in a crawlerdetect release needs its own linear check here.
        raise RuntimeError(f"crawlerdetect patterns RE2 cannot compile: {special}")
    opts = _options()
    crawlers = re2.compile("(?:" + "|".join(plain) + ")", opts)
    exclusions = re2.compile("(?:" + "|".join(_EXCLUSIONS) + ")", opts)
    return crawlers, exclusions, re2.compile("yandex", opts)


@functools.cache
def _more():
    data = reference_data("crawler_patterns.json")
    opts = _options()
    opts.case_sensitive = True  # the list's patterns carry their own case, as its users match them
    return re2.compile("(?:" + "|".join(data["patterns"]) + ")", opts)


def is_crawler(user_agent: str | None) -> bool:
    """A user agent string -> True when either list names it a crawler."""
    ua = _without_device_model((user_agent or "").strip())
    if not ua:
        return False
    return _crawlerdetect(ua) or _more().search(ua) is not None or _device_detector().first(ua) is not None


@functools.cache
def _device_detector() -> RegexList:
    return RegexList(reference_data("device_bots.json")["regexes"])


def _without_device_model(ua: str) -> str:
    """A browser's user agent without its Android device model: phones named ROBOT-X1 or
    BOT-AL00 are not crawlers, though the lists' generic "bot" patterns would say so."""
    head = "Mozilla/5.0 (Linux; Android "
    if not ua.startswith(head):
        return ua
    close = ua.find(")", len(head))
    inside = ua[len(head) : close if close > 0 else len(ua)]
    parts = inside.split("; ")
    if len(parts) < 2:
        return ua
    model = parts[-1]  # the model and its Build/... (which often repeats the model)
    return ua.replace(model, "", 1) if model else ua


def _crawlerdetect(ua: str) -> bool:
    """Equal to `CrawlerDetect().is_crawler(ua)` (tests/test_crawlers.py)."""
    crawlers, exclusions, yandex = _compiled()
    agent = exclusions.sub("", ua)
    if not agent:
        return False
    if crawlers.search(agent):
        return True
    # Yandex(?!Search): "yandex" not followed by "search" (case-insensitive, as the list is).
    return any(agent[m.end() : m.end() + 6].lower() != "search" for m in yandex.finditer(agent))
