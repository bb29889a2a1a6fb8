"""Rebuilds crawler_patterns.json from monperrus/crawler-user-agents (MIT licence).

    git clone https://github.com/monperrus/crawler-user-agents /tmp/crawler-user-agents
    python transforms/data/refresh_crawlers.py /tmp/crawler-user-agents

Keeps each entry's `pattern` (a regex over the user agent) and writes them with the source's
commit; transforms/crawlers.py matches them with RE2, beside crawlerdetect's list. A pattern
RE2 cannot compile (a lookaround) is left out and named in `_about.left_out`.
"""

from __future__ import annotations

import json
import os
import sys

import re2
from _refresh import commit_of, write  # beside this script

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "crawler_patterns.json")


def build(checkout: str) -> dict:
    with open(os.path.join(checkout, "crawler-user-agents.json"), encoding="utf-8") as fh:
        entries = json.load(fh)
    kept, left_out = [], []
    for entry in entries:
        try:
            re2.compile(entry["pattern"])
            kept.append(entry["pattern"])
        except re2.error:
            left_out.append(entry["pattern"])
    return {
        "_about": {
            "source": "https://github.com/monperrus/crawler-user-agents",
            "commit": commit_of(checkout),
            "licence": "MIT (Copyright (c) 2017 Martin Monperrus)",
            "refresh": "python transforms/data/refresh_crawlers.py <checkout of the source>",
            "left_out": left_out,
        },
        "patterns": kept,
    }


if __name__ == "__main__":
    data = build(sys.argv[1])
    write(OUT, data)
    print(f"{OUT}: {len(data['patterns'])} patterns, {len(data['_about']['left_out'])} left out")
