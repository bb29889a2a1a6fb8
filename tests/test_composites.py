"""Composite level: ParseEvents, DedupeEvents, AggregateMetrics on TestPipeline-style runs.

The composites take and give batches (transforms.batches): inputs go through `ToBatches`,
batched outputs through `Unbatch`."""

from __future__ import annotations

import pickle

import apache_beam as beam
import orjson
from apache_beam.testing.util import assert_that, equal_to

from tests.conftest import raw
from weir.pipelines.graph import table_rows
from weir.transforms.aggregate import AggregateMetrics, MetricsCombineFn, contribution
from weir.transforms.batches import ToBatches, Unbatch
from weir.transforms.dedupe import DedupeEvents
from weir.transforms.enrich import enrich_event
from weir.transforms.metrics import METRICS
from weir.transforms.parse import ParseEvents
from weir.transforms.sketches import estimate, finished

T0 = 1_763_596_800_000  # 2025-11-20T00:00:00Z


def ev(i, **kw):
    base = {
        "event_id": f"e{i}",
        "action": "pageview",
        "ts": T0 + i * 1000,
        "site": "example.com",
        "url": "https://example.com/a",
        "visitor_id": f"v{i % 3}",
        "received_at": T0 + i * 1000 + 50,
    }
    base.update(kw)
    return base


def test_parse_events_splits_every_record(pipeline):
    records = [raw(orjson.dumps(ev(1))), raw(b"{oops"), raw(orjson.dumps(ev(2, ts="bad")))]
    with pipeline as p:
        out = p | beam.Create(records) | ToBatches() | ParseEvents()
        assert_that(
            out.events | Unbatch() | "ids" >> beam.Map(lambda e: e["event_id"]), equal_to(["e1"]), label="events"
        )
        assert_that(
            out.dead | "kinds" >> beam.Map(lambda d: d["error_kind"]),
            equal_to(["invalid_json", "invalid_timestamp"]),
            label="dead",
        )


def test_dedupe_keeps_earliest_received_copy(pipeline):
    first = ev(1, received_at=T0 + 10)
    retry = ev(1, received_at=T0 + 99)
    with pipeline as p:
        out = p | beam.Create([retry, ev(2), first, retry]) | ToBatches() | DedupeEvents()
        assert_that(
            out.events | Unbatch() | "keep" >> beam.Map(lambda e: (e["event_id"], e["received_at"])),
            equal_to([("e1", T0 + 10), ("e2", ev(2)["received_at"])]),
            label="events",
        )
        assert_that(
            out.duplicates | "dupes" >> beam.Map(lambda e: e["event_id"]), equal_to(["e1", "e1"]), label="duplicates"
        )


def test_dedupe_choice_among_copies_received_together_ignores_their_order():
    """Two copies with the same event_id, receive time and source but different content:
    whatever order the runner groups them in, the same one goes on."""
    a = ev(1, received_at=T0 + 10, url="https://example.com/a")
    b = ev(1, received_at=T0 + 10, url="https://example.com/b")
    for order in ([a, b], [b, a]):
        with beam.Pipeline() as p:
            out = p | beam.Create(order) | ToBatches() | DedupeEvents()
            # the rule: earliest received, then the copy whose JSON sorts first ("/a" < "/b")
            assert_that(out.events | Unbatch() | beam.Map(lambda e: e["url"]), equal_to(["https://example.com/a"]))


