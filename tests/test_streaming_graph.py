"""The graph in streaming mode on the streaming DirectRunner, driven by Beam's TestStream:
early, on-time and late panes, out-of-order events, duplicates across panes, too-late events."""

from __future__ import annotations

import apache_beam as beam
import orjson
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.runners.direct.direct_runner import BundleBasedDirectRunner
from apache_beam.testing.test_stream import TestStream as EventStream  # not a test class
from apache_beam.testing.util import assert_that, equal_to, equal_to_per_window
from apache_beam.transforms.window import IntervalWindow

from weir.pipelines.graph import GraphConfig, build, table_rows
from weir.transforms.batches import Unbatch
from weir.transforms.windowing import is_too_late

T0 = 1_763_596_800_000  # a bucket start
W0 = IntervalWindow(T0 / 1000, T0 / 1000 + 300)
W1 = IntervalWindow(T0 / 1000 + 300, T0 / 1000 + 600)
LATENESS_S = 600


def rec(eid: str, ts: int, received: int, visitor: str = "v1", action: str = "pageview") -> dict:
    e = {"event_id": eid, "action": action, "ts": ts, "site": "a.com", "url": "https://a.com/x", "visitor_id": visitor}
    return {"payload": orjson.dumps(e), "received_at": received, "source": "t", "attributes": {}}


def _non_empty(rows):
    if not rows:
        raise AssertionError("expected rows, got none")


@pytest.fixture
def streaming_pipeline():
    opts = PipelineOptions()
    opts.view_as(StandardOptions).streaming = True
    return beam.Pipeline(runner=BundleBasedDirectRunner(), options=opts)


class _PaneRow(beam.DoFn):
    def process(self, row, pane=beam.DoFn.PaneInfoParam):
        yield (pane.timing, row["pageviews"], row["visitors"])


def test_early_on_time_and_late_panes_accumulate(streaming_pipeline):
    stream = (
        EventStream()
        .advance_watermark_to(T0 / 1000)
        .add_elements([rec("a", T0 + 1_000, T0 + 1_100), rec("b", T0 + 2_000, T0 + 2_100, "v2")])
        .advance_processing_time(10)  # early firing: the live bucket
        .add_elements([rec("a", T0 + 1_000, T0 + 9_000)])  # a duplicate delivery, in a later pane
        .add_elements([rec("c", T0 + 301_000, T0 + 301_100, "v3")])  # next bucket
        .add_elements([rec("d", T0 + 3_000, T0 + 302_000, "v3")])  # out of order, same first bucket
        .advance_processing_time(10)
        .advance_watermark_to(T0 / 1000 + 301)  # on-time firing of the first bucket
        .add_elements([rec("e", T0 + 4_000, T0 + 400_000, "v4")])  # late, within the allowed lateness
        .advance_watermark_to_infinity()
    )
    with streaming_pipeline as p:
        out = table_rows(build(p, stream, None, GraphConfig(streaming=True, allowed_lateness_s=LATENESS_S, early_s=5)))
        panes = out["url_metrics_5m"] | beam.ParDo(_PaneRow())
        # timing: 0 early, 1 on time, 2 late. Every pane carries the whole bucket so far.
        assert_that(
            panes,
            equal_to_per_window(
                {
                    W0: [(0, 2, 2), (0, 3, 3), (1, 3, 3), (2, 4, 4)],
                    W1: [(0, 1, 1), (1, 1, 1)],
                }
            ),
            label="panes",
        )
        assert_that(out["duplicates"] | beam.Map(lambda e: e["event_id"]), equal_to(["a"]), label="dupes")
        assert_that(out["dead_letters"], equal_to([]), label="no_dead")


