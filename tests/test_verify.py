"""The ledger and `weir verify`: a demo day balances; rows removed by hand are found."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from weir.warehouse.local import LocalWarehouse

WEIR = os.path.join(os.path.dirname(sys.executable), "weir")
DAY = "2025-11-20"


def weir(home: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [WEIR, *args], env={**os.environ, "WEIR_HOME": home}, capture_output=True, text=True, check=check, timeout=600
    )


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    home = str(tmp_path_factory.mktemp("verify"))
    weir(home, "demo", "--events", "3000", "--date", DAY)
    return home


def test_ledger_accounts_for_every_record(demo_home):
    wh = LocalWarehouse(demo_home)
    led = wh.query(f"""SELECT SUM(received), SUM(counted + bots), SUM(dead_letters), SUM(duplicates), SUM(too_late)
                       FROM ledger WHERE day = DATE '{DAY}'""").rows[0]
    events = wh.query("SELECT COUNT(*) FROM events").rows[0][0]
    dead = wh.query("SELECT COUNT(*) FROM dead_letters").rows[0][0]
    archived = 0
    import fastavro

    for dirpath, _, files in os.walk(os.path.join(demo_home, "archive")):
        for f in files:
            with open(os.path.join(dirpath, f), "rb") as fh:
                archived += sum(1 for _ in fastavro.reader(fh))
    assert led[0] == archived  # every archived record was received
    assert (led[1], led[2], led[4]) == (events, dead, 0)
    assert led[0] == led[1] + led[2] + led[3] + led[4]
    assert led[3] > 0  # the generator sends duplicate deliveries


def test_verify_balances_then_catches_removed_rows(demo_home):
    ok = weir(demo_home, "verify", "--date", DAY)
    assert "checks hold" in ok.stdout and "MISMATCH" not in ok.stdout
    top_row = f"SELECT site, url, pageviews FROM url_metrics_1d WHERE bucket_date = '{DAY}' ORDER BY 3 DESC LIMIT 1"
    top = LocalWarehouse(demo_home).query(top_row).rows[0]
    weir(demo_home, "sql", f"DELETE FROM url_metrics_1d WHERE site = '{top[0]}' AND url = '{top[1]}'", "--write")
    bad = weir(demo_home, "verify", "--date", DAY, check=False)
    assert bad.returncode == 1
    assert f"MISMATCH {top[0]}: url_metrics_1d: pageviews" in bad.stdout
    assert f"(-{top[2]})" in bad.stdout  # exactly the removed row's page views are missing


def test_verify_without_a_rebuilt_day_fails_clearly(tmp_path):
    out = weir(str(tmp_path), "verify", "--date", "2020-01-01", check=False)
    assert out.returncode == 1 and "rebuild the day first" in out.stdout


SITE = "dailyglobe.example"
TAMPERINGS = {  # what was done by hand -> what verify must name
    "visitor counts and sketches zeroed": (
        [f"UPDATE url_metrics_1d SET visitors = 0, new_visitors = 0, visitors_sketch = NULL WHERE site = '{SITE}'"],
        "url_metrics_1d: visitors as events make it",
    ),
    "video starts set to 99,999": (
        [f"UPDATE url_metrics_5m SET video_starts = 99999 WHERE site = '{SITE}'"],
        "url_metrics_5m: video_starts as events make it",
    ),
    "a site absent from the ledger given a million page views": (
        [
            "INSERT INTO url_metrics_1d (site, url, bucket_date, pageviews) "
            f"VALUES ('ghost.example', 'https://ghost.example/', DATE '{DAY}', 1000000)"
        ],
        "ghost.example: url_metrics_1d: rows of a site the ledger does not have",
    ),
    "one site's URLs all rewritten": (
        [f"UPDATE url_metrics_1d SET url = 'https://{SITE}/hijacked' WHERE site = '{SITE}'"],
        "url_metrics_1d: rows no event makes",
    ),
    "events' url and visitor_id overwritten": (
        [f"UPDATE events SET url = 'https://{SITE}/x', visitor_id = 'someone' WHERE site = '{SITE}'"],
        "url_metrics_5m: rows made from events",
    ),
    "an event's id forged, every other table left as it was": (
        [
            "UPDATE events SET event_id = 'forged' "
            f"WHERE event_id = (SELECT MIN(event_id) FROM events WHERE site = '{SITE}')"
        ],
        f"{SITE}: events ids: digest of the archive's",
    ),
    "a site's ledger row deleted": (
        [f"DELETE FROM ledger WHERE site = '{SITE}'"],
        f"{SITE}: events: rows of a site the ledger does not have",
    ),
}


@pytest.mark.reliability
@pytest.mark.parametrize("what", list(TAMPERINGS))
def test_verify_catches_tampering(tmp_path, what, reliability):
    fault = reliability.fault(f"verify: {what}; exit 1, named")
    home = str(tmp_path / "h")
    weir(home, "demo", "--events", "2000", "--date", DAY)
    assert weir(home, "verify", "--date", DAY).returncode == 0
    statements, named = TAMPERINGS[what]
    for sql in statements:
        weir(home, "sql", sql, "--write")
    bad = weir(home, "verify", "--date", DAY, check=False)
    assert bad.returncode == 1, bad.stdout[-2000:]
    assert named in bad.stdout, bad.stdout[-3000:]
    fault.survived()