def test_dedupe_restores_event_time(pipeline):
    with pipeline as p:
        out = (
            p
            | beam.Create([ev(7)])
            | beam.Map(lambda e: beam.window.TimestampedValue(e, e["ts"] / 1000))
            | ToBatches()
            | DedupeEvents()
        )
        stamped = out.events | beam.Map(lambda b, t=beam.DoFn.TimestampParam: (b[0]["ts"], int(t.micros // 1000)))
        assert_that(stamped, equal_to([(ev(7)["ts"], ev(7)["ts"])]))


def test_aggregate_metrics_5m_and_daily_rollup(pipeline):
    events = [
        enrich_event(e)
        for e in [
            ev(1),
            ev(2),
            ev(3),  # three page views by v1, v2, v0 in the first bucket
            ev(4, action="heartbeat", engaged_seconds=7),
            ev(400, action="videostart"),  # 400 s later: the second bucket, v1
            ev(401, action="share"),
            ev(402, user_agent="Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
        ]
    ]
    with pipeline as p:
        out = table_rows(p | beam.Create(events) | ToBatches() | AggregateMetrics())
        cols = (
            "bucket_start",
            "pageviews",
            "visitors",
            "engaged_seconds",
            "video_starts",
            "custom_events",
            "bot_pageviews",
        )
        assert_that(
            out["url_metrics_5m"] | "p5" >> beam.Map(lambda r: tuple(r[c] for c in cols)),
            equal_to(
                [
                    (T0, 3, 3, 7, 0, 0, 0),
                    (T0 + 300_000, 0, 2, 0, 1, 1, 1),
                ]
            ),
            label="5m",
        )
        assert_that(
            out["url_metrics_1d"]
            | "p1"
            >> beam.Map(lambda r: (r["bucket_date"], r["pageviews"], r["visitors"], estimate(r["visitors_sketch"]))),
            equal_to([("2025-11-20", 3, 3, 3)]),
            label="1d",
        )
        device = out["breakdown_metrics_1d"] | beam.Filter(lambda r: r["dimension"] == "action")
        assert_that(
            device | "pa" >> beam.Map(lambda r: (r["value"], r["pageviews"], r["bot_pageviews"])),
            equal_to([("pageview", 3, 1), ("heartbeat", 0, 0), ("videostart", 0, 0), ("share", 0, 0)]),
            label="action",
        )


def test_combine_fn_merges_partial_accumulators_like_one_pass():
    fn = MetricsCombineFn()
    events = [enrich_event(ev(i, session_index=1 + i % 2, session_id=f"s{i % 4}")) for i in range(40)]
    one = fn.create_accumulator()
    for e in events:
        fn.add_input(one, contribution(e))
    parts = []
    for chunk in (events[:13], events[13:29], events[29:]):
        acc = fn.create_accumulator()
        for e in chunk:
            fn.add_input(acc, contribution(e))
        parts.append(acc)
    merged = fn.merge_accumulators(parts)
    n = sum(1 for m in METRICS if m.kind == "sum")  # the sums first, then the distinct slots
    assert merged[:n] == one[:n] and sum(merged[:n]) > 0
    assert [finished(k).to_bytes() for k in merged[n:]] == [finished(k).to_bytes() for k in one[n:]]
    assert all(finished(k) is not None for k in merged[n:])
    assert pickle.loads(pickle.dumps(merged)) == one  # how accumulators cross the runner


def test_rows_past_the_exact_limit_count_like_a_sketch_of_their_keys(pipeline):
    """A URL with more distinct visitors than `EXACT_LIMIT` (its daily row's keys become a
    sketch in the roll-up): the 5-minute and daily rows still equal a sketch of all keys."""
    from weir.transforms.enrich import farm_fingerprint
    from weir.transforms.sketches import EXACT_LIMIT, sketch_of

    n = EXACT_LIMIT + 700
    events = [enrich_event(ev(i, ts=T0 + i % 250_000, visitor_id=f"v{i}")) for i in range(n)]
    expected = estimate(sketch_of(farm_fingerprint(f"v{i}") for i in range(n)))
    with pipeline as p:
        out = table_rows(p | beam.Create(events) | ToBatches() | AggregateMetrics())
        for grain in ("5m", "1d"):
            rows = out[f"url_metrics_{grain}"]
            counted = rows | f"v{grain}" >> beam.Map(
                lambda r: (r["pageviews"], r["visitors"], estimate(r["visitors_sketch"]))
            )
            assert_that(counted, equal_to([(n, expected, expected)]), label=grain)


def test_scroll_quarters_add_up_per_url_for_people_only(pipeline):
    """A reader's heartbeats carry the quarters newly reached (2, then 1): 3 for the page;
    a crawler's quarters count nowhere."""
    bot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    events = [
        enrich_event(e)
        for e in [
            ev(1),
            ev(2, action="heartbeat", engaged_seconds=5, scroll_quarters=2),
            ev(3, action="heartbeat", engaged_seconds=5, scroll_quarters=1),
            ev(4, action="heartbeat", engaged_seconds=5, scroll_quarters=4, user_agent=bot),
        ]
    ]
    with pipeline as p:
        out = table_rows(p | beam.Create(events) | ToBatches() | AggregateMetrics())
        assert_that(
            out["url_metrics_5m"] | beam.Map(lambda r: (r["pageviews"], r["scroll_quarters"])), equal_to([(1, 3)])
        )