def test_too_late_events_become_dead_letters_not_drops(streaming_pipeline):
    too_late_received = T0 + 300_000 + LATENESS_S * 1000 + 1
    stream = (
        EventStream()
        .advance_watermark_to(T0 / 1000)
        .add_elements([rec("a", T0 + 1_000, T0 + 1_100)])
        .advance_watermark_to(T0 / 1000 + 300 + LATENESS_S + 60)
        .add_elements([rec("late", T0 + 2_000, too_late_received, "v9")])
        .advance_watermark_to_infinity()
    )
    with streaming_pipeline as p:
        out = table_rows(build(p, stream, None, GraphConfig(streaming=True, allowed_lateness_s=LATENESS_S, early_s=5)))
        dead = out["dead_letters"] | beam.Map(
            lambda d: (
                d["error_kind"],
                d["stage"],
                d["event_id"],
                d["received_at"],
                orjson.loads(d["payload_bytes"])["ts"],
            )
        )
        assert_that(dead, equal_to([("too_late", "window", "late", too_late_received, T0 + 2_000)]), label="dead")
        counted_late = out["url_metrics_5m"] | beam.Filter(lambda r: r["pageviews"] != 1)
        assert_that(counted_late, equal_to([]), label="not_counted")
        assert_that(out["url_metrics_5m"], _non_empty, label="has_rows")


@pytest.mark.parametrize(
    "ts_offset, received_offset, late",
    [
        (0, 300_000 + LATENESS_S * 1000, False),  # exactly at the limit: still counted
        (0, 300_000 + LATENESS_S * 1000 + 1, True),
        (299_999, 300_000 + LATENESS_S * 1000 + 1, True),  # the bucket's end counts, not the event's time
        (0, 1_000, False),
    ],
)
def test_too_late_rule(ts_offset, received_offset, late):
    event = {"ts": T0 + ts_offset, "received_at": T0 + received_offset}
    assert is_too_late(event, LATENESS_S) is late
    assert is_too_late({"ts": T0, "received_at": None}, 0) is False


def test_on_time_firings_report_the_watermark_lag(streaming_pipeline):
    from weir.transforms.counting import local_gauges, reset_local_counts

    reset_local_counts()
    stream = (
        EventStream()
        .advance_watermark_to(T0 / 1000)
        .add_elements([rec("a", T0 + 1_000, T0 + 1_100)])
        .advance_processing_time(10)  # an early pane: not a watermark event, no lag reported
        .advance_watermark_to_infinity()  # the on-time pane
    )
    with streaming_pipeline as p:
        build(p, stream, None, GraphConfig(streaming=True, early_s=5))
    lag = local_gauges()["watermark_lag_ms"]
    import time

    # the window [T0, T0 + 5 min) ended long ago: the on-time firing is that far behind
    assert abs(lag - (time.time() * 1000 - (T0 + 300_000))) < 120_000


