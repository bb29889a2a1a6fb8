"""`weir serve`'s shared read connection (LocalWarehouse(shared_reads=True)): the answers are
the same as without it, a writer in another process still lands while queries keep coming
(the connection lets the file go within a second), and what it lands is read next."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from weir.warehouse.local import LocalWarehouse

# A writer as the stream is one: another process that opens the file, lands a row, closes.
WRITER = """
import json, sys, time
from weir.warehouse.local import LocalWarehouse
wh = LocalWarehouse(sys.argv[1], lock_wait_s=30)
waits, deadline = [], time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    started = time.monotonic()
    with wh._connect(functions=False) as con:
        waits.append(time.monotonic() - started)
        con.execute("INSERT INTO dead_letters (received_at, stage, error_kind, error_message, payload, payload_size, "
                    "payload_truncated) VALUES (now(), 'parse', 'test', 'landed', 'x', 1, false)")
    time.sleep(0.05)
print(json.dumps({"landings": len(waits), "max_wait_s": max(waits)}))
"""


def _landed(wh: LocalWarehouse) -> int:
    return wh.query("SELECT COUNT(*) FROM dead_letters WHERE error_message = 'landed'").rows[0][0]


def test_a_writer_lands_while_shared_reads_keep_coming(tmp_path):
    home = str(tmp_path)
    LocalWarehouse(home).ensure_tables()
    shared, plain = LocalWarehouse(home, shared_reads=True), LocalWarehouse(home)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, home, "4"], stdout=subprocess.PIPE, text=True)
    queries, seen = 0, []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # a dashboard that never pauses
        seen.append(_landed(shared))
        queries += 1
    report = json.loads(writer.communicate(timeout=60)[0])
    assert writer.returncode == 0
    assert report["landings"] >= 5 and report["max_wait_s"] < 3.0, report  # never held off for long
    assert queries > 50
    assert seen == sorted(seen) and seen[-1] > 0  # the reader saw the landings as they came
    time.sleep(_SHARED_LINGER)
    assert _landed(shared) == _landed(plain) == report["landings"]


_SHARED_LINGER = 1.5  # past HOLD_S + GAP_S: the next shared query opens the file afresh
