"""Shared fixtures: a fresh WEIR_HOME per test, a Beam pipeline on a named local runner."""

from __future__ import annotations

import os

import apache_beam as beam
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner


@pytest.fixture
def weir_home(tmp_path, monkeypatch):
    home = tmp_path / "weir-home"
    monkeypatch.setenv("WEIR_HOME", str(home))
    return str(home)


@pytest.fixture
def pipeline():
    """A batch pipeline on the FnApiRunner (named: the default would try to download Prism)."""
    return beam.Pipeline(runner=FnApiRunner())


def raw(payload: bytes | str, received_at: int | None = None, source: str = "test") -> dict:
    """A RawRecord for tests."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    return {"payload": payload, "received_at": received_at, "source": source, "attributes": {}}


os.environ.setdefault("WEIR_PROJECT", "weir-local")