@pytest.mark.parametrize("keying", ["event_id", "sharded"])
def test_streaming_dedupe_keyings_keep_one_copy_until_the_horizon(keying):
    """Both keyings of the streaming dedupe (Dataflow's per event_id, the DirectRunner's
    per 10-second epoch): copies across bundles and panes are removed and counted, and an id
    is forgotten once the watermark is `horizon` past its event. By then no copy received in
    the stream can be accepted (a later one is too late: a dead letter, never counted twice);
    only a record without a receive time is, which shows the id was forgotten."""
    horizon_s = 1200  # above the floor for lateness 0 (dedupe_horizon_floor_s: 900)
    later = T0 + (horizon_s + 240) * 1000  # a minute whose watermark passes the first's expiry
    undated = {**rec("a", T0 + 1_000, 0), "received_at": None}
    stream = (
        EventStream()
        .advance_watermark_to(T0 / 1000)
        .add_elements([rec("a", T0 + 1_000, T0 + 1_100), rec("b", T0 + 61_000, T0 + 61_100, "v2")])
        .add_elements([rec("a", T0 + 1_000, T0 + 5_000)])  # a copy, next bundle
        .advance_processing_time(10)
        .add_elements([rec("b", T0 + 61_000, T0 + 70_000, "v2"), rec("c", T0 + 62_000, T0 + 70_000, "v3")])
        .advance_watermark_to(later / 1000)  # a's and b's minutes are now beyond the horizon
        .add_elements([rec("a", T0 + 1_000, later)])  # received too late: a dead letter
        .add_elements([undated])  # no receive time, so never too late: kept, a is forgotten
        .advance_watermark_to_infinity()
    )
    opts = PipelineOptions()
    opts.view_as(StandardOptions).streaming = True
    with beam.Pipeline(runner=BundleBasedDirectRunner(), options=opts) as p:
        config = GraphConfig(streaming=True, dedupe_horizon_s=horizon_s, allowed_lateness_s=0, dedupe_keying=keying)
        out = table_rows(build(p, stream, None, config))
        assert_that(out["duplicates"] | beam.Map(lambda e: e["event_id"]), equal_to(["a", "b"]), label="dupes")
        assert_that(
            out["enriched"] | "Unbatch" >> Unbatch() | beam.Map(lambda e: e["event_id"]),
            equal_to(["a", "b", "c", "a"]),
            label="kept",
        )
        dead = out["dead_letters"] | beam.Map(lambda d: (d["event_id"], d["error_kind"]))
        assert_that(dead, equal_to([("a", "too_late")]), label="too_late")


def test_a_copy_accepted_late_is_never_counted_twice(streaming_pipeline):
    # Issue #14: the dedupe horizon (an hour) ended before the too-late rule (an hour past the
    # bucket) did, so a replay an hour on was accepted and found its event_id forgotten.
    lateness_s = 3600
    ts = T0 + 10_000
    replay_received = T0 + 300_000 + lateness_s * 1000 - 1_000  # in time, only just
    assert not is_too_late({"ts": ts, "received_at": replay_received}, lateness_s)
    stream = (
        EventStream()
        .advance_watermark_to(T0 / 1000)
        .add_elements([rec("a", ts, ts + 100)])
        .advance_processing_time(10)
        .advance_watermark_to((replay_received - 2_000) / 1000)  # past ts + 3600 s
        .add_elements([rec("a", ts, replay_received)])
        .advance_watermark_to_infinity()
    )
    with streaming_pipeline as p:
        config = GraphConfig(streaming=True, allowed_lateness_s=lateness_s, dedupe_horizon_s=3600)
        out = table_rows(build(p, stream, None, config))
        assert_that(out["duplicates"] | beam.Map(lambda e: e["event_id"]), equal_to(["a"]), label="dupes")
        assert_that(
            out["enriched"] | "Unbatch" >> Unbatch() | beam.Map(lambda e: e["event_id"]), equal_to(["a"]), label="once"
        )


def test_one_sites_event_never_suppresses_anothers(streaming_pipeline):
    def site_rec(site: str, eid: str) -> dict:
        e = {"event_id": eid, "action": "pageview", "ts": T0 + 1_000, "site": site, "url": f"https://{site}/x"}
        return {
            "payload": orjson.dumps({**e, "visitor_id": "v"}),
            "received_at": T0 + 2_000,
            "source": "t",
            "attributes": {},
        }

    stream = (
        EventStream()
        .advance_watermark_to(T0 / 1000)
        .add_elements([site_rec("a.com", "same"), site_rec("b.com", "same"), site_rec("a.com", "same")])
        .advance_watermark_to_infinity()
    )
    with streaming_pipeline as p:
        out = table_rows(build(p, stream, None, GraphConfig(streaming=True, dedupe_keying="sharded")))
        assert_that(
            out["enriched"] | "Unbatch" >> Unbatch() | beam.Map(lambda e: e["site"]),
            equal_to(["a.com", "b.com"]),
            label="kept",
        )
        assert_that(out["duplicates"] | beam.Map(lambda e: e["site"]), equal_to(["a.com"]), label="dupes")
