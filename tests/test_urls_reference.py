"""canonical_url against the URL standard's test inputs and generated URLs (issue #17):
never raises, idempotent for every input, and leaves what it cannot read as it came; and
host_of gives the host the standard gives, for every valid http(s) case of the suite.

tests/data/urltestdata.json is the web-platform-tests URL suite (see tests/data/README.md).
"""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from weir.transforms.urls import canonical_url, host_of

DATA = os.path.join(os.path.dirname(__file__), "data", "urltestdata.json")
CASES = [case for case in json.load(open(DATA, encoding="utf-8")) if isinstance(case, dict)]
WPT = [case["input"] for case in CASES]
WEB = [c for c in CASES if c.get("base") is None and not c.get("failure") and c.get("protocol") in ("http:", "https:")]


def test_the_suite_is_all_there():
    assert len(WPT) > 800  # a truncated copy would make the next test prove little


def test_idempotent_and_never_raising_on_every_input_of_the_url_standard():
    broken = [(x, canonical_url(x)) for x in WPT if canonical_url(canonical_url(x)) != canonical_url(x)]
    assert broken == []


def test_the_host_is_the_standards_for_every_valid_web_url():
    # IDNA to punycode, IPv4 in hex or octal, backslashes, "http:example.com": as browsers read them.
    assert len(WEB) > 100
    got = {c["input"]: host_of(c["input"]) for c in WEB}
    wrong = [(c["input"], got[c["input"]], c["hostname"]) for c in WEB if got[c["input"]] != c["hostname"].strip("[]")]
    assert wrong == []


def test_a_host_the_standard_refuses_keeps_the_reading_it_had():
    assert host_of("http://exa mple.com/") == "exa mple.com"  # urlsplit's, so no event loses its host
    assert host_of("not a url") is None


PIECES = st.sampled_from(
    ["http://", "https://", "HTTP://", "//", "/", "?", "#", "&", "=", " ", "\t", ":", "@", "[", "]", ".", "%", "\\",
     "example.com", "Example.COM", ":80", ":443", ":8080", ":99999", ":x", "utm_source=a", "gclid=1", "b=2",
     "a", "é", "ß", "::1", "%20", "path", "~"]
)  # fmt: skip


@given(st.lists(PIECES, max_size=12).map("".join))
def test_idempotent_on_generated_urls(url):
    once = canonical_url(url)
    assert canonical_url(once) == once


@pytest.mark.parametrize(
    "url",
    ["http://f: 21 / b ? d # e ", "http://f:b/c", "http://f:999999/c", "https://example.com:65536/a?utm_source=x"],
)
def test_an_invalid_port_leaves_the_url_as_it_came(url):
    assert canonical_url(url) == url


@pytest.mark.parametrize(
    "url, expected",
    [
        ("http://f:21/ b ? d # e ", "http://f:21/ b ? d"),  # no trailing space left to strip later
        ("https://a.example/x ?utm_source=nl", "https://a.example/x"),
        ("HTTPS://News.Example:443/a?utm_medium=x&id=7#top", "https://news.example/a?id=7"),
        ("/////mouse", "/////mouse"),  # no host: would read back as another URL, so as it came
    ],
)
def test_canonical_forms(url, expected):
    assert canonical_url(url) == expected
