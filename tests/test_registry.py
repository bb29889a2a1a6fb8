"""The metric registry: a new metric and a new dimension need no code change but their entry,
the IP is never written, and the table reference (docs/tables.md) lists the whole catalogue."""

from __future__ import annotations

import os

import apache_beam as beam
import orjson
from apache_beam.testing.util import assert_that, equal_to

from tests.conftest import raw
from weir.pipelines.graph import GraphConfig, build, table_rows
from weir.transforms.metrics import DIMENSIONS, METRICS, Dimension, Metric
from weir.transforms.rows import row_encoder

T0 = 1_763_596_800_000
IP = "198.51.100.77"


def event(i: int, action: str = "pageview", section: str = "news", **kw) -> dict:
    return {
        "event_id": f"e{i}",
        "action": action,
        "ts": T0 + i * 1000,
        "site": "a.com",
        "url": "https://a.com/x",
        "visitor_id": f"v{i % 4}",
        "metadata": {"section": section, "tags": [section]},
        "ip": IP,
        **kw,
    }


def _heartbeat_count(e) -> int:
    return int(not e["is_bot"] and e["action"] == "heartbeat")


def _first_tag(e):
    tags = (e.get("metadata") or {}).get("tags") or []
    return tags[0] if tags else None


def test_a_new_metric_and_dimension_are_one_entry_each(pipeline):
    heartbeats = Metric("heartbeats", "sum", _heartbeat_count, "Human heartbeat events.")
    first_tag = Dimension("first_tag", _first_tag, "The page's first tag.")
    config = GraphConfig(metrics=METRICS + (heartbeats,), dimensions=DIMENSIONS + (first_tag,))
    events = [
        event(1),
        event(2, "heartbeat", engaged_seconds=5),
        event(3, "heartbeat", engaged_seconds=5),
        event(4, section="sport"),
        event(5, "heartbeat", "sport", engaged_seconds=1),
    ]
    with pipeline as p:
        out = table_rows(build(p, beam.Create([raw(orjson.dumps(e)) for e in events]), None, config))
        assert_that(
            out["url_metrics_1d"] | "m" >> beam.Map(lambda r: (r["pageviews"], r["heartbeats"])),
            equal_to([(2, 3)]),
            label="metric",
        )
        by_section = (
            out["breakdown_metrics_1d"]
            | beam.Filter(lambda r: r["dimension"] == "first_tag")
            | beam.Map(lambda r: (r["value"], r["pageviews"], r["heartbeats"], r["engaged_seconds"]))
        )
        assert_that(by_section, equal_to([("news", 1, 2, 10), ("sport", 1, 1, 1)]), label="dimension")


def test_the_client_ip_is_written_nowhere(pipeline):
    good = [orjson.dumps(event(i)) for i in range(5)]
    bad = [orjson.dumps({**event(9), "ts": "never"}), orjson.dumps(event(10))[:60], orjson.dumps(event(11))[:-1]]
    with pipeline as p:
        out = table_rows(build(p, beam.Create([raw(b) for b in good + bad]), None))
        written = []
        for table in ("events", "dead_letters", "url_metrics_1d", "breakdown_metrics_5m"):
            written.append(out[table] | f"enc_{table}" >> beam.Map(row_encoder(table)))
        leaks = written | beam.Flatten() | beam.Filter(lambda line: IP.encode() in line)
        assert_that(leaks, equal_to([]), label="no_ip")
        assert_that(out["dead_letters"] | beam.combiners.Count.Globally(), equal_to([3]), label="dead")


def test_table_reference_lists_every_metric_and_dimension():
    readme = open(os.path.join(os.path.dirname(__file__), "..", "docs", "tables.md"), encoding="utf-8").read()
    for name in [m.name for m in METRICS] + [d.name for d in DIMENSIONS]:
        assert f"`{name}`" in readme, name


def test_sections_are_a_breakdown_and_sum_to_the_urls(tmp_path):
    from tests.conftest import rebuilt_warehouse
    from weir.traffic.generator import SECTIONS, generate_day

    wh = rebuilt_warehouse(str(tmp_path), generate_day("2026-11-20", events=1500, seed=5))
    by_section = dict(
        wh.query("SELECT value, SUM(pageviews) FROM breakdown_metrics_1d WHERE dimension = 'section' GROUP BY 1").rows
    )
    assert set(by_section) <= {*SECTIONS, "(none)"} and len(set(by_section) & set(SECTIONS)) > 1  # (none): no metadata
    total = wh.query("SELECT SUM(pageviews) FROM url_metrics_1d").rows[0][0]
    assert sum(by_section.values()) == total  # one section per page: every page view once
    visitors = wh.query(
        "SELECT value, HLL_COUNT.MERGE(visitors_sketch) FROM breakdown_metrics_1d WHERE dimension = 'section' "
        "GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
    ).rows[0]
    assert visitors[1] > 0  # visitors merge from sketches per section


