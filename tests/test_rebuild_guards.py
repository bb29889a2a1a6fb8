"""A rebuild never leaves staging behind and never empties a day it was not given (issue #14)."""

from __future__ import annotations

import os

import orjson
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from weir.pipelines import graph as graph_module
from weir.pipelines.rebuild import WouldShrink, run_rebuild
from weir.traffic.generator import generate_day, write_json_lines
from weir.warehouse.local import LocalWarehouse

DAY, OTHER = "2025-11-20", "2025-11-21"


def rebuild(home: str, pattern: str, **kw):
    return run_rebuild(
        PipelineOptions([f"--input={pattern}"]),
        LocalWarehouse(home),
        staging_root=os.path.join(home, "staging"),
        progress=lambda _m: None,
        **kw,
    )


def events_per_day(home: str) -> dict:
    rows = LocalWarehouse(home).query("SELECT CAST(DATE(event_ts) AS STRING), COUNT(*) FROM events GROUP BY 1").rows
    return dict(rows)


def staging_runs(home: str) -> list[str]:
    root = os.path.join(home, "staging")
    return os.listdir(root) if os.path.isdir(root) else []


@pytest.fixture
def home_with_day(tmp_path):
    home = str(tmp_path / "home")
    day_file = str(tmp_path / "day.jsonl")
    write_json_lines(list(generate_day(DAY, events=800, seed=2)), day_file)
    rebuild(home, day_file)
    assert events_per_day(home)[DAY] > 500
    return home, tmp_path


@pytest.mark.reliability
def test_a_stray_record_does_not_empty_its_day(home_with_day, reliability):
    fault = reliability.fault("rebuild: an hour's files name a whole day; refused unless --force")
    home, tmp = home_with_day
    before = events_per_day(home)
    site = "dailyglobe.example"  # one of the day's sites: its day would shrink to one event
    held = LocalWarehouse(home).query("SELECT COUNT(*) FROM events WHERE site = @s", {"s": site}).rows[0][0]
    stray = {
        "event_id": "stray",
        "action": "pageview",
        "site": site,
        "url": f"https://{site}/",
        "visitor_id": "v",
    }
    hour = str(tmp / "hour.jsonl")
    write_json_lines(
        [
            (0, orjson.dumps({**stray, "ts": f"{DAY}T10:00:00Z"})),
            (0, orjson.dumps({**stray, "event_id": "n", "ts": f"{OTHER}T01:00:00Z"})),
        ],
        hour,
    )
    with pytest.raises(WouldShrink, match=rf"{site} {DAY} \([\d,]+ -> 1 events\).*--force"):
        rebuild(home, hour)
    assert events_per_day(home) == before  # nothing replaced
    assert staging_runs(home) == []
    rebuild(home, hour, force=True)  # asked for: that site's day replaced, the other sites' kept
    assert events_per_day(home) == {DAY: before[DAY] - held + 1, OTHER: 1}
    fault.survived()


def test_a_stray_record_of_another_site_touches_only_that_sites_day(home_with_day):
    """A rebuild without --date replaces the (site, day) pairs its input holds, nothing else."""
    home, tmp = home_with_day
    before = events_per_day(home)
    hour = str(tmp / "other-site.jsonl")
    stray = {"event_id": "s", "action": "pageview", "site": "a.example", "url": "https://a.example/", "visitor_id": "v"}
    write_json_lines([(0, orjson.dumps({**stray, "ts": f"{DAY}T10:00:00Z"}))], hour)
    rebuild(home, hour)
    assert events_per_day(home) == {DAY: before[DAY] + 1}


@pytest.mark.reliability
def test_a_failed_rebuild_removes_its_staging(home_with_day, monkeypatch, reliability):
    fault = reliability.fault("rebuild: the pipeline fails mid-run; staging removed, no table changed")
    home, tmp = home_with_day
    before = events_per_day(home)

    def broken_event_row(event):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(graph_module, "event_row", broken_event_row)
    day_file = str(tmp / "day.jsonl")
    with pytest.raises(Exception, match="disk on fire"):
        rebuild(home, day_file)
    assert staging_runs(home) == []
    assert events_per_day(home) == before
    fault.survived()


@pytest.mark.reliability
def test_ctrl_c_stops_a_rebuild_cleanly(tmp_path, reliability):
    # Issue #16: Ctrl-C printed 25 lines of traceback, exit 2, and left a 71 MB staging folder.
    import signal
    import subprocess
    import sys
    import time

    fault = reliability.fault("rebuild: Ctrl-C mid-pipeline; exit 130, one line, staging removed")
    home = tmp_path / "home"
    day = str(tmp_path / "day.jsonl")
    write_json_lines(list(generate_day(DAY, events=30_000, seed=8)), day)
    weir = os.path.join(os.path.dirname(sys.executable), "weir")
    proc = subprocess.Popen(
        [weir, "rebuild", "--input", day],
        env={**os.environ, "WEIR_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().startswith("rebuild: reading")
    time.sleep(2.0)  # inside the pipeline
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    assert err.strip() == "weir rebuild: interrupted" and "rebuilt" not in out
    assert staging_runs(str(home)) == []
    fault.survived()


def test_the_collector_is_tuned_during_a_run_and_restored_after():
    import gc

    from weir.pipelines.gc_tuning import GEN0_THRESHOLD, collector_tuned

    before = gc.get_threshold()
    with collector_tuned():
        assert gc.get_threshold()[0] == GEN0_THRESHOLD and gc.get_freeze_count() > 0
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


@pytest.mark.reliability
def test_a_killed_rebuilds_staging_is_removed_by_the_next_one(home_with_day, reliability):
    """A rebuild killed with SIGKILL cannot clean up; the next rebuild removes what it left
    (its owner process is gone), and leaves a running rebuild's staging alone."""
    import signal
    import subprocess
    import sys

    fault = reliability.fault("rebuild: SIGKILLed mid-run; its staging removed by the next rebuild")
    home, tmp = home_with_day
    staging = os.path.join(home, "staging")
    dead = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    killed = os.path.join(staging, "run-killed00000")
    os.makedirs(os.path.join(killed, "events"))
    with open(os.path.join(killed, ".owner"), "w") as fh:
        fh.write(str(dead.pid))
    dead.send_signal(signal.SIGKILL)
    dead.wait()
    alive = os.path.join(staging, "run-alive000000")
    os.makedirs(alive)
    with open(os.path.join(alive, ".owner"), "w") as fh:
        fh.write(str(os.getpid()))  # this process: running
    rebuild(home, str(tmp / "day.jsonl"))
    assert staging_runs(home) == ["run-alive000000"]
    fault.survived()
