"""The local warehouse answers BigQuery SQL, HLL_COUNT included, on what a rebuild stored."""

from __future__ import annotations

import pytest

from tests.conftest import rebuilt_warehouse
from weir.traffic.generator import generate_day
from weir.transforms.enrich import farm_fingerprint
from weir.warehouse.translate import TranslationError, to_duckdb

DAY = "2025-11-20"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    home = str(tmp_path_factory.mktemp("home"))
    return rebuilt_warehouse(home, generate_day(DAY, events=2500, seed=21))


def test_merged_5m_sketches_equal_the_days_own(warehouse):
    rows = warehouse.query(f"""
        WITH five AS (
          SELECT site, url, HLL_COUNT.MERGE(visitors_sketch) AS v5, SUM(pageviews) AS pv5
          FROM url_metrics_5m WHERE DATE(bucket_start) = '{DAY}' GROUP BY site, url)
        SELECT d.url, d.visitors, HLL_COUNT.EXTRACT(d.visitors_sketch) AS extracted, five.v5, d.pageviews, five.pv5
        FROM url_metrics_1d AS d JOIN five USING (site, url)
        WHERE d.bucket_date = '{DAY}'""").records()
    assert len(rows) > 50
    for r in rows:
        # A row with only bot traffic has no human visitor: NULL sketch, EXTRACT gives NULL.
        assert r["visitors"] == (r["extracted"] or 0) == r["v5"], r
        assert r["pageviews"] == r["pv5"], r


def test_hll_over_events_matches_stored_sketches(warehouse):
    # An analyst's own sketch over `events` merges with the stored ones (same FARM_FINGERPRINT keys).
    got = warehouse.query(f"""
        SELECT
          (SELECT HLL_COUNT.MERGE(visitors_sketch) FROM url_metrics_1d WHERE bucket_date = '{DAY}') AS stored,
          (SELECT HLL_COUNT.EXTRACT(HLL_COUNT.INIT(FARM_FINGERPRINT(visitor_id)))
             FROM events WHERE NOT is_bot AND DATE(event_ts) = '{DAY}') AS analyst,
          (SELECT COUNT(DISTINCT visitor_id) FROM events WHERE NOT is_bot) AS exact""").records()[0]
    assert got["stored"] == got["analyst"]
    assert abs(got["stored"] - got["exact"]) / got["exact"] < 0.02


def test_visitor_fingerprint_column_is_farm_fingerprint(warehouse):
    rows = warehouse.query("SELECT visitor_id, visitor_fp, FARM_FINGERPRINT(visitor_id) AS f FROM events LIMIT 20").rows
    assert rows and all(fp == f == farm_fingerprint(v) for v, fp, f in rows)


def test_bigquery_functions_and_qualified_names(warehouse):
    rows = warehouse.query(f"""
        SELECT FORMAT_TIMESTAMP('%H:%M', bucket_start) AS hhmm, TIMESTAMP_TRUNC(bucket_start, HOUR) AS hour,
               SAFE_DIVIDE(engaged_seconds, pageviews) AS eng_per_pv, COUNTIF(pageviews > 0) OVER () AS n
        FROM `weir-local.web_analytics.url_metrics_5m`
        WHERE DATE(bucket_start) = '{DAY}' ORDER BY bucket_start LIMIT 3""").records()
    assert len(rows) == 3 and len(rows[0]["hhmm"]) == 5


def test_tables_are_partitioned_by_the_spec_columns(warehouse):
    # Each table's partition column holds the rebuilt day only.
    for table, col in [
        ("events", "event_ts"),
        ("url_metrics_5m", "bucket_start"),
        ("url_metrics_1d", "bucket_date"),
        ("dead_letters", "received_at"),
    ]:
        assert warehouse.query(f"SELECT DISTINCT CAST(DATE({col}) AS STRING) FROM {table}").rows == [(DAY,)]


def test_dml_from_sql_works_and_translation_errors_are_clear(warehouse, tmp_path):
    assert to_duckdb("SELECT 1")[1] is True
    assert to_duckdb("DELETE FROM t WHERE x = 1")[1] is False
    with pytest.raises(TranslationError):
        to_duckdb("SELEC FROM WHERE")
    with pytest.raises(TranslationError, match="precision"):
        to_duckdb("SELECT HLL_COUNT.INIT(x, 25) FROM t")  # BigQuery's range is 10 to 24


@pytest.mark.parametrize(
    "end, start, unit, expected",
    [
        # BigQuery's documented examples: whole units elapsed, truncated toward zero.
        ("2010-07-07 10:20:00+00", "2008-12-25 15:30:00+00", "HOUR", 13410),
        ("2001-02-01 01:00:00+00", "2001-02-01 00:00:01+00", "HOUR", 0),
        ("2018-08-14 00:00:00+00", "2018-10-14 00:00:00+00", "DAY", -61),
        ("2025-11-20 01:05:00+00", "2025-11-20 00:55:00+00", "MINUTE", 10),
        ("2025-11-20 00:55:00+00", "2025-11-20 01:05:00+00", "HOUR", 0),
    ],
)
def test_timestamp_diff_counts_whole_units_like_bigquery(warehouse, end, start, unit, expected):
    got = warehouse.query(f"SELECT TIMESTAMP_DIFF(TIMESTAMP '{end}', TIMESTAMP '{start}', {unit})").rows
    assert got == [(expected,)]
