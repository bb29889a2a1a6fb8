"""Enrichment catalogue: tables of real-world user agents, referrers and URLs (issue #4).

Expected values are what a person reading the string would say; each row was checked by eye.
"""

from __future__ import annotations

import pytest

from weir.transforms.referrers import classify
from weir.transforms.urls import campaign, canonical_url
from weir.transforms.useragents import parse_user_agent

# (user agent, (device_type, browser, os, is_bot))
USER_AGENTS = [
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        ("desktop", "Chrome", "Windows", False),
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
        ("desktop", "Edge", "Windows", False),
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
        ("desktop", "Firefox", "Windows", False),
    ),
    ("Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko", ("desktop", "IE", "Windows", False)),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36 OPR/115.0.0.0",
        ("desktop", "Opera", "Windows", False),
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
        ("desktop", "Safari", "Mac OS X", False),
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        ("desktop", "Chrome", "Mac OS X", False),
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:132.0) Gecko/20100101 Firefox/132.0",
        ("desktop", "Firefox", "Mac OS X", False),
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        ("desktop", "Chrome", "Linux", False),
    ),
    (
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
        ("desktop", "Firefox", "Ubuntu", False),
    ),
    (
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        ("desktop", "Chrome", "Chrome OS", False),
    ),
    (
        "Mozilla/5.0 (X11; Fedora; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0",
        ("desktop", "Firefox", "Fedora", False),
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 YaBrowser/24.1.0.0 Safari/537.36",
        ("desktop", "Yandex Browser", "Windows", False),
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Vivaldi/7.0.3495.18",
        ("desktop", "Vivaldi", "Windows", False),
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        ("mobile", "Mobile Safari", "iOS", False),
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
        ("mobile", "Chrome Mobile iOS", "iOS", False),
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/132.0 Mobile/15E148 Safari/605.1.15",
        ("mobile", "Firefox iOS", "iOS", False),
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36",
        ("mobile", "Chrome Mobile", "Android", False),
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
        ("mobile", "Samsung Internet", "Android", False),
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/489.0.0.0]",
        ("mobile", "Facebook", "iOS", False),
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; moto g power (2023)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
        ("mobile", "Chrome Mobile", "Android", False),
    ),
    (
        "Mozilla/5.0 (Android 14; Mobile; rv:132.0) Gecko/132.0 Firefox/132.0",
        ("mobile", "Firefox Mobile", "Android", False),
    ),
    (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
        ("mobile", "Chrome Mobile", "Android", False),
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; 23127PN0CG Build/UKQ1.230804.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.193 Mobile Safari/537.36",
        ("mobile", "Chrome Mobile WebView", "Android", False),
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 309.0.0.40.113",
        ("mobile", "Instagram", "iOS", False),
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-A536B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
        ("mobile", "Samsung Internet", "Android", False),
    ),
    (
        "Mozilla/5.0 (Linux; U; Android 12; en-us; Redmi Note 11 Build/SKQ1.211103.001) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/112.0.5615.136 Mobile Safari/537.36 XiaoMi/MiuiBrowser/14.5.1-gn",
        ("mobile", "MiuiBrowser", "Android", False),
    ),
    (
        "Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/52.0.2743.116 Mobile Safari/537.36 Edge/15.14977",
        ("mobile", "Edge Mobile", "Windows Phone", False),
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
        ("tablet", "Mobile Safari", "iOS", False),
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        ("tablet", "Chrome", "Android", False),
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 16_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
        ("tablet", "Chrome Mobile iOS", "iOS", False),
    ),
    (
        "Mozilla/5.0 (Linux; Android 11; Lenovo TB-J606F) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
        ("tablet", "Chrome", "Android", False),
    ),
    (
        "Mozilla/5.0 (Linux; Android 9; KFMAWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/130.2.1 like Chrome/130.0.6723.102 Safari/537.36",
        ("tablet", "Amazon Silk", "Android", False),
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-T220) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        ("tablet", "Chrome", "Android", False),
    ),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", ("other", "Googlebot", "Other", True)),
    (
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        ("other", "Googlebot", "Android", True),
    ),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", ("other", "bingbot", "Other", True)),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
        ("other", "GPTBot", "Other", True),
    ),
    ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", ("other", "AhrefsBot", "Other", True)),
    (
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        ("other", "FacebookBot", "Other", True),
    ),
    ("Twitterbot/1.0", ("other", "Twitterbot", "Other", True)),
    ("Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", ("other", "YandexBot", "Other", True)),
    (
        "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
        ("other", "Baiduspider", "Other", True),
    ),
    ("DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)", ("other", "DuckDuckBot", "Other", True)),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
        ("other", "HeadlessChrome", "Windows", True),
    ),
    ("curl/8.4.0", ("other", "curl", "Other", True)),
    ("python-requests/2.32.3", ("other", "Python Requests", "Other", True)),
    (
        "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
        ("other", "SemrushBot", "Other", True),
    ),
    (
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
        ("other", "LinkedInBot", "Other", True),
    ),
    ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", ("other", "Slackbot-LinkExpanding", "Other", True)),
    (
        "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36",
        ("other", "Samsung Internet", "Tizen", False),
    ),
]


