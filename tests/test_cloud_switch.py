"""The cloud switch switches (issue #16): with --project, publish and collect use that
project's Pub/Sub and start no emulator; commands without a cloud mode refuse --project;
no credentials is one line that says what to do.

The real Pub/Sub client stands in for the service through PUBSUB_EMULATOR_HOST, pointed at
an emulator this test starts (weir starts none), under a project other than weir-local.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid

import orjson
import pytest

from tests import emulators
from weir.pubsub import PubSubNames, ensure_topology

WEIR = shutil.which("weir") or os.path.join(os.path.dirname(sys.executable), "weir")


def run(*args: str, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([WEIR, *args], env=env, capture_output=True, text=True, timeout=300, check=check)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    """An endpoint standing in for Google Cloud, and a project whose topology 'Terraform' made."""
    names = PubSubNames(f"weir-cloud-{uuid.uuid4().hex[:6]}")
    with emulators.private_pubsub(str(tmp_path_factory.mktemp("endpoint"))) as host:
        ensure_topology(names)
        yield host, names


def pulled(names: PubSubNames, expected: int, timeout_s: float = 60) -> list[dict]:
    from google.api_core.exceptions import DeadlineExceeded
    from google.cloud import pubsub_v1

    out: list[dict] = []
    deadline = time.monotonic() + timeout_s
    with pubsub_v1.SubscriberClient() as sub:
        while len(out) < expected and time.monotonic() < deadline:
            try:
                resp = sub.pull(subscription=names.subscription_path(), max_messages=100, timeout=2)
            except DeadlineExceeded:
                continue
            out += [orjson.loads(m.message.data) for m in resp.received_messages]
            if resp.received_messages:
                sub.acknowledge(
                    subscription=names.subscription_path(), ack_ids=[m.ack_id for m in resp.received_messages]
                )
    return out


def test_publish_with_a_project_reaches_that_project_and_starts_no_emulator(cloud, tmp_path):
    host, names = cloud
    home = tmp_path / "home"
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(orjson.dumps({"event_id": f"p{i}", "site": "a.com"}) + b"\n" for i in range(5)))
    env = {**os.environ, "WEIR_HOME": str(home), "PUBSUB_EMULATOR_HOST": host}
    out = run("publish", "--project", names.project, "--input", str(events), env=env)
    assert f"projects/{names.project}/topics/events" in out.stdout and "weir-local" not in out.stdout
    assert sorted(e["event_id"] for e in pulled(names, 5)) == [f"p{i}" for i in range(5)]
    assert not (home / "pubsub-emulator.json").exists()  # no emulator of weir's


def test_collect_with_a_project_publishes_there(cloud, tmp_path):
    import urllib.request

    host, names = cloud
    port = emulators.free_port()
    env = {**os.environ, "WEIR_HOME": str(tmp_path / "home"), "PUBSUB_EMULATOR_HOST": host}
    proc = subprocess.Popen(
        [WEIR, "collect", "--project", names.project, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        emulators.wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        body = orjson.dumps(
            [{"event_id": "c1", "action": "pageview", "ts": 1, "site": "a.com", "url": "https://a.com/"}]
        )
        req = urllib.request.Request(f"http://127.0.0.1:{port}/events", data=body, method="POST")
        assert urllib.request.urlopen(req, timeout=10).status == 202
        assert [e["event_id"] for e in pulled(names, 1)] == ["c1"]
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    assert not (tmp_path / "home" / "pubsub-emulator.json").exists()


@pytest.mark.parametrize(
    "argv",
    [["stream"], ["status"], ["demo"], ["bench-collect"]],
    ids=lambda a: a[0],
)
def test_commands_without_a_cloud_mode_refuse_a_project(argv, tmp_path):
    out = run(*argv, "--project", "some-project", env={**os.environ, "WEIR_HOME": str(tmp_path)}, check=False)
    assert out.returncode == 2 and f"--project is not for weir {argv[0]}:" in out.stderr, out.stderr
    # Global options may come before the subcommand too (issue #16): the same refusal.
    out = run("--project", "some-project", *argv, env={**os.environ, "WEIR_HOME": str(tmp_path)}, check=False)
    assert out.returncode == 2 and f"--project is not for weir {argv[0]}:" in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_missing_credentials_is_one_line_that_says_what_to_do(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PUBSUB_EMULATOR_HOST"}
    env.update(
        WEIR_HOME=str(tmp_path / "home"),
        GOOGLE_APPLICATION_CREDENTIALS=str(tmp_path / "no-such-key.json"),
        CLOUDSDK_CONFIG=str(tmp_path / "gcloud"),
    )
    events = tmp_path / "e.jsonl"
    events.write_text('{"event_id": "x"}\n')
    for argv in (["publish", "--input", str(events)], ["sql", "SELECT 1"], ["verify", "--date", "2025-11-20"]):
        out = run(argv[0], "--project", "some-project", *argv[1:], env=env, check=False)
        assert out.returncode == 2, out.stderr
        assert "no Google credentials" in out.stderr and "gcloud auth application-default login" in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


@pytest.mark.parametrize("argv", [["bench"], ["emulator", "stop"]], ids=lambda a: a[0])
def test_a_project_before_a_local_command_is_refused_too(argv, tmp_path):
    out = run("--project", "some-project", *argv, env={**os.environ, "WEIR_HOME": str(tmp_path)}, check=False)
    assert out.returncode == 2 and f"--project is not for weir {argv[0]}:" in out.stderr, out.stderr
