"""The streaming quick start of docs/streaming.md, pasted as written into bash (issue #16):
two commands racing for the emulator share one, the live traffic moves the live buckets,
`weir status` sees the stream, and `weir emulator stop` leaves no emulator behind."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests import emulators

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def quickstart_block() -> str:
    text = open(os.path.join(REPO, "docs", "streaming.md"), encoding="utf-8").read()
    return re.search(r"<!-- streaming quick start.*?-->\n```sh\n(.*?)```", text, re.S).group(1)


def test_the_streaming_quick_start_works_as_written(tmp_path):
    if not __import__("shutil").which("gcloud"):
        emulators.missing("the Google Cloud Pub/Sub emulator (gcloud)")
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k != "PUBSUB_EMULATOR_HOST"}  # weir starts its own
    env.update(WEIR_HOME=str(home), WEIR_PROJECT="weir-local", PATH=os.path.dirname(sys.executable) + ":" + env["PATH"])
    out = subprocess.run(["bash", "-c", quickstart_block()], env=env, capture_output=True, text=True, timeout=400)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    rows = re.findall(r"^\d{4}-\d\d-\d\dT\S+\s+([\d,]+)\s*$", out.stdout, re.M)  # the sql rows: bucket, pageviews
    assert rows and sum(int(r.replace(",", "")) for r in rows) > 100, out.stdout
    assert "stream: running" in out.stdout, out.stdout
    assert out.stdout.count("Pub/Sub emulator at") >= 2  # both commands, one emulator:
    hosts = set(re.findall(r"Pub/Sub emulator at (\S+)", out.stdout))
    assert len(hosts) == 1, hosts
    assert not (home / "pubsub-emulator.json").exists()  # stopped
    port = next(iter(hosts)).rsplit(":", 1)[1]
    left = subprocess.run(["pgrep", "-f", f"host-port=127.0.0.1:{port}"], capture_output=True, text=True)
    assert left.stdout.strip() == "", f"an emulator is still running: {left.stdout}"
