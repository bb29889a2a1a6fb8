"""Rebuilds referrers.json from Matomo's searchengine-and-social-list (CC0 1.0).

    git clone https://github.com/matomo-org/searchengine-and-social-list /tmp/matomo-lists
    python transforms/data/refresh_referrers.py /tmp/matomo-lists

Reads SearchEngines.yml (every configuration's `urls`), Socials.yml and AIAssistants.yml,
keeps the entries that are web hosts (Matomo also lists Android package names), and writes
transforms/data/referrers.json with the source's commit. Run the tests after: the referrer
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
    }


if __name__ == "__main__":
    data = build(sys.argv[1])
    write(OUT, data)
    print(f"{OUT}: {len(data['search'])} search, {len(data['social'])} social, {len(data['ai'])} ai entries")
