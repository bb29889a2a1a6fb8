"""The mistakes a new user makes, one row each (issue #16): every expected failure prints one
line that says what failed (no traceback, no terminal escape codes), with exit code 2 for a
usage or input error and 1 where a check found a difference.

Each row runs `weir` in this process (weir.cli.main) against a warehouse the module builds
once: (name, argv, expected exit code, a phrase the message must hold).
"""

from __future__ import annotations

import os

import pytest

from tests.conftest import rebuilt_warehouse
from weir.cli import main
from weir.traffic.generator import generate_day

DAY = "2025-11-20"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    root = tmp_path_factory.mktemp("mistakes")
    home = str(root / "home")
    rebuilt_warehouse(home, list(generate_day(DAY, events=600, seed=4)))
    (root / "data.csv").write_text("site,url\na.com,https://a.com/\n")
    (root / "day.jsonl").write_text("")
    return home


def files(home: str) -> str:
    return os.path.dirname(home)


MISTAKES = [
    # (name, argv (HOME and DIR are filled in), exit code, phrase in stderr)
    ("rebuild: a missing input", ["rebuild", "--input", "DIR/nope.jsonl"], 2, "matches no file"),
    ("rebuild: a glob matching nothing", ["rebuild", "--input", "DIR/*.avro"], 2, "matches no file"),
    ("rebuild: a CSV", ["rebuild", "--input", "DIR/data.csv"], 2, "holds no event"),
    ("rebuild: a bad date", ["rebuild", "--input", "DIR/data.csv", "--date", "20-11-2025"], 2, "YYYY-MM-DD"),
    ("rebuild: a typo for --date", ["rebuild", "--input", "DIR/data.csv", "--day", DAY], 2, "did you mean --date"),
    ("rebuild: an unknown flag", ["rebuild", "--input", "DIR/data.csv", "--frobnicate"], 2, "unrecognized"),
    ("rebuild: no input", ["rebuild"], 2, "--input"),
    (
        "rebuild: Dataflow with local staging",
        ["rebuild", "--input", "DIR/data.csv", "--runner", "DataflowRunner"],
        2,
        "needs --staging gs://",
    ),
    ("sql: a syntax error", ["sql", "SELECT ("], 2, "not valid BigQuery SQL"),
    ("sql: a typo in a keyword", ["sql", "SELEC 1 FROM events"], 2, "not valid BigQuery SQL"),
    ("sql: a misspelt function", ["sql", "SELECT COUNTT(*) FROM events"], 2, "query failed"),
    ("sql: an unknown table", ["sql", "SELECT * FROM pageviews"], 2, "Tables and views in web_analytics: "),
    ("sql: an unknown column", ["sql", "SELECT nope FROM events"], 2, "nope"),
    ("sql: a DELETE without --write", ["sql", "DELETE FROM events WHERE TRUE"], 2, "--write"),
    ("sql: reading a file", ["sql", "SELECT * FROM read_text('/etc/hostname')"], 2, "file system operations"),
    ("sql: a parameter without a value", ["sql", "SELECT @day"], 2, "without a value: @day"),
    ("sql: a bad dataset id", ["sql", "SELECT 1", "--dataset", "my-data set"], 2, "not a dataset id"),
    ("sql: a bad format", ["sql", "SELECT 1", "--format", "xml"], 2, "invalid choice"),
    ("verify: a bad date", ["verify", "--date", "yesterday"], 2, "YYYY-MM-DD"),
    ("verify: a day never rebuilt", ["verify", "--date", "2020-01-01"], 1, "rebuild the day first"),
    ("verify: no date", ["verify"], 2, "--date"),
    (
        "compare: a bad date",
        ["compare", "--date", "2025-13-01", "--left", "web_analytics", "--right", "x"],
        2,
        "YYYY-MM-DD",
    ),
    (
        "compare: a table that is not a metrics table",
        ["compare", "--date", DAY, "--left", "web_analytics.events", "--right", "web_analytics.events"],
        2,
        "not a metrics table",
    ),
    (
        "compare: a dataset with a quote",
        ["compare", "--date", DAY, "--left", "a'b", "--right", "web_analytics"],
        2,
        "not a dataset id",
    ),
    (
        "compare: a dataset against one table",
        ["compare", "--date", DAY, "--left", "web_analytics", "--right", "web_analytics.url_metrics_5m"],
        2,
        "must name the same tables",
    ),
    ("plot: an unknown metric", ["plot", "--metric", "clicks"], 2, "unknown metric"),
    ("plot: a bad time", ["plot", "--start", "noon"], 2, "noon"),
    (
        "plot: end before start",
        ["plot", "--start", "2025-11-21T00:00", "--end", "2025-11-20T00:00"],
        2,
        "end must be after start",
    ),
    ("demo: no events", ["demo", "--events", "0"], 2, "--events must be at least 1"),
    ("demo: a bad date", ["demo", "--date", "2025-02-30"], 2, "YYYY-MM-DD"),
    ("an unknown command", ["frobnicate"], 2, "invalid choice"),
    ("an unknown flag", ["sql", "SELECT 1", "--colour"], 2, "unrecognized arguments"),
]


@pytest.mark.parametrize("name, argv, code, phrase", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_a_mistake_gets_one_clear_line(home, capsys, name, argv, code, phrase):
    argv = [a.replace("DIR", files(home)) for a in argv] + ["--home", home]
    try:
        got = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        got = exc.code
    captured = capsys.readouterr()
    err = captured.err + (captured.out if code == 1 else "")  # a failed check reports on stdout
    assert got == code, err
    assert phrase in err, err
    assert "Traceback" not in err and "\x1b[" not in err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith(("usage:", "  ", "WARNING"))]
    assert len(lines) <= 2, err  # the message (and, for argparse, its usage line)
