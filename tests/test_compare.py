"""`weir compare`: zero differences between equal runs, and the buckets named when they differ."""

from __future__ import annotations

import os

import pytest

from tests.test_verify import DAY, weir


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    home = str(tmp_path_factory.mktemp("compare"))
    weir(home, "demo", "--events", "2500", "--date", DAY)
    weir(
        home,
        "rebuild",
        "--input",
        os.path.join(home, "archive", f"dt={DAY}", "*", "*.avro"),
        "--dataset",
        "web_analytics_check",
    )
    return home


def test_equal_runs_have_no_differences(two_runs):
    out = weir(two_runs, "compare", "--date", DAY, "--left", "web_analytics", "--right", "web_analytics_check")
    assert out.stdout.strip().endswith("no differences")
    assert out.stdout.count(": same:") == 4


def test_differences_name_the_bucket(two_runs):
    row = weir(
        two_runs,
        "sql",
        "SELECT url, bucket_start FROM web_analytics_check.url_metrics_5m "
        "WHERE pageviews > 0 ORDER BY bucket_start LIMIT 1",
        "--format",
        "csv",
    ).stdout
    url, bucket = row.splitlines()[1].split(",")
    weir(
        two_runs,
        "sql",
        f"UPDATE web_analytics_check.url_metrics_5m SET pageviews = pageviews + 2, "
        f"visitors = visitors * 2 + 5 WHERE url = '{url}' AND bucket_start = TIMESTAMP '{bucket}'",
        "--write",
    )

    def compare(left, right):
        return weir(two_runs, "compare", "--date", DAY, "--left", left, "--right", right, check=False)

    out = compare("web_analytics", "web_analytics_check.url_metrics_5m")
    assert out.returncode == 2 and "must name the same tables" in out.stderr  # refused, clearly
    out = compare("web_analytics.url_metrics_5m", "web_analytics_check.url_metrics_5m")
    assert out.returncode == 1
    assert "count diffs 1, estimate diffs beyond 2% 1" in out.stdout
    assert f"{url} | " in out.stdout and "pageviews: left" in out.stdout and "(diff 2)" in out.stdout
