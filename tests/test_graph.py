"""Whole graph: build() with an injected source; expected numbers computed here, independently,
from the events the test itself made (plain Python sets and sums, no weir code)."""

from __future__ import annotations

import random
from collections import defaultdict

import apache_beam as beam
import orjson
from apache_beam.testing.util import assert_that, equal_to

from tests.conftest import raw
from weir.pipelines.graph import build, table_rows
from weir.traffic.generator import malformed_payloads
from weir.transforms.batches import Unbatch

DAY0 = 1_763_596_800_000  # 2025-11-20T00:00:00Z
UAS = {  # user agent -> (device_type, is_bot), as a person reading the string would say
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36": (
        "desktop",
        False,
    ),
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
    "Mobile/15E148 Safari/604.1": ("mobile", False),
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)": ("other", True),
}
PAGES = {  # raw URL as sent -> canonical URL, written out by hand
    "https://www.site-a.example/news/one?utm_source=tw&utm_campaign=launch": "https://www.site-a.example/news/one",
    "https://WWW.SITE-A.example/news/one#comments": "https://www.site-a.example/news/one",
    "https://www.site-a.example/news/two?page=2&gclid=xyz": "https://www.site-a.example/news/two?page=2",
    "https://www.site-b.example/story": "https://www.site-b.example/story",
}
ACTIONS = ["pageview"] * 5 + ["heartbeat"] * 6 + ["videostart", "share"]


def make_events(n: int, seed: int = 3) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        url = rng.choice(list(PAGES))
        site = "site-a.example" if "site-a" in url.lower() else "site-b.example"
        action = rng.choice(ACTIONS)
        e = {
            "event_id": f"ev-{i}",
            "action": action,
            "ts": DAY0 + rng.randrange(2 * 86_400_000),
            "site": site,
            "url": url,
            "visitor_id": f"vis-{rng.randrange(60)}",
            "session_id": f"s-{rng.randrange(4)}",
            "session_index": rng.choice([1, 1, 2, 7]),
            "user_agent": rng.choice(list(UAS)),
        }
        if action == "heartbeat":
            e["engaged_seconds"] = rng.randrange(0, 15)
        out.append(e)
    return out


def expected_url_rows(events: list[dict], bucket_ms: int) -> set[tuple]:
    rows = defaultdict(
        lambda: {
            "pv": 0,
            "vis": set(),
            "new": set(),
            "ret": set(),
            "eng": 0,
            "vs": 0,
            "bot": 0,
            "sess": set(),
            "custom": 0,
        }
    )
    for e in events:
        _, bot = UAS[e["user_agent"]]
        r = rows[(e["site"], PAGES[e["url"]], e["ts"] - e["ts"] % bucket_ms)]
        if bot:
            r["bot"] += e["action"] == "pageview"
            continue
        r["pv"] += e["action"] == "pageview"
        r["vis"].add(e["visitor_id"])
        (r["new"] if e["session_index"] == 1 else r["ret"]).add(e["visitor_id"])
        r["eng"] += e.get("engaged_seconds", 0) if e["action"] == "heartbeat" else 0
        r["vs"] += e["action"] == "videostart"
        r["sess"].add((e["visitor_id"], e["session_id"]))
        r["custom"] += e["action"] == "share"
    out = {
        (
            k[0],
            k[1],
            k[2],
            r["pv"],
            len(r["vis"]),
            len(r["new"]),
            len(r["ret"]),
            r["eng"],
            r["vs"],
            r["bot"],
            len(r["sess"]),
            r["custom"],
        )
        for k, r in rows.items()
    }
    return {row for row in out if any(row[3:])}  # a bucket with nothing to count has no row


def url_row(bucket_col: str):
    def project(r):
        bucket = r[bucket_col]
        if bucket_col == "bucket_date":  # back to ms for comparison
            import datetime as dt

            bucket = int(dt.datetime.fromisoformat(bucket + "T00:00:00+00:00").timestamp() * 1000)
        return (
            r["site"],
            r["url"],
            bucket,
            r["pageviews"],
            r["visitors"],
            r["new_visitors"],
            r["returning_visitors"],
            r["engaged_seconds"],
            r["video_starts"],
            r["bot_pageviews"],
            r["sessions"],
            r["custom_events"],
        )

    return project


