"""The docs a clone has: every relative link in README.md and docs/ resolves inside the
repository (a user's clone has no ../shared/), and README.md stays short (issue #15)."""

from __future__ import annotations

import glob
import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = [os.path.join(REPO, "README.md"), *sorted(glob.glob(os.path.join(REPO, "docs", "*.md")))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", PAGES, ids=[os.path.relpath(p, REPO) for p in PAGES])
def test_every_link_resolves_inside_the_repository(page):
    text = open(page, encoding="utf-8").read()
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://", "mailto:", "#")):
            continue
        path = os.path.normpath(os.path.join(os.path.dirname(page), target.split("#", 1)[0]))
        assert path.startswith(REPO + os.sep), f"{page}: {target} leaves the repository"
        assert os.path.exists(path), f"{page}: {target} does not exist"


def test_readme_stays_short():
    assert len(open(PAGES[0], encoding="utf-8").read()) <= 12_000
