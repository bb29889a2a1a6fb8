"""The local Pub/Sub emulator's lifecycle.

Locally the official Google Cloud Pub/Sub emulator is used (`gcloud beta emulators pubsub
start`, shipped with the Google Cloud CLI); where it is not installed, drongo's in-process
server (PyPI only) stands in (weir.pubsub.fallback). When PUBSUB_EMULATOR_HOST is not set,
the first command that needs Pub/Sub starts the emulator on a free port, records its address
and pid in `$WEIR_HOME/pubsub-emulator.json`, and later commands reuse it; `weir emulator
stop` stops it. Clients find it through PUBSUB_EMULATOR_HOST, which `ensure_emulator` sets.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

STATE_FILE = "pubsub-emulator.json"


class EmulatorUnavailable(RuntimeError):
    """The Pub/Sub emulator is not installed here and PUBSUB_EMULATOR_HOST is not set."""

    usage_error = True  # the machine's, not weir's: said in one line (weir.usage)


def free_port() -> int:
    """A TCP port free on the loopback interface now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(host: str) -> bool:
    addr, _, port = host.rpartition(":")
    try:
        with socket.create_connection((addr or "127.0.0.1", int(port)), timeout=1):
            return True
    except OSError:
        return False


def emulator_command(port: int, data_dir: str) -> list[str]:
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise EmulatorUnavailable(
            "the Google Cloud Pub/Sub emulator is not installed: install the Google Cloud CLI with its "
            "pubsub-emulator component (gcloud components install pubsub-emulator, or Debian/Ubuntu package "
            "google-cloud-cli-pubsub-emulator), or set PUBSUB_EMULATOR_HOST to a running emulator"
        )
    return [
        gcloud,
        "beta",
        "emulators",
        "pubsub",
        "start",
        f"--host-port=127.0.0.1:{port}",
        f"--data-dir={data_dir}",
        "--quiet",
    ]


def _record(home: str, host: str, pid: int, kind: str) -> None:
    with open(os.path.join(home, STATE_FILE), "w") as fh:
        json.dump({"host": host, "pid": pid, "kind": kind}, fh)


def start_fallback(home: str, timeout_s: float = 30.0) -> tuple[str, int]:
    """drongo's in-process server (PyPI only), in a detached process of its own."""

    log = open(os.path.join(home, "pubsub-emulator.log"), "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "weir.pubsub.fallback"], stdout=subprocess.PIPE, stderr=log, start_new_session=True
    )
    line = proc.stdout.readline().decode().strip()
    deadline = time.monotonic() + timeout_s
    while not (line and _answers(line)):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise EmulatorUnavailable(f"the fallback Pub/Sub emulator (drongo) did not start; see {log.name}")
        time.sleep(0.1)
    _record(home, line, proc.pid, "drongo")
    return line, proc.pid


def start_emulator(home: str, timeout_s: float = 60.0, port: int | None = None) -> tuple[str, int]:
    """Starts the official emulator detached from this process, or drongo's where it is not
    installed (or WEIR_PUBSUB_EMULATOR=drongo); returns (host:port, pid)."""
    os.makedirs(home, exist_ok=True)
    if os.environ.get("WEIR_PUBSUB_EMULATOR") == "drongo" or shutil.which("gcloud") is None:
        return start_fallback(home)
    port = port or free_port()
    os.makedirs(os.path.join(home, "pubsub-data"), exist_ok=True)  # gcloud writes env.yaml there
    log = open(os.path.join(home, "pubsub-emulator.log"), "ab")
    proc = subprocess.Popen(
        emulator_command(port, os.path.join(home, "pubsub-data")),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    host = f"127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while not _answers(host):
        if proc.poll() is not None:
            raise EmulatorUnavailable(f"the Pub/Sub emulator exited ({proc.returncode}); see {log.name}")
        if time.monotonic() > deadline:
            proc.kill()
            raise EmulatorUnavailable(f"the Pub/Sub emulator did not answer on {host} in {timeout_s:.0f} s")
        time.sleep(0.2)
    _record(home, host, proc.pid, "gcloud")
    return host, proc.pid


def find_emulator(home: str) -> str | None:
    """PUBSUB_EMULATOR_HOST if set, else the emulator recorded for `home` if it answers, else
    None. Starts nothing (what `weir status` uses: a look must not change anything)."""
    host = os.environ.get("PUBSUB_EMULATOR_HOST")
    if host:
        return host
    try:
        with open(os.path.join(home, STATE_FILE)) as fh:
            host = json.load(fh)["host"]
    except (OSError, ValueError, KeyError):
        return None
    return host if _answers(host) else None


def ensure_emulator(home: str) -> str:
    """PUBSUB_EMULATOR_HOST if set, else the recorded emulator if it answers, else a new one.

    One emulator per WEIR_HOME whatever the order or concurrency of commands (without it,
    `weir stream &` and `weir publish` pasted together started two, and the stream saw
    nothing): the look and the start happen under an exclusive lock on a file in the home,
    so a second command waits for the first one's emulator and then uses it."""
    import fcntl

    host = os.environ.get("PUBSUB_EMULATOR_HOST")
    if host:
        return host
    os.makedirs(home, exist_ok=True)
    with open(os.path.join(home, "pubsub-emulator.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        host = find_emulator(home) or start_emulator(home)[0]
    os.environ["PUBSUB_EMULATOR_HOST"] = host
    return host


def emulator_state(home: str) -> dict | None:
    """What is recorded of this home's emulator ({"host", "pid", "kind", "answers"}), or None."""
    try:
        with open(os.path.join(home, STATE_FILE)) as fh:
            state = json.load(fh)
    except (OSError, ValueError):
        return None
    state["answers"] = bool(state.get("host")) and _answers(state["host"])
    return state


def stop_emulator(home: str) -> bool:
    """Stops the emulator this home started; False when there was none."""
    path = os.path.join(home, STATE_FILE)
    try:
        with open(path) as fh:
            pid = json.load(fh)["pid"]
    except (OSError, ValueError, KeyError):
        return False
    try:
        os.killpg(pid, signal.SIGTERM)  # gcloud starts the Java emulator as a child: stop the group
    except ProcessLookupError:
        pass
    os.remove(path)
    return True
