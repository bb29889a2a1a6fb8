"""Realistic generated traffic: a day of pixel events for a few sites, as raw records.

In: a day, a size and a seed (same arguments -> same bytes). Out: `(received_at_ms, payload)`
pairs in receive order, like the archive holds them: page views with Zipf-distributed URL
popularity and a diurnal curve, engaged-time heartbeats, video starts, custom events,
search/social/internal/direct/other referrers and UTM campaigns, bots, ~1% malformed input
of every kind, and ~0.5% duplicate deliveries. Writers put them in the Avro archive layout
(`dt=YYYY-MM-DD/hour=HH/*.avro`) or in JSON lines.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import uuid
from collections.abc import Iterable, Iterator

import orjson

from weir.traffic import device_mix
from weir.transforms.archive import archive_records
from weir.transforms.timeutil import day_to_ms

DEFAULT_SITES = ("dailyglobe.example", "techwire.example", "cityherald.example")
SECTIONS = ("news", "politics", "business", "tech", "sport", "culture", "opinion")
WORDS = (
    "city",
    "budget",
    "storm",
    "election",
    "market",
    "startup",
    "climate",
    "match",
    "final",
    "review",
    "interview",
    "police",
    "school",
    "housing",
    "transit",
    "river",
    "festival",
    "data",
)
SEARCH = (
    "https://www.google.com/",
    "https://www.google.co.uk/search?q=news",
    "https://www.bing.com/search?q=x",
    "https://duckduckgo.com/",
    "https://search.yahoo.com/search?p=y",
    "https://www.ecosia.org/search?q=z",
)
SOCIAL = (
    "https://t.co/Ab12Cd",
    "https://m.facebook.com/",
    "https://l.facebook.com/l.php?u=x",
    "https://www.reddit.com/r/news/",
    "https://lnkd.in/eXyZ",
    "https://www.linkedin.com/feed/",
    "https://news.ycombinator.com/item?id=1",
)
OTHER = (
    "https://www.aggregator.example/top",
    "https://blog.someone.example/post/1",
    "https://newsletter.example/issue/42",
)
CAMPAIGNS = ("spring_sale", "newsletter_daily", "breaking_push", "partner_swap")
CUSTOM_ACTIONS = ("share", "subscribe_click", "comment")


def _zipf_weights(n: int, s: float = 1.1) -> list[float]:
    return [1.0 / (i + 1) ** s for i in range(n)]


class _Site:
    def __init__(self, rng: random.Random, site: str, n_urls: int):
        self.site = site
        self.urls = []
        for i in range(n_urls):
            section = rng.choice(SECTIONS)
            slug = "-".join(rng.sample(WORDS, 3))
            self.urls.append((f"https://www.{site}/{section}/{slug}-{i}", section, slug.replace("-", " ").title()))
        self.weights = _zipf_weights(n_urls)


def _diurnal_ts(rng: random.Random, day_ms: int) -> int:
    # Traffic peaks mid-day UTC: rejection-sample a raised sine over the day.
    while True:
        t = rng.random()
        if rng.random() < 0.25 + 0.75 * math.sin(math.pi * t) ** 2:
            return day_ms + int(t * 86_400_000)


def _referrer(rng: random.Random, site: str, first: bool) -> tuple[str | None, str | None]:
    """(referrer, campaign) for a page view; internal only after the first page of a visit."""
    if not first:
        return (f"https://www.{site}/", None) if rng.random() < 0.85 else (None, None)
    r = rng.random()
    if r < 0.32:
        return rng.choice(SEARCH), None
    if r < 0.55:
        return rng.choice(SOCIAL), (rng.choice(CAMPAIGNS) if rng.random() < 0.3 else None)
    if r < 0.62:
        return rng.choice(OTHER), (rng.choice(CAMPAIGNS) if rng.random() < 0.2 else None)
    return None, (rng.choice(CAMPAIGNS) if rng.random() < 0.05 else None)


def _user_agent(rng: random.Random) -> str:
    r, acc = rng.random(), 0.0
    for share, uas in device_mix.HUMAN_MIX:
        acc += share
        if r < acc:
            return rng.choice(uas)
    return rng.choice(device_mix.DESKTOP)


def _event(site, url, action, ts, visitor=None, session_id=None, session_index=None, ua=None, rng=None, **more) -> dict:
    ev = {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "action": action,
        "ts": ts,
        "site": site,
        "url": url,
        "visitor_id": visitor,
        "session_id": session_id,
        "session_index": session_index,
        "user_agent": ua,  # as the collector sends it: with the user agent, never the client IP
    }
    ev.update({k: v for k, v in more.items() if v is not None})
    return ev


# Where readers are, as the collector would have looked it up (weir.collector.geo): weights per
# thousand visitors; a region where a city database would give one; None: not known.
PLACES = (
    (("US", "US-NY"), 180), (("US", "US-CA"), 140), (("US", None), 160), (("GB", "GB-ENG"), 120),
    (("GB", "GB-SCT"), 20), (("CA", "CA-ON"), 60), (("DE", "DE-BE"), 50), (("IN", "IN-MH"), 50),
    (("AU", "AU-NSW"), 40), (("FR", "FR-IDF"), 30), (("NG", "NG-LA"), 20), ((None, None), 130),
)  # fmt: skip


def _place(visitor: str) -> dict:
    """A visitor's country and region, drawn from PLACES by a hash of the id (so the traffic's
    random stream, and with it every seeded test, is the same as without places)."""
    spot = int(hashlib.blake2b(visitor.encode(), digest_size=4).hexdigest(), 16) % 1000
    for (country, region), weight in PLACES:
        if spot < weight:
            return {"country": country, "region": region}
        spot -= weight
    return {}


def _visit(rng: random.Random, s: _Site, day_ms: int) -> Iterator[dict]:
    """One visit: 1-4 page views, each with heartbeats, maybe a video start or custom event."""
    visitor = f"v-{rng.getrandbits(48):012x}"
    session_index = 1 if rng.random() < 0.45 else rng.randint(2, 40)
    session_id = f"s-{rng.getrandbits(40):010x}"
    ua = _user_agent(rng)
    ts = _diurnal_ts(rng, day_ms)
    for n in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
        url, section, title = rng.choices(s.urls, weights=s.weights)[0]
        referrer, campaign = _referrer(rng, s.site, n == 0)
        page_url = url + (f"?utm_source=social&utm_medium=post&utm_campaign={campaign}" if campaign else "")
        if rng.random() < 0.03:
            page_url += "#comments"
        meta = {"title": title, "section": section, "authors": ["A. Writer"], "tags": [section]}
        # document.referrer belongs to the page, so every event the page sends carries it.
        page = dict(
            visitor=visitor, session_id=session_id, session_index=session_index, ua=ua, rng=rng, referrer=referrer
        )
        page.update(_place(visitor))
        yield _event(s.site, page_url, "pageview", ts, metadata=meta, **page)
        dwell = int(rng.expovariate(1 / 50))
        for hb in range(10, dwell, 10):
            yield _event(s.site, page_url, "heartbeat", ts + hb * 1000, engaged_seconds=rng.randint(4, 10), **page)
        if rng.random() < 0.08:
            yield _event(
                s.site, page_url, "videostart", ts + 5000, extra={"video_id": f"vid-{rng.randrange(50)}"}, **page
            )
        if rng.random() < 0.04:
            yield _event(s.site, page_url, rng.choice(CUSTOM_ACTIONS), ts + 8000, **page)
        ts += max(dwell, 5) * 1000 + rng.randint(1000, 20_000)


def _bot_hit(rng: random.Random, s: _Site, day_ms: int) -> dict:
    url = rng.choice(s.urls)[0]
    return _event(
        s.site,
        url,
        "pageview",
        day_ms + rng.randrange(86_400_000),
        f"bot-{rng.getrandbits(32):08x}",
        None,
        None,
        rng.choice(device_mix.BOTS),
        rng,
    )


def malformed_payloads(rng: random.Random, good: dict) -> list[bytes]:
    """One of each kind of bad input, derived from a good event."""
    raw = orjson.dumps(good)
    return [
        raw[: len(raw) // 2],  # truncated JSON
        b'{"event_id": "x", "action": "pageview"}',  # missing fields
        orjson.dumps({**good, "ts": "yesterday"}),  # a ts that is not a time
        orjson.dumps({**good, "ts": 99_999_999_999_999}),  # out of range
        orjson.dumps({**good, "session_index": "first"}),  # wrong type
        orjson.dumps({**good, "url": "javascript:alert(1)"}),  # not a page URL
        raw[:20] + b"\xff\xfe" + raw[20:],  # invalid UTF-8
        b"[1, 2, 3]",  # not an object
        orjson.dumps({**good, "extra": {"blob": "x" * 70_000}}),  # too large
        b"",  # empty
    ]


def generate_day(
    day: str,
    events: int = 20_000,
    sites: Iterable[str] = DEFAULT_SITES,
    seed: int = 7,
    bad_share: float = 0.01,
    dupe_share: float = 0.005,
    bot_share: float = 0.03,
    url_seed: int | None = None,
) -> list[tuple[int, bytes]]:
    """About `events` raw records of `day` (YYYY-MM-DD), as (received_at_ms, payload), sorted by receive time.

    The day is part of the seed, so days generated for different dates never share an
    event_id (a rebuild of two demo days removed ~25,000 events as duplicates).
    The sites' URLs come from `seed` alone (or `url_seed`), so every day of one seed has the
    same pages, and days made with different seeds can share a catalogue through `url_seed`."""
    rng = random.Random(f"{seed}:{day}")  # a str seed is hashed (SHA-512): the same on every run
    day_ms = day_to_ms(day)
    # The URL catalogue does not depend on the day: every demo day has the same pages (the
    # analyst guide names one), only the traffic differs.
    url_rng = random.Random(url_seed if url_seed is not None else seed)
    site_objs = [_Site(url_rng, site, n_urls=150) for site in sites]
    out: list[tuple[int, bytes]] = []
    goods: list[dict] = []
    while len(goods) < events:
        s = rng.choice(site_objs)
        batch = [_bot_hit(rng, s, day_ms)] if rng.random() < bot_share else list(_visit(rng, s, day_ms))
        for ev in batch:
            if ev["ts"] >= day_ms + 86_400_000:
                continue  # the visit ran past midnight: keep the generated day whole
            goods.append(ev)
    for ev in goods:
        received = ev["ts"] + rng.randint(20, 1500)
        out.append((received, orjson.dumps(ev)))
        if rng.random() < dupe_share:  # at-least-once delivery: the same bytes again, later
            out.append((received + rng.randint(1000, 120_000), orjson.dumps(ev)))
    n_bad = int(len(goods) * bad_share)
    for i in range(n_bad):
        sample = goods[rng.randrange(len(goods))]
        bad = malformed_payloads(rng, sample)[i % 10]
        out.append((sample["ts"] + rng.randint(20, 1500), bad))
    out = [(min(r, day_ms + 86_400_000 - 1), p) for r, p in out]  # received within the day
    out.sort(key=lambda x: x[0])
    return out


def write_avro_archive(records: list[tuple[int, bytes]], root: str, prefix: str = "part") -> list[str]:
    """Writes records into the archive layout (transforms.archive); returns the file paths."""
    return archive_records(root, [{"payload": p, "received_at": r, "attributes": {}} for r, p in records], prefix)


def write_json_lines(records: list[tuple[int, bytes]], path: str) -> str:
    """Writes the payloads one per line (payloads with a newline inside are JSON-escaped already)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as fh:
        for _, payload in records:
            fh.write(payload.replace(b"\n", b" ") + b"\n")
    return path
