"""Every query of docs/analyst-guide.md, run on the local warehouse over rebuilt generated
days, against the same answer computed in plain Python from the raw records.

The Python side parses and enriches with weir's own functions (tested on their own, case by
case) and then counts with plain loops, sets and sums: what it checks is the pipeline's
aggregation, the stored sketches and the SQL, not the classification of a referrer.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict

import pytest

from tests.conftest import rebuilt_warehouse
from weir.traffic.generator import generate_day
from weir.transforms.enrich import enrich_event
from weir.transforms.timeutil import bucket_5m, day_str
from weir.transforms.validate import parse_record

GUIDE = os.path.join(os.path.dirname(__file__), "..", "docs", "analyst-guide.md")
DAY, WEEK_BEFORE = "2025-11-20", "2025-11-13"
URL = "https://www.dailyglobe.example/business/market-school-budget-0"


def queries() -> dict[str, str]:
    text = open(GUIDE, encoding="utf-8").read()
    return dict(re.findall(r"<!-- query: (\w+) -->\n```sql\n(.*?)```", text, re.S))


def close(estimate: int, exact: int) -> bool:
    return abs(estimate - exact) <= max(1, 0.02 * exact)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    home = str(tmp_path_factory.mktemp("guide"))
    # Seed 7 gives the demo's sites and URLs (question 10 names one of them).
    records = generate_day(DAY, events=6000, seed=7) + generate_day(WEEK_BEFORE, events=3000, seed=62)
    warehouse = rebuilt_warehouse(home, records)
    first: dict[str, tuple] = {}
    dead = []
    for received, payload in records:
        kind, value = parse_record({"payload": payload, "received_at": received, "source": "t", "attributes": {}})
        if kind == "dead":
            dead.append(value)
        elif value["event_id"] not in first or received < first[value["event_id"]][0]:
            first[value["event_id"]] = (received, value)
    events = [enrich_event(e) for _, e in first.values()]
    return warehouse, events, dead


def human(events, day=DAY):
    return [e for e in events if not e["is_bot"] and day_str(e["ts"]) == day]


def test_the_guide_has_ten_questions():
    assert len(queries()) == 10


def test_top_pages(world):
    wh, events, _ = world
    pv, vis = defaultdict(int), defaultdict(set)
    for e in human(events):
        pv[(e["site"], e["url"])] += e["action"] == "pageview"
        vis[(e["site"], e["url"])].add(e["visitor_id"])
    expected = sorted(pv, key=lambda k: (-pv[k], k[1]))[:10]
    rows = wh.query(queries()["top_pages"]).rows
    assert [(r[0], r[1], r[2]) for r in rows] == [(k[0], k[1], pv[k]) for k in expected]
    assert all(close(r[3], len(vis[(r[0], r[1])])) for r in rows)


def _by_dimension(events, field, skip_none=False):
    pv, vis, eng = defaultdict(int), defaultdict(set), defaultdict(int)
    for e in human(events):
        value = e.get(field) or "(none)"
        if skip_none and value == "(none)":
            continue
        key = (e["site"], value)
        pv[key] += e["action"] == "pageview"
        vis[key].add(e["visitor_id"])
        eng[key] += (e.get("engaged_seconds") or 0) if e["action"] == "heartbeat" else 0
    return pv, vis, eng


def test_traffic_sources(world):
    wh, events, _ = world
    pv, vis, _ = _by_dimension(events, "referrer_category")
    rows = wh.query(queries()["traffic_sources"]).rows
    assert {(r[0], r[1]): r[2] for r in rows} == dict(pv)
    assert all(close(r[3], len(vis[(r[0], r[1])])) for r in rows)


def test_campaigns(world):
    wh, events, _ = world
    pv, vis, eng = _by_dimension(events, "utm_campaign", skip_none=True)
    totals = defaultdict(lambda: [0, set(), 0])
    for (_, campaign), n in pv.items():
        totals[campaign][0] += n
    for (_, campaign), v in vis.items():
        totals[campaign][1] |= v
    for (_, campaign), n in eng.items():
        totals[campaign][2] += n
    rows = wh.query(queries()["campaigns"]).rows
    assert {r[0]: (r[1], r[3]) for r in rows} == {c: (t[0], t[2]) for c, t in totals.items()}
    assert len(rows) >= 3 and all(close(r[2], len(totals[r[0]][1])) for r in rows)


def test_engaged_time_per_visitor(world):
    wh, events, _ = world
    eng, vis = defaultdict(int), defaultdict(set)
    for e in human(events):
        eng[(e["site"], e["url"])] += (e.get("engaged_seconds") or 0) if e["action"] == "heartbeat" else 0
        vis[(e["site"], e["url"])].add(e["visitor_id"])
    rows = wh.query(queries()["engaged_per_visitor"]).rows
    assert 5 <= len(rows) <= 10
    for site, url, engaged, visitors, per_visitor in rows:
        assert engaged == eng[(site, url)] and close(visitors, len(vis[(site, url)]))
        assert per_visitor == pytest.approx(engaged / visitors, abs=0.051)
    exact = sorted(((eng[k] / len(v), k) for k, v in vis.items() if len(v) >= 25), reverse=True)
    assert exact[0][1] in {(r[0], r[1]) for r in rows}  # the clear leader is found through the sketches


def test_new_vs_returning(world):
    wh, events, _ = world
    vis = defaultdict(set)
    for e in human(events):
        if e.get("visitor_type"):
            vis[(e["site"], e["visitor_type"])].add(e["visitor_id"])
    rows = wh.query(queries()["new_vs_returning"]).rows
    assert {(r[0], r[1]) for r in rows} == set(vis)
    assert all(close(r[2], len(vis[(r[0], r[1])])) for r in rows)


def test_week_over_week(world):
    wh, events, _ = world
    now = defaultdict(int)
    before = defaultdict(int)
    for e in human(events):
        now[e["site"]] += e["action"] == "pageview"
    for e in human(events, WEEK_BEFORE):
        before[e["site"]] += e["action"] == "pageview"
    rows = wh.query(queries()["week_over_week"]).rows
    assert {r[0]: (r[1], r[2]) for r in rows} == {s: (now[s], before[s]) for s in now}
    for _site, pv, pv_before, change in rows:
        assert change == pytest.approx(round(100 * pv / pv_before - 100, 1))


def test_device_mix(world):
    wh, events, _ = world
    pv, _, _ = _by_dimension(events, "device_type")
    rows = wh.query(queries()["device_mix"]).rows
    # Crawlers' device type is 'other': such rows carry bot page views and 0 human ones.
    assert {(r[0], r[1]): r[2] for r in rows if r[2]} == {k: v for k, v in pv.items() if v}
    for site in {r[0] for r in rows}:
        assert sum(r[3] for r in rows if r[0] == site) == pytest.approx(100, abs=0.2)


def test_bot_share(world):
    wh, events, _ = world
    bots, humans = defaultdict(int), defaultdict(int)
    for e in events:
        if day_str(e["ts"]) == DAY and e["action"] == "pageview":
            (bots if e["is_bot"] else humans)[e["site"]] += 1
    rows = wh.query(queries()["bot_share"]).rows
    assert {r[0]: (r[1], r[2]) for r in rows} == {s: (bots[s], humans[s]) for s in humans}
    assert all(r[1] > 0 for r in rows)


def test_dead_letter_triage(world):
    wh, _, dead = world
    counts = defaultdict(int)
    for d in dead:
        if day_str(d["received_at"]) == DAY:
            counts[(d["stage"], d["error_kind"])] += 1
    rows = wh.query(queries()["dead_letter_triage"]).rows
    assert {(r[0], r[1]): r[2] for r in rows} == dict(counts)
    assert len(counts) >= 8 and all(r[3] and r[4] is not None for r in rows)


def test_first_24_hours(world):
    wh, events, _ = world
    mine = [e for e in events if e["site"] == "dailyglobe.example" and e["url"] == URL]
    counted = [e for e in mine if not e["is_bot"] or e["action"] == "pageview"]  # what makes a 5-minute row
    t0 = min(bucket_5m(e["ts"]) for e in counted)
    pv, vis = defaultdict(int), defaultdict(set)
    for e in mine:
        hour = (bucket_5m(e["ts"]) - t0) // 3_600_000
        if hour < 24 and not e["is_bot"]:
            pv[hour] += e["action"] == "pageview"
            vis[hour].add(e["visitor_id"])
    rows = wh.query(queries()["first_24_hours"]).rows
    assert {r[0]: r[1] for r in rows} == {h: pv[h] for h in vis}
    assert all(close(r[2], len(vis[r[0]])) for r in rows)
    assert len(rows) >= 10
