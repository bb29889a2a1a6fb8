"""SQL safety (issue #14): every argument reaches SQL as a query parameter or a validated
identifier; query commands cannot change data without --write, nor touch other files.

Each hostile input is tried through the command a user would run (`weir ...` in-process via
`weir.cli.main`) and through `QueryClient`, which dashboards and APIs are offered; after
each, the ledger is still there with its rows.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest

from tests.conftest import rebuilt_warehouse
from weir.cli import main
from weir.query.client import QueryClient, SeriesQuery
from weir.traffic.generator import generate_day
from weir.warehouse.base import QueryError, WriteRefused
from weir.warehouse.local import LocalWarehouse

DAY = "2025-11-20"
INJECTIONS = [
    "2025-11-20'; DROP TABLE ledger; --",
    "2025-11-20' OR '1'='1",
    "x'); DELETE FROM events; --",
    "web_analytics.url_metrics_1d; DROP TABLE ledger",
    'web_analytics"; DROP TABLE ledger; --',
]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = str(tmp_path_factory.mktemp("sqlsafe") / "home")
    rebuilt_warehouse(home, list(generate_day(DAY, events=1500, seed=5)))
    return home


def ledger_rows(home: str) -> int:
    return LocalWarehouse(home).query("SELECT COUNT(*) FROM ledger").rows[0][0]


@pytest.fixture
def intact(home):
    before = ledger_rows(home)
    assert before > 0
    yield
    assert ledger_rows(home) == before  # nothing dropped, nothing deleted


@pytest.mark.parametrize("value", INJECTIONS)
@pytest.mark.parametrize("command", ["verify", "compare-date", "compare-left", "compare-right", "dataset", "plot"])
def test_hostile_arguments_are_refused_with_exit_2(home, intact, command, value, capsys, tmp_path):
    argv = {
        "verify": ["verify", "--date", value],
        "compare-date": ["compare", "--date", value, "--left", "web_analytics", "--right", "web_analytics"],
        "compare-left": ["compare", "--date", DAY, "--left", value, "--right", "web_analytics"],
        "compare-right": ["compare", "--date", DAY, "--left", "web_analytics", "--right", value],
        "dataset": ["sql", "SELECT 1", "--dataset", value],
        "plot": [
            "plot",
            "--site",
            value,
            "--start",
            "2025-11-20T00:00",
            "--end",
            "2025-11-21T00:00",
            "--out",
            str(tmp_path / "p.png"),
        ],
    }[command]
    code = main([*argv, "--home", home])
    err = capsys.readouterr().err
    if command == "plot":  # a site is a value, not SQL: it matches nothing
        assert code in (0, 1), err
    else:
        assert code == 2 and "error" in err and "Traceback" not in err, err


def test_verify_still_works_with_a_good_date(home, intact, capsys):
    assert main(["verify", "--date", DAY, "--home", home]) == 0
    assert "checks hold" in capsys.readouterr().out


@pytest.mark.parametrize(
    "sql, refused",
    [
        ("DELETE FROM ledger WHERE TRUE", WriteRefused),
        ("DROP TABLE ledger", WriteRefused),
        ("INSERT INTO ledger (site) VALUES ('x')", WriteRefused),
        ("SELECT 1; DELETE FROM ledger WHERE TRUE", WriteRefused),
        ("SELECT * FROM read_text('/etc/hostname')", QueryError),
        ("SELECT * FROM read_csv('/etc/passwd')", QueryError),
        ("COPY (SELECT * FROM ledger) TO '/tmp/weir-leak.csv'", QueryError),
        ("ATTACH '/tmp/weir-other.duckdb' AS other", QueryError),
    ],
)
def test_query_client_refuses_writes_and_file_access(home, intact, sql, refused):
    with pytest.raises(refused):
        QueryClient(LocalWarehouse(home)).sql(sql)
    assert not os.path.exists("/tmp/weir-leak.csv")


def test_weir_sql_refuses_a_delete_without_write(home, intact, capsys):
    assert main(["sql", "DELETE FROM ledger WHERE TRUE", "--home", home]) == 2
    assert "--write" in capsys.readouterr().err


def test_write_is_allowed_when_asked(tmp_path):
    home = str(tmp_path / "h")
    assert main(["sql", "CREATE TABLE scratch AS SELECT 1 AS x", "--home", home, "--write"]) == 0
    assert LocalWarehouse(home).query("SELECT x FROM scratch").rows == [(1,)]


@pytest.mark.parametrize("value", INJECTIONS + ["a\\'b", "\\", "'", "--", "/*", "é'ü"])
def test_query_client_values_are_data_not_sql(home, intact, value):
    client = QueryClient(LocalWarehouse(home))
    start = dt.datetime(2025, 11, 20, tzinfo=dt.timezone.utc)
    for q in (
        SeriesQuery("pageviews", start, start + dt.timedelta(days=1), "1d", url=value),
        SeriesQuery("pageviews", start, start + dt.timedelta(days=1), "5m", site=value),
        SeriesQuery("pageviews", start, start + dt.timedelta(days=1), "1d", dimension="device_type", values=(value,)),
    ):
        assert client.timeseries(q) == []
    assert client.sql("SELECT @v AS v", {"v": value}).rows == [(value,)]
