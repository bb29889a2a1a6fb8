"""The command line as a user runs it: the installed `weir` script."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest


def weir(*args: str, home: str, check: bool = True) -> subprocess.CompletedProcess:
    exe = shutil.which("weir") or os.path.join(os.path.dirname(sys.executable), "weir")
    env = {**os.environ, "WEIR_HOME": home}
    return subprocess.run([exe, *args], env=env, capture_output=True, text=True, timeout=600, check=check)


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    home = str(tmp_path_factory.mktemp("demo"))
    out = weir("demo", "--events", "3000", "--date", "2025-11-20", home=home)
    return home, out.stdout


def test_demo_prints_top_urls_referrers_and_dead_letters(demo_home):
    _, stdout = demo_home
    for expected in (
        "[1/4]",
        "[2/4]",
        "[3/4]",
        "[4/4]",
        "top URLs on 2025-11-20",
        "referrer_category",
        "dead letters, every one with its raw payload",
    ):
        assert expected in stdout, stdout
    assert "search" in stdout and "internal" in stdout


def test_sql_formats(demo_home):
    home, _ = demo_home
    q = (
        "SELECT site, SUM(pageviews) AS pv, HLL_COUNT.MERGE(visitors_sketch) AS v "
        "FROM url_metrics_1d GROUP BY site ORDER BY site"
    )
    rows = [json.loads(line) for line in weir("sql", q, "--format", "json", home=home).stdout.splitlines()]
    assert [r["site"] for r in rows] == ["cityherald.example", "dailyglobe.example", "techwire.example"]
    assert all(r["pv"] > 0 and r["v"] > 0 for r in rows)
    csv_out = weir("sql", q, "--format", "csv", home=home).stdout.splitlines()
    assert csv_out[0] == "site,pv,v" and len(csv_out) == 4
    table = weir("sql", q, home=home).stdout
    assert "(3 rows)" in table


def test_sql_error_is_clear(demo_home):
    home, _ = demo_home
    out = weir("sql", "SELEC nonsense", home=home, check=False)
    assert out.returncode == 2 and "query failed" in out.stderr and "Traceback" not in out.stderr
    out = weir("sql", "SELECT (", home=home, check=False)
    assert out.returncode == 2 and "not valid BigQuery SQL" in out.stderr


def test_rebuild_bad_date_is_a_clear_error(tmp_path):
    out = weir("rebuild", "--input", str(tmp_path / "x.jsonl"), "--date", "20-11-2025", home=str(tmp_path), check=False)
    assert out.returncode == 2 and "--date must be YYYY-MM-DD" in out.stderr


def test_bench_prints_a_comparable_summary_line(tmp_path):
    out = weir("bench", "--events", "1500", "--sites", "5", "--freshness-seconds", "0", home=str(tmp_path)).stdout
    summary = out.strip().splitlines()[-1]
    fields = dict(kv.split("=") for kv in summary.split())
    assert list(fields) == [
        "rebuild_events_per_s",
        "floor_events_per_s",
        "ratio",
        "enrich_events_per_s",
        "freshness_p50_s",
        "freshness_p95_s",
        "peak_rss_mb",
        "freshness_unseen",
        "freshness_p95_last_third_s",
        "sql_cold_s",
        "rebuild_peak_rss_mb",
        "rebuild_quarter_peak_rss_mb",
        "rebuild_growth_kb_per_record",
        "stream_cpu_us_per_event",
        "stream_max_rate",
    ]
    assert 0 < float(fields["sql_cold_s"]) < 30
    assert float(fields["rebuild_quarter_peak_rss_mb"]) > 0 and fields["stream_cpu_us_per_event"] == "na"
    assert float(fields["rebuild_events_per_s"]) > 0 and float(fields["floor_events_per_s"]) > 0
    assert float(fields["ratio"]) == pytest.approx(
        float(fields["rebuild_events_per_s"]) / float(fields["floor_events_per_s"]), rel=0.01
    )


def test_a_mistyped_rebuild_flag_is_refused_and_changes_nothing(tmp_path):
    # Issue #15: `--day` (for --date) passed through to Beam, which warned and dropped it;
    # the rebuild then replaced the whole day with one hour's events and exited 0.
    from weir.traffic.generator import generate_day, write_json_lines

    home = str(tmp_path / "home")
    day = write_json_lines(list(generate_day("2025-11-20", events=300, seed=3)), str(tmp_path / "day.jsonl"))
    weir("rebuild", "--input", day, home=home)
    before = weir("sql", "SELECT COUNT(*) AS n FROM events", "--format", "csv", home=home).stdout
    out = weir("rebuild", "--input", day, "--day", "2025-11-21", home=home, check=False)
    assert out.returncode == 2 and "unrecognized arguments: --day (did you mean --date?)" in out.stderr
    assert weir("sql", "SELECT COUNT(*) AS n FROM events", "--format", "csv", home=home).stdout == before


def test_demo_never_destroys_data_it_did_not_make(tmp_path):
    # Issue #16: the demo deleted the day's archive first (a stream's 41 real events went), and
    # every demo day reused the same event_ids (a rebuild of two days removed ~25,000 events).
    from weir.traffic.generator import generate_day, write_avro_archive

    home = str(tmp_path / "home")
    assert weir("demo", "--events", "0", home=home, check=False).returncode == 2
    real = write_avro_archive(list(generate_day("2025-11-19", events=50, seed=9)), os.path.join(home, "archive"))
    out = weir("demo", "--events", "400", "--date", "2025-11-19", home=home, check=False)
    assert out.returncode == 2 and "did not make" in out.stderr and "Traceback" not in out.stderr
    assert all(os.path.exists(p) for p in real)  # untouched
    for day in ("2025-11-20", "2025-11-21"):
        weir("demo", "--events", "400", "--date", day, home=home)
    weir("demo", "--events", "400", "--date", "2025-11-21", home=home)  # again: replaces only its own files
    ids = weir(
        "sql",
        "SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS d FROM events WHERE DATE(event_ts) >= '2025-11-20'",
        "--format",
        "csv",
        home=home,
    ).stdout.splitlines()[1]
    n, distinct = map(int, ids.split(","))
    assert n == distinct > 700  # two days of events, no event_id shared between them
    led = weir("sql", "SELECT SUM(duplicates) FROM ledger", "--format", "csv", home=home).stdout.splitlines()[1]
    assert int(led) < 20  # only the generator's own duplicate deliveries


def test_status_only_looks_and_its_json_is_one_object(tmp_path):
    # `weir status` must start no emulator and create no topic, and --json print nothing but JSON.
    home = str(tmp_path / "fresh")
    env_home = {k: v for k, v in os.environ.items() if k != "PUBSUB_EMULATOR_HOST"}

    def status():
        exe = shutil.which("weir") or os.path.join(os.path.dirname(sys.executable), "weir")
        return subprocess.run([exe, "status", "--json"], env={**env_home, "WEIR_HOME": home},
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    missing = status()  # a mistyped home is said, not answered from nothing
    assert missing.returncode == 2 and "no weir home" in missing.stderr and not os.path.exists(home)
    os.makedirs(home)
    out = status()
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)  # the whole of stdout is one JSON object
    assert report["pubsub_emulator"] is None and report.get("backlog") is None
    assert not os.path.exists(home) or os.listdir(home) == []  # nothing started, nothing created


def test_version_global_options_and_the_environment_in_help(tmp_path):
    home = str(tmp_path / "h")
    assert weir("--version", home=home).stdout.startswith("weir ")
    assert weir("--home", home, "sql", "SELECT 1", home="/nonexistent", check=False).returncode == 2  # no such home
    os.makedirs(home)
    before = weir("--home", home, "sql", "SELECT 1 AS x", "--format", "csv", home="/nonexistent").stdout
    after = weir("sql", "SELECT 1 AS x", "--format", "csv", "--home", home, home="/nonexistent").stdout
    assert before == after == "x\n1\n"
    assert os.path.exists(os.path.join(home, "warehouse.duckdb"))  # both used --home, not WEIR_HOME
    text = weir("--help", home=home).stdout
    for name in ("WEIR_HOME", "WEIR_DATASET", "WEIR_PROJECT", "PUBSUB_EMULATOR_HOST", "exit codes"):
        assert name in text


def test_long_work_shows_progress_on_a_terminal_and_nothing_when_piped(tmp_path):
    # Issue #16: a rebuild was silent for its whole run. On a terminal a bar follows the
    # records read; piped, the output is only the lines a script reads.
    import pty

    from weir.traffic.generator import generate_day, write_json_lines

    day = write_json_lines(list(generate_day("2025-11-20", events=20_000, seed=3)), str(tmp_path / "day.jsonl"))
    exe = shutil.which("weir") or os.path.join(os.path.dirname(sys.executable), "weir")
    env = {**os.environ, "WEIR_HOME": str(tmp_path / "tty"), "COLUMNS": "120"}
    import fcntl
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a terminal has a size
    proc = subprocess.Popen([exe, "rebuild", "--input", day], env=env, stdout=follower, stderr=follower)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    assert proc.wait(timeout=300) == 0
    assert b"rebuild: records read" in seen and b"records/s" in seen, seen[-500:]
    piped = weir("rebuild", "--input", day, home=str(tmp_path / "piped"))
    assert "records/s" not in piped.stdout + piped.stderr


def test_every_subcommand_help_has_a_description_defaults_and_an_example():
    from weir.cli import parser

    sub = next(a for a in parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, sp in sub.choices.items():
        text = sp.format_help()
        assert sp.description and "example:\n  weir " + name.split()[0] in text, name
        with_default = [a for a in sp._actions if a.default not in (None, False) and a.option_strings and a.nargs != 0]
        if [a for a in with_default if a.default != "==SUPPRESS=="]:
            assert "(default: " in text or "default" in text.lower(), name


def test_demo_today_holds_today_until_now_and_a_week_ago(tmp_path):
    import datetime as dt

    home = str(tmp_path / "home")
    out = weir("demo", "--today", "--events", "2000", home=home)
    assert "weir serve" in out.stdout
    now = dt.datetime.now(dt.timezone.utc)
    rows = weir(
        "sql",
        "SELECT CAST(DATE(event_ts) AS STRING) AS day, MAX(received_at) AS newest FROM events GROUP BY 1 ORDER BY 1",
        "--format",
        "json",
        home=home,
    ).stdout.splitlines()
    days = [json.loads(r) for r in rows]
    today, week_ago = now.date(), now.date() - dt.timedelta(days=7)
    # A visit that began just before midnight may end after it: its day is the one after.
    assert {d["day"] for d in days} >= {str(week_ago), str(today)} or now.hour == 0
    newest = max(dt.datetime.fromisoformat(d["newest"].replace("Z", "+00:00")) for d in days)
    assert newest <= now  # nothing from the rest of today
    assert weir("demo", "--today", "--date", "2025-11-20", home=home, check=False).returncode == 2


@pytest.mark.reliability
def test_status_says_disk_full_and_a_stale_stream_and_exits_1(tmp_path, reliability):
    """A full disk: landings fail (retried) and the status file can no longer be written, so
    it goes stale while it still says running. `weir status` says so and exits 1."""
    from weir.pipelines.local.status import status_path, write_status

    fault = reliability.fault("stream: a full disk; weir status says disk full and exits non-zero")
    home = str(tmp_path / "h")
    os.makedirs(home)
    env = {**{k: v for k, v in os.environ.items() if k != "PUBSUB_EMULATOR_HOST"}, "WEIR_HOME": home}
    status = [shutil.which("weir") or os.path.join(os.path.dirname(sys.executable), "weir"), "status"]
    health = {"landing": "ok"}
    write_status(home, running=True, subscription="s", archived=0, counters={}, watermark_lag_ms=None, health=health)
    assert subprocess.run(status, env=env, capture_output=True, text=True, timeout=120).returncode == 0
    failing = {
        "landing": "failing",
        "landing_failures": 7,
        "landing_error": "IO Error: could not write file: No space left on device",
    }
    write_status(home, running=True, subscription="s", archived=0, counters={}, watermark_lag_ms=None, health=failing)
    out = subprocess.run(status, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "unhealthy: disk full: landings have failed 7 times" in out.stdout
    with open(status_path(home)) as fh:  # the file as a stream left it when it could write no more
        stale = json.load(fh)
    stale["updated_at_ms"] -= 120_000
    stale["landing"] = "ok"
    with open(status_path(home), "w") as fh:
        json.dump(stale, fh)
    out = subprocess.run([*status, "--json"], env=env, capture_output=True, text=True, timeout=120)
    problem = json.loads(out.stdout)["problems"][0]
    assert out.returncode == 1 and re.search(r"last written 12\d s ago though it says it runs", problem), problem
    fault.survived()


def test_demo_of_today_just_after_midnight_says_there_is_nothing_yet(tmp_path, monkeypatch):
    """At 00:00:30 UTC today has no record yet: the demo says so instead of failing on an
    empty archive (CI once ran at 00:10 UTC)."""
    import datetime as dt

    from weir import config
    from weir.demo import run_demo

    day = dt.datetime.now(dt.timezone.utc).date().isoformat()
    midnight = dt.datetime.fromisoformat(f"{day}T00:00:30+00:00").timestamp()
    monkeypatch.setattr("weir.demo.time.time", lambda: midnight)
    said: list[str] = []
    figures = run_demo(
        config.resolve(str(tmp_path / "h"), None, None), events=2000, day=day, say=said.append, until_now=True
    )
    assert figures["loaded"] == {} and any("nothing received yet" in line for line in said)


def test_a_second_stream_on_one_home_is_refused(tmp_path):
    """Two streams on one WEIR_HOME would each stop the other's work (one warehouse, one status
    file, one archive): the second is refused in one line, exit 2, before anything starts."""
    from weir.pipelines.local.stream import HomeBusy, claim_home

    home = str(tmp_path / "home")
    first = claim_home(home)  # what a running `weir stream` holds
    try:
        with pytest.raises(HomeBusy, match=str(os.getpid())):
            claim_home(home)
        refused = weir("stream", "--duration", "5", home=home, check=False)
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr.strip().count("\n") == 0 and f"pid {os.getpid()}" in refused.stderr
        assert not os.path.exists(os.path.join(home, "pubsub-emulator.json"))  # nothing was started
    finally:
        first.close()
    claim_home(home).close()  # free again once the first has stopped


def test_a_port_in_use_is_one_line_and_exit_2(tmp_path):
    import socket

    held = socket.create_server(("127.0.0.1", 0))
    port = str(held.getsockname()[1])
    os.makedirs(tmp_path / "home")
    try:
        for command in (["serve", "--port", port], ["collect", "--port", port, "--no-geo"]):
            refused = weir(*command, home=str(tmp_path / "home"), check=False)
            assert refused.returncode == 2, (command, refused.stderr)
            assert refused.stderr.strip().count("\n") == 0 and f"port {port}" in refused.stderr
            assert refused.stdout == ""  # nothing said before the refusal (not where it serves, not its country data)
    finally:
        held.close()


def test_ctrl_c_while_a_stream_starts_stops_it_in_one_line(tmp_path):
    """A Ctrl-C that lands while the stream starts (importing Apache Beam swallowed it there,
    and the stream ran on) stops it: no traceback, exit 130 or a stopped stream's exit 0."""
    import signal
    import time

    from tests import emulators

    with emulators.private_pubsub(str(tmp_path / "pubsub")) as host:
        exe = shutil.which("weir") or os.path.join(os.path.dirname(sys.executable), "weir")
        env = {**os.environ, "WEIR_HOME": str(tmp_path / "home"), "PUBSUB_EMULATOR_HOST": host}
        for after_s in (0.3, 1.0):
            proc = subprocess.Popen([exe, "stream"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(after_s)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
            assert proc.returncode in (0, 130), (after_s, err)
            assert "Traceback" not in err and "Traceback" not in out, err
            assert "interrupted" in err or "stream: stopped after" in out, (out, err)


def test_verify_and_compare_speak_json_for_scripts(demo_home):
    home, _ = demo_home
    checked = weir("verify", "--date", "2025-11-20", "--json", home=home)
    report = json.loads(checked.stdout)  # the whole of stdout is one object
    assert report["ok"] is True and report["date"] == "2025-11-20" and len(report["checks"]) > 10
    assert all(c["ok"] and c["expected"] == c["actual"] for c in report["checks"] if not c["at_least"])
    same = json.loads(weir("compare", "--date", "2025-11-20", "--left", "web_analytics", "--right", "web_analytics",
                           "--json", home=home).stdout)  # fmt: skip
    assert same["differs"] is False and {t["table"] for t in same["tables"]} >= {"url_metrics_5m", "url_metrics_1d"}
    assert all(t["compared"] > 0 for t in same["tables"])
    # A tampered table: both say so, in JSON and in the exit code.
    import duckdb

    with duckdb.connect(os.path.join(home, "warehouse.duckdb")) as con:  # weir sql only reads
        con.execute("UPDATE web_analytics.url_metrics_1d SET pageviews = pageviews + 1 "
                    "WHERE url = (SELECT MIN(url) FROM web_analytics.url_metrics_1d)")  # fmt: skip
    tampered = weir("verify", "--date", "2025-11-20", "--json", home=home, check=False)
    with duckdb.connect(os.path.join(home, "warehouse.duckdb")) as con:  # as it was, for the module's other tests
        con.execute("UPDATE web_analytics.url_metrics_1d SET pageviews = pageviews - 1 "
                    "WHERE url = (SELECT MIN(url) FROM web_analytics.url_metrics_1d)")  # fmt: skip
    assert tampered.returncode == 1 and json.loads(tampered.stdout)["ok"] is False


def test_a_remote_runner_without_beams_gcp_parts_names_the_extra(tmp_path, monkeypatch):
    """The default install has Apache Beam without [gcp]; Dataflow needs it, and says which extra."""
    import importlib.util

    from weir import cli

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "apitools" else real(name, *a))
    with pytest.raises(ValueError, match=r"weir-analytics\[gcp\]"):
        cli._require_gcp_extra("DataflowRunner")
    cli._require_gcp_extra("DirectRunner")  # a local runner needs nothing more


def test_a_bug_is_reported_as_weirs_with_its_traceback_saved_not_as_a_usage_error(tmp_path, monkeypatch, capsys):
    """The user's mistakes are one line and exit 2; anything else is weir's fault: a short
    report, exit 70, and the traceback in a file the report names."""
    from weir import cli

    os.makedirs(tmp_path / "home")
    monkeypatch.setattr(cli, "cmd_sql", lambda args: {}["a key weir forgot"])
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    assert cli.main(["sql", "SELECT 1", "--home", str(tmp_path / "home")]) == 70
    err = capsys.readouterr().err
    assert "unexpected error (weir's fault, not your input): KeyError" in err
    saved = re.search(r"the traceback is in (\S+);", err).group(1)
    assert "Traceback" in open(saved).read() and "a key weir forgot" in open(saved).read()
    # The user's mistake stays one line and exit 2.
    monkeypatch.setattr(cli, "cmd_sql", lambda args: (_ for _ in ()).throw(cli.UsageError("no such thing")))
    assert cli.main(["sql", "SELECT 1", "--home", str(tmp_path / "home")]) == 2
    assert capsys.readouterr().err.strip() == "weir sql: error: no such thing"
