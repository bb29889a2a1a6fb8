"""Shared fixtures: a fresh WEIR_HOME per test, a Beam pipeline on a named local runner."""

from __future__ import annotations

import os

import apache_beam as beam
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from hypothesis import settings


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

# Property tests (hypothesis): the same examples on every run by default, so CI never fails at
# random; HYPOTHESIS_PROFILE=explore draws new ones, ten times as many (where a test does not
# set its own count).
settings.register_profile("ci", derandomize=True, max_examples=400)
settings.register_profile("explore", derandomize=False, max_examples=4000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def rebuild_local(home: str, pattern: str | None = None, date: str | None = None):
    """Runs a rebuild into the local warehouse under `home` (default input: its whole archive)."""
    from apache_beam.options.pipeline_options import PipelineOptions

    from weir.pipelines.rebuild import run_rebuild
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
    from weir.traffic.generator import write_avro_archive
    from weir.warehouse.local import LocalWarehouse

    write_avro_archive(records, os.path.join(home, "archive"))
    rebuild_local(home)
    return LocalWarehouse(home)


# --- The reliability suite (issue #14) -------------------------------------------------------
# Tests marked `reliability` inject a fault or feed hostile records and say so through the
# `reliability` fixture; the figures are printed at the end of every run (`pytest -m
# reliability` runs the suite alone). A case counts as survived only when its block ended
# without an exception, so a failing test shows here as well as in pytest's own report.

_RELIABILITY: dict = {"hostile_tried": 0, "hostile_accounted": 0, "faults": []}


class Fault:
    def __init__(self, what: str):
        self.what, self.ok = what, False

    def survived(self) -> None:
        """Called after the checks that prove nothing was lost."""
        self.ok = True


class Reliability:
    def hostile(self, tried: int, accounted: int) -> None:
        """`tried` hostile records went in; `accounted` of them were proven an event, a dead
        letter or a duplicate."""
        _RELIABILITY["hostile_tried"] += tried
        _RELIABILITY["hostile_accounted"] += accounted

    def fault(self, what: str) -> Fault:
        """Say so as the fault is injected; call `.survived()` once the checks passed."""
        case = Fault(what)
        _RELIABILITY["faults"].append(case)
        return case


@pytest.fixture
def reliability() -> Reliability:
    return Reliability()


def pytest_configure(config):
    config.addinivalue_line("markers", "reliability: a fault or hostile input the pipeline must survive (issue #14)")


def pytest_terminal_summary(terminalreporter):
    r = _RELIABILITY
    if not r["hostile_tried"] and not r["faults"]:
        return
    survived = sum(1 for c in r["faults"] if c.ok)
    tr = terminalreporter
    tr.section("reliability (issue #14)")
    tr.line(f"hostile records tried: {r['hostile_tried']:,}; accounted for: {r['hostile_accounted']:,}")
    tr.line(f"faults injected: {len(r['faults'])}; survived with nothing lost: {survived}")
    for case in r["faults"]:
        tr.line(f"  [{'ok' if case.ok else 'FAILED'}] {case.what}")