def test_catalogue_covers_every_kind_of_client():
    kinds = [expected[0] if not expected[3] else "bot" for _, expected in USER_AGENTS]
    assert len(USER_AGENTS) >= 40
    assert {k: kinds.count(k) >= 5 for k in ("desktop", "mobile", "tablet", "bot")} == dict.fromkeys(
        ("desktop", "mobile", "tablet", "bot"), True
    )


@pytest.mark.parametrize("ua, expected", USER_AGENTS, ids=[f"ua{i}" for i in range(len(USER_AGENTS))])
def test_user_agent_catalogue(ua, expected):
    assert tuple(parse_user_agent(ua)) == expected


SITE, PAGE_HOST = "dailyglobe.com", "www.dailyglobe.com"
# (referrer, (referrer_category, referrer_domain))
REFERRERS = [
    (None, ("direct", None)),
    ("", ("direct", None)),
    ("   ", ("direct", None)),
    ("https://www.google.com/", ("search", "google.com")),
    ("https://www.google.com/search?q=city+budget&oq=city", ("search", "google.com")),
    ("https://www.google.co.uk/", ("search", "google.co.uk")),
    ("https://www.google.com.au/search?q=x", ("search", "google.com.au")),
    ("https://news.google.com/articles/CBMi", ("search", "google.com")),
    ("https://www.bing.com/search?q=storm", ("search", "bing.com")),
    ("https://duckduckgo.com/", ("search", "duckduckgo.com")),
    ("https://search.yahoo.com/search?p=market", ("search", "yahoo.com")),
    ("https://yandex.ru/search/?text=x", ("search", "yandex.ru")),
    ("https://www.baidu.com/s?wd=x", ("search", "baidu.com")),
    ("https://www.ecosia.org/search?q=x", ("search", "ecosia.org")),
    ("https://search.brave.com/search?q=x", ("search", "brave.com")),
    ("https://www.facebook.com/", ("social", "facebook.com")),
    ("https://m.facebook.com/story.php?id=1", ("social", "facebook.com")),
    ("https://l.facebook.com/l.php?u=https%3A%2F%2Fdailyglobe.com", ("social", "facebook.com")),
    ("https://t.co/Ab12Cd34", ("social", "t.co")),
    ("https://x.com/someone/status/1", ("social", "x.com")),
    ("https://lnkd.in/eXyZ123", ("social", "lnkd.in")),
    ("https://www.linkedin.com/feed/", ("social", "linkedin.com")),
    ("https://www.reddit.com/r/news/comments/abc/", ("social", "reddit.com")),
    ("https://out.reddit.com/t3_abc", ("social", "reddit.com")),
    ("https://news.ycombinator.com/item?id=1", ("social", "ycombinator.com")),
    ("https://www.instagram.com/", ("social", "instagram.com")),
    ("https://www.pinterest.co.uk/pin/1/", ("social", "pinterest.co.uk")),
    ("https://www.youtube.com/watch?v=x", ("social", "youtube.com")),
    ("https://www.dailyglobe.com/politics/", ("internal", "dailyglobe.com")),
    ("https://dailyglobe.com/", ("internal", "dailyglobe.com")),
    ("https://amp.dailyglobe.com/x", ("internal", "dailyglobe.com")),
    ("HTTPS://WWW.DAILYGLOBE.COM/Up", ("internal", "dailyglobe.com")),
    ("https://www.othernews.co.uk/article", ("other", "othernews.co.uk")),
    ("https://blog.example.org/post/1", ("other", "example.org")),
    ("https://ycombinator.com/companies", ("other", "ycombinator.com")),  # only news. is social
    ("http://192.0.2.10:8080/dashboard", ("other", "192.0.2.10")),
    ("android-app://com.google.android.gm/", ("other", None)),
    ("not a url at all", ("other", None)),
    ("https://", ("other", None)),
    ("https://[::1", ("other", None)),
]


