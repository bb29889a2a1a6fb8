"""Referrer categories on Matomo's maintained lists (issue #17): what the shipped data says,
the decisions weir adds (docs/decisions.md), and the classes of mistakes the old hand-kept
list made. The agreement with the snowplow referer-parser suite is measured by
`python tests/fidelity.py --referer-tests FILE` (that suite is GPL, so it is not shipped).
"""

from __future__ import annotations

import json
from importlib import resources

import pytest

from weir.transforms.referrers import classify

DATA = json.loads(resources.files("weir.transforms").joinpath("data/referrers.json").read_text("utf-8"))


def category(referrer: str) -> str:
    return classify(referrer, "news.example", "www.news.example")[0]


def test_the_data_names_its_source_and_licence():
    about = DATA["_about"]
    assert "matomo-org/searchengine-and-social-list" in about["source"] and about["licence"].startswith("CC0")
    assert len(about["commit"]) == 40
    assert len(DATA["search"]) > 500 and len(DATA["social"]) > 150 and len(DATA["ai"]) > 15


@pytest.mark.parametrize("name", ["ai", "social", "search"])
def test_every_entry_of_a_list_is_its_category(name):
    earlier = {"ai": [], "social": ["ai"], "search": ["ai", "social"]}[name]
    wrong = []
    for entry in DATA[name]:
        host, _, path = entry.partition("/")
        tld_too = host.endswith("{}")  # only a last '{}' also stands for co.uk, com.au, ...
        fills = {host.replace("{}", "de")} | ({host[:-2].replace("{}", "de") + "co.uk"} if tld_too else set())
        for filled in fills:
            url = f"https://{filled}/{path}"
            got = category(url)
            if got != name and got not in earlier and not filled.endswith("news.example"):
                wrong.append((url, got))
    assert wrong == []


@pytest.mark.parametrize(
    "referrer, expected",
    [
        # Mail, maps and other properties of search brands are not search.
        ("https://mail.google.com/mail/u/0/", "other"),
        ("https://maps.google.com/maps?q=x", "other"),
        ("https://drive.google.com/drive/my-drive", "other"),
        ("https://accounts.google.com/", "other"),
        ("https://mail.yahoo.com/d/folders/1", "other"),
        ("https://mail.yandex.ru/", "other"),
        ("https://e.mail.ru/inbox/", "other"),
        ("https://outlook.live.com/mail/0/", "other"),
        # Their search is search, on any country domain.
        ("https://www.google.com/", "search"),
        ("https://www.google.co.uk/search?q=x", "search"),
        ("https://www.google.com.au/", "search"),
        ("https://search.yahoo.com/search?p=x", "search"),
        ("https://yandex.ru/search/?text=x", "search"),
        ("https://www.startpage.com/do/search", "search"),
        ("https://duckduckgo.com/", "search"),
        ("https://search.brave.com/search?q=x", "search"),
        ("https://www.ecosia.org/search?q=x", "search"),
        # AI assistants are their own category (an addition to Parse.ly's five).
        ("https://chatgpt.com/", "ai"),
        ("https://chat.openai.com/c/1", "ai"),
        ("https://gemini.google.com/app", "ai"),
        ("https://www.perplexity.ai/search/x", "ai"),
        ("https://claude.ai/chat/1", "ai"),
        ("https://copilot.microsoft.com/", "ai"),
        ("https://x.com/i/grok", "ai"),
        # Social networks the old list did not know.
        ("https://www.threads.com/@someone", "social"),
        ("https://www.threads.net/@someone", "social"),
        ("https://bsky.app/profile/x", "social"),
        ("https://vk.com/wall1", "social"),
        ("https://vimeo.com/1", "social"),
        ("https://github.com/x/y", "social"),
        ("https://mastodon.social/@x", "social"),
        ("https://x.com/someone/status/1", "social"),
        ("https://www.facebook.com/l.php?u=x", "social"),  # the network, though it has a search box
        ("https://www.youtube.com/watch?v=1", "social"),
        # Unchanged rules.
        ("", "direct"),
        ("https://www.news.example/other-story", "internal"),
        ("android-app://com.google.android.gm/", "other"),
        ("https://some-blog.example/post", "other"),
    ],
)
def test_categories(referrer, expected):
    assert category(referrer) == expected


def test_every_app_the_data_knows_is_its_networks_category_and_domain():
    from weir.transforms.referrers import registrable_domain

    apps = DATA["apps"]
    assert set(DATA["_about"]["weir_app_additions"]) <= set(apps)
    # The packages the source itself lists (Socials.yml, SearchEngines.yml) are all there.
    for listed in ("com.reddit.frontpage", "com.snapchat.android", "org.telegram.messenger",
                   "org.joinmastodon.android", "com.google.android.googlequicksearchbox"):  # fmt: skip
        assert listed in apps and listed not in DATA["_about"]["weir_app_additions"], listed
    for package, (expected, host) in apps.items():
        for referrer in (f"android-app://{package}", f"android-app://{package}/", f"ANDROID-APP://{package}/https/x"):
            assert classify(referrer, "news.example", "www.news.example") == (expected, registrable_domain(host))


@pytest.mark.parametrize(
    "referrer, expected",
    [
        ("android-app://com.facebook.katana", ("social", "facebook.com")),
        ("android-app://com.linkedin.android/", ("social", "linkedin.com")),
        ("android-app://com.google.android.googlequicksearchbox/https/www.google.com", ("search", "google.com")),
        ("android-app://org.telegram.messenger", ("social", "telegram.org")),
        ("android-app://com.google.android.gm/", ("other", None)),  # Gmail: webmail is other
        ("android-app://", ("other", None)),
        ("android-app://com.facebook.katana.evil", ("other", None)),  # another package, not a prefix match
    ],
)
def test_phones_readers_from_apps_are_their_networks_readers(referrer, expected):
    assert classify(referrer, "news.example", "www.news.example") == expected
