"""The metric registry: a new metric and a new dimension need no code change but their entry,
the IP is never written, and the table reference (docs/tables.md) lists the whole catalogue."""

from __future__ import annotations

import os

import apache_beam as beam
import orjson
from apache_beam.testing.util import assert_that, equal_to

from tests.conftest import raw
from weir.pipelines.graph import GraphConfig, build
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
        "metadata": {"section": section},
        "ip": IP,
        **kw,
    }


def _heartbeat_count(e) -> int:
    return int(not e["is_bot"] and e["action"] == "heartbeat")


def _section(e):
    return (e.get("metadata") or {}).get("section")


def test_a_new_metric_and_dimension_are_one_entry_each(pipeline):
    heartbeats = Metric("heartbeats", "sum", _heartbeat_count, "Human heartbeat events.")
    section = Dimension("section", _section, "metadata.section of the page.")
    config = GraphConfig(metrics=METRICS + (heartbeats,), dimensions=DIMENSIONS + (section,))
    events = [
        event(1),
        event(2, "heartbeat", engaged_seconds=5),
        event(3, "heartbeat", engaged_seconds=5),
        event(4, section="sport"),
        event(5, "heartbeat", "sport", engaged_seconds=1),
    ]
    with pipeline as p:
        out = build(p, beam.Create([raw(orjson.dumps(e)) for e in events]), None, config)
        assert_that(
            out["url_metrics_1d"] | "m" >> beam.Map(lambda r: (r["pageviews"], r["heartbeats"])),
            equal_to([(2, 3)]),
            label="metric",
        )
        by_section = (
            out["breakdown_metrics_1d"]
            | beam.Filter(lambda r: r["dimension"] == "section")
            | beam.Map(lambda r: (r["value"], r["pageviews"], r["heartbeats"], r["engaged_seconds"]))
        )
        assert_that(by_section, equal_to([("news", 1, 2, 10), ("sport", 1, 1, 1)]), label="dimension")


def test_the_client_ip_is_written_nowhere(pipeline):
    good = [orjson.dumps(event(i)) for i in range(5)]
    bad = [orjson.dumps({**event(9), "ts": "never"}), orjson.dumps(event(10))[:60], orjson.dumps(event(11))[:-1]]
    with pipeline as p:
        out = build(p, beam.Create([raw(b) for b in good + bad]), None)
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
