"""Starting the local stand-ins for Google Cloud services that tests need, on free ports.

- GCS: `gcp-storage-emulator` (installed with the project's [test] extra).
- BigQuery: `bqemulator`, which needs DuckDB 1.x and so lives in its own virtualenv
  (.ci/run makes it at .venv-bqemu; elsewhere set WEIR_BQEMULATOR to its executable). Its
  DuckDB `spatial` extension is copied from the `duckdb-extension-spatial` wheel into a
  private HOME, so nothing is downloaded at run time.

A missing emulator skips its tests on a developer's machine; with WEIR_REQUIRE_EMULATORS=1
(set by CI) it fails them instead, so CI can never pass by skipping.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import sys
import time
import urllib.request

import pytest

from weir.pubsub.emulator import free_port  # noqa: F401  (tests import it from here)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def missing(what: str):
    if os.environ.get("WEIR_REQUIRE_EMULATORS") == "1":
        pytest.fail(f"{what} is required (WEIR_REQUIRE_EMULATORS=1) but not installed")
    pytest.skip(f"{what} not installed; see tests/emulators.py")


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"emulator exited with {proc.returncode} before answering {url}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"emulator did not answer {url} within {timeout} s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def start_gcs(tmp: str) -> tuple[subprocess.Popen, str]:
    exe = shutil.which("gcp-storage-emulator") or os.path.join(os.path.dirname(sys.executable), "gcp-storage-emulator")
    if not os.path.exists(exe):
        missing("gcp-storage-emulator")
    port = free_port()
    log = open(os.path.join(tmp, "gcs-emulator.log"), "wb")
    proc = subprocess.Popen(
        [exe, "start", "--host=127.0.0.1", f"--port={port}", "--in-memory"], stdout=log, stderr=subprocess.STDOUT
    )
    host = f"http://127.0.0.1:{port}"
    wait_http(host + "/storage/v1/b", proc)
    return proc, host


def bqemulator_exe() -> str | None:
    for candidate in (
        os.environ.get("WEIR_BQEMULATOR"),
        os.path.join(REPO, ".venv-bqemu", "bin", "bqemulator"),
        shutil.which("bqemulator"),
    ):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def start_bigquery(tmp: str, project: str) -> tuple[subprocess.Popen, str]:
    exe = bqemulator_exe()
    if exe is None:
        missing("bqemulator")
    home = os.path.join(tmp, "bq-home")
    venv = os.path.dirname(os.path.dirname(exe))
    for ext in glob.glob(
        os.path.join(
            venv,
            "lib",
            "python*",
            "site-packages",
            "duckdb_extension_spatial",
            "extensions",
            "v*",
            "spatial.duckdb_extension",
        )
    ):
        version = os.path.basename(os.path.dirname(ext))
        target = os.path.join(home, ".duckdb", "extensions", version, "linux_amd64")
        os.makedirs(target, exist_ok=True)
        shutil.copy(ext, target)
    rest, grpc = free_port(), free_port()
    log = open(os.path.join(tmp, "bqemulator.log"), "wb")
    proc = subprocess.Popen(
        [
            exe,
            "start",
            "--rest-host",
            "127.0.0.1",
            "--rest-port",
            str(rest),
            "--grpc-port",
            str(grpc),
            "--project",
            project,
            "--log-level",
            "warning",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "HOME": home},
    )
    endpoint = f"http://127.0.0.1:{rest}"
    wait_http(f"{endpoint}/bigquery/v2/projects/{project}/datasets", proc)
    return proc, endpoint


def start_pubsub(tmp: str) -> tuple[str, int]:
    """The official Pub/Sub emulator (Google Cloud CLI) on a free port, via weir's own starter."""
    from weir.pubsub.emulator import EmulatorUnavailable, start_emulator

    if shutil.which("gcloud") is None:
        missing("the Google Cloud Pub/Sub emulator (gcloud)")
    try:
        return start_emulator(os.path.join(tmp, "pubsub-home"))
    except EmulatorUnavailable as exc:
        if os.environ.get("WEIR_REQUIRE_EMULATORS") == "1":
            raise
        pytest.skip(str(exc))


def wait_closed(host: str, timeout: float = 10.0) -> None:
    """Until nothing accepts connections at host:port: a killed emulator's process group can
    take a moment to die, and what it accepts meanwhile it acknowledges and then loses."""
    import socket

    addr, _, port = host.rpartition(":")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((addr or "127.0.0.1", int(port)), timeout=0.5):
                pass
        except OSError:
            return
        time.sleep(0.05)
    raise RuntimeError(f"{host} still accepts connections after {timeout} s")


@contextlib.contextmanager
def private_pubsub(tmp: str):
    """A Pub/Sub emulator of one test module's own, as PUBSUB_EMULATOR_HOST while inside;
    yields its host, then stops it and puts the variable back."""
    host, pid = start_pubsub(tmp)
    old = os.environ.get("PUBSUB_EMULATOR_HOST")
    os.environ["PUBSUB_EMULATOR_HOST"] = host
    try:
        yield host
    finally:
        stop_pubsub(pid)
        if old is None:
            os.environ.pop("PUBSUB_EMULATOR_HOST", None)
        else:
            os.environ["PUBSUB_EMULATOR_HOST"] = old


def stop_pubsub(pid: int) -> None:
    import signal

    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
