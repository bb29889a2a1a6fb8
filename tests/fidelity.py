"""Agreement of weir's derived fields and SQL with public reference suites (issue #17).

    python tests/fidelity.py [--referer-tests FILE] [--device-detector CHECKOUT]

Always: the SQL cases of BigQuery's reference (tests/test_sql_fidelity.py) and the URL
standard's suite (tests/data/urltestdata.json). With --referer-tests, the snowplow
referer-parser suite (resources/referer-tests.json of snowplow-referer-parser/referer-parser;
GPL, so not shipped). With --device-detector, a checkout of matomo-org/device-detector
(LGPL; Tests/fixtures/*.yml: device types and bots; client-hint cases left out, since the
tracker sends the user agent only). Prints one line per area.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

DEVICE_TYPES = {"desktop": "desktop", "smartphone": "mobile", "phablet": "mobile", "feature phone": "mobile"}
DEVICE_TYPES["tablet"] = "tablet"
MEDIUMS = {"search": "search", "social": "social", "email": "other", "unknown": "other", "paid": "other"}


def line(area: str, agree: int, total: int, note: str = "") -> None:
    print(f"{area:<28} {agree:>6,} / {total:<6,} {100 * agree / total:6.1f}%  {note}")


def sql() -> None:
    from tests.test_sql_fidelity import CASES
    from weir.warehouse.local import LocalWarehouse

    wh = LocalWarehouse(tempfile.mkdtemp(prefix="weir-fidelity-"))
    wh.ensure_tables()
    ok = sum(1 for _, q, expected in CASES if wh.query(q).rows == expected)
    line("SQL (BigQuery reference)", ok, len(CASES), "documented answers, sketch bytes included")


def urls() -> None:
    from weir.transforms.urls import canonical_url, host_of

    cases = [c for c in json.load(open(os.path.join(HERE, "data", "urltestdata.json"))) if isinstance(c, dict)]
    stable = sum(1 for c in cases if canonical_url(canonical_url(c["input"])) == canonical_url(c["input"]))
    line("URLs: canonical idempotent", stable, len(cases), "web-platform-tests urltestdata.json")
    web = [
        c for c in cases if c.get("base") is None and not c.get("failure") and c.get("protocol") in ("http:", "https:")
    ]
    hosts = sum(1 for c in web if host_of(c["input"]) in (c["hostname"], c["hostname"].strip("[]")))
    line("URLs: host (http/https)", hosts, len(web), "same suite; IDNA and IPv4 forms differ")


def referrers(path: str) -> None:
    from weir.transforms.referrers import classify

    cases = [c for c in json.load(open(path)) if c["medium"] in MEDIUMS]
    ok = sum(
        1 for c in cases if classify(c["uri"], "psychicbazaar.com", "www.psychicbazaar.com")[0] == MEDIUMS[c["medium"]]
    )
    line("referrer category", ok, len(cases), "snowplow referer-tests.json (email counted as other)")


def devices(checkout: str) -> None:
    import yaml

    from weir.transforms.useragents import parse_user_agent

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    people, bots = [], []
    for path in sorted(glob.glob(os.path.join(checkout, "Tests", "fixtures", "*.yml"))):
        name = os.path.basename(path)
        if name.startswith("clienthints"):
            continue
        for case in yaml.load(open(path), Loader=loader) or []:
            if case.get("headers"):
                continue
            if name.startswith("bots"):
                bots.append(case["user_agent"])
            else:
                kind = (case.get("device") or {}).get("type")
                people.append((case["user_agent"], DEVICE_TYPES.get(kind or "", "other")))
    typed = sum(1 for ua, expected in people if parse_user_agent(ua).device_type == expected)
    line("device type", typed, len(people), "matomo device-detector fixtures")
    found = sum(1 for ua in bots if parse_user_agent(ua).is_bot)
    line("bots found", found, len(bots), "device-detector bots.yml")
    clean = sum(1 for ua, _ in people if not parse_user_agent(ua).is_bot)
    line("people not taken for bots", clean, len(people), "device-detector's other fixtures")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--referer-tests", help="snowplow referer-parser's resources/referer-tests.json")
    p.add_argument("--device-detector", help="a checkout of matomo-org/device-detector")
    args = p.parse_args(argv)
    sql()
    urls()
    if args.referer_tests:
        referrers(args.referer_tests)
    if args.device_detector:
        devices(args.device_detector)
    return 0


if __name__ == "__main__":
    sys.exit(main())