def test_referrer_catalogue_is_broad():
    categories = [expected[0] for _, expected in REFERRERS]
    assert len(REFERRERS) >= 30
    assert all(categories.count(c) >= 2 for c in ("direct", "search", "social", "internal", "other"))


@pytest.mark.parametrize("referrer, expected", REFERRERS, ids=[f"ref{i}" for i in range(len(REFERRERS))])
def test_referrer_catalogue(referrer, expected):
    assert classify(referrer, SITE, PAGE_HOST) == expected


# (URL as the browser saw it, canonical URL)
URLS = [
    ("https://www.dailyglobe.com/a", "https://www.dailyglobe.com/a"),
    ("https://www.dailyglobe.com/a?utm_source=tw&utm_medium=social&utm_campaign=x", "https://www.dailyglobe.com/a"),
    ("https://www.dailyglobe.com/a?id=7&utm_content=hero", "https://www.dailyglobe.com/a?id=7"),
    ("https://www.dailyglobe.com/a?utm_term=k&id=7&utm_source=n", "https://www.dailyglobe.com/a?id=7"),
    ("https://www.dailyglobe.com/a?gclid=EAIaIQ", "https://www.dailyglobe.com/a"),
    ("https://www.dailyglobe.com/a?fbclid=IwAR0&page=2", "https://www.dailyglobe.com/a?page=2"),
    ("https://www.dailyglobe.com/a?msclkid=abc", "https://www.dailyglobe.com/a"),
    ("https://www.dailyglobe.com/a#section-2", "https://www.dailyglobe.com/a"),
    ("https://www.dailyglobe.com/a?x=1#frag", "https://www.dailyglobe.com/a?x=1"),
    ("HTTPS://WWW.DAILYGLOBE.COM/Politics/Story", "https://www.dailyglobe.com/Politics/Story"),
    ("Http://DailyGlobe.com/a", "http://dailyglobe.com/a"),
    ("https://www.dailyglobe.com:443/a", "https://www.dailyglobe.com/a"),
    ("http://www.dailyglobe.com:80/a", "http://www.dailyglobe.com/a"),
    ("http://localhost:8000/preview", "http://localhost:8000/preview"),
    ("https://staging.dailyglobe.com:8443/a", "https://staging.dailyglobe.com:8443/a"),
    ("https://bücher.example/straße?q=ä", "https://bücher.example/straße?q=ä"),
    ("https://BÜCHER.example/x", "https://bücher.example/x"),
    ("https://xn--bcher-kva.example/x", "https://xn--bcher-kva.example/x"),
    ("https://www.dailyglobe.com/a?", "https://www.dailyglobe.com/a"),
    ("https://www.dailyglobe.com/a?b=2&a=1", "https://www.dailyglobe.com/a?b=2&a=1"),
    ("https://www.dailyglobe.com/a?q=hello%20world&utm_source=x", "https://www.dailyglobe.com/a?q=hello%20world"),
    ("https://www.dailyglobe.com/a?flag&utm_source=x", "https://www.dailyglobe.com/a?flag"),
    ("https://www.dailyglobe.com/a?UTM_SOURCE=x&GCLID=y&Id=3", "https://www.dailyglobe.com/a?Id=3"),
    ("https://user@www.dailyglobe.com/a", "https://user@www.dailyglobe.com/a"),
    ("https://www.dailyglobe.com/a/?utm_campaign=&ref=home", "https://www.dailyglobe.com/a/?ref=home"),
]


def test_url_catalogue_is_broad():
    assert len(URLS) >= 20


@pytest.mark.parametrize("url, expected", URLS, ids=[f"url{i}" for i in range(len(URLS))])
def test_url_catalogue(url, expected):
    assert canonical_url(url) == expected


CAMPAIGNS = [
    (
        "https://a.com/?utm_source=newsletter&utm_medium=email&utm_campaign=daily&utm_term=t&utm_content=top",
        {
            "utm_source": "newsletter",
            "utm_medium": "email",
            "utm_campaign": "daily",
            "utm_term": "t",
            "utm_content": "top",
        },
    ),
    ("https://a.com/?utm_campaign=spring%20sale", {"utm_campaign": "spring sale"}),
    ("https://a.com/?UTM_Campaign=Mixed", {"utm_campaign": "Mixed"}),
    ("https://a.com/?utm_campaign=", {}),
    ("https://a.com/#utm_campaign=in-fragment", {}),
]


@pytest.mark.parametrize("url, expected", CAMPAIGNS)
def test_campaign_catalogue(url, expected):
    full = dict.fromkeys(("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"))
    full.update(expected)
    assert campaign(url) == full
