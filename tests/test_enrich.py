"""Function level: canonical URLs, campaign, referrer classes, user agents (tables of cases)."""

from __future__ import annotations

import pytest

from weir.transforms.enrich import enrich_event, farm_fingerprint
from weir.transforms.referrers import classify
from weir.transforms.urls import campaign, canonical_url
from weir.transforms.useragents import parse_user_agent

URLS = [
    ("https://www.example.com/a?utm_source=x&id=3&gclid=abc#top", "https://www.example.com/a?id=3"),
    ("HTTPS://WWW.Example.COM/Path/Case", "https://www.example.com/Path/Case"),
    ("http://example.com:80/a", "http://example.com/a"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("https://example.com:8443/a", "https://example.com:8443/a"),
    ("https://example.com/a?fbclid=1&msclkid=2", "https://example.com/a"),
    ("https://example.com/a?b=2&a=1", "https://example.com/a?b=2&a=1"),
    ("https://example.com/a?UTM_Medium=x&q=%20y", "https://example.com/a?q=%20y"),
    ("https://example.com/a?", "https://example.com/a"),
    ("https://bücher.example/straße", "https://bücher.example/straße"),
    ("https://[2001:db8::1]:8080/x", "https://[2001:db8::1]:8080/x"),
]


@pytest.mark.parametrize("url, expected", URLS)
def test_canonical_url(url, expected):
    assert canonical_url(url) == expected


def test_campaign_fields_first_value_wins():
    got = campaign("https://x.com/?utm_source=news&utm_medium=email&utm_campaign=a&utm_campaign=b&utm_term=t")
    assert got == {
        "utm_source": "news",
        "utm_medium": "email",
        "utm_campaign": "a",
        "utm_term": "t",
        "utm_content": None,
    }


REFERRERS = [
    (None, ("direct", None)),
    ("", ("direct", None)),
    ("https://www.google.com/", ("search", "google.com")),
    ("https://www.google.co.uk/search?q=weir", ("search", "google.co.uk")),
    ("https://duckduckgo.com/?q=x", ("search", "duckduckgo.com")),
    ("https://t.co/xyz", ("social", "t.co")),
    ("https://lnkd.in/abc", ("social", "lnkd.in")),
    ("https://m.facebook.com/story", ("social", "facebook.com")),
    ("https://news.ycombinator.com/", ("social", "ycombinator.com")),
    ("https://blog.example.com/post", ("internal", "example.com")),
    ("https://www.example.com/", ("internal", "example.com")),
    ("https://other.org/x", ("other", "other.org")),
    ("android-app://com.slack", ("other", None)),
    ("not a url", ("other", None)),
]


@pytest.mark.parametrize("referrer, expected", REFERRERS)
def test_referrer_classification(referrer, expected):
    assert classify(referrer, "example.com", "www.example.com") == expected


UAS = [
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        ("desktop", "Chrome", "Windows", False),
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
        "Mobile/15E148 Safari/604.1",
        ("mobile", "Mobile Safari", "iOS", False),
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 "
        "Mobile/15E148 Safari/604.1",
        ("tablet", "Mobile Safari", "iOS", False),
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        ("tablet", "Chrome", "Android", False),
    ),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", ("other", "Googlebot", "Other", True)),
    (None, ("other", "Other", "Other", False)),
]


@pytest.mark.parametrize("ua, expected", UAS)
def test_user_agent(ua, expected):
    assert tuple(parse_user_agent(ua)) == expected


def test_farm_fingerprint_matches_bigquery_examples():
    # BigQuery documentation: FARM_FINGERPRINT of these strings.
    assert farm_fingerprint("1footrue") == -1541654101129638711
    assert farm_fingerprint("2applefalse") == 2794438866806483259


def test_enrich_drops_ip_and_derives_fields():
    event = {
        "event_id": "e",
        "action": "pageview",
        "ts": 1,
        "site": "example.com",
        "visitor_id": "v",
        "url": "https://Example.com/a?utm_campaign=sale#x",
        "referrer": "https://t.co/1",
        "ip": "198.51.100.7",
        "session_index": 1,
        "extra": {"channel": "AMP"},
    }
    out = enrich_event(event)
    assert "ip" not in out and event["ip"] == "198.51.100.7"  # the input is not mutated
    assert out["url"] == "https://example.com/a" and out["raw_url"] == event["url"]
    assert (out["utm_campaign"], out["referrer_category"], out["visitor_type"], out["channel"]) == (
        "sale",
        "social",
        "new",
        "amp",
    )
    assert out["visitor_fp"] == farm_fingerprint("v")
