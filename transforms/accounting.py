"""The ledger's terms (pure, no Beam), shared by the Ledger composite and `weir verify`.

    received = counted + bots + dead_letters + duplicates + too_late

plus the totals every metrics table must add up to.
"""

from __future__ import annotations

UNKNOWN_SITE = "(unknown)"
FIELDS = (
    "received",
    "counted",
    "bots",
    "dead_letters",
    "duplicates",
    "too_late",
    "pageviews",
    "bot_pageviews",
    "engaged_seconds",
)
