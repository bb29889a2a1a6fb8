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


def rebuild_local(home: str, pattern: str | None = None, date: str | None = None):
    """Runs a rebuild into the local warehouse under `home` (default input: its whole archive)."""
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipelines.rebuild import run_rebuild
    from weir.warehouse.local import LocalWarehouse

    flags = [f"--input={pattern or os.path.join(home, 'archive', '*', '*', '*.avro')}"]
    flags += [f"--date={date}"] if date else []
    return run_rebuild(
        PipelineOptions(flags),
        LocalWarehouse(home),
        staging_root=os.path.join(home, "staging"),
        progress=lambda _m: None,
    )


def rebuilt_warehouse(home: str, records: list[tuple[int, bytes]]):
    """Archives generated records under `home`, rebuilds them, returns the local warehouse."""
    from weir.generator import write_avro_archive
    from weir.warehouse.local import LocalWarehouse

    write_avro_archive(records, os.path.join(home, "archive"))
    rebuild_local(home)
    return LocalWarehouse(home)
