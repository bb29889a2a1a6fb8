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


def test_what_architecture_md_says_of_the_code_is_true():
    """The statements of docs/architecture.md that name a number or a format the code decides."""
    from weir.transforms.dedupe import PARTS
    from weir.warehouse.bigquery import BigQueryWarehouse
    from weir.warehouse.local import LocalWarehouse

    text = " ".join(open(os.path.join(REPO, "docs", "architecture.md"), encoding="utf-8").read().split())
    assert f"splits events into {PARTS} partitions (`PARTS`)" in text
    assert "(Parquet locally, NDJSON for BigQuery)" in text
    assert LocalWarehouse.staging_format == "parquet" and BigQueryWarehouse.staging_format == "ndjson"


def test_performance_md_holds_current_figures_not_history():
    """docs/performance.md is reference: under 12 KB, every figure's commit named."""
    text = open(os.path.join(REPO, "docs", "performance.md"), encoding="utf-8").read()
    assert len(text.encode("utf-8")) < 12 * 1024
    for section in text.split("\n## ")[1:]:
        assert re.search(r"\b[0-9a-f]{7}\b", section), section.splitlines()[0]  # a commit
        commands = ("`weir ", "`python ", "`/usr/bin/time", "`pip install")
        assert any(c in section for c in commands), section.splitlines()[0]
