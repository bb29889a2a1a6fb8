"""Rebuilds referrers.json from Matomo's searchengine-and-social-list (CC0 1.0).

    git clone https://github.com/matomo-org/searchengine-and-social-list /tmp/matomo-lists
    python transforms/data/refresh_referrers.py /tmp/matomo-lists

Reads SearchEngines.yml (every configuration's `urls`), Socials.yml and AIAssistants.yml,
keeps the entries that are web hosts, and the Android package names the source lists beside
them as `apps` (package -> its category and the network's first web host), adds the apps of
APP_ADDITIONS, and writes transforms/data/referrers.json with the source's commit. Run the tests after: the referrer
cases in tests/test_referrers_reference.py say what must stay true.
"""

from __future__ import annotations

import os
import re
import sys

import yaml
from _refresh import commit_of, write  # beside this script

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "referrers.json")
# weir's decisions on top of the source, kept here so a refresh keeps them (docs/decisions.md):
# map services of search brands are not search (a reader following a place, not a query).
NOT_SEARCH = frozenset({"maps.google.com", "maps.google.{}"})
# An Android package id as the source lists it, bare or as an android-app referrer without "://".
PACKAGE = re.compile(r"^(?:android-app//)?([a-z][a-z0-9_]*(?:\.[a-z0-9_]+){2,})(?:/.*)?$")
PACKAGE_PREFIXES = ("com.", "org.", "net.", "android-app//")
# weir's additions: Google Play package ids of the apps of networks the source lists by their
# web hosts only (their Play Store addresses name them), so a reader arriving from the Facebook
# or LinkedIn app on a phone is social like one from their sites (docs/decisions.md).
APP_ADDITIONS = {
    "com.facebook.katana": ("social", "Facebook"),
    "com.facebook.lite": ("social", "Facebook"),
    "com.instagram.android": ("social", "Instagram"),
    "com.instagram.barcelona": ("social", "Threads"),
    "com.linkedin.android": ("social", "LinkedIn"),
    "com.twitter.android": ("social", "Twitter"),
    "com.pinterest": ("social", "Pinterest"),
    "com.zhiliaoapp.musically": ("social", "TikTok"),
    "com.google.android.youtube": ("social", "YouTube"),
    "com.tumblr": ("social", "tumblr"),
    "com.discord": ("social", "Discord"),
    "com.tencent.mm": ("social", "WeChat"),
    "com.vkontakte.android": ("social", "Vkontakte"),
    "com.sina.weibo": ("social", "Weibo"),
    "xyz.blueskyweb.app": ("social", "Bluesky"),
    "com.microsoft.bing": ("search", "Bing"),
    "com.duckduckgo.mobile.android": ("search", "DuckDuckGo"),
}
HOST = re.compile(r"^(?:[a-z0-9{}-]+\.)+[a-z0-9{}-]+(?:/\S*)?$")


def _entries(values) -> list[str]:
    out = []
    for value in values:
        value = str(value).strip().lower()
        if HOST.match(value) and not value.startswith(("com.", "org.", "net.", "android-app")):
            out.append(value)
    return out


def build(checkout: str) -> dict:
    def load(name):
        with open(os.path.join(checkout, name), encoding="utf-8") as fh:
            return yaml.safe_load(fh)

    apps = _apps(load("SearchEngines.yml"), load("Socials.yml"), load("AIAssistants.yml"))
    engines = load("SearchEngines.yml").values()
    search = sorted({u for configs in engines for c in configs for u in _entries(c["urls"])} - NOT_SEARCH)
    social = sorted({u for urls in load("Socials.yml").values() for u in _entries(urls)})
    ai = sorted({u for urls in load("AIAssistants.yml").values() for u in _entries(urls)})
    return {
        "_about": {
            "source": "https://github.com/matomo-org/searchengine-and-social-list",
            "commit": commit_of(checkout),
            "licence": "CC0 1.0 Universal",
            "refresh": "python transforms/data/refresh_referrers.py <checkout of the source>",
            "weir_exclusions": sorted(NOT_SEARCH),
            "weir_app_additions": sorted(APP_ADDITIONS),
            "matching": (
                "search: the referrer's host, the host without a leading 'www.', or a parent of the host "
                "that is longer than its registrable domain equals an entry; "
                "'{}' stands for one label (a country code) and, as the last label, also for a combined "
                "suffix such as co.uk. social and ai: the host is the entry or a subdomain of it; an entry "
                "with a path also needs the referrer's path to start with it. ai is tried first, then "
                "social, then search."
            ),
        },
        "ai": ai,
        "search": search,
        "social": social,
        "apps": apps,
    }


def _package(value) -> str | None:
    value = str(value).strip().lower()
    match = PACKAGE.match(value)
    return match.group(1) if match and value.startswith(PACKAGE_PREFIXES) else None


def _apps(engines: dict, socials: dict, assistants: dict) -> dict[str, list[str]]:
    """package -> [category, the network's first web host] for every package the source lists."""
    networks: dict[str, tuple[str, list]] = {}
    for name, configs in engines.items():
        networks[name] = ("search", [u for c in configs for u in c["urls"]])
    for category, listed in (("social", socials), ("ai", assistants)):
        for name, urls in listed.items():
            networks[name] = (category, list(urls))
    apps = {}
    for category, urls in networks.values():
        hosts = _entries(u for u in urls if "{}" not in str(u))
        for package in filter(None, map(_package, urls)):
            apps[package] = [category, hosts[0] if hosts else None]
    for package, (category, name) in APP_ADDITIONS.items():
        listed_category, urls = networks[name]  # a KeyError: the source renamed a network
        assert listed_category == category, (package, name)
        apps[package] = [category, _entries(u for u in urls if "{}" not in str(u))[0]]
    return dict(sorted(apps.items()))


if __name__ == "__main__":
    data = build(sys.argv[1])
    write(OUT, data)
    counts = f"{len(data['search'])} search, {len(data['social'])} social, {len(data['ai'])} ai entries"
    print(f"{OUT}: {counts}, {len(data['apps'])} apps")
