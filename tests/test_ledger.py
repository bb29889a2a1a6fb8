"""Ledger entries: the fast per-event tuples say what their field names say."""

from __future__ import annotations

import pytest

from weir.transforms import ledger

T0 = 1_763_596_800_000  # 2025-11-20T00:00:00Z


@pytest.mark.parametrize("bot", [False, True])
@pytest.mark.parametrize("action,engaged", [("pageview", None), ("heartbeat", 15), ("share", None)])
def test_entries_match_their_named_counts(bot, action, engaged):
    event = {"site": "a.example", "ts": T0 + 5, "is_bot": bot, "action": action, "engaged_seconds": engaged}
    pageview = action == "pageview"
    assert ledger.of_enriched(event) == ledger._entry(
        "a.example",
        T0 + 5,
        counted=int(not bot),
        bots=int(bot),
        pageviews=int(pageview and not bot),
        bot_pageviews=int(pageview and bot),
        engaged_seconds=(engaged or 0) if not bot and action == "heartbeat" else 0,
    )
    assert ledger.receipt_of_event(event) == ledger._entry("a.example", T0 + 5, received=1)
    assert ledger.of_duplicate(event) == ledger._entry("a.example", T0 + 5, duplicates=1)
    assert ledger.receipt_of_dead({"site": None, "received_at": T0}) == ledger._entry(None, T0, received=1)
    assert ledger.receipt_of_dead({"received_at": T0})[0] == (ledger.UNKNOWN_SITE, "2025-11-20")