def test_whole_graph_matches_independent_computation(pipeline):
    events = make_events(1200)
    good = [raw(orjson.dumps(e), received_at=e["ts"] + 150) for e in events]
    dupes = [raw(r["payload"], received_at=r["received_at"] + 60_000) for r in good[:40]]  # at-least-once
    bad = malformed_payloads(random.Random(1), events[0])
    records = good + dupes + [raw(b, received_at=DAY0 + 1000) for b in bad]
    with pipeline as p:
        out = table_rows(build(p, beam.Create(records), sink=None))
        assert_that(
            out["url_metrics_5m"] | "p5" >> beam.Map(url_row("bucket_start")),
            equal_to(sorted(expected_url_rows(events, 300_000))),
            label="url_5m",
        )
        assert_that(
            out["url_metrics_1d"] | "p1" >> beam.Map(url_row("bucket_date")),
            equal_to(sorted(expected_url_rows(events, 86_400_000))),
            label="url_1d",
        )
        assert_that(
            out["events"] | "ids" >> beam.Map(lambda r: r["event_id"]),
            equal_to([e["event_id"] for e in events]),
            label="events",
        )
        assert_that(out["duplicates"] | "dupes" >> beam.combiners.Count.Globally(), equal_to([40]), label="dupes")
        assert_that(
            out["dead_letters"] | "dead" >> beam.Map(lambda r: r["payload_bytes"][: 1 << 20]),
            equal_to([b[: 1 << 20] for b in bad]),
            label="dead",
        )
        # The rows of one breakdown dimension add up to the URL's page views.
        device_pv = (
            out["breakdown_metrics_1d"]
            | beam.Filter(lambda r: r["dimension"] == "device_type")
            | beam.Map(lambda r: ((r["site"], r["url"], r["bucket_date"]), r["pageviews"]))
            | "sumdev" >> beam.CombinePerKey(sum)
        )
        assert_that(device_pv, equal_to(sorted(_pv_by_day(events))), label="device_sum")


def _pv_by_day(events):
    import datetime as dt

    out = defaultdict(int)
    for e in events:
        if UAS[e["user_agent"]][1]:
            continue
        day = dt.datetime.fromtimestamp(e["ts"] / 1000, dt.timezone.utc).date().isoformat()
        out[(e["site"], PAGES[e["url"]], day)] += e["action"] == "pageview"
    return list(out.items())


def test_device_breakdown_matches_user_agents(pipeline):
    events = make_events(300, seed=9)
    expected = defaultdict(int)
    for e in events:
        device, bot = UAS[e["user_agent"]]
        if not bot and e["action"] == "pageview":
            expected[device] += 1
    with pipeline as p:
        out = table_rows(build(p, beam.Create([raw(orjson.dumps(e)) for e in events]), sink=None))
        got = (
            out["breakdown_metrics_1d"]
            | beam.Filter(lambda r: r["dimension"] == "device_type" and r["pageviews"] > 0)
            | beam.Map(lambda r: (r["value"], r["pageviews"]))
            | beam.CombinePerKey(sum)
        )
        assert_that(got, equal_to(sorted(expected.items())))


def test_sites_sharing_an_event_id_keep_their_events_and_each_copy_is_booked_to_its_own_day(pipeline):
    # Issue #14: dedupe by event_id alone let one site's event suppress another's, and booked
    # the duplicate to the kept copy's site and day, unbalancing the ledger.
    day1, day2 = 1_763_596_800_000, 1_763_596_800_000 + 86_400_000

    def rec(site: str, ts: int, received: int) -> dict:
        e = {
            "event_id": "same",
            "action": "pageview",
            "ts": ts,
            "site": site,
            "url": f"https://{site}/",
            "visitor_id": "v",
        }
        return raw(orjson.dumps(e), received_at=received)

    records = [rec("a.com", day1 + 5, day1 + 10), rec("b.com", day1 + 5, day1 + 10), rec("a.com", day2 + 5, day2 + 10)]
    out = table_rows(build(pipeline, beam.Create(records), None))
    ledger = out["ledger"] | beam.Map(lambda r: (r["site"], r["day"], r["received"], r["counted"], r["duplicates"]))
    assert_that(
        ledger,
        equal_to(
            [("a.com", "2025-11-20", 1, 1, 0), ("b.com", "2025-11-20", 1, 1, 0), ("a.com", "2025-11-21", 1, 0, 1)]
        ),
    )
    pipeline.run()


def test_an_event_whose_enrichment_raises_is_a_dead_letter_and_the_day_balances(pipeline, monkeypatch):
    from weir.transforms import enrich

    real = enrich.enrich_event

    def flaky(event):
        if "boom" in event["url"]:
            raise ValueError("a bug in enrichment")
        return real(event)

    monkeypatch.setattr(enrich, "enrich_event", flaky)
    day = 1_763_596_800_000
    records = [
        raw(
            orjson.dumps(
                {
                    "event_id": f"e{i}",
                    "action": "pageview",
                    "ts": day + i,
                    "site": "a.com",
                    "url": f"https://a.com/{path}",
                    "visitor_id": "v",
                }
            ),
            received_at=day + 10,
        )
        for i, path in enumerate(["ok", "boom", "fine"])
    ]
    out = table_rows(build(pipeline, beam.Create(records), None))
    assert_that(
        out["enriched"] | "Unbatch" >> Unbatch() | beam.Map(lambda e: e["event_id"]),
        equal_to(["e0", "e2"]),
        label="kept",
    )
    dead = out["dead_letters"] | beam.Map(lambda d: (d["event_id"], d["stage"], d["error_kind"]))
    assert_that(dead, equal_to([("e1", "enrich", "enrich_failed")]), label="dead")
    ledger = out["ledger"] | beam.Map(lambda r: (r["received"], r["counted"], r["dead_letters"]))
    assert_that(ledger, equal_to([(3, 2, 1)]), label="ledger")
    pipeline.run()