def test_authors_and_tags_are_a_row_per_value_and_visitors_merge(pipeline):
    stories = [
        # v1 reads two stories of Ann (once with Bob): one visitor of Ann, not two.
        {**event(1), "url": "https://a.com/s1", "visitor_id": "v1", "metadata": {"authors": ["Ann", "Bob"]}},
        {**event(2), "url": "https://a.com/s2", "visitor_id": "v1", "metadata": {"authors": ["Ann", "Ann"]}},
        {**event(3), "url": "https://a.com/s2", "visitor_id": "v2", "metadata": {"authors": "Ann"}},
        {**event(4), "url": "https://a.com/s3", "visitor_id": "v3", "metadata": {}},
        {**event(5), "url": "https://a.com/s4", "visitor_id": "v4", "metadata": {"tags": [f"t{i}" for i in range(30)]}},
    ]
    with pipeline as p:
        out = table_rows(build(p, beam.Create([raw(orjson.dumps(e)) for e in stories]), None))
        authors = (
            out["breakdown_metrics_1d"]
            | beam.Filter(lambda r: r["dimension"] == "author")
            | beam.Map(lambda r: (r["value"], r["pageviews"]))
            | beam.CombinePerKey(sum)  # per author, across its URLs
        )
        assert_that(
            authors,
            equal_to([("Ann", 3), ("Bob", 1), ("(none)", 2)]),
            label="pageviews_per_author",
        )
        tags = out["breakdown_metrics_1d"] | beam.Filter(lambda r: r["dimension"] == "tag" and r["value"] != "(none)")
        assert_that(tags | beam.combiners.Count.Globally(), equal_to([25]), label="tags_capped")
    # Visitors of an author across stories: test_an_authors_visitors_merge_across_stories.


def test_an_authors_visitors_merge_across_stories(tmp_path):
    from tests.conftest import rebuilt_warehouse

    day = "2025-11-20"
    events = [
        {**event(1), "url": "https://a.com/s1", "visitor_id": "v1", "metadata": {"authors": ["Ann", "Bob"]}},
        {**event(2), "url": "https://a.com/s2", "visitor_id": "v1", "metadata": {"authors": ["Ann"]}},
        {**event(3), "url": "https://a.com/s2", "visitor_id": "v2", "metadata": {"authors": ["Ann"]}},
    ]
    wh = rebuilt_warehouse(str(tmp_path), [(T0 + 60_000, orjson.dumps(e)) for e in events])
    rows = wh.query(
        "SELECT value, SUM(pageviews), HLL_COUNT.MERGE(visitors_sketch) FROM breakdown_metrics_1d "
        "WHERE dimension = 'author' GROUP BY 1 ORDER BY 1"
    ).rows
    assert rows == [("Ann", 3, 2), ("Bob", 1, 1)]  # v1 read Ann twice: one visitor
    from weir.checks.verify import verify_day

    checks = verify_day(wh, day)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    assert any(c.at_least and "[author]" in c.what for c in checks)


def test_the_schema_files_metric_columns_are_the_registrys():
    """The metric columns of every metrics table are written from the registry: a drift fails
    here, and `python -m weir.transforms.metric_columns` rewrites the files."""
    from weir import schemas
    from weir.transforms.metric_columns import metrics_tables, table_fields

    assert metrics_tables() == ["breakdown_metrics_1d", "breakdown_metrics_5m", "url_metrics_1d", "url_metrics_5m"]
    for table in metrics_tables():
        assert schemas.table(table).bigquery_schema_json() == table_fields(table), (
            f"{table}: run python -m weir.transforms.metric_columns"
        )


def test_a_new_metric_is_one_edit_and_every_schema_and_view_follows(tmp_path):
    """A throw-away metric added to the registry alone: the generated schema of every metrics
    table has its column (NULLABLE, so tables holding rows take it), and the view listing every
    metric selects it."""
    import shutil

    from weir import schemas
    from weir.transforms import metric_columns

    heartbeats = Metric("heartbeats", "sum", _heartbeat_count, "Human heartbeat events.")
    shutil.copytree(os.path.dirname(schemas.__file__), tmp_path / "schemas")
    registry = METRICS + (heartbeats,)  # what the one edit to the registry makes of it
    changed = metric_columns.write(str(tmp_path / "schemas"), registry)
    assert len(changed) == 4
    for table in metric_columns.metrics_tables():
        written = orjson.loads((tmp_path / "schemas" / "bigquery" / f"{table}.json").read_bytes())
        assert written[-1] == {"name": "heartbeats", "type": "INT64", "mode": "NULLABLE",
                               "description": "Human heartbeat events."}  # fmt: skip
    columns = [f["name"] for f in written if f["name"] not in ("site", "url", "bucket_start")]
    view = schemas.view_sql("url_timeseries", "d", tuple(columns))
    assert view.count("heartbeats") == 2 and view.count("scroll_quarters") == 2  # both grains
    assert "{metric_columns}" not in schemas.view_sql("url_timeseries", "d")
