"""Bounded work per event (issue #14): no record that validation lets through costs a worker
more than a few milliseconds of enrichment, however hostile its strings.

Each case is the worst its field may be at the validation limits (the longest user agent,
URL and referrer allowed, built from the shapes that made the old parsers quadratic). The
time asserted is the best of three runs with every cache cleared, so a busy machine does not
fail it; 10 ms is ~100x what a real event takes.
"""

from __future__ import annotations

import time

import pytest
from crawlerdetect import CrawlerDetect

from tests.conftest import raw
from weir.transforms import referrers, urls, useragents, validate
from weir.transforms.crawlers import _crawlerdetect
from weir.transforms.enrich import enrich_event

UA = validate.MAX_USER_AGENT_CHARS
URL = validate.MAX_URL_CHARS
_BRANDS = "SAMSUNG Galaxy LG MOT DROID vivo Fly Meizu HTC One Acer a101 Blu Dash AGM Ultra 2 GSmart Mercury "
BASE = {"event_id": "e", "action": "pageview", "ts": 1_763_600_000_000, "site": "x.com", "visitor_id": "v"}

HOSTILE = {
    "user agent: one letter run": {"user_agent": "a" * UA},
    "user agent: mixed case run": {"user_agent": "aA" * (UA // 2)},
    "user agent: after a browser prefix": {"user_agent": "Mozilla/5.0 (" + "x" * (UA - 14)},
    "user agent: many tokens": {"user_agent": "Mozilla/5.0 (" + "Windows; " * ((UA - 14) // 9)},
    "user agent: yandex lookahead": {"user_agent": "yandex" * (UA // 6)},
    # Brand names whose device-detector regexes have lookarounds (confirmed by Python's re).
    "user agent: device brands": {"user_agent": ("Mozilla/5.0 (Linux; Android 10; " + _BRANDS * 60)[:UA]},
    "user agent: device brands, confirmable": {"user_agent": ("Mozilla/5.0 (Linux; Android 10; " + _BRANDS * 60)[:500]},
    "url: long path": {"url": "https://x.com/" + "a" * (URL - 14)},
    "url: many tracking parameters": {"url": ("https://x.com/?" + "&utm_a=b" * (URL // 8))[:URL]},
    "url: escapes": {"url": "https://x.com/" + "%41" * ((URL - 14) // 3)},
    "referrer: long query": {"referrer": "https://www.google.com/search?q=" + "a" * (URL - 32)},
    "referrer: many labels": {"referrer": "https://" + "a." * 120 + "co.uk/"},
    "referrer: a host longer than DNS allows": {"referrer": "https://" + "a." * 3000 + "com/"},
}


def _clear_caches():
    for fn in (
        useragents.parse_user_agent,
        urls.canonical_url,
        urls.campaign,
        urls.host_of,
        referrers.classify,
        referrers.registrable_domain,
        validate._is_http_url,
    ):
        fn.cache_clear()


def _event(fields: dict) -> dict:
    import orjson

    kind, event = validate.parse_record(raw(orjson.dumps({"url": "https://x.com/", **BASE, **fields})))
    assert kind == "event", event  # at the limits, still an event: the cost is the point
    return event


@pytest.fixture(scope="module", autouse=True)
def warm():
    enrich_event(_event({"user_agent": "Mozilla/5.0", "referrer": "https://www.google.com/"}))


@pytest.mark.reliability
@pytest.mark.parametrize("name", list(HOSTILE))
def test_enrichment_of_a_hostile_record_is_bounded(name, reliability):
    event = _event(HOSTILE[name])
    best = float("inf")
    for _ in range(3):
        _clear_caches()
        started = time.perf_counter()
        enrich_event(event)
        best = min(best, time.perf_counter() - started)
    assert best < 0.010, f"{name}: {best * 1000:.1f} ms"
    reliability.hostile(tried=1, accounted=1)


@pytest.mark.parametrize("name", [n for n in HOSTILE if n.startswith("user agent")])
def test_linear_crawler_check_agrees_with_crawlerdetect(name):
    ua = HOSTILE[name]["user_agent"][:300]  # short enough for crawlerdetect's own regex
    assert _crawlerdetect(ua) == CrawlerDetect().is_crawler(ua)  # the same list, in linear time


def test_over_the_limits_is_a_dead_letter_not_work():
    import orjson

    for fields in ({"user_agent": "a" * (UA + 1)}, {"url": "https://x.com/" + "a" * URL}):
        kind, dead = validate.parse_record(raw(orjson.dumps({"url": "https://x.com/", **BASE, **fields})))
        assert (kind, dead["error_kind"]) == ("dead", "too_large")
